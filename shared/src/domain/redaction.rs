//! Every "could this be a secret?" rule, in one place. A key's secret is 37
//! base62 characters and a key is `<prefix>_` and 65 more; nothing keygate
//! shows, stores as text or logs may carry a run of letters and digits long
//! enough to be (part of) one.

use super::key::SECRET_LEN;

/// Longest caller input an error message repeats. Every key is longer (a
/// prefix, `_` and 65 characters), so a key pasted into the wrong field or
/// path is never echoed back; scope names, statuses and field names fit.
pub const MAX_ECHO_CHARS: usize = 40;

/// A run of more than this many base62 characters is never echoed or kept
/// as request context: it could be a secret (37 characters) or part of one.
pub const MAX_ECHO_BASE62_RUN: usize = 19;

/// Longest request id, source IP and user agent kept in an audit event.
pub const MAX_CONTEXT_CHARS: usize = 256;

/// The longest run of ASCII letters and digits in `text`.
pub fn longest_base62_run(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// Whether `text` holds a run of letters and digits long enough to carry a
/// key's secret ([`SECRET_LEN`] characters), whatever precedes it: a key,
/// a key without its prefix, or its secret alone. Runs of lowercase hex
/// digits are not refused: commit ids and content hashes are, and a
/// secret's 37 characters all falling in `0-9a-f` has odds of about 1 in
/// 10^21. Text fields refuse what this finds.
pub fn contains_key_like(text: &str) -> bool {
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|run| run.len() >= SECRET_LEN && !run.bytes().all(hex))
}

/// Caller input as an error message shows it: quoted when short and free of
/// anything that could be part of a secret, else only its length.
pub fn quoted(input: &str) -> String {
    let chars = input.chars().count();
    if chars <= MAX_ECHO_CHARS && longest_base62_run(input) <= MAX_ECHO_BASE62_RUN {
        format!("{input:?}")
    } else {
        format!("(a value of {chars} characters, not repeated here)")
    }
}

/// Request context as an audit event keeps it: no control or format
/// characters, nothing that could be a secret (runs of 20+ base62
/// characters become `[redacted]`), at most [`MAX_CONTEXT_CHARS`] characters.
pub fn sanitize_context(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_CONTEXT_CHARS));
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() > MAX_ECHO_BASE62_RUN {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
            continue;
        }
        flush(&mut run, &mut out);
        let invisible = c.is_control()
            || unicode_general_category::get_general_category(c)
                == unicode_general_category::GeneralCategory::Format;
        if !invisible {
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out.chars().take(MAX_CONTEXT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key::KeyFormat;

    #[test]
    fn quoted_never_repeats_what_could_be_a_secret() {
        assert_eq!(quoted("runs:fly"), "\"runs:fly\"");
        let secret = "aZ3kQ9mX2pL8vN4bR7tY1wE5sD6fG0hJ2kLmNo";
        assert!(!quoted(secret).contains(&secret[..20]));
        // Short enough to echo by length, but a run of 20 base62 characters.
        let run = "x-abcdefghijABCDEFGHIJ";
        assert!(!quoted(run).contains("abcdefghij"));
        assert_eq!(longest_base62_run("ab-cde_f"), 3);
    }

    #[test]
    fn context_is_kept_without_secrets_or_invisible_text() {
        assert_eq!(
            sanitize_context("curl/8.5.0 (x86_64-pc-linux-gnu)"),
            "curl/8.5.0 (x86_64-pc-linux-gnu)"
        );
        let key = KeyFormat::default().generate();
        let ua = format!("bot {} \u{202e}x\u{7}", key.key.expose());
        let kept = sanitize_context(&ua);
        assert_eq!(kept, "bot kg_[redacted] x");
        assert_eq!(sanitize_context(&"a-".repeat(500)).chars().count(), 256);
    }

    #[test]
    fn a_pasted_key_is_key_like() {
        let key = KeyFormat::default().generate();
        assert!(contains_key_like(&format!(
            "leaked {} in CI",
            key.key.expose()
        )));
        assert!(!contains_key_like(
            "deployed 3f2a9c1e5b7d4f6a8c0e2b4d6f8a0c2e4b6d8f0a"
        ));
    }
}
