//! Usage limits: a key's rate limit and quota, the budget its requests are
//! counted in, and the arithmetic that decides whether one more request fits.
//!
//! - **Rate limit**: at most `requests` per `window_seconds`, as a sliding
//!   window counter: this fixed window's count plus the previous window's,
//!   weighted by how much of it the sliding window still overlaps. A request
//!   is admitted only if `current + 1 + previous × overlap ≤ requests`.
//! - **Quota**: at most `requests` per calendar day or month (UTC). A new
//!   period starts from zero; no job has to run.
//!
//! Counts belong to a **budget**, not to a key: a rotation's successor
//! draws on its predecessor's budget, and a limited key's keys on their
//! creator's, so neither rotating nor minting resets or escapes a budget.
//!
//! [`plan`] is pure: from the limits, the counters as last seen and the
//! time, it says how to count one more request, as conditions on the stored
//! counters that hold only if they are still as seen. A store applies the
//! plan atomically or reads the counters again; either way no more
//! requests are admitted than the formula allows, however many processes
//! count at once.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, Time};

/// The widest rate window: a day.
pub const MAX_WINDOW_SECONDS: u32 = 86_400;
/// The most requests a rate limit may allow per window.
pub const MAX_RATE_REQUESTS: u64 = 1_000_000_000;
/// The most requests a quota may allow per period.
pub const MAX_QUOTA_REQUESTS: u64 = 1_000_000_000_000;

/// At most `requests` per `window_seconds`, sliding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RateLimit {
    pub requests: u64,
    pub window_seconds: u32,
}

/// A quota's calendar period, in UTC.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum QuotaPeriod {
    /// From 00:00 UTC to the next 00:00 UTC.
    Day,
    /// From the first of the month, 00:00 UTC, to the first of the next.
    Month,
}

impl QuotaPeriod {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// At most `requests` per calendar `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quota {
    pub requests: u64,
    pub period: QuotaPeriod,
}

/// A key's limits; neither means the key is counted nowhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
}

/// Which of a key's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum LimitKind {
    Rate,
    Quota,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Why a limit is not one keygate accepts. Phrased to follow a field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("must be a whole number from 1 to {MAX_RATE_REQUESTS}")]
    RateRequests,
    #[error("must be a whole number of seconds from 1 to {MAX_WINDOW_SECONDS} (a day)")]
    Window,
    #[error("must be a whole number from 1 to {MAX_QUOTA_REQUESTS}")]
    QuotaRequests,
}

impl RateLimit {
    pub fn new(requests: u64, window_seconds: u64) -> Result<Self, (&'static str, LimitError)> {
        if !(1..=MAX_RATE_REQUESTS).contains(&requests) {
            return Err(("requests", LimitError::RateRequests));
        }
        let window_seconds = u32::try_from(window_seconds)
            .ok()
            .filter(|w| (1..=MAX_WINDOW_SECONDS).contains(w))
            .ok_or(("window_seconds", LimitError::Window))?;
        Ok(Self {
            requests,
            window_seconds,
        })
    }

    fn window_ms(self) -> i64 {
        i64::from(self.window_seconds) * 1000
    }
}

impl Quota {
    pub fn new(requests: u64, period: QuotaPeriod) -> Result<Self, LimitError> {
        if !(1..=MAX_QUOTA_REQUESTS).contains(&requests) {
            return Err(LimitError::QuotaRequests);
        }
        Ok(Self { requests, period })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests per {}",
            self.requests,
            seconds(self.window_seconds)
        )
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} requests per {}", self.requests, self.period)
    }
}

impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.rate, self.quota) {
            (None, None) => f.write_str("no limits"),
            (Some(r), None) => write!(f, "{r}"),
            (None, Some(q)) => write!(f, "{q}"),
            (Some(r), Some(q)) => write!(f, "{r} and {q}"),
        }
    }
}

/// "1 second", "60 seconds", "1 day".
fn seconds(n: u32) -> String {
    match n {
        1 => "second".to_owned(),
        86_400 => "day".to_owned(),
        3_600 => "hour".to_owned(),
        60 => "minute".to_owned(),
        n => format!("{n} seconds"),
    }
}

/// Why a key may not be given these limits by this caller: they would let
/// it use more than the caller itself may.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "your key is limited to {bound}, so the keys it mints or manages must be too: {}",
    match .kind {
        LimitKind::Rate => "the same window, with at most as many requests",
        LimitKind::Quota => "the same period, with at most as many requests",
    }
)]
pub struct Looser {
    pub kind: LimitKind,
    pub bound: String,
}

impl Limits {
    pub const NONE: Limits = Limits {
        rate: None,
        quota: None,
    };

    pub fn is_none(&self) -> bool {
        self.rate.is_none() && self.quota.is_none()
    }

    /// [`Limits::canonical`]'s text read back; `None` if it is not one.
    pub fn parse_canonical(text: &str) -> Option<Limits> {
        let (rate, quota) = text.strip_prefix("rate=")?.split_once(";quota=")?;
        let rate = match rate {
            "" => None,
            r => {
                let (requests, window) = r.split_once('/')?;
                Some(RateLimit::new(requests.parse().ok()?, window.parse().ok()?).ok()?)
            }
        };
        let quota = match quota {
            "" => None,
            q => {
                let (requests, period) = q.split_once('/')?;
                Some(Quota::new(requests.parse().ok()?, period.parse().ok()?).ok()?)
            }
        };
        Some(Limits { rate, quota })
    }

    /// One text per value, for hashing and the authorizer's context:
    /// `rate=100/60;quota=1000/month`.
    pub fn canonical(&self) -> String {
        let rate = self.rate.map_or_else(String::new, |r| {
            format!("{}/{}", r.requests, r.window_seconds)
        });
        let quota = self
            .quota
            .map_or_else(String::new, |q| format!("{}/{}", q.requests, q.period));
        format!("rate={rate};quota={quota}")
    }

    /// These limits are no looser than `bound`: every limit `bound` has,
    /// these have too, over the same window or period, with at most as many
    /// requests. (The same window or period, so keys sharing a budget share
    /// its counters; a key may have a limit `bound` lacks.)
    pub fn within(&self, bound: &Limits) -> Result<(), Looser> {
        if let Some(b) = bound.rate {
            let ok = self
                .rate
                .is_some_and(|r| r.window_seconds == b.window_seconds && r.requests <= b.requests);
            if !ok {
                return Err(Looser {
                    kind: LimitKind::Rate,
                    bound: b.to_string(),
                });
            }
        }
        if let Some(b) = bound.quota {
            let ok = self
                .quota
                .is_some_and(|q| q.period == b.period && q.requests <= b.requests);
            if !ok {
                return Err(Looser {
                    kind: LimitKind::Quota,
                    bound: b.to_string(),
                });
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Counters and the plan

/// A calendar period's name, ordered as time is: `2026-12-01` (a day) or
/// `2026-12` (a month).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PeriodId(pub String);

impl QuotaPeriod {
    /// The period holding `at_ms`, and when the next one starts (ms).
    pub fn at(self, at_ms: i64) -> (PeriodId, i64) {
        let now = OffsetDateTime::from_unix_timestamp(at_ms.div_euclid(1000))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let date = now.date();
        match self {
            QuotaPeriod::Day => {
                let id = format!(
                    "{:04}-{:02}-{:02}",
                    date.year(),
                    u8::from(date.month()),
                    date.day()
                );
                let next = date.next_day().map_or(i64::MAX, midnight_ms);
                (PeriodId(id), next)
            }
            QuotaPeriod::Month => {
                let id = format!("{:04}-{:02}", date.year(), u8::from(date.month()));
                let (year, month) = match date.month() {
                    Month::December => (date.year() + 1, Month::January),
                    m => (date.year(), m.next()),
                };
                let next = Date::from_calendar_date(year, month, 1).map_or(i64::MAX, midnight_ms);
                (PeriodId(id), next)
            }
        }
    }
}

fn midnight_ms(date: Date) -> i64 {
    date.with_time(Time::MIDNIGHT)
        .assume_utc()
        .unix_timestamp()
        .saturating_mul(1000)
}

/// A rate counter as stored: the fixed window it counts (its start, ms),
/// the requests admitted in it and in the window before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RateCounter {
    pub window_start_ms: i64,
    pub current: u64,
    pub previous: u64,
}

/// A quota counter as stored: its period and the requests admitted in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QuotaCounter {
    pub period: PeriodId,
    pub used: u64,
}

/// A budget's counters for one key's limits, as read (`None`: never
/// counted, or reset). A budget keeps one rate counter per window length
/// and one quota counter per period kind, so keys sharing it share the
/// counters their limits have in common.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    pub rate: Option<RateCounter>,
    pub quota: Option<QuotaCounter>,
}

/// How to count one request on a rate counter, and what must still hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateStep {
    /// The counter is on this window: add one, if the window and the
    /// previous count are as seen and the current count is at most
    /// `max_current` (the formula, solved for it).
    Add {
        window_start_ms: i64,
        previous: u64,
        max_current: u64,
        /// How many requests this counts (1, or a lease's tokens).
        count: u64,
    },
    /// The counter is on the window before: it becomes the previous count
    /// (pinned to the value seen) and this window starts at one.
    Roll {
        from_window_start_ms: i64,
        current: u64,
        window_start_ms: i64,
        count: u64,
    },
    /// The counter is older than the window before, or absent: this window
    /// starts at one with nothing before it.
    Start {
        /// Holds if the stored window started before this (or none is stored).
        stale_before_ms: i64,
        window_start_ms: i64,
        count: u64,
    },
}

/// How to count one request on a quota counter, and what must still hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaStep {
    /// The counter is on this period: add `count` if at most `max_used` are used.
    Add {
        period: PeriodId,
        max_used: u64,
        count: u64,
    },
    /// The counter is on an earlier period, or absent: this one starts at `count`.
    Start { period: PeriodId, count: u64 },
}

/// One request counted: the steps a store applies together, and the
/// counters as they will be once applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub rate: Option<RateStep>,
    pub quota: Option<QuotaStep>,
    /// How many requests it counts: 1, or a lease's tokens.
    pub count: u64,
    pub after: Counters,
}

/// One more request would exceed `limit`; it fits again after `retry_after_ms`
/// (if nothing else is counted meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub limit: LimitKind,
    pub retry_after_ms: i64,
}

/// What [`plan`] decided from the counters it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    Count(Plan),
    Exceeded(Exceeded),
}

/// What a store answers when asked to count a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Counted: the counters after this request.
    Admitted(Counters),
    /// Not counted: it would exceed a limit.
    Exceeded(Exceeded),
}

/// `floor(a / b)` for `b > 0`, negatives included.
fn floor_div(a: i128, b: i128) -> i128 {
    a.div_euclid(b)
}

/// The most `current` may be for `n` more requests to fit: `current + n +
/// previous × (W − elapsed) / W ≤ requests`, in whole requests. Negative
/// when even `current = 0` would not fit.
fn max_current(rate: RateLimit, previous: u64, elapsed_ms: i64, n: u64) -> i128 {
    let w = i128::from(rate.window_ms());
    let overlap = w - i128::from(elapsed_ms.clamp(0, rate.window_ms()));
    floor_div(
        (i128::from(rate.requests) - i128::from(n)) * w - i128::from(previous) * overlap,
        w,
    )
}

/// The earliest time after `now_ms` at which one request fits a rate
/// counter whose window is `window_start_ms` (nothing else counted).
fn rate_retry_after(rate: RateLimit, c: RateCounter, now_ms: i64) -> i64 {
    let w = rate.window_ms();
    let l = i128::from(rate.requests);
    // In this window, the previous window's weight falls as time passes:
    // fits once (W − e) · p ≤ (L − 1 − c) · W.
    let fits_at = |start: i64, current: u64, previous: u64| -> Option<i64> {
        let room = l - 1 - i128::from(current);
        if room < 0 {
            return None;
        }
        if previous == 0 {
            return Some(start);
        }
        // e ≥ W − room · W / p, rounded up to the next millisecond.
        let need = i128::from(w) - floor_div(room * i128::from(w), i128::from(previous));
        let e = need.clamp(0, i128::from(w));
        (e < i128::from(w)).then(|| start + i64::try_from(e).unwrap_or(w))
    };
    let at = fits_at(c.window_start_ms, c.current, c.previous)
        .or_else(|| fits_at(c.window_start_ms + w, 0, c.current))
        .unwrap_or(c.window_start_ms + 2 * w);
    (at - now_ms).max(0)
}

/// How to count one request for a key with `limits`, from its budget's
/// counters as last seen, at `now_ms`. Counters seen may be out of date;
/// the plan's conditions make sure a store applies it only to the counters
/// it was computed from. A counter seen ahead of `now_ms` (another
/// process's clock) is counted in as it stands, never behind it.
pub fn plan(limits: &Limits, seen: &Counters, now_ms: i64) -> Planned {
    plan_many(limits, seen, now_ms, 1)
}

/// As [`plan`], for `n` requests at once: a reservation of `n` tokens that
/// one process spends over the rest of the window (see the DynamoDB store's
/// leases). Every one of them is counted now, so spending them later in the
/// same window and period never admits more than the formula allows (the
/// previous window's weight only falls as the window goes on).
pub fn plan_many(limits: &Limits, seen: &Counters, now_ms: i64, n: u64) -> Planned {
    let n = n.max(1);
    let mut after = Counters::default();
    let rate = match limits.rate {
        None => None,
        Some(rate) => {
            let w = rate.window_ms();
            let this = now_ms.div_euclid(w) * w;
            let step = match seen.rate {
                Some(c) if c.window_start_ms >= this => {
                    // This window, or one a faster clock already started:
                    // count in it, with the previous window at full weight
                    // if it is ahead of us.
                    let elapsed = now_ms - c.window_start_ms;
                    let max = max_current(rate, c.previous, elapsed, n);
                    if max < i128::from(c.current) {
                        return Planned::Exceeded(Exceeded {
                            limit: LimitKind::Rate,
                            retry_after_ms: rate_retry_after(rate, c, now_ms),
                        });
                    }
                    after.rate = Some(RateCounter {
                        current: c.current + n,
                        ..c
                    });
                    RateStep::Add {
                        window_start_ms: c.window_start_ms,
                        previous: c.previous,
                        max_current: u64::try_from(max).unwrap_or(u64::MAX),
                        count: n,
                    }
                }
                Some(c) if c.window_start_ms == this - w => {
                    let rolled = RateCounter {
                        window_start_ms: this,
                        current: 0,
                        previous: c.current,
                    };
                    if max_current(rate, rolled.previous, now_ms - this, n) < 0 {
                        return Planned::Exceeded(Exceeded {
                            limit: LimitKind::Rate,
                            retry_after_ms: rate_retry_after(rate, rolled, now_ms),
                        });
                    }
                    after.rate = Some(RateCounter {
                        current: n,
                        ..rolled
                    });
                    RateStep::Roll {
                        from_window_start_ms: c.window_start_ms,
                        current: c.current,
                        window_start_ms: this,
                        count: n,
                    }
                }
                _ => {
                    if n > rate.requests {
                        return Planned::Exceeded(Exceeded {
                            limit: LimitKind::Rate,
                            retry_after_ms: 0,
                        });
                    }
                    after.rate = Some(RateCounter {
                        window_start_ms: this,
                        current: n,
                        previous: 0,
                    });
                    RateStep::Start {
                        stale_before_ms: this - w,
                        window_start_ms: this,
                        count: n,
                    }
                }
            };
            Some(step)
        }
    };
    let quota = match limits.quota {
        None => None,
        Some(quota) => {
            let (period, next) = quota.period.at(now_ms);
            let step = match &seen.quota {
                Some(q) if q.period >= period => {
                    if q.used + n > quota.requests {
                        return Planned::Exceeded(Exceeded {
                            limit: LimitKind::Quota,
                            retry_after_ms: if q.period == period {
                                (next - now_ms).max(0)
                            } else {
                                // A faster clock's period: wait out ours and theirs.
                                (quota.period.at(next).1 - now_ms).max(0)
                            },
                        });
                    }
                    after.quota = Some(QuotaCounter {
                        period: q.period.clone(),
                        used: q.used + n,
                    });
                    QuotaStep::Add {
                        period: q.period.clone(),
                        max_used: quota.requests - n,
                        count: n,
                    }
                }
                _ => {
                    if n > quota.requests {
                        return Planned::Exceeded(Exceeded {
                            limit: LimitKind::Quota,
                            retry_after_ms: 0,
                        });
                    }
                    after.quota = Some(QuotaCounter {
                        period: period.clone(),
                        used: n,
                    });
                    QuotaStep::Start { period, count: n }
                }
            };
            Some(step)
        }
    };
    Planned::Count(Plan {
        rate,
        quota,
        count: n,
        after,
    })
}

// ---------------------------------------------------------------------------
// What a key's usage looks like

/// One limit's usage at a moment: how much of it is spent, what is left and
/// when it resets; what `GET …/usage`, the RateLimit header fields and the
/// console show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitUsage {
    pub kind: LimitKind,
    pub limit: u64,
    /// Requests counted against it now (the sliding estimate, rounded up,
    /// for a rate limit).
    pub used: u64,
    pub remaining: u64,
    /// When the current window or period ends (ms).
    pub resets_at_ms: i64,
    /// The window's or period's length in seconds (a month's varies).
    pub window_seconds: u64,
}

/// The usage of each of `limits` with the budget's `counters` at `now_ms`.
pub fn usage(limits: &Limits, counters: &Counters, now_ms: i64) -> Vec<LimitUsage> {
    let mut out = Vec::with_capacity(2);
    if let Some(rate) = limits.rate {
        let w = rate.window_ms();
        let this = now_ms.div_euclid(w) * w;
        let (current, previous, start) = match counters.rate {
            Some(c) if c.window_start_ms >= this => (c.current, c.previous, c.window_start_ms),
            Some(c) if c.window_start_ms == this - w => (0, c.current, this),
            _ => (0, 0, this),
        };
        let overlap = i128::from(w) - i128::from((now_ms - start).clamp(0, w));
        // current + ceil(previous × overlap / W)
        let weighted = -floor_div(-(i128::from(previous) * overlap), i128::from(w));
        let used = u64::try_from(i128::from(current) + weighted).unwrap_or(u64::MAX);
        out.push(LimitUsage {
            kind: LimitKind::Rate,
            limit: rate.requests,
            used,
            remaining: rate.requests.saturating_sub(used),
            resets_at_ms: start + w,
            window_seconds: u64::from(rate.window_seconds),
        });
    }
    if let Some(quota) = limits.quota {
        let (period, next) = quota.period.at(now_ms);
        let used = counters
            .quota
            .as_ref()
            .filter(|q| q.period >= period)
            .map_or(0, |q| q.used);
        let start = match quota.period {
            QuotaPeriod::Day => next - 86_400_000,
            QuotaPeriod::Month => month_start_ms(now_ms),
        };
        out.push(LimitUsage {
            kind: LimitKind::Quota,
            limit: quota.requests,
            used,
            remaining: quota.requests.saturating_sub(used),
            resets_at_ms: next,
            window_seconds: u64::try_from((next - start) / 1000).unwrap_or(0),
        });
    }
    out
}

fn month_start_ms(at_ms: i64) -> i64 {
    let date = OffsetDateTime::from_unix_timestamp(at_ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .date();
    Date::from_calendar_date(date.year(), date.month(), 1).map_or(0, midnight_ms)
}

/// Whole seconds, rounded up: what `Retry-After` and the headers say.
pub fn ceil_seconds(ms: i64) -> i64 {
    -(-ms).div_euclid(1000)
}

/// The IETF RateLimit-Policy field value for `usages`:
/// `"rate";q=100;w=60, "quota";q=10000;w=2592000`.
pub fn ratelimit_policy_field(usages: &[LimitUsage]) -> String {
    usages
        .iter()
        .map(|u| {
            format!(
                "\"{}\";q={};w={}",
                u.kind.as_str(),
                u.limit,
                u.window_seconds
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The IETF RateLimit field value for `usages` at `now_ms`:
/// `"rate";r=42;t=17, "quota";r=9000;t=1209600`.
pub fn ratelimit_field(usages: &[LimitUsage], now_ms: i64) -> String {
    usages
        .iter()
        .map(|u| {
            format!(
                "\"{}\";r={};t={}",
                u.kind.as_str(),
                u.remaining,
                ceil_seconds(u.resets_at_ms - now_ms).max(0)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(requests: u64, window_seconds: u64) -> Limits {
        Limits {
            rate: Some(RateLimit::new(requests, window_seconds).unwrap()),
            quota: None,
        }
    }

    fn quota(requests: u64, period: QuotaPeriod) -> Limits {
        Limits {
            rate: None,
            quota: Some(Quota::new(requests, period).unwrap()),
        }
    }

    fn ms(rfc3339: &str) -> i64 {
        crate::domain::time::Timestamp::parse_rfc3339(rfc3339)
            .unwrap()
            .unix()
            * 1000
    }

    /// Count requests at `times` (ms) one after another, applying each plan
    /// as a store would; returns how many were admitted.
    fn run(limits: &Limits, times: impl IntoIterator<Item = i64>) -> (usize, Counters) {
        let mut counters = Counters::default();
        let mut admitted = 0;
        for t in times {
            if let Planned::Count(p) = plan(limits, &counters, t) {
                counters = p.after;
                admitted += 1;
            }
        }
        (admitted, counters)
    }

    #[test]
    fn limits_are_checked_and_say_what_is_wrong() {
        assert_eq!(
            RateLimit::new(0, 60),
            Err(("requests", LimitError::RateRequests))
        );
        assert_eq!(
            RateLimit::new(10, 0),
            Err(("window_seconds", LimitError::Window))
        );
        assert_eq!(
            RateLimit::new(10, 86_401),
            Err(("window_seconds", LimitError::Window))
        );
        assert!(RateLimit::new(10, 86_400).is_ok());
        assert_eq!(
            Quota::new(0, QuotaPeriod::Day),
            Err(LimitError::QuotaRequests)
        );
        assert_eq!(rate(100, 60).to_string(), "100 requests per minute");
        assert_eq!(
            Limits {
                rate: Some(RateLimit::new(5, 10).unwrap()),
                quota: Some(Quota::new(1000, QuotaPeriod::Month).unwrap()),
            }
            .to_string(),
            "5 requests per 10 seconds and 1000 requests per month"
        );
    }

    #[test]
    fn the_canonical_text_reads_back() {
        for limits in [
            Limits::NONE,
            rate(100, 60),
            quota(5, QuotaPeriod::Day),
            Limits {
                rate: Some(RateLimit::new(1, 86_400).unwrap()),
                quota: Some(Quota::new(7, QuotaPeriod::Month).unwrap()),
            },
        ] {
            assert_eq!(Limits::parse_canonical(&limits.canonical()), Some(limits));
        }
        assert_eq!(rate(100, 60).canonical(), "rate=100/60;quota=");
        assert_eq!(Limits::parse_canonical("rate=0/60;quota="), None);
        assert_eq!(Limits::parse_canonical("quota=5/day"), None);
    }

    #[test]
    fn a_fixed_window_admits_exactly_its_limit() {
        // 25 requests in the first second of a 10-second window: 10 fit.
        let t0 = 1_000_000_000_000; // a whole number of 10-second windows
        let (admitted, counters) = run(&rate(10, 10), (0..25).map(|i| t0 + i));
        assert_eq!(admitted, 10);
        assert_eq!(counters.rate.unwrap().current, 10);
    }

    #[test]
    fn the_previous_window_weighs_by_its_overlap() {
        let l = rate(10, 10);
        let t0 = 1_000_000_000_000; // a whole number of 10-second windows
        // 10 at the start of a window, then 30% into the next: the sliding
        // window still overlaps 70% of them, 7, so 3 more fit.
        let (_, full) = run(&l, (0..10).map(|i| t0 + i));
        let mut counters = full;
        let mut admitted = 0;
        for _ in 0..10 {
            if let Planned::Count(p) = plan(&l, &counters, t0 + 13_000) {
                counters = p.after;
                admitted += 1;
            }
        }
        assert_eq!(admitted, 3);
        // Halfway through: 5 of the previous count, and the 3 counted.
        assert!(matches!(
            plan(&l, &counters, t0 + 15_000),
            Planned::Count(_)
        ));
        let Planned::Count(p) = plan(&l, &counters, t0 + 15_000) else {
            unreachable!()
        };
        counters = p.after;
        assert!(matches!(
            plan(&l, &counters, t0 + 15_000),
            Planned::Count(_)
        ));
        let Planned::Count(p) = plan(&l, &counters, t0 + 15_000) else {
            unreachable!()
        };
        // 5 + 5 = 10: full.
        let Planned::Exceeded(e) = plan(&l, &p.after, t0 + 15_000) else {
            panic!("a full window admits nothing more")
        };
        assert_eq!(e.limit, LimitKind::Rate);
        // The previous window's weight must fall by one request: 1 s later.
        assert_eq!(e.retry_after_ms, 1_000);
        // No double burst at the edge: 10 at the end of one window and 10 at
        // the start of the next admit 10, not 20.
        let (admitted, _) = run(
            &l,
            (0..10)
                .map(|i| t0 + 9_990 + i)
                .chain((0..10).map(|i| t0 + 10_000 + i)),
        );
        assert_eq!(admitted, 10);
    }

    #[test]
    fn a_window_two_or_more_behind_starts_afresh() {
        let l = rate(3, 1);
        let (_, counters) = run(&l, [5_000, 5_001, 5_002]);
        let Planned::Count(p) = plan(&l, &counters, 7_500) else {
            panic!("two windows later the count is gone")
        };
        assert_eq!(
            p.rate,
            Some(RateStep::Start {
                stale_before_ms: 6_000,
                window_start_ms: 7_000,
                count: 1,
            })
        );
        assert_eq!(p.after.rate.unwrap().previous, 0);
    }

    #[test]
    fn a_counter_ahead_of_this_clock_is_counted_in_not_reset() {
        let l = rate(2, 10);
        // Another process, 2 s ahead, opened the next window with 2.
        let seen = Counters {
            rate: Some(RateCounter {
                window_start_ms: 20_000,
                current: 2,
                previous: 0,
            }),
            quota: None,
        };
        assert!(matches!(plan(&l, &seen, 19_000), Planned::Exceeded(_)));
    }

    #[test]
    fn periods_are_utc_days_and_calendar_months() {
        let (id, next) = QuotaPeriod::Day.at(ms("2026-12-31T23:59:59Z"));
        assert_eq!(id.0, "2026-12-31");
        assert_eq!(next, ms("2027-01-01T00:00:00Z"));
        let (id, next) = QuotaPeriod::Month.at(ms("2026-12-31T23:59:59Z"));
        assert_eq!(id.0, "2026-12");
        assert_eq!(next, ms("2027-01-01T00:00:00Z"));
        let (id, next) = QuotaPeriod::Month.at(ms("2028-02-29T12:00:00Z"));
        assert_eq!(id.0, "2028-02");
        assert_eq!(next, ms("2028-03-01T00:00:00Z"));
        let (id, next) = QuotaPeriod::Month.at(ms("2027-01-31T23:59:59Z"));
        assert_eq!(
            (id.0.as_str(), next),
            ("2027-01", ms("2027-02-01T00:00:00Z"))
        );
        assert!(PeriodId("2026-12".into()) < PeriodId("2027-01".into()));
    }

    #[test]
    fn a_quota_resets_when_its_period_turns() {
        let l = quota(3, QuotaPeriod::Month);
        let jan31 = ms("2027-01-31T23:59:58Z");
        let (admitted, counters) = run(&l, (0..5).map(|i| jan31 + i));
        assert_eq!(admitted, 3);
        let Planned::Exceeded(e) = plan(&l, &counters, jan31 + 10) else {
            panic!("the month's quota is spent")
        };
        assert_eq!(e.limit, LimitKind::Quota);
        assert_eq!(e.retry_after_ms, ms("2027-02-01T00:00:00Z") - jan31 - 10);
        // 1 February: a new period, from zero, with nothing run.
        let Planned::Count(p) = plan(&l, &counters, ms("2027-02-01T00:00:00Z")) else {
            panic!("a new month starts afresh")
        };
        assert_eq!(
            p.quota,
            Some(QuotaStep::Start {
                period: PeriodId("2027-02".into()),
                count: 1,
            })
        );
        // February 2027 has 28 days: the 28th is still February.
        let feb = quota(1, QuotaPeriod::Month);
        let (admitted, _) = run(
            &feb,
            [ms("2027-02-01T00:00:00Z"), ms("2027-02-28T23:59:59Z")],
        );
        assert_eq!(admitted, 1);
        let (admitted, _) = run(
            &feb,
            [ms("2027-02-28T23:59:59Z"), ms("2027-03-01T00:00:00Z")],
        );
        assert_eq!(admitted, 2);
    }

    #[test]
    fn both_limits_count_together_or_not_at_all() {
        let l = Limits {
            rate: Some(RateLimit::new(2, 60).unwrap()),
            quota: Some(Quota::new(3, QuotaPeriod::Day).unwrap()),
        };
        let t = ms("2026-12-01T10:00:00Z");
        let (admitted, counters) = run(&l, [t, t + 1, t + 2]);
        assert_eq!(admitted, 2, "the rate limit stops the third");
        assert_eq!(
            counters.quota.as_ref().unwrap().used,
            2,
            "which the quota did not count"
        );
        let (admitted, counters) = run(&l, [t, t + 1, t + 120_000, t + 120_001]);
        assert_eq!(admitted, 3);
        assert_eq!(counters.quota.unwrap().used, 3);
    }

    #[test]
    fn within_means_the_same_window_and_no_more_requests() {
        let bound = Limits {
            rate: Some(RateLimit::new(10, 60).unwrap()),
            quota: Some(Quota::new(1000, QuotaPeriod::Month).unwrap()),
        };
        assert_eq!(bound.within(&bound), Ok(()));
        assert!(Limits::NONE.within(&Limits::NONE).is_ok());
        assert!(bound.within(&Limits::NONE).is_ok());
        let err = Limits::NONE.within(&bound).unwrap_err();
        assert_eq!(err.kind, LimitKind::Rate);
        assert!(err.to_string().contains("10 requests per minute"), "{err}");
        let wider_window = Limits {
            rate: Some(RateLimit::new(10, 120).unwrap()),
            ..bound
        };
        assert!(wider_window.within(&bound).is_err());
        let day = Limits {
            quota: Some(Quota::new(10, QuotaPeriod::Day).unwrap()),
            ..bound
        };
        assert_eq!(day.within(&bound).unwrap_err().kind, LimitKind::Quota);
        let fewer = Limits {
            rate: Some(RateLimit::new(5, 60).unwrap()),
            quota: Some(Quota::new(999, QuotaPeriod::Month).unwrap()),
        };
        assert!(fewer.within(&bound).is_ok());
    }

    #[test]
    fn usage_and_the_ratelimit_fields() {
        let l = Limits {
            rate: Some(RateLimit::new(10, 60).unwrap()),
            quota: Some(Quota::new(1000, QuotaPeriod::Day).unwrap()),
        };
        let t = ms("2026-12-01T10:00:30Z");
        let (_, counters) = run(&l, (0..4).map(|i| t + i));
        let u = usage(&l, &counters, t + 10);
        assert_eq!(u[0].used, 4);
        assert_eq!(u[0].remaining, 6);
        assert_eq!(u[0].resets_at_ms, ms("2026-12-01T10:01:00Z"));
        assert_eq!(u[1].used, 4);
        assert_eq!(u[1].remaining, 996);
        assert_eq!(u[1].window_seconds, 86_400);
        assert_eq!(
            ratelimit_policy_field(&u),
            "\"rate\";q=10;w=60, \"quota\";q=1000;w=86400"
        );
        assert_eq!(
            ratelimit_field(&u, t + 10),
            "\"rate\";r=6;t=30, \"quota\";r=996;t=50370"
        );
        // 30 s into the next minute, half the 4 still count.
        let later = usage(&l, &counters, ms("2026-12-01T10:01:30Z"));
        assert_eq!(later[0].used, 2);
        let month = Limits {
            rate: None,
            quota: Some(Quota::new(5, QuotaPeriod::Month).unwrap()),
        };
        let feb = usage(&month, &Counters::default(), ms("2027-02-10T00:00:00Z"));
        assert_eq!(feb[0].window_seconds, 28 * 86_400);
        assert_eq!(ceil_seconds(1), 1);
        assert_eq!(ceil_seconds(1000), 1);
        assert_eq!(ceil_seconds(0), 0);
    }
}
