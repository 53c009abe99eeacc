//! The API key format, in one place.
//!
//! A key is `<prefix>_<body>`, where the body is 61 base62 characters:
//!
//! | part     | chars | what                                                      |
//! |----------|-------|-----------------------------------------------------------|
//! | id       | 22    | the key's public id: a UUIDv7 as a zero-padded base62 u128 |
//! | secret   | 37    | uniform base62 characters from the OS CSPRNG (≈220 bits)  |
//! | checksum | 6     | CRC32 of `<prefix>_<id><secret>`, zero-padded base62      |
//!
//! The checksum lets the authorizer reject a mistyped or made-up key without a
//! store call; the id lets it find the record with one `GetItem`. Only a hash of
//! the secret is ever stored. `Debug` on anything holding a secret is redacted.

use std::fmt;

use hmac::{Hmac, Mac};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::id::{ID_LEN, KeyId, encode_padded};

/// Default key prefix when a deployment sets none.
pub const DEFAULT_PREFIX: &str = "kg";
/// Characters of the secret: 37 × log2(62) ≈ 220 bits, so even after the hint
/// shows 4 checksum characters (≈ 24 bits about the key) more than 192 remain.
pub const SECRET_LEN: usize = 37;
/// Characters of the base62-encoded CRC32.
pub const CHECKSUM_LEN: usize = 6;
/// Characters after `<prefix>_`.
pub const BODY_LEN: usize = ID_LEN + SECRET_LEN + CHECKSUM_LEN;
/// Longest accepted prefix.
pub const MAX_PREFIX_LEN: usize = 10;

/// Why a string is not a well-formed key. Never carries the key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the key does not start with the expected prefix")]
    WrongPrefix,
    #[error("the key has the wrong length")]
    WrongLength,
    #[error("the key contains characters outside base62")]
    NotBase62,
    #[error("the key's checksum does not match")]
    BadChecksum,
    #[error("the key's id is out of range")]
    BadId,
}

/// A prefix that is not 1–10 lowercase letters or digits starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "key prefix {0:?} must be 1-{MAX_PREFIX_LEN} lowercase letters or digits, starting with a letter"
)]
pub struct BadPrefix(pub String);

/// A deployment's key prefix: 1–10 lowercase ASCII letters or digits, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    pub fn new(s: &str) -> Result<Self, BadPrefix> {
        let ok = !s.is_empty()
            && s.len() <= MAX_PREFIX_LEN
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(BadPrefix(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A regular expression matching this deployment's keys, for secret scanners.
    pub fn scanner_regex(&self) -> String {
        format!(r"\b{}_[0-9A-Za-z]{{{BODY_LEN}}}\b", self.0)
    }
}

impl Default for KeyPrefix {
    fn default() -> Self {
        Self(DEFAULT_PREFIX.to_owned())
    }
}

impl KeyId {
    /// The id a full key carries, whatever its prefix: `<prefix>_`, then 65
    /// characters that start with the 22 of the id. Only the shape is checked,
    /// not the checksum (a client that does not know the prefix uses this).
    pub fn in_key(full: &str) -> Option<KeyId> {
        let (prefix, body) = full.split_once('_')?;
        if prefix.is_empty() || body.len() != BODY_LEN {
            return None;
        }
        KeyId::parse(body.get(..ID_LEN)?).ok()
    }
}

/// A full key, as shown once to its creator. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct FullKey(String);

impl FullKey {
    /// The full key text. Callers must never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for FullKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FullKey(<redacted>)")
    }
}

/// A well-formed key, borrowed from the request. `Debug` never prints the secret.
#[derive(Clone, Copy)]
pub struct ParsedKey<'a> {
    pub id: KeyId,
    /// The id as presented: the same text `id.to_string()` would build.
    id_text: &'a str,
    secret: &'a str,
}

impl<'a> ParsedKey<'a> {
    pub fn secret(&self) -> &'a str {
        self.secret
    }

    pub fn id_text(&self) -> &'a str {
        self.id_text
    }
}

impl fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// SHA-256 (or HMAC-SHA-256 with a pepper) of a key's secret.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretHash(pub [u8; 32]);

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

impl SecretHash {
    /// Constant-time comparison.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// Hashes secrets; holds the deployment pepper when one is configured.
#[derive(Clone, Default)]
pub struct SecretHasher {
    pepper: Option<Hmac<Sha256>>,
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretHasher")
            .field("peppered", &self.pepper.is_some())
            .finish()
    }
}

impl SecretHasher {
    pub fn new(pepper: Option<&[u8]>) -> Self {
        Self {
            // HMAC accepts keys of any length, so this cannot fail.
            pepper: pepper.and_then(|p| Hmac::<Sha256>::new_from_slice(p).ok()),
        }
    }

    pub fn hash(&self, secret: &str) -> SecretHash {
        match &self.pepper {
            Some(mac) => {
                let mut mac = mac.clone();
                mac.update(secret.as_bytes());
                SecretHash(mac.finalize().into_bytes().into())
            }
            None => SecretHash(Sha256::digest(secret.as_bytes()).into()),
        }
    }

    /// Hash the presented secret and compare it in constant time.
    pub fn verify(&self, key: &ParsedKey<'_>, stored: &SecretHash) -> bool {
        self.hash(key.secret).matches(stored)
    }
}

/// Makes and reads keys for one deployment (its prefix and pepper).
#[derive(Debug, Clone, Default)]
pub struct KeyFormat {
    prefix: KeyPrefix,
    hasher: SecretHasher,
}

/// A freshly minted key: the full key (shown once) and what is stored instead.
#[derive(Debug)]
pub struct NewKey {
    pub id: KeyId,
    pub key: FullKey,
    pub hash: SecretHash,
    pub hint: String,
}

impl KeyFormat {
    pub fn new(prefix: KeyPrefix, hasher: SecretHasher) -> Self {
        Self { prefix, hasher }
    }

    pub fn prefix(&self) -> &KeyPrefix {
        &self.prefix
    }

    pub fn hasher(&self) -> &SecretHasher {
        &self.hasher
    }

    /// Mint a key with a new time-ordered id and a CSPRNG secret.
    pub fn generate(&self) -> NewKey {
        self.generate_with_id(KeyId::generate())
    }

    pub fn generate_with_id(&self, id: KeyId) -> NewKey {
        let prefix = self.prefix.as_str();
        let mut text = String::with_capacity(prefix.len() + 1 + BODY_LEN);
        text.push_str(prefix);
        text.push('_');
        let mut id_text = [0u8; ID_LEN];
        encode_padded(id.as_u128(), &mut id_text);
        text.extend(id_text.iter().map(|&b| b as char));
        let secret_start = text.len();
        // `rand::rng()` is a CSPRNG reseeded from the operating system.
        text.extend(
            rand::rng()
                .sample_iter(Alphanumeric)
                .take(SECRET_LEN)
                .map(char::from),
        );
        let hash = self.hasher.hash(&text[secret_start..]);
        let mut checksum = [0u8; CHECKSUM_LEN];
        encode_padded(u128::from(crc32fast::hash(text.as_bytes())), &mut checksum);
        text.extend(checksum.iter().map(|&b| b as char));
        let hint = hint_of(prefix, &text);
        NewKey {
            id,
            key: FullKey(text),
            hash,
            hint,
        }
    }

    /// Check the shape and checksum of a presented key. No I/O.
    pub fn parse<'a>(&self, key: &'a str) -> Result<ParsedKey<'a>, KeyFormatError> {
        let prefix = self.prefix.as_str();
        let body = key
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('_'))
            .ok_or(KeyFormatError::WrongPrefix)?;
        if body.len() != BODY_LEN {
            return Err(KeyFormatError::WrongLength);
        }
        if !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(KeyFormatError::NotBase62);
        }
        let (signed, checksum) = key.split_at(key.len() - CHECKSUM_LEN);
        // Decoding (multiply-add) is cheaper than encoding the CRC (u128 division),
        // and leading zeros make the padded text and the number one-to-one.
        let presented = base62::decode(checksum).map_err(|_| KeyFormatError::BadChecksum)?;
        if presented != u128::from(crc32fast::hash(signed.as_bytes())) {
            return Err(KeyFormatError::BadChecksum);
        }
        let id_text = &body[..ID_LEN];
        Ok(ParsedKey {
            // Length and alphabet were checked above for the whole body.
            id: base62::decode(id_text)
                .map(KeyId::from_u128)
                .map_err(|_| KeyFormatError::BadId)?,
            id_text,
            secret: &body[ID_LEN..ID_LEN + SECRET_LEN],
        })
    }

    /// The hint shown after creation: the prefix and the last 4 characters.
    pub fn hint(&self, key: &FullKey) -> String {
        hint_of(self.prefix.as_str(), key.expose())
    }
}

fn hint_of(prefix: &str, key: &str) -> String {
    let last4 = &key[key.len().saturating_sub(4)..];
    format!("{prefix}_...{last4}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn format() -> KeyFormat {
        KeyFormat::default()
    }

    #[test]
    fn generated_key_has_documented_shape() {
        let new = format().generate();
        let key = new.key.expose();
        assert!(key.starts_with("kg_"));
        assert_eq!(key.len(), 3 + BODY_LEN);
        assert!(key[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(new.hint.starts_with("kg_..."));
        assert!(key.ends_with(&new.hint[6..]));
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let f = format();
        let new = f.generate();
        let parsed = f.parse(new.key.expose()).unwrap();
        for shown in [format!("{new:?}"), format!("{parsed:?}")] {
            assert!(!shown.contains(parsed.secret()), "{shown}");
        }
    }

    #[test]
    fn wrong_prefix_is_rejected() {
        let new = format().generate();
        let other = KeyFormat::new(KeyPrefix::new("acme").unwrap(), SecretHasher::default());
        assert_eq!(
            other.parse(new.key.expose()).unwrap_err(),
            KeyFormatError::WrongPrefix
        );
    }

    #[test]
    fn a_key_names_its_id_whatever_its_prefix() {
        for prefix in ["kg", "acme2"] {
            let format = KeyFormat::new(KeyPrefix::new(prefix).unwrap(), SecretHasher::new(None));
            let key = format.generate();
            let id = format.parse(key.key.expose()).unwrap().id;
            assert_eq!(KeyId::in_key(key.key.expose()), Some(id));
            assert_eq!(KeyId::in_key(&key.key.expose()[1..]), Some(id));
            assert_eq!(KeyId::in_key(&format!("{}x", key.key.expose())), None);
        }
        assert_eq!(KeyId::in_key("kg_short"), None);
        assert_eq!(KeyId::in_key(&format!("_{}", "a".repeat(BODY_LEN))), None);
    }

    #[test]
    fn pepper_changes_the_hash_and_verification_follows_it() {
        let plain = format();
        let new = plain.generate();
        let parsed = plain.parse(new.key.expose()).unwrap();
        let peppered = SecretHasher::new(Some(b"pepper"));
        assert_ne!(peppered.hash(parsed.secret()), new.hash);
        assert!(plain.hasher().verify(&parsed, &new.hash));
        assert!(!peppered.verify(&parsed, &new.hash));
    }

    /// The README publishes the regex for secret scanners; it must be the
    /// one the code builds for the default prefix.
    #[test]
    fn the_readme_publishes_the_scanner_regex_of_the_key_format() {
        let readme = include_str!("../../../README.md");
        let regex = KeyPrefix::default().scanner_regex();
        assert!(
            readme.contains(&format!("```regex\n{regex}\n```")),
            "README.md should show {regex} in a regex block"
        );
        // And the regex matches a key, not a key with one character more.
        let key = KeyFormat::default().generate();
        let shown = key.key.expose();
        assert_eq!(regex, format!(r"\bkg_[0-9A-Za-z]{{{}}}\b", shown.len() - 3));
    }

    #[test]
    fn prefixes_are_validated() {
        assert!(KeyPrefix::new("kg").is_ok());
        assert!(KeyPrefix::new("acme2").is_ok());
        for bad in ["", "Kg", "2kg", "k_g", "abcdefghijk"] {
            assert!(KeyPrefix::new(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_generated_key_parses_back_to_its_id(_seed in any::<u64>()) {
            let f = format();
            let new = f.generate();
            let parsed = f.parse(new.key.expose()).unwrap();
            prop_assert_eq!(parsed.id, new.id);
            prop_assert!(f.hasher().verify(&parsed, &new.hash));
        }

        #[test]
        fn changing_any_single_character_is_rejected(
            pos in 0usize..(3 + BODY_LEN),
            replacement in proptest::sample::select(
                b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-!".to_vec()
            ),
        ) {
            let f = format();
            let new = f.generate();
            let mut bytes = new.key.expose().as_bytes().to_vec();
            prop_assume!(bytes[pos] != replacement);
            bytes[pos] = replacement;
            let tampered = String::from_utf8(bytes).unwrap();
            prop_assert!(f.parse(&tampered).is_err());
        }

        #[test]
        fn the_hint_reveals_only_the_last_four(_seed in any::<u64>()) {
            let f = format();
            let new = f.generate();
            let key = new.key.expose();
            let revealed = new.hint.strip_prefix("kg_...").unwrap();
            prop_assert_eq!(revealed, &key[key.len() - 4..]);
            // Nothing else of the body: no run of 5 body characters appears in the hint.
            let body = &key[3..];
            for window in body.as_bytes().windows(5) {
                prop_assert!(!new.hint.as_bytes().windows(5).any(|w| w == window));
            }
        }

        #[test]
        fn arbitrary_strings_never_panic_the_parser(s in ".{0,80}") {
            let _ = format().parse(&s);
        }
    }

    #[test]
    fn secrets_never_repeat() {
        let f = format();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let new = f.generate();
            let parsed = f.parse(new.key.expose()).unwrap();
            assert!(seen.insert(parsed.secret().to_owned()));
        }
    }
}
