//! The local API Gateway stand-in answers as API Gateway does: 401, 403,
//! 404 and 405 with their bodies and `Allow`, paths and repeated query
//! parameters matched the same way, and the public routes' headers.

use keygate_tests::Harness;
use serde_json::json;

#[tokio::test]
async fn gateway_answers_match_api_gateway() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let reply = h.call("GET", "/v1/api-keys", None, None).await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (401, json!({"message": "Unauthorized"}))
    );
    let reply = h.call("GET", "/v1/api-keys", Some("kg_nope"), None).await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (403, json!({"message": "Forbidden"}))
    );
    let reply = h.call("GET", "/v2/elsewhere", Some(&root), None).await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (404, json!({"message": "Not Found"}))
    );
    // A keygate path with a method it does not serve: 405 and Allow (the
    // stack's ANY routes answer the same).
    let reply = h.call("PUT", "/v1/api-keys", Some(&root), None).await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (405, json!({"message": "Method Not Allowed"}))
    );
    assert_eq!(reply.headers["allow"], "GET, POST");
    let reply = h.call("PUT", "/v1/api-keys/abc", None, None).await;
    assert_eq!(reply.status, 405, "before the key is asked for");
    assert_eq!(reply.headers["allow"], "DELETE, GET, PATCH");
}
/// The local gateway matches paths and query strings as API Gateway does: a
/// doubled slash is not found, a repeated parameter's values are joined with
/// commas, and the public routes need no key.
#[tokio::test]
async fn the_gateway_matches_paths_and_repeated_parameters_as_api_gateway_does() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let reply = h.call("GET", "//v1/api-keys", Some(&root), None).await;
    assert_eq!(
        (reply.status, reply.body),
        (404, json!({"message": "Not Found"}))
    );
    // API Gateway joins a repeated parameter's values with commas.
    let reply = h
        .call(
            "GET",
            "/v1/api-keys?status=active&status=revoked",
            Some(&root),
            None,
        )
        .await;
    reply.assert_error(400);
    assert!(reply.error_message().contains("status"));
    assert!(
        reply.error_message().contains("active,revoked"),
        "{}",
        reply.error_message()
    );
    let reply = h
        .call("GET", "/v1/api-keys?limit=5&limit=5", Some(&root), None)
        .await;
    reply.assert_error(400);
    // The public routes need no key.
    let page = h.call("GET", "/", None, None).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let asset = h.call("GET", "/console/app.js", None, None).await;
    assert_eq!(asset.status, 200);
    assert_eq!(
        asset.headers["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(asset.headers["x-content-type-options"], "nosniff");
    let missing = h.call("GET", "/console/nope.js", None, None).await;
    assert_eq!(missing.status, 404);
    let document = h.call("GET", "/openapi.json", None, None).await;
    assert_eq!(document.status, 200);
    assert_eq!(document.body["openapi"], "3.1.0");
}
