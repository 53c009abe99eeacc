//! Full keys as tests see them: their parts, and the one check that no
//! part of a secret shows where it must not.

use keygate::domain::key::KeyFormat;

/// The id part of a full key.
pub fn id_of(full_key: &str) -> String {
    KeyFormat::default()
        .parse(full_key)
        .expect("well-formed key")
        .id
        .to_string()
}

/// The secret part of a full key.
pub fn secret_of(full_key: &str) -> String {
    KeyFormat::default()
        .parse(full_key)
        .expect("well-formed key")
        .secret()
        .to_owned()
}

/// Length of the windows [`assert_no_secret`] looks for.
pub const SECRET_WINDOW: usize = 12;

/// Fails if any [`SECRET_WINDOW`]-character window of the secret of any of
/// `keys` appears in `haystack` (logs, an error body, a file's bytes). The
/// one check every secret-leak test uses, so none looks at a slice only.
#[track_caller]
pub fn assert_no_secret(haystack: &[u8], keys: &[&str], what: &str) {
    for key in keys {
        let secret = secret_of(key);
        for (i, window) in secret.as_bytes().windows(SECRET_WINDOW).enumerate() {
            assert!(
                !haystack.windows(SECRET_WINDOW).any(|w| w == window),
                "{what}: characters {i}..{} of a key's secret appear in it",
                i + SECRET_WINDOW
            );
        }
    }
}
