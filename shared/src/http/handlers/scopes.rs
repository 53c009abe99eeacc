//! The scope catalog and the presets: what `GET /v1/scopes` answers.

use std::collections::BTreeMap;

use lambda_http::{Body, Response};
use serde_json::{Value, json};

use super::json_response;
use crate::domain::scope::{CATALOG, FULL_ACCESS, Permissions, Preset};
use crate::http::error::ApiError;

pub(in crate::http) fn list() -> Result<Response<Body>, ApiError> {
    let resources: Vec<Value> = CATALOG
        .iter()
        .map(|(resource, actions)| {
            json!({
                "resource": resource,
                "scopes": actions.iter().map(|a| format!("{resource}:{a}")).collect::<Vec<_>>(),
            })
        })
        .collect();
    let presets: BTreeMap<&str, Vec<String>> = Preset::ALL
        .iter()
        .map(|p| (p.name(), Permissions::Scopes(p.scopes()).to_strings()))
        .collect();
    json_response(
        200,
        &json!({
            "resources": resources,
            "presets": presets,
            "full_access": FULL_ACCESS,
        }),
    )
}
