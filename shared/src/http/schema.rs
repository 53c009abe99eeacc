//! JSON Schemas of the domain's values, for the OpenAPI document: each one
//! built from the code that validates the value (its pattern, its length,
//! its enum's variants), never typed out a second time.

use std::borrow::Cow;
use std::sync::LazyLock;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use strum::VariantArray;

use crate::domain::audit::{ActorKind, AuditAction};
use crate::domain::id::{EventId, ID_LEN, KeyId};
use crate::domain::limits::QuotaPeriod;
use crate::domain::org::OrgId;
use crate::domain::record::{KeyStatus, KeyType};
use crate::domain::text::{Description, KeyName, Owner, RevokeReason, refused_char, shows_nothing};
use crate::domain::time::Timestamp;
use crate::http::error::ErrorCode;

/// The pattern of a time-ordered id's text.
pub fn id_pattern() -> String {
    format!("^[0-9A-Za-z]{{{ID_LEN}}}$")
}

macro_rules! schema {
    ($ty:ty, $name:literal, |$generator:ident| $body:expr) => {
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }

            fn json_schema($generator: &mut SchemaGenerator) -> Schema {
                $body
            }
        }
    };
}

/// A string enum's schema: its variants' texts, from the enum itself.
macro_rules! enum_schema {
    ($ty:ty, $name:literal, $description:literal) => {
        schema!($ty, $name, |_generator| {
            let names: Vec<&str> = <$ty as VariantArray>::VARIANTS
                .iter()
                .map(|v| v.as_str())
                .collect();
            json_schema!({"type": "string", "enum": names, "description": $description})
        });
    };
}

enum_schema!(KeyStatus, "KeyStatus", "Where the key is in its lifecycle.");
enum_schema!(
    KeyType,
    "KeyType",
    "service: for automated systems; user: for one person, named by owner."
);
enum_schema!(AuditAction, "AuditAction", "What happened to the key.");
enum_schema!(
    QuotaPeriod,
    "QuotaPeriod",
    "day: from 00:00 UTC to the next; month: from the first of the month, 00:00 UTC, to the first of the next."
);
enum_schema!(
    ActorKind,
    "ActorKind",
    "key: a key through the API; bootstrap: someone with access to the store."
);
enum_schema!(
    ErrorCode,
    "ErrorCode",
    "What went wrong; each code has one status."
);

schema!(KeyId, "KeyId", |_generator| json_schema!({
    "type": "string",
    "pattern": id_pattern(),
    "description": format!("A key's public id ({ID_LEN} base62 characters)."),
    "examples": ["0354hGhYKuHPbL24wFhd2p"],
}));

schema!(EventId, "EventId", |_generator| json_schema!({
    "type": "string",
    "pattern": id_pattern(),
    "description": "An audit event's id: events sort by it.",
}));

schema!(Timestamp, "Timestamp", |_generator| json_schema!({
    "type": "string",
    "format": "date-time",
    "description": "RFC 3339, UTC, whole seconds.",
    "examples": ["2026-11-27T04:13:34Z"],
}));

schema!(OrgId, "OrgId", |_generator| json_schema!({
    "type": "string",
    "pattern": OrgId::PATTERN,
    "description": "An organization.",
}));

macro_rules! text_schema {
    ($ty:ty, $name:literal, $description:literal) => {
        schema!($ty, $name, |_generator| text(
            <$ty>::MIN_CHARS,
            <$ty>::MAX_CHARS,
            $description
        ));
    };
}

text_schema!(KeyName, "KeyName", "The key's name:");
text_schema!(Description, "Description", "What the key is for:");
text_schema!(Owner, "Owner", "The person a user key belongs to:");
text_schema!(RevokeReason, "Reason", "Why:");

/// Code point ranges, as a regex class is written.
#[derive(Default)]
struct Ranges(Vec<(u32, u32)>);

impl Ranges {
    fn add(&mut self, c: u32) {
        match self.0.last_mut() {
            Some((_, end)) if *end + 1 == c => *end = c,
            _ => self.0.push((c, c)),
        }
    }

    fn class(&self) -> String {
        // `\uXXXX` escapes in the Basic Multilingual Plane (ECMA and Python
        // regexes agree on them, and the document stays printable for YAML
        // readers); astral ones as literal characters, which both engines
        // accept in a class and which YAML counts as printable.
        let literal = |n: u32| match char::from_u32(n) {
            Some(c) if n > 0xFFFF => c.to_string(),
            Some(_) => format!("\\u{n:04x}"),
            None => String::new(),
        };
        self.0
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    literal(a)
                } else {
                    format!("{}-{}", literal(a), literal(b))
                }
            })
            .collect()
    }
}

/// The three classes a text pattern is made of, built once: the characters
/// a text field accepts ([`refused_char`] says none), those of them that
/// show nothing ([`shows_nothing`]), and those that show something. Written
/// as positive classes: a tool generating strings from the pattern (as
/// Schemathesis does) draws from them far faster than from their negations.
struct TextClasses {
    accepted: String,
    blank: String,
    visible: String,
}

fn text_classes() -> &'static TextClasses {
    static CLASSES: LazyLock<TextClasses> = LazyLock::new(|| {
        // One look at each code point: its category is a table lookup that
        // a debug build makes slow, a million times over.
        let (mut accepted, mut blank, mut visible) =
            (Ranges::default(), Ranges::default(), Ranges::default());
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            if refused_char(c).is_none() {
                let n = u32::from(c);
                accepted.add(n);
                match shows_nothing(c) {
                    true => blank.add(n),
                    false => visible.add(n),
                }
            }
        }
        TextClasses {
            accepted: accepted.class(),
            blank: blank.class(),
            visible: visible.class(),
        }
    });
    &CLASSES
}

/// A text field's schema: the characters it may hold, its length, and (when
/// it may not be blank) at least one character that is not white space.
pub fn text(min: usize, max: usize, description: &str) -> Schema {
    let TextClasses {
        accepted,
        blank,
        visible,
    } = text_classes();
    let shows_something = format!("[{blank}]*[{visible}][{accepted}]*");
    let pattern = if min > 0 {
        format!("^{shows_something}$")
    } else {
        format!("^({shows_something})?$")
    };
    json_schema!({
        "type": "string",
        "minLength": min,
        "maxLength": max,
        "pattern": pattern,
        "description": format!(
            "{description} {min}–{max} characters; no control, invisible formatting, \
             separator, private-use or unassigned characters (Unicode Cc, Cf, Zl, Zp, Co, \
             Cn), {}and never an API key (no run of 37 or more letters and digits, unless \
             lowercase hex).",
            if min > 0 {
                "not only white space or characters that show nothing, "
            } else {
                "empty or showing something, "
            }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_schemas_list_the_enum_s_own_texts() {
        let mut generator = SchemaGenerator::default();
        let status = KeyStatus::json_schema(&mut generator);
        assert_eq!(
            status.get("enum"),
            Some(&serde_json::json!(["active", "suspended", "revoked"]))
        );
        let actor = ActorKind::json_schema(&mut generator);
        assert_eq!(
            actor.get("enum"),
            Some(&serde_json::json!(["key", "bootstrap"]))
        );
    }

    #[test]
    fn the_id_pattern_accepts_ids_and_nothing_else() {
        let id = KeyId::generate().to_string();
        assert_eq!(id_pattern(), "^[0-9A-Za-z]{22}$");
        assert_eq!(id.len(), ID_LEN);
    }
}
