//! Validated free text: names, descriptions, owners and reasons. Once a
//! value exists it is valid; handlers never check it again.

use serde::Serialize;

use super::redaction::contains_key_like;

/// Why a text field was refused. Never carries the text itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must be {min}-{max} characters (got {got})")]
    Length { min: usize, max: usize, got: usize },
    /// Only white space or characters that show nothing.
    #[error("must not be blank or invisible")]
    Blank,
    #[error("must not contain control characters")]
    Control,
    /// Characters that display as something else, or as nothing:
    /// bidirectional overrides, zero-width characters (Cf), line and
    /// paragraph separators (Zl, Zp), private-use (Co) and unassigned (Cn)
    /// code points.
    #[error("must not contain {} (Unicode category {}, such as U+{code:04X})", .kind.description(), .kind.category())]
    Refused { code: u32, kind: RefusedKind },
    /// An API key (or its secret) pasted into a name or reason would be
    /// shown to everyone who can list keys, and kept in the audit trail.
    #[error("must not contain an API key or anything as long as its secret")]
    ContainsKey,
}

/// Which kind of character a text field refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedKind {
    Format,
    LineSeparator,
    ParagraphSeparator,
    PrivateUse,
    Unassigned,
}

impl RefusedKind {
    pub fn category(self) -> &'static str {
        match self {
            RefusedKind::Format => "Cf",
            RefusedKind::LineSeparator => "Zl",
            RefusedKind::ParagraphSeparator => "Zp",
            RefusedKind::PrivateUse => "Co",
            RefusedKind::Unassigned => "Cn",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            RefusedKind::Format => "invisible formatting characters",
            RefusedKind::LineSeparator => "line separators",
            RefusedKind::ParagraphSeparator => "paragraph separators",
            RefusedKind::PrivateUse => "private-use characters",
            RefusedKind::Unassigned => "unassigned code points",
        }
    }
}

/// Characters that show nothing although Unicode does not call them white
/// space: the Hangul fillers, the blank Braille pattern, the combining
/// grapheme joiner. Text made only of these and white space is blank.
const SHOWS_NOTHING: [char; 6] = [
    '\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}', '\u{2800}', '\u{034F}',
];

/// Whether `c` shows nothing: white space or [`SHOWS_NOTHING`].
pub fn shows_nothing(c: char) -> bool {
    c.is_whitespace() || SHOWS_NOTHING.contains(&c)
}

/// Why a character may not appear in a text field, if it may not. The
/// OpenAPI document's text patterns are built from this rule.
pub fn refused_char(c: char) -> Option<TextError> {
    use unicode_general_category::{GeneralCategory, get_general_category};
    if c.is_control() {
        return Some(TextError::Control);
    }
    let kind = match get_general_category(c) {
        GeneralCategory::Format => RefusedKind::Format,
        GeneralCategory::LineSeparator => RefusedKind::LineSeparator,
        GeneralCategory::ParagraphSeparator => RefusedKind::ParagraphSeparator,
        GeneralCategory::PrivateUse => RefusedKind::PrivateUse,
        GeneralCategory::Unassigned => RefusedKind::Unassigned,
        _ => return None,
    };
    Some(TextError::Refused {
        code: u32::from(c),
        kind,
    })
}

/// The checks every free-text field shares.
fn check_text(s: &str, min: usize, max: usize) -> Result<(), TextError> {
    let got = s.chars().count();
    if !(min..=max).contains(&got) {
        return Err(TextError::Length { min, max, got });
    }
    // Control characters are reported before the others, wherever they are.
    let refusals = s.chars().filter_map(refused_char);
    if let Some(first) = refusals.min_by_key(|e| !matches!(e, TextError::Control)) {
        return Err(first);
    }
    // Empty is "none" where a field may be empty; otherwise something shows.
    if (min > 0 || !s.is_empty()) && s.chars().all(shows_nothing) {
        return Err(TextError::Blank);
    }
    if contains_key_like(s) {
        return Err(TextError::ContainsKey);
    }
    Ok(())
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr) => {
        $(#[$doc])*
        /// Only [`Self::new`] makes one, so every value is valid.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MIN_CHARS: usize = $min;
            pub const MAX_CHARS: usize = $max;

            pub fn new(s: &str) -> Result<Self, TextError> {
                check_text(s, $min, $max)?;
                Ok(Self(s.to_owned()))
            }

            /// A value read back from a store. It was checked when it was
            /// written, and a rule made stricter since must not make existing
            /// keys unreadable (the authorizer reads every key this way).
            pub(crate) fn from_stored(s: &str) -> Self {
                Self(s.to_owned())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

bounded_text!(
    /// A key's name: 1–100 characters.
    KeyName, 1, 100
);
bounded_text!(
    /// A key's optional description: up to 500 characters.
    Description, 0, 500
);
bounded_text!(
    /// The person a user key belongs to: 1–200 characters.
    Owner, 1, 200
);
bounded_text!(
    /// Why a key was revoked (or rotated): 1–500 characters.
    RevokeReason, 1, 500
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_in_characters_not_bytes() {
        assert!(KeyName::new("").is_err());
        assert!(KeyName::new("   ").is_err());
        assert!(KeyName::new(&"é".repeat(100)).is_ok());
        assert!(KeyName::new(&"a".repeat(101)).is_err());
        assert!(KeyName::new("tab\there").is_err());
        assert!(Description::new("").is_ok());
        assert!(Description::new(&"d".repeat(501)).is_err());
    }

    #[test]
    fn text_that_displays_as_something_else_is_refused() {
        use RefusedKind::*;
        for (text, code, kind) in [
            ("a\u{202e}b", 0x202e, Format),
            ("zero\u{200b}width", 0x200b, Format),
            ("isolate\u{2066}x", 0x2066, Format),
            ("bom\u{feff}", 0xfeff, Format),
            ("soft\u{00ad}hyphen", 0x00ad, Format),
            ("line\u{2028}break", 0x2028, LineSeparator),
            ("para\u{2029}graph", 0x2029, ParagraphSeparator),
            ("private\u{e000}use", 0xe000, PrivateUse),
            ("astral\u{f0000}private", 0xf0000, PrivateUse),
            ("unassigned\u{0378}", 0x0378, Unassigned),
        ] {
            let refused = Some(TextError::Refused { code, kind });
            assert_eq!(KeyName::new(text).err(), refused, "{text:?}");
            assert_eq!(RevokeReason::new(text).err(), refused);
        }
        let message = KeyName::new("a\u{2028}b").unwrap_err().to_string();
        assert_eq!(
            message,
            "must not contain line separators (Unicode category Zl, such as U+2028)"
        );
        assert_eq!(KeyName::new("bell\u{7}"), Err(TextError::Control));
        assert!(KeyName::new("Zoë's key — ✓ 日本").is_ok());
    }

    #[test]
    fn text_that_shows_nothing_is_blank() {
        for invisible in [
            "\u{3164}",
            "\u{2800}\u{2800}",
            " \u{115F}\u{1160} ",
            "\u{FFA0}",
            "\u{3000}",
        ] {
            assert_eq!(
                KeyName::new(invisible),
                Err(TextError::Blank),
                "{invisible:?}"
            );
        }
        // A filler beside something visible is text (Hangul uses them).
        assert!(KeyName::new("ㅤa").is_ok());
        // An empty description is no description, not blank text; one that
        // shows nothing is blank.
        assert!(Description::new("").is_ok());
        assert_eq!(Description::new("  \u{3164}"), Err(TextError::Blank));
    }

    #[test]
    fn a_pasted_key_is_refused_but_long_identifiers_are_not() {
        let key = crate::domain::key::KeyFormat::default().generate();
        let full = key.key.expose();
        let body = &full[3..];
        for text in [
            format!("leaked {full} in CI"),
            // Without its prefix, whatever precedes it.
            format!("leaked in CI log: {body}"),
            format!("x{body}"),
            // Its secret alone.
            format!("secret={}", &body[22..59]),
        ] {
            assert_eq!(
                RevokeReason::new(&text),
                Err(TextError::ContainsKey),
                "{text}"
            );
        }
        // A 40-character git commit id, a SHA-256 in hex: not keys.
        assert!(Description::new("deployed 3f2a9c1e5b7d4f6a8c0e2b4d6f8a0c2e4b6d8f0a").is_ok());
        let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert!(Description::new(&format!("artifact {sha256}")).is_ok());
    }
}
