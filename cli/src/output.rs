//! How the CLI prints what the API sent: text made safe for a terminal,
//! JSON, one record as `field value` lines.

use serde_json::Value;

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
