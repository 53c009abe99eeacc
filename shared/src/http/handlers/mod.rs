//! The handlers, by operation family, and what they share: reading the
//! caller's key, and the read–decide–commit loop every change goes through.

use std::time::Duration;

use lambda_http::{Body, Response};
use serde::Serialize;

use super::error::ApiError;
use super::views::{CallerView, KeyView, Permit};
use crate::app::App;
use crate::domain::authority::{Act, Caller, authorize};
use crate::domain::change::Change;
use crate::domain::id::KeyId;
use crate::domain::lifecycle::{Transition, check};
use crate::domain::record::KeyRecord;
use crate::domain::routes::Operation;
use crate::domain::search::KeyCounts;
use crate::domain::time::Timestamp;
use crate::store::{Store, StoreError};

pub(super) mod audit;
pub(super) mod keys;
pub(super) mod labels;
pub(super) mod lifecycle;
pub(super) mod limits;
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

/// Who is shown keys, when, and what the store counts of their
/// organization: everything a key view needs beyond the record.
pub(super) struct Viewer<'c> {
    pub caller: &'c Caller,
    pub now: Timestamp,
    /// `None` when the store cannot count (or nothing shown needed it).
    pub counts: Option<KeyCounts>,
}

impl<'c> Viewer<'c> {
    /// A viewer for `records`: the organization's counts are read only
    /// when one of them is an active full-access key (whether it is the
    /// last one is what they tell).
    pub async fn of<'r, S: Store>(
        app: &App<S>,
        caller: &'c Caller,
        now: Timestamp,
        records: impl IntoIterator<Item = &'r KeyRecord>,
    ) -> Result<Viewer<'c>, ApiError> {
        let needed = records
            .into_iter()
            .any(|r| KeyCounts::default().is_last_full_access(r));
        let counts = match needed {
            true => app.store.counts(&caller.org).await?,
            false => None,
        };
        Ok(Viewer {
            caller,
            now,
            counts,
        })
    }

    /// `record` as this caller is shown it.
    pub fn view<'a>(&self, record: &'a KeyRecord) -> KeyView<'a> {
        let permit = |op| Permit::of(preview(op, self.caller, record, self.now));
        let caller = CallerView {
            update: permit(Operation::UpdateKey),
            suspend: permit(Operation::SuspendKey),
            reactivate: permit(Operation::ReactivateKey),
            rotate: permit(Operation::RotateKey),
            revoke: permit(Operation::RevokeKey),
            delete: permit(Operation::DeleteKey),
            set_limits: permit(Operation::SetLimits),
            reset_usage: permit(Operation::ResetUsage),
        };
        // Only an active full-access key can be the last; whether it is, the
        // counts tell (none: the store cannot say).
        let last = match KeyCounts::default().is_last_full_access(record) {
            false => Some(false),
            true => self.counts.map(|c| c.is_last_full_access(record)),
        };
        KeyView::of(record, self.now, caller, last)
    }
}

/// What `op` would answer `caller` for `target` at `now` before writing
/// anything: the checks its handler makes, with the same functions, in the
/// same order. (A delete's check that a rotation's successor outlives the
/// key it replaced needs another read, and is left to the call.)
fn preview(
    op: Operation,
    caller: &Caller,
    target: &KeyRecord,
    now: Timestamp,
) -> Result<(), ApiError> {
    super::require(caller, op.required())?;
    let transition = |t: Transition| -> Result<(), ApiError> {
        authorize(caller, lifecycle::act_of(t)(target))?;
        check(target.status, t)?;
        Ok(())
    };
    match op {
        Operation::SuspendKey => transition(Transition::Suspend),
        Operation::ReactivateKey => transition(Transition::Reactivate),
        Operation::RevokeKey => transition(Transition::Revoke),
        Operation::RotateKey => {
            authorize(caller, Act::Change { target })?;
            rotation::check(caller, target, now)
        }
        Operation::UpdateKey | Operation::DeleteKey => {
            Ok(authorize(caller, Act::Change { target })?)
        }
        // Whether there are limits the caller may set on this key: its own
        // are always within its own budget's (an unlimited caller's: any),
        // whatever the key has now.
        Operation::SetLimits => Ok(authorize(
            caller,
            Act::SetLimits {
                target,
                limits: &caller.limits,
            },
        )?),
        Operation::ResetUsage => Ok(authorize(caller, Act::ResetUsage { target })?),
        Operation::CreateKey
        | Operation::ListKeys
        | Operation::GetKey
        | Operation::GetUsage
        | Operation::ListScopes
        | Operation::ListAuditEvents => Ok(()),
    }
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
