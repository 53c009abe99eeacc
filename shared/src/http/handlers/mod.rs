//! The handlers, by operation family, and what they share: reading the
//! caller's key, and the read–decide–commit loop every change goes through.

use std::time::Duration;

use lambda_http::{Body, Response};
use serde::Serialize;

use super::error::ApiError;
use crate::app::App;
use crate::domain::authority::{Act, Caller, authorize};
use crate::domain::change::Change;
use crate::domain::id::KeyId;
use crate::domain::record::KeyRecord;
use crate::store::{Store, StoreError};

pub(super) mod audit;
pub(super) mod keys;
pub(super) mod labels;
pub(super) mod lifecycle;
pub(super) mod rotation;
pub(super) mod scopes;

/// How often a change is decided again when the key changed under it
/// before the answer is a 503.
const CHANGE_ATTEMPTS: usize = 3;

fn json_response(status: u16, value: &impl Serialize) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(value).map_err(ApiError::internal)?;
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(text))
        .map_err(ApiError::internal)
}

/// The record, if it exists in the caller's org; another org's key is a 404 too.
async fn owned_record<S: Store>(
    app: &App<S>,
    caller: &Caller,
    id: KeyId,
) -> Result<KeyRecord, ApiError> {
    app.store
        .get(id)
        .await?
        .filter(|r| r.org_id == caller.org)
        .ok_or_else(|| ApiError::no_such_key(&id.to_string()))
}

/// What a handler decided for the key it read.
enum Decision<T> {
    /// Nothing to write (a repeated transition): answer with this.
    Done(T),
    /// Write this change; on success answer with `T`.
    Commit(Box<Change>, T),
}

/// Read the caller's key `id`, check the caller's authority (`act`) over it,
/// let `decide` turn it into a change, and commit that change conditional on
/// the key being as read. When the key changed in between, everything is
/// read and decided again, so a check never acts on a stale key.
async fn change_key<S, T, F>(
    app: &App<S>,
    caller: &Caller,
    id: KeyId,
    act: fn(&KeyRecord) -> Act<'_>,
    mut decide: F,
) -> Result<T, ApiError>
where
    S: Store,
    F: FnMut(KeyRecord) -> Result<Decision<T>, ApiError>,
{
    for _ in 0..CHANGE_ATTEMPTS {
        let record = owned_record(app, caller, id).await?;
        authorize(caller, act(&record))?;
        match decide(record)? {
            Decision::Done(answer) => return Ok(answer),
            Decision::Commit(change, answer) => match app.store.commit(&change).await {
                Ok(()) => return Ok(answer),
                Err(StoreError::Changed) => continue,
                Err(e) => return Err(e.into()),
            },
        }
    }
    Err(ApiError::unavailable(
        Duration::from_secs(1),
        "the key kept changing while the change was being written",
    ))
}
