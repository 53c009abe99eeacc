//! The authorizer: the HTTP API's default authorizer is the authorizer
//! function, as a payload-2.0 REQUEST authorizer with simple responses, its
//! identity the `X-API-Key` header and the route, its cache off by default.

use serde_yaml::Value;

use super::{Function, assert_flagged, at, is_arn_of, problems_after, ref_target, str_at, strings};

pub(super) fn check_authorizer(
    template: &Value,
    (api_id, api): (&str, &Value),
    authorizer: &Function,
    out: &mut Vec<String>,
) {
    let Some(name) = str_at(api, &["Properties", "Auth", "DefaultAuthorizer"]) else {
        out.push(format!("{api_id}: no Auth.DefaultAuthorizer"));
        return;
    };
    let Some(config) = at(api, &["Properties", "Auth", "Authorizers", name]) else {
        out.push(format!(
            "{api_id}: default authorizer {name} is not defined"
        ));
        return;
    };
    let mut expect = |what: &str, ok: bool| {
        if !ok {
            out.push(format!("{api_id} authorizer {name}: {what}"));
        }
    };
    expect(
        "FunctionArn is not the authorizer function's ARN",
        config
            .get("FunctionArn")
            .is_some_and(|v| is_arn_of(v, authorizer.id)),
    );
    expect(
        "AuthorizerPayloadFormatVersion is not \"2.0\"",
        config.get("AuthorizerPayloadFormatVersion") == Some(&Value::from("2.0")),
    );
    expect(
        "EnableSimpleResponses is not true",
        config.get("EnableSimpleResponses") == Some(&Value::Bool(true)),
    );
    expect(
        "EnableFunctionDefaultPermissions is not true",
        config.get("EnableFunctionDefaultPermissions") == Some(&Value::Bool(true)),
    );
    let headers = strings(at(config, &["Identity", "Headers"]));
    expect(
        "identity source is not the X-API-Key header",
        matches!(headers.as_slice(), [h] if h.eq_ignore_ascii_case("x-api-key")),
    );
    expect(
        "$context.routeKey is not an identity source, so a cached decision could cross routes",
        strings(at(config, &["Identity", "Context"])).contains(&"routeKey"),
    );
    let ttl = at(config, &["Identity", "ReauthorizeEvery"]);
    let ttl_parameter = ttl.and_then(ref_target);
    expect(
        "ReauthorizeEvery is not a parameter",
        ttl_parameter.is_some(),
    );
    if let Some(parameter) = ttl_parameter {
        let spec = at(template, &["Parameters", parameter]);
        let number = |key: &str| spec.and_then(|s| s.get(key)).and_then(Value::as_u64);
        expect(
            "the cache TTL parameter does not default to 0 (caching off)",
            number("Default") == Some(0),
        );
        expect(
            "the cache TTL parameter is not bounded to 0..=3600",
            number("MinValue") == Some(0) && number("MaxValue").is_some_and(|max| max <= 3600),
        );
    }
}

#[test]
fn authorizer_settings_are_checked() {
    let found = problems_after(
        "AuthorizerPayloadFormatVersion: \"2.0\"",
        "AuthorizerPayloadFormatVersion: \"1.0\"",
    );
    assert_flagged(&found, "AuthorizerPayloadFormatVersion");
    let found = problems_after(
        "EnableSimpleResponses: true",
        "EnableSimpleResponses: false",
    );
    assert_flagged(&found, "EnableSimpleResponses");
    let found = problems_after("Headers: [X-API-Key]", "Headers: [Authorization]");
    assert_flagged(&found, "X-API-Key header");
    let found = problems_after("Context: [routeKey]", "Context: []");
    assert_flagged(&found, "$context.routeKey");
    let found = problems_after(
        "    Default: 0\n    MinValue: 0\n    MaxValue: 3600",
        "    Default: 300\n    MinValue: 0\n    MaxValue: 3600",
    );
    assert_flagged(&found, "does not default to 0");
}
