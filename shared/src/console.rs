//! The public routes: the console (a page and its assets, embedded in the
//! binary from one table) and the OpenAPI document. No key, no authorizer,
//! no store; strict headers on every answer.

use lambda_http::{Body, Request, RequestExt, Response};

use crate::error::ApiError;
use crate::routes::Operation;

/// One embedded file of the console.
pub struct Asset {
    /// The name under `/console/` (the page itself is served at `/`).
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! assets {
    ($($name:literal => $type:literal),* $(,)?) => {
        /// Every file of `console/`, compiled in: no third party at run time.
        pub const ASSETS: &[Asset] = &[
            $(Asset {
                name: $name,
                content_type: $type,
                bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../console/", $name)),
            },)*
        ];
    };
}

assets! {
    "actions.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "audit.js" => "text/javascript; charset=utf-8",
    "capabilities.js" => "text/javascript; charset=utf-8",
    "create.js" => "text/javascript; charset=utf-8",
    "details.js" => "text/javascript; charset=utf-8",
    "dialogs.js" => "text/javascript; charset=utf-8",
    "dom.js" => "text/javascript; charset=utf-8",
    "errors.js" => "text/javascript; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "format.js" => "text/javascript; charset=utf-8",
    "index.html" => "text/html; charset=utf-8",
    "keys.js" => "text/javascript; charset=utf-8",
    "links.js" => "text/javascript; charset=utf-8",
    "menu.js" => "text/javascript; charset=utf-8",
    "paged.js" => "text/javascript; charset=utf-8",
    "reference.js" => "text/javascript; charset=utf-8",
    "secret.js" => "text/javascript; charset=utf-8",
    "session.js" => "text/javascript; charset=utf-8",
    "signin.js" => "text/javascript; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "toast.js" => "text/javascript; charset=utf-8",
}

/// The page's Content-Security-Policy: only its own scripts, styles and
/// API; no inline code; never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The page is small and changes with each release: revalidate, never keep
/// a stale console next to a newer API.
const CACHE_CONTROL: &str = "no-cache";

pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// Serve a public route.
pub fn serve(op: Operation, req: &Request) -> Result<Response<Body>, ApiError> {
    match op {
        Operation::ConsolePage => {
            let page = asset("index.html")
                .ok_or_else(|| ApiError::internal("the console page is not embedded"))?;
            answer(200, page.content_type, page.bytes)
        }
        Operation::ConsoleAsset => {
            let name = req
                .path_parameters_ref()
                .and_then(|p| p.first("file"))
                .unwrap_or_default();
            match asset(name).filter(|a| a.name != "index.html") {
                Some(a) => answer(200, a.content_type, a.bytes),
                None => answer(404, "application/json", br#"{"message":"Not Found"}"#),
            }
        }
        Operation::OpenApiDocument => {
            let text = crate::openapi::document_json();
            answer(200, "application/json", text.as_bytes())
        }
        other => Err(ApiError::internal(format!(
            "{} is not a public route",
            other.route_key()
        ))),
    }
}

fn answer(
    status: u16,
    content_type: &str,
    bytes: &'static [u8],
) -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("x-frame-options", "DENY")
        .header("cross-origin-opener-policy", "same-origin")
        .header("cache-control", CACHE_CONTROL)
        .body(Body::Binary(bytes.to_vec()))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The `console` function's handler: the public route API Gateway matched.
/// Any other route is refused (fail closed) and logged.
pub fn handle(req: Request) -> Response<Body> {
    let request_id = crate::api::request_id(&req);
    let route = crate::api::route_key(&req);
    let op = Operation::ALL
        .into_iter()
        .find(|op| op.is_public() && Some(op.route_key()) == route);
    // `ANY <path>`: a keygate path with a method it does not serve.
    let not_allowed = route
        .and_then(|r| r.strip_prefix("ANY "))
        .filter(|path| crate::routes::keygate_paths().contains(path));
    let result = match (op, not_allowed) {
        (Some(op), _) => serve(op, &req),
        (None, Some(path)) => {
            // A template's `{id}` matches as any segment would, so the route
            // table answers for the template as for a concrete path.
            let allowed = crate::routes::RouteTable::builtin().allowed_methods(path);
            Ok(crate::gateway::method_not_allowed(&allowed.join(", ")))
        }
        (None, None) => {
            tracing::error!(
                received = route.unwrap_or("(none)"),
                request_id = %request_id,
                "misrouted request: the console function serves only the public routes"
            );
            Err(ApiError::internal("misrouted"))
        }
    };
    let response = result.unwrap_or_else(|e| e.into_response(&request_id));
    tracing::info!(
        operation = "console",
        status = response.status().as_u16(),
        request_id = %request_id,
        "handled"
    );
    response
}
