//! The orders API's backend: one Lambda function behind its own HTTP API,
//! every route of which keygate's authorizer guards. By the time a request
//! gets here the key was valid, active, unexpired and held the route's scope
//! (`../keygate.toml`), so this code checks none of that again. What it does
//! with the caller is the part only it can do: keep each organization's
//! orders apart. Another organization's order is a 404, exactly like one that
//! does not exist.
//!
//! The orders live in memory, per process: it is an example. A real backend
//! keeps them in its own store, keyed by `org_id` the same way.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use keygate::http::context::AuthorizerContext;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The routes this function serves: the `[routes]` of `../keygate.toml` and
/// the routes of `../template.yaml` (a test holds the three together).
pub const ROUTES: [&str; 5] = [
    "GET /health",
    "GET /orders",
    "GET /orders/{id}",
    "POST /orders",
    "POST /orders/{id}/cancel",
];

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let orders = Arc::new(Orders::default());
    lambda_http::run(service_fn(move |request: Request| {
        let orders = Arc::clone(&orders);
        async move { Ok::<_, Infallible>(handle(&orders, &request)) }
    }))
    .await
}

/// Log lines at `RUST_LOG` (default `info`), the Lambda runtime's own at
/// most `info`: at `debug` it logs whole events, and an API Gateway event
/// carries the caller's `X-API-Key` header. Never log a request's headers.
fn init_tracing() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    for directive in ["lambda_runtime=info", "lambda_http=info"] {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .without_time()
        .try_init();
}

/// One order, as the API shows it.
#[derive(Debug, Clone, Serialize)]
struct Order {
    id: String,
    item: String,
    quantity: u32,
    status: OrderStatus,
    /// The key that placed it: `key_id` from the authorizer's context.
    placed_by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum OrderStatus {
    Open,
    Cancelled,
}

/// `POST /orders`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrder {
    item: String,
    quantity: u32,
}

/// Every organization's orders, newest last, by `org_id`.
#[derive(Default)]
struct Orders {
    by_org: Mutex<HashMap<String, Vec<Order>>>,
}

/// One request: who is calling, whether it is over its key's usage limits,
/// then the route; the RateLimit fields on every answer to a limited key.
fn handle(orders: &Orders, request: &Request) -> Response<Body> {
    let mut response = route(orders, request);
    if let Some(caller) = AuthorizerContext::of_request(request) {
        for (name, value) in caller.ratelimit_headers() {
            if let Ok(value) = value.parse() {
                response.headers_mut().insert(name, value);
            }
        }
    }
    response
}

fn route(orders: &Orders, request: &Request) -> Response<Body> {
    // The caller, as keygate's authorizer wrote it: the request's
    // `requestContext.authorizer.lambda` object, every value a string
    // (org_id, key_id, key_type, owner, scopes, hint, expires_at).
    // Read through keygate's own type here; a backend in another language
    // reads the same object from the event:
    //   Python (Lambda):   event["requestContext"]["authorizer"]["lambda"]["org_id"]
    //   Node.js (Lambda):  event.requestContext.authorizer.lambda.org_id
    //   Go (aws-lambda-go, events.APIGatewayV2HTTPRequest):
    //                      event.RequestContext.Authorizer.Lambda["org_id"]
    //   Java (aws-lambda-java-events, APIGatewayV2HTTPEvent):
    //                      event.getRequestContext().getAuthorizer().getLambda().get("org_id")
    // and a web server behind an HTTP integration reads the headers its
    // parameter mapping adds: X-Keygate-Org-Id, X-Keygate-Key-Id, … (README).
    let Some(caller) = AuthorizerContext::of_request(request) else {
        // Only a route wired without the authorizer gets here: refuse
        // rather than serve orders to nobody in particular.
        tracing::error!("no keygate authorizer context: is this route behind the authorizer?");
        return answer(500, error("internal_error", "The request has no caller."));
    };
    // keygate deployed with LimitMode=defer lets a request over its key's
    // limits through, saying so: answer it 429 before doing anything. In
    // another language, the same few lines read the context's `limit` and
    // `retry_after` fields:
    //   if ctx.get("limit"):
    //       status = 503 if ctx["limit"] == "unavailable" else 429
    //       headers = {"Retry-After": ctx["retry_after"],
    //                  "RateLimit": ctx["ratelimit"],
    //                  "RateLimit-Policy": ctx["ratelimit_policy"]}
    if let Some(over) = caller.over_limit() {
        let code = if over.status == 429 {
            "limit_exceeded"
        } else {
            "unavailable"
        };
        let mut response = answer(over.status, error(code, &over.message));
        response
            .headers_mut()
            .insert("retry-after", over.retry_after.into());
        return response;
    }
    let route_key = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.route_key.as_deref(),
        _ => None,
    };
    let id = request
        .path_parameters_ref()
        .and_then(|p| p.first("id"))
        .unwrap_or_default();
    tracing::info!(
        route_key,
        org_id = caller.org_id,
        key_id = caller.key_id,
        "request"
    );
    match route_key.unwrap_or_default() {
        "GET /health" => answer(200, json!({"status": "ok", "org_id": caller.org_id})),
        "GET /orders" => {
            let data = orders.of(&caller.org_id);
            answer(200, json!({"org_id": caller.org_id, "data": data}))
        }
        "GET /orders/{id}" => match orders.find(&caller.org_id, id) {
            Some(order) => answer(200, json!(order)),
            None => not_found(id),
        },
        "POST /orders" => match parse_new_order(request.body()) {
            Ok(new) => answer(201, json!(orders.place(&caller, new))),
            Err(message) => answer(400, error("invalid_body", &message)),
        },
        "POST /orders/{id}/cancel" => match orders.cancel(&caller.org_id, id) {
            Some(Ok(order)) => answer(200, json!(order)),
            Some(Err(order)) => answer(
                409,
                error(
                    "invalid_transition",
                    &format!("Order {} is already cancelled.", order.id),
                ),
            ),
            None => not_found(id),
        },
        // The template routes only ROUTES here.
        other => answer(404, error("not_found", &format!("No route {other:?}."))),
    }
}

impl Orders {
    fn of(&self, org: &str) -> Vec<Order> {
        self.lock().get(org).cloned().unwrap_or_default()
    }

    /// The order `id` of `org` only: another organization's is not found.
    fn find(&self, org: &str, id: &str) -> Option<Order> {
        self.lock()
            .get(org)
            .and_then(|orders| orders.iter().find(|o| o.id == id).cloned())
    }

    fn place(&self, caller: &AuthorizerContext, new: NewOrder) -> Order {
        let order = Order {
            id: format!("ord_{}", uuid::Uuid::now_v7().simple()),
            item: new.item,
            quantity: new.quantity,
            status: OrderStatus::Open,
            placed_by: caller.key_id.clone(),
        };
        self.lock()
            .entry(caller.org_id.clone())
            .or_default()
            .push(order.clone());
        order
    }

    /// `None` when `org` has no order `id`; `Err` with the order when it is
    /// cancelled already.
    fn cancel(&self, org: &str, id: &str) -> Option<Result<Order, Order>> {
        let mut by_org = self.lock();
        let order = by_org.get_mut(org)?.iter_mut().find(|o| o.id == id)?;
        if order.status != OrderStatus::Open {
            return Some(Err(order.clone()));
        }
        order.status = OrderStatus::Cancelled;
        Some(Ok(order.clone()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Order>>> {
        // A panic while holding the lock leaves the map as it was: go on.
        self.by_org.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn parse_new_order(body: &Body) -> Result<NewOrder, String> {
    let bytes: &[u8] = body.as_ref();
    let new: NewOrder = serde_json::from_slice(bytes)
        .map_err(|_| "The body must be {\"item\": \"…\", \"quantity\": 1-1000}.".to_owned())?;
    if new.item.trim().is_empty() || new.item.chars().count() > 100 {
        return Err("item must be 1-100 characters.".into());
    }
    if !(1..=1000).contains(&new.quantity) {
        return Err("quantity must be 1-1000.".into());
    }
    Ok(new)
}

fn not_found(id: &str) -> Response<Body> {
    // The same answer for another organization's order as for none at all.
    answer(404, error("not_found", &format!("No order {id:?}.")))
}

fn error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

fn answer(status: u16, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body.to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload-2.0 event as API Gateway sends it, with keygate's context for
    /// a key of `org`, or none.
    fn event(route_key: &str, path: &str, org: Option<&str>, body: Option<&str>) -> Request {
        let (method, _) = route_key.split_once(' ').unwrap();
        let mut context = json!({
            "routeKey": route_key, "stage": "$default", "requestId": "r1",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
        });
        if let Some(org) = org {
            context["authorizer"] = json!({"lambda": {
                "org_id": org, "key_id": format!("key-of-{org}"), "key_type": "service",
                "owner": "", "scopes": "orders:read orders:write orders:cancel",
                "hint": "kg_...abcd", "expires_at": "",
            }});
        }
        let id = path.split('/').nth(2);
        let event = json!({
            "version": "2.0", "routeKey": route_key, "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "pathParameters": id.map(|id| json!({"id": id})).unwrap_or(json!({})),
            "requestContext": context, "body": body, "isBase64Encoded": false,
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    fn call(orders: &Orders, request: Request) -> (u16, Value) {
        let response = handle(orders, &request);
        let body: &[u8] = response.body().as_ref();
        (
            response.status().as_u16(),
            serde_json::from_slice(body).unwrap(),
        )
    }

    #[test]
    fn each_organization_sees_only_its_own_orders() {
        let orders = Orders::default();
        let (status, placed) = call(
            &orders,
            event(
                "POST /orders",
                "/orders",
                Some("acme"),
                Some(r#"{"item":"anvil","quantity":2}"#),
            ),
        );
        assert_eq!(status, 201, "{placed}");
        assert_eq!(placed["placed_by"], "key-of-acme");
        let id = placed["id"].as_str().unwrap();
        let path = format!("/orders/{id}");

        let (status, got) = call(
            &orders,
            event("GET /orders/{id}", &path, Some("acme"), None),
        );
        assert_eq!((status, &got["item"]), (200, &json!("anvil")));
        let (status, theirs) = call(
            &orders,
            event("GET /orders/{id}", &path, Some("globex"), None),
        );
        assert_eq!(status, 404, "{theirs}");
        let (status, _) = call(
            &orders,
            event(
                "POST /orders/{id}/cancel",
                &format!("{path}/cancel"),
                Some("globex"),
                None,
            ),
        );
        assert_eq!(status, 404, "another organization cannot cancel it");
        let (_, listed) = call(
            &orders,
            event("GET /orders", "/orders", Some("globex"), None),
        );
        assert_eq!(listed, json!({"org_id": "globex", "data": []}));

        let cancel = || {
            event(
                "POST /orders/{id}/cancel",
                &format!("{path}/cancel"),
                Some("acme"),
                None,
            )
        };
        let (status, cancelled) = call(&orders, cancel());
        assert_eq!((status, &cancelled["status"]), (200, &json!("cancelled")));
        assert_eq!(call(&orders, cancel()).0, 409);
    }

    /// keygate in `defer` mode: a request over its key's limit is answered
    /// 429 with Retry-After and the RateLimit fields, and places nothing.
    #[test]
    fn a_request_over_its_keys_limit_is_answered_429_and_changes_nothing() {
        let orders = Orders::default();
        let mut request = event(
            "POST /orders",
            "/orders",
            Some("acme"),
            Some(r#"{"item":"tea","quantity":1}"#),
        );
        if let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref().cloned()
        {
            let mut context = context;
            let fields = &mut context.authorizer.as_mut().unwrap().fields;
            fields.insert("limits".into(), json!("rate=10/60;quota="));
            fields.insert("limit".into(), json!("rate"));
            fields.insert("retry_after".into(), json!("12"));
            fields.insert("ratelimit".into(), json!("\"rate\";r=0;t=12"));
            fields.insert("ratelimit_policy".into(), json!("\"rate\";q=10;w=60"));
            request = request.with_request_context(RequestContext::ApiGatewayV2(context));
        }
        let response = handle(&orders, &request);
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()["retry-after"], "12");
        assert_eq!(response.headers()["ratelimit"], "\"rate\";r=0;t=12");
        assert_eq!(response.headers()["ratelimit-policy"], "\"rate\";q=10;w=60");
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["error"]["code"], "limit_exceeded");
        assert!(orders.of("acme").is_empty(), "nothing was placed");
    }

    #[test]
    fn a_request_without_keygates_context_is_refused() {
        let (status, body) = call(
            &Orders::default(),
            event("GET /orders", "/orders", None, None),
        );
        assert_eq!(status, 500);
        assert_eq!(body["error"]["code"], "internal_error");
    }

    #[test]
    fn a_bad_order_is_a_400() {
        for body in [
            r#"{"item":"anvil"}"#,
            r#"{"item":"","quantity":1}"#,
            r#"{"item":"anvil","quantity":0}"#,
            r#"{"item":"anvil","quantity":1,"price":3}"#,
            "not json",
        ] {
            let (status, answer) = call(
                &Orders::default(),
                event("POST /orders", "/orders", Some("acme"), Some(body)),
            );
            assert_eq!(status, 400, "{body}: {answer}");
        }
    }

    /// The backend, the catalog's `[routes]` and the template's routes are
    /// the same five routes: a route added in one place only fails here.
    #[test]
    fn the_backend_the_catalog_and_the_template_serve_the_same_routes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut served: Vec<String> = ROUTES.iter().map(|r| (*r).to_owned()).collect();
        served.sort();

        let catalog: toml::Table =
            toml::from_str(&std::fs::read_to_string(dir.join("keygate.toml")).unwrap()).unwrap();
        let mut in_catalog: Vec<String> = catalog["routes"]
            .as_table()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        in_catalog.sort();
        assert_eq!(in_catalog, served, "keygate.toml [routes]");

        let template: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(dir.join("template.yaml")).unwrap())
                .unwrap();
        let function = &template["Resources"]["OrdersFunction"]["Properties"];
        let mut in_template: Vec<String> = function["Events"]
            .as_mapping()
            .unwrap()
            .values()
            .map(|event| {
                assert_eq!(event["Type"], "HttpApi");
                let properties = &event["Properties"];
                format!(
                    "{} {}",
                    properties["Method"].as_str().unwrap(),
                    properties["Path"].as_str().unwrap()
                )
            })
            .collect();
        in_template.sort();
        assert_eq!(in_template, served, "template.yaml OrdersFunction events");
    }
}
