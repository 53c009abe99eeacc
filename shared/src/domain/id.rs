//! Time-ordered ids: a UUIDv7 written as 22 zero-padded base62 characters,
//! so the text sorts as the number does (newest last). Keys and audit events
//! have one each; sorting by id is sorting by time, which is what makes
//! every list one range query.

use std::fmt;

/// Characters of an id's text.
pub const ID_LEN: usize = 22;

/// Why a text is not an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an id is {ID_LEN} characters")]
    WrongLength,
    #[error("an id is letters and digits only")]
    NotBase62,
    /// The shape of an id, but past the largest one: no key or event has it.
    #[error("an id is out of range")]
    OutOfRange,
}

macro_rules! time_ordered_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u128);

        impl $name {
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().as_u128())
            }

            /// Parse the 22-character text form. Anything else is rejected.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                parse_id(s).map(Self)
            }

            pub fn from_u128(n: u128) -> Self {
                Self(n)
            }

            pub fn as_u128(self) -> u128 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt_id(self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

time_ordered_id!(
    /// A key's public id: the authorizer finds the record by it. Not a
    /// secret: it is in the key's text, its record and its audit events.
    KeyId
);

time_ordered_id!(
    /// An audit event's id: events sort by it, newest last.
    EventId
);

impl EventId {
    /// The first id of the millisecond `ms` after the Unix epoch: a UUIDv7
    /// holds its time in milliseconds in its top 48 bits, so every id made
    /// at or after `ms` is at least this, every id made before it less.
    pub fn first_at_millis(ms: u64) -> Self {
        Self(u128::from(ms.min((1 << 48) - 1)) << 80)
    }
}

fn parse_id(s: &str) -> Result<u128, IdError> {
    if s.len() != ID_LEN {
        return Err(IdError::WrongLength);
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(IdError::NotBase62);
    }
    base62::decode(s).map_err(|_| IdError::OutOfRange)
}

fn fmt_id(n: u128, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut out = [0u8; ID_LEN];
    encode_padded(n, &mut out);
    // base62 output is ASCII.
    f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
}

/// `n` in base62, zero-padded on the left to `N` characters (which must
/// hold it: 22 hold any u128).
pub(crate) fn encode_padded<const N: usize>(n: u128, out: &mut [u8; N]) {
    let mut buf = [0u8; ID_LEN];
    // 22 bytes always suffice for a u128, so this cannot fail.
    let len = base62::encode_bytes(n, &mut buf).unwrap_or(0);
    let pad = N - len;
    out[..pad].fill(b'0');
    out[pad..].copy_from_slice(&buf[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_sort_like_numbers() {
        let a = KeyId::from_u128(5);
        let b = KeyId::from_u128(u128::MAX);
        assert_eq!(a.to_string(), "0000000000000000000005");
        assert_eq!(KeyId::parse(&b.to_string()).unwrap(), b);
        assert!(a.to_string() < b.to_string());
        assert_eq!(
            KeyId::parse("zzzzzzzzzzzzzzzzzzzzzz"),
            Err(IdError::OutOfRange)
        );
        assert_eq!(KeyId::parse("short"), Err(IdError::WrongLength));
        assert_eq!(
            KeyId::parse("000000000000000000000-"),
            Err(IdError::NotBase62)
        );
    }

    #[test]
    fn event_ids_sort_by_time_and_round_trip() {
        let a = EventId::generate();
        let b = EventId::generate();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
        assert_eq!(EventId::parse(&a.to_string()), Ok(a));
    }
}
