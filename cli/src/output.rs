//! How the CLI prints what the API sent: text made safe for a terminal,
//! JSON, widths and times.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Text from the API as a terminal shows it: control and invisible
/// formatting characters escaped, so no value can move the cursor, recolour
/// the terminal or display as something else.
pub fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            let hidden = c.is_control()
                || unicode_general_category::get_general_category(c)
                    == unicode_general_category::GeneralCategory::Format;
            if hidden {
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

/// The API's JSON, pretty-printed.
pub fn print_json(value: &Value) {
    println!("{value:#}");
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
