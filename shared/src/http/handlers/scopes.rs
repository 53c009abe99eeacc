//! The scope catalog and the presets: what `GET /v1/scopes` answers.

use lambda_http::{Body, Response};

use super::json_response;
use crate::domain::catalog::Catalog;
use crate::http::error::ApiError;
use crate::http::views::CatalogView;

pub(in crate::http) fn list(catalog: &Catalog) -> Result<Response<Body>, ApiError> {
    json_response(200, &CatalogView::of(catalog))
}
