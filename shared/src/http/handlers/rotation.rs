//! Rotate: a successor with the same name, permissions and expiry, and the
//! old key revoked now or after a grace period, in one atomic write.

use lambda_http::{Body, Request, Response};

use super::{Decision, Viewer, change_key, json_response};
use crate::app::App;
use crate::domain::authority::{Act, Caller, authorize};
use crate::domain::change::{Change, Origin};
use crate::domain::key::FullKey;
use crate::domain::lifecycle::{MAX_GRACE_SECS, Rotation};
use crate::domain::record::KeyRecord;
use crate::domain::text::RevokeReason;
use crate::domain::time::Timestamp;
use crate::http::error::ApiError;
use crate::http::request::{Fields, Input, path_id};
use crate::http::views::Created;
use crate::store::Store;

fn parse(fields: &Fields) -> Result<Rotation, ApiError> {
    let grace_secs = fields
        .optional_int("grace_period_seconds", 0..=u64::from(MAX_GRACE_SECS))?
        .unwrap_or(0);
    let reason = fields
        .optional_str("reason")?
        .map(RevokeReason::new)
        .transpose()
        .map_err(|e| ApiError::bad_request("reason", e))?;
    Ok(Rotation {
        // Bounded by MAX_GRACE_SECS above.
        grace_secs: u32::try_from(grace_secs).unwrap_or(MAX_GRACE_SECS),
        reason,
    })
}

pub(in crate::http) async fn rotate<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
    input: &Input,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let id = path_id(req)?;
    let rotation = parse(&input.body)?;
    let now = origin.at;
    let (successor, key): (KeyRecord, FullKey) = change_key(
        app,
        caller,
        id,
        |target| Act::Change { target },
        |old| {
            check(caller, &old, now)?;
            let new = app.keys.generate();
            let successor = KeyRecord {
                description: old.description.clone(),
                owner: old.owner.clone(),
                expires_at: old.expires_at,
                created_by: Some(caller.key_id),
                // Rotating is not a reset: the successor draws on the same
                // budget, under the same limits.
                limits: old.limits,
                budget: old.budget,
                ..KeyRecord::new_active(
                    &new,
                    old.org_id.clone(),
                    old.name.clone(),
                    old.key_type,
                    old.permissions.clone(),
                    now,
                )
            };
            let (change, successor) = Change::rotate(old, successor, &rotation, origin);
            Ok(Decision::Commit(Box::new(change), (successor, new.key)))
        },
    )
    .await?;
    let viewer = Viewer::of(app, caller, now, [&successor]).await?;
    json_response(
        201,
        &Created {
            record: viewer.view(&successor),
            key: key.expose(),
        },
    )
}

/// Whether `caller` may rotate `old` (over which it has authority) at
/// `now`: only an active, unexpired key not rotated before; and the
/// successor is minted by the caller, so it may not outlive it.
pub(super) fn check(caller: &Caller, old: &KeyRecord, now: Timestamp) -> Result<(), ApiError> {
    Rotation::check(old, now)?;
    // The successor is minted by the caller: it may not outlive it, nor
    // leave the budget it shares.
    authorize(
        caller,
        Act::Mint {
            permissions: &old.permissions,
            expires_at: old.expires_at,
            limits: &old.limits,
            budget: old.budget,
        },
    )?;
    Ok(())
}
