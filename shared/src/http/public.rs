//! The public routes: the console (a page and its assets, see
//! [`super::assets`]) and the OpenAPI document. No key, no authorizer,
//! no store; strict headers on every answer.

use lambda_http::{Body, Request, RequestExt, Response};

use strum::VariantArray;

use super::assets::asset;
use super::error::{ApiError, GatewayAnswer, method_not_allowed};
use crate::domain::catalog::Catalog;
use crate::domain::routes::{Page, RouteTable, keygate_paths};

/// The page's Content-Security-Policy: only its own scripts, styles and
/// API; no inline code; never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The page is small and changes with each release: revalidate, never keep
/// a stale console next to a newer API.
const CACHE_CONTROL: &str = "no-cache";

/// Serve a public page.
pub fn serve(page: Page, req: &Request, catalog: &Catalog) -> Result<Response<Body>, ApiError> {
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
                None => {
                    let not_found = GatewayAnswer::NotFound;
                    answer(
                        not_found.status(),
                        "application/json",
                        not_found.body().into_bytes(),
                    )
                }
            }
        }
        Page::OpenApiDocument => {
            let text = crate::http::openapi::document_json(catalog);
            answer(200, "application/json", text.as_bytes())
        }
    }
}

fn answer(
    status: u16,
    content_type: &str,
    bytes: impl Into<Vec<u8>>,
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
        .body(Body::Binary(bytes.into()))
        .map_err(ApiError::internal)
}

/// The `console` function's handler: the public route API Gateway matched.
/// Any other route is refused (fail closed) and logged.
pub fn handle(req: Request, catalog: &Catalog) -> Response<Body> {
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
        (Some(page), _) => serve(page, &req, catalog),
        (None, Some(path)) => {
            // A template's `{id}` matches as any segment would, so the route
            // table answers for the template as for a concrete path.
            let allowed = RouteTable::keygate().allowed_methods(path);
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
