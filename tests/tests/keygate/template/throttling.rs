//! The stage's throttling: on by default, its limits parameters.

use serde_yaml::Value;

use super::{assert_flagged, at, parameter_default, problems_after};

/// The stage is throttled by default, with the limits as parameters.
pub(super) fn check_throttling(
    template: &Value,
    (api_id, api): (&str, &Value),
    out: &mut Vec<String>,
) {
    for setting in ["ThrottlingRateLimit", "ThrottlingBurstLimit"] {
        let value = at(api, &["Properties", "DefaultRouteSettings", setting]);
        let default = value
            .and_then(|v| parameter_default(template, v))
            .and_then(Value::as_u64);
        if default.is_none_or(|d| d == 0) {
            out.push(format!(
                "{api_id}: DefaultRouteSettings.{setting} is not a parameter with a positive default"
            ));
        }
    }
}

/// The stage is throttled by default: a stage without its rate limit is
/// caught.
#[test]
fn throttling_is_checked() {
    let found = problems_after(
        "        ThrottlingRateLimit: !Ref ApiThrottlingRateLimit\n",
        "",
    );
    assert_flagged(&found, "DefaultRouteSettings.ThrottlingRateLimit");
}
