//! Validated free text: names, descriptions, owners and reasons. Once a
//! value exists it is valid; handlers never check it again.

use serde::Serialize;

use super::redaction::contains_key_like;

/// Why a text field was refused. Never carries the text itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must be {min}-{max} characters (got {got})")]
    Length { min: usize, max: usize, got: usize },
    #[error("must not be blank")]
    Blank,
    #[error("must not contain control characters")]
    Control,
    /// Bidirectional overrides and isolates, zero-width characters and the
    /// rest of Unicode's category Cf: text that displays as something else.
    #[error(
        "must not contain invisible formatting characters (Unicode category Cf, such as U+{0:04X})"
    )]
    Format(u32),
    /// An API key pasted into a name or reason would be shown to everyone
    /// who can list keys, and kept in the audit trail.
    #[error("must not contain an API key")]
    ContainsKey,
}

/// Why a character may not appear in a text field, if it may not: control
/// characters, and invisible formatting characters (Unicode Cf). The OpenAPI
/// document's text patterns are built from this rule.
pub fn refused_char(c: char) -> Option<TextError> {
    if c.is_control() {
        Some(TextError::Control)
    } else if unicode_general_category::get_general_category(c)
        == unicode_general_category::GeneralCategory::Format
    {
        Some(TextError::Format(u32::from(c)))
    } else {
        None
    }
}

/// The checks every free-text field shares.
fn check_text(s: &str, min: usize, max: usize) -> Result<(), TextError> {
    let got = s.chars().count();
    if !(min..=max).contains(&got) {
        return Err(TextError::Length { min, max, got });
    }
    // Control characters are reported before formatting ones, wherever they are.
    let refusals = s.chars().filter_map(refused_char);
    if let Some(first) = refusals.min_by_key(|e| !matches!(e, TextError::Control)) {
        return Err(first);
    }
    if min > 0 && s.trim().is_empty() {
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
        for (text, code) in [
            ("a\u{202e}b", 0x202e),
            ("zero\u{200b}width", 0x200b),
            ("isolate\u{2066}x", 0x2066),
            ("bom\u{feff}", 0xfeff),
            ("soft\u{00ad}hyphen", 0x00ad),
        ] {
            assert_eq!(KeyName::new(text), Err(TextError::Format(code)), "{text:?}");
            assert_eq!(RevokeReason::new(text), Err(TextError::Format(code)));
        }
        assert_eq!(KeyName::new("bell\u{7}"), Err(TextError::Control));
        assert!(KeyName::new("Zoë's key — ✓ 日本").is_ok());
    }

    #[test]
    fn a_pasted_key_is_refused_but_long_identifiers_are_not() {
        let key = crate::domain::key::KeyFormat::default().generate();
        let text = format!("leaked {} in CI", key.key.expose());
        assert_eq!(RevokeReason::new(&text), Err(TextError::ContainsKey));
        // A 40-character git commit id is not a key.
        assert!(Description::new("deployed 3f2a9c1e5b7d4f6a8c0e2b4d6f8a0c2e4b6d8f0a").is_ok());
    }
}
