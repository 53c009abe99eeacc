//! Rename and describe a key: one conditional write of its labels with an
//! `update` event recording each field before and after, after the caller's
//! authority over the key (the same rule as every other change to it).

use lambda_http::{Body, Request, Response};

use super::{Decision, Viewer, change_key, json_response};
use crate::app::App;
use crate::domain::authority::{Act, Caller};
use crate::domain::change::{Change, Origin};
use crate::domain::lifecycle::Relabel;
use crate::domain::text::{Description, KeyName};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::request::{Fields, Input, UPDATE_FIELDS, path_id};
use crate::store::Store;

/// An update body: `name` (a string), `description` (a string, or `null`
/// or `""` to remove it); at least one of them.
fn parse(fields: &Fields) -> Result<Relabel, ApiError> {
    if UPDATE_FIELDS.iter().all(|f| !fields.has(f)) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "the body changes nothing: give name, description, or both",
        ));
    }
    if fields.has("name") && fields.get("name").is_none() {
        return Err(ApiError::bad_request(
            "name",
            "cannot be removed: a key always has a name",
        ));
    }
    let name = fields
        .optional_str("name")?
        .map(KeyName::new)
        .transpose()
        .map_err(|e| ApiError::bad_request("name", e))?;
    let description = if fields.has("description") {
        let text = fields.optional_str("description")?.unwrap_or_default();
        Some(
            (!text.is_empty())
                .then(|| Description::new(text))
                .transpose()
                .map_err(|e| ApiError::bad_request("description", e))?,
        )
    } else {
        None
    };
    Ok(Relabel { name, description })
}

pub(in crate::http) async fn update<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
    input: &Input,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let id = path_id(req)?;
    let relabel = parse(&input.body)?;
    let now = origin.at;
    let record = change_key(
        app,
        caller,
        id,
        |target| Act::Change { target },
        |before| {
            if relabel.changes(&before).is_empty() {
                // Already so: a harmless no-op that changes (and records) nothing.
                return Ok(Decision::Done(before));
            }
            let (change, after) = Change::relabel(before, &relabel, origin);
            Ok(Decision::Commit(Box::new(change), after))
        },
    )
    .await?;
    let viewer = Viewer::of(app, caller, now, [&record]).await?;
    json_response(200, &viewer.view(&record))
}
