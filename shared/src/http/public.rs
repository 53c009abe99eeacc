//! The public routes: the console (a page and its assets, embedded in the
//! binary from one table) and the OpenAPI document. No key, no authorizer,
//! no store; strict headers on every answer.

use lambda_http::{Body, Request, RequestExt, Response};

use strum::VariantArray;

use super::error::ApiError;
use crate::domain::routes::{Page, RouteTable, keygate_paths};

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
    "api.js" => "text/javascript; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "audit.js" => "text/javascript; charset=utf-8",
    "create.js" => "text/javascript; charset=utf-8",
    "dialogs.js" => "text/javascript; charset=utf-8",
    "dom.js" => "text/javascript; charset=utf-8",
    "errors.js" => "text/javascript; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "format.js" => "text/javascript; charset=utf-8",
    "index.html" => "text/html; charset=utf-8",
    "keys.js" => "text/javascript; charset=utf-8",
    "menu.js" => "text/javascript; charset=utf-8",
    "paged.js" => "text/javascript; charset=utf-8",
    "session.js" => "text/javascript; charset=utf-8",
    "signin.js" => "text/javascript; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
}

/// API Gateway's own answers: `{"message": "..."}`.
pub fn gateway_answer(status: u16, message: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(
            serde_json::json!({ "message": message }).to_string(),
        ))
        .unwrap_or_default()
}

/// 405 `{"message":"Method Not Allowed"}` with the `Allow` header: what the
/// stack's `ANY` routes and `keygate serve` answer for a keygate path with
/// a method it does not serve.
pub fn method_not_allowed(allow: &str) -> Response<Body> {
    let mut response = gateway_answer(405, "Method Not Allowed");
    if let Ok(value) = http::HeaderValue::from_str(allow) {
        response.headers_mut().insert(http::header::ALLOW, value);
    }
    response
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

/// Serve a public page.
pub fn serve(page: Page, req: &Request) -> Result<Response<Body>, ApiError> {
    match page {
        Page::Console => {
            let index = asset("index.html")
                .ok_or_else(|| ApiError::internal("the console page is not embedded"))?;
            answer(200, index.content_type, index.bytes)
        }
        Page::ConsoleAsset => {
            let name = req
                .path_parameters_ref()
                .and_then(|p| p.first("file"))
                .unwrap_or_default();
            match asset(name).filter(|a| a.name != "index.html") {
                Some(a) => answer(200, a.content_type, a.bytes),
                None => answer(404, "application/json", br#"{"message":"Not Found"}"#),
            }
        }
        Page::OpenApiDocument => {
            let text = crate::http::openapi::document_json();
            answer(200, "application/json", text.as_bytes())
        }
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
        .map_err(ApiError::internal)
}

/// The `console` function's handler: the public route API Gateway matched.
/// Any other route is refused (fail closed) and logged.
pub fn handle(req: Request) -> Response<Body> {
    let request_id = super::request_id(&req);
    let route = super::route_key(&req);
    let page = Page::VARIANTS
        .iter()
        .copied()
        .find(|page| Some(page.route_key()) == route);
    // `ANY <path>`: a keygate path with a method it does not serve.
    let not_allowed = route
        .and_then(|r| r.strip_prefix("ANY "))
        .filter(|path| keygate_paths().contains(path));
    let result = match (page, not_allowed) {
        (Some(page), _) => serve(page, &req),
        (None, Some(path)) => {
            // A template's `{id}` matches as any segment would, so the route
            // table answers for the template as for a concrete path.
            let allowed = RouteTable::builtin().allowed_methods(path);
            Ok(method_not_allowed(&allowed.join(", ")))
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
