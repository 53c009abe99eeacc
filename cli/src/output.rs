//! How the CLI prints what the API sent: text made safe for a terminal,
//! JSON, widths and times.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Whether a terminal would act on `c` or show it as something else rather
/// than print it: C0 and C1 controls (ESC starts every escape sequence; CSI
/// U+009B is one on its own), DEL, invisible formatting characters such as
/// bidirectional overrides (category Cf), and line and paragraph separators.
fn is_hidden(c: char) -> bool {
    use unicode_general_category::GeneralCategory::{Format, LineSeparator, ParagraphSeparator};
    c.is_control()
        || matches!(
            unicode_general_category::get_general_category(c),
            Format | LineSeparator | ParagraphSeparator
        )
}

/// Text from the API as a terminal shows it: every hidden character written
/// as its escape (`\u{1b}`), so no value can move the cursor, change the
/// title or the colours, clear the screen or display as something else.
pub fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if is_hidden(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A JSON value from the API as a cell: `-` for null.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => terminal_safe(s),
        other => terminal_safe(&other.to_string()),
    }
}

/// The API's JSON, pretty-printed, with every hidden character in a string
/// written as a JSON escape (`\u001b`): the same JSON to a parser, inert
/// on a terminal. serde_json escapes only C0 controls itself.
pub fn print_json(value: &Value) {
    println!("{}", json_text(value));
}

fn json_text(value: &Value) -> String {
    let pretty = format!("{value:#}");
    let mut out = String::with_capacity(pretty.len());
    for c in pretty.chars() {
        // Outside strings pretty JSON holds only spaces and newlines; a
        // newline inside a string is already `\n`.
        if is_hidden(c) && c != '\n' {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `cursor` is URL-safe base64, as every cursor keygate issues is.
fn is_cursor(cursor: &str) -> bool {
    let data = cursor.trim_end_matches('=');
    !data.is_empty()
        && cursor.len() - data.len() <= 2
        && data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The command for a list's next page, on stderr, when the page has a
/// `next_cursor`; `command` is the command line without `--cursor`. A
/// cursor that is not URL-safe base64 is refused rather than printed.
pub fn next_page_hint(command: &str, page: &Value) -> anyhow::Result<()> {
    match &page["next_cursor"] {
        Value::Null => Ok(()),
        Value::String(cursor) if is_cursor(cursor) => {
            eprintln!("more: {command} --cursor {cursor}");
            Ok(())
        }
        _ => anyhow::bail!(
            "the API answered a next_cursor that is not URL-safe base64; it is not shown, and \
             there may be more pages"
        ),
    }
}

/// `text` as one word of a shell command: as it is when it is made of
/// letters, digits and `-_.@:/+,=`, else in single quotes.
pub fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@:/+,=".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", terminal_safe(text).replace('\'', "'\\''"))
    }
}

/// Columns to fit output in: `COLUMNS`, else the width of the terminal on
/// standard output, else 100.
pub fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w > 0)
        .or_else(|| terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| w.0.into()))
        .unwrap_or(100)
}

/// An RFC 3339 time from the API relative to `now`: "5 min ago", "in 3
/// days", "just now"; "never" for null.
pub fn relative_time(value: &Value, now: OffsetDateTime) -> String {
    let Some(text) = value.as_str() else {
        return "never".into();
    };
    let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) else {
        return terminal_safe(text);
    };
    let secs = (at - now).whole_seconds();
    let ago = secs < 0;
    let abs = secs.unsigned_abs() as f64;
    if abs < 45.0 {
        return "just now".into();
    }
    // Each unit serves while the rounded count stays below its limit.
    const UNITS: [(&str, &str, f64, f64); 6] = [
        ("min", "min", 60.0, 60.0),
        ("hour", "hours", 3600.0, 24.0),
        ("day", "days", 86_400.0, 7.0),
        ("week", "weeks", 604_800.0, 4.35),
        ("month", "months", 2_629_746.0, 12.0),
        ("year", "years", 31_556_952.0, f64::INFINITY),
    ];
    for (one, many, size, limit) in UNITS {
        let count = (abs / size).round();
        if count < limit {
            let unit = if count == 1.0 { one } else { many };
            let count = count as u64;
            return if ago {
                format!("{count} {unit} ago")
            } else {
                format!("in {count} {unit}")
            };
        }
    }
    terminal_safe(text)
}

/// A duration as people write it: "1 day", "2 hours", "1 hour 30 minutes".
pub fn duration(secs: u64) -> String {
    let parts: Vec<String> = [
        (secs / 86_400, "day", "days"),
        (secs % 86_400 / 3600, "hour", "hours"),
        (secs % 3600 / 60, "minute", "minutes"),
        (secs % 60, "second", "seconds"),
    ]
    .into_iter()
    .filter(|(count, _, _)| *count > 0)
    .map(|(count, one, many)| format!("{count} {}", if count == 1 { one } else { many }))
    .collect();
    if parts.is_empty() {
        "0 seconds".into()
    } else {
        parts.join(" ")
    }
}
