//! Time: whole seconds, UTC, shown as RFC 3339; and where "now" comes from.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Why a text is not a time keygate accepts. Phrased to follow a field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("is not an RFC 3339 date-time such as 2030-01-31T12:00:00Z")]
    NotRfc3339,
    #[error("is after the year 9999")]
    AfterYear9999,
}

/// A point in time, whole seconds, UTC; shown as RFC 3339 (`2026-11-27T04:05:08Z`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc().unix_timestamp())
    }

    pub const fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    pub fn unix(self) -> i64 {
        self.0
    }

    /// RFC 3339 with any offset, kept as UTC; years past 9999 in UTC are refused
    /// so every timestamp can be shown again.
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimeError> {
        /// 9999-12-31T23:59:59Z.
        const LAST_SHOWABLE: i64 = 253_402_300_799;
        let secs = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| TimeError::NotRfc3339)?
            .unix_timestamp();
        if secs > LAST_SHOWABLE {
            return Err(TimeError::AfterYear9999);
        }
        Ok(Self(secs))
    }

    /// An RFC 3339 date-time to the millisecond (fractional seconds kept,
    /// to three places), as milliseconds since the Unix epoch (0 for any
    /// earlier time); years past 9999 in UTC are refused.
    pub fn parse_rfc3339_millis(s: &str) -> Result<u64, TimeError> {
        let whole = Self::parse_rfc3339(s)?;
        let millis = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| TimeError::NotRfc3339)?
            .millisecond();
        let secs = u64::try_from(whole.0).unwrap_or(0);
        Ok(if whole.0 < 0 {
            0
        } else {
            secs * 1_000 + u64::from(millis)
        })
    }

    pub fn plus_seconds(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }
}

impl fmt::Display for Timestamp {
    /// Never fails: a time RFC 3339 cannot show (only a record keygate did not
    /// write could hold one) is shown as its Unix seconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
        {
            Some(text) => f.write_str(&text),
            None => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// Where time comes from; tests move it.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;

    /// Milliseconds since the Unix epoch: what usage limits count in.
    fn now_ms(&self) -> i64 {
        self.now().unix().saturating_mul(1000)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn now_ms(&self) -> i64 {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = Timestamp::parse_rfc3339("2030-01-31T12:00:00+01:00").unwrap();
        assert_eq!(t.to_string(), "2030-01-31T11:00:00Z");
        assert_eq!(
            Timestamp::parse_rfc3339("tomorrow"),
            Err(TimeError::NotRfc3339)
        );
        // 23:00 at -02:00 on the last day of 9999 is already year 10000 in UTC.
        assert_eq!(
            Timestamp::parse_rfc3339("9999-12-31T23:00:00-02:00"),
            Err(TimeError::AfterYear9999)
        );
        assert!(Timestamp::parse_rfc3339("9999-12-31T20:00:00Z").is_ok());
        assert_eq!(
            Timestamp::parse_rfc3339_millis("1970-01-01T00:00:01.5+00:00"),
            Ok(1_500)
        );
        assert_eq!(
            Timestamp::parse_rfc3339_millis("1969-12-31T23:59:59Z"),
            Ok(0)
        );
        assert!(Timestamp::parse_rfc3339_millis("yesterday").is_err());
        assert_eq!(
            Timestamp::from_unix(i64::MAX).to_string(),
            i64::MAX.to_string()
        );
    }
}
