//! Usage limits: set a key's limits, read its usage, reset its budget's
//! counts. Each change is one conditional write of the key with its audit
//! event (a reset also deletes the budget's counters, in the same write).

use lambda_http::{Body, Request, Response};
use serde_json::Value;

use super::{Decision, Viewer, change_key, json_response, owned_record};
use crate::app::App;
use crate::domain::authority::{Act, Caller, authorize};
use crate::domain::change::{Change, Origin};
use crate::domain::limits::{Limits, Quota, QuotaPeriod, RateLimit, usage};
use crate::domain::record::KeyRecord;
use crate::domain::redaction::quoted;
use crate::http::error::ApiError;
use crate::http::request::{Fields, Input, path_id};
use crate::http::views::UsageView;
use crate::store::Store;

/// `error`, its field named from the top of the body (`limits.rate.requests`).
pub(super) fn under(prefix: &str, mut error: ApiError) -> ApiError {
    error.message = format!("{prefix}{}", error.message);
    error
}

/// A limits object's fields (`rate`, `quota`), under `prefix` in errors.
pub(super) fn parse_limits(fields: &Fields, prefix: &str) -> Result<Limits, ApiError> {
    let object = |name: &str, allowed: &[&str]| -> Result<Option<Fields>, ApiError> {
        match fields.get(name) {
            None => Ok(None),
            Some(Value::Object(obj)) => Fields::new(obj.clone(), allowed)
                .map(Some)
                .map_err(|e| under(&format!("{prefix}{name}."), e)),
            Some(_) => Err(ApiError::bad_request(
                &format!("{prefix}{name}"),
                format!("must be an object with {} (or null)", allowed.join(" and ")),
            )),
        }
    };
    let rate = match object("rate", &["requests", "window_seconds"])? {
        None => None,
        Some(f) => {
            let at = format!("{prefix}rate.");
            let required = |name: &str, max: u64| {
                f.optional_int(name, 1..=max)
                    .map_err(|e| under(&at, e))?
                    .ok_or_else(|| ApiError::bad_request(&format!("{at}{name}"), "is required"))
            };
            let requests = required("requests", crate::domain::limits::MAX_RATE_REQUESTS)?;
            let window = required(
                "window_seconds",
                u64::from(crate::domain::limits::MAX_WINDOW_SECONDS),
            )?;
            Some(
                RateLimit::new(requests, window)
                    .map_err(|(field, e)| ApiError::bad_request(&format!("{at}{field}"), e))?,
            )
        }
    };
    let quota = match object("quota", &["requests", "period"])? {
        None => None,
        Some(f) => {
            let at = format!("{prefix}quota.");
            let requests = f
                .optional_int("requests", 1..=crate::domain::limits::MAX_QUOTA_REQUESTS)
                .map_err(|e| under(&at, e))?
                .ok_or_else(|| ApiError::bad_request(&format!("{at}requests"), "is required"))?;
            let text = f.required_str("period").map_err(|e| under(&at, e))?;
            let period = text.parse::<QuotaPeriod>().map_err(|_| {
                ApiError::bad_request(
                    &format!("{at}period"),
                    format!("{} is not \"day\" or \"month\"", quoted(text)),
                )
            })?;
            Some(
                Quota::new(requests, period)
                    .map_err(|e| ApiError::bad_request(&format!("{at}requests"), e))?,
            )
        }
    };
    Ok(Limits { rate, quota })
}

/// `PUT /v1/api-keys/{id}/limits`: the key's limits become exactly these
/// (`{}` removes them). Never the caller's own key.
pub(in crate::http) async fn set<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
    input: &Input,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let id = path_id(req)?;
    let limits = parse_limits(&input.body, "")?;
    let now = origin.at;
    let record: KeyRecord = change_key(
        app,
        caller,
        id,
        |target| Act::Change { target },
        |before| {
            authorize(
                caller,
                Act::SetLimits {
                    target: &before,
                    limits: &limits,
                },
            )?;
            if before.limits == limits {
                return Ok(Decision::Done(before));
            }
            let (change, after) = Change::set_limits(before, limits, origin);
            Ok(Decision::Commit(Box::new(change), after))
        },
    )
    .await?;
    let viewer = Viewer::of(app, caller, now, [&record]).await?;
    json_response(200, &viewer.view(&record))
}

/// `GET /v1/api-keys/{id}/usage`: each limit's count, what is left and when
/// it resets, from the budget's counters as stored now.
pub(in crate::http) async fn get<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let record = owned_record(app, caller, path_id(req)?).await?;
    let counters = if record.limits.is_none() {
        Default::default()
    } else {
        app.store.counters(record.budget, &record.limits).await?
    };
    let now_ms = app.clock.now_ms();
    let usages = usage(&record.limits, &counters, now_ms);
    json_response(200, &UsageView::of(&record, &usages))
}

/// `POST /v1/api-keys/{id}/reset-usage`: the counts of the key's budget (every
/// key drawing on it) back to zero. Never the caller's own budget.
pub(in crate::http) async fn reset<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let id = path_id(req)?;
    let record: KeyRecord = change_key(
        app,
        caller,
        id,
        |target| Act::ResetUsage { target },
        |target| {
            let (change, after) = Change::reset_usage(target, origin);
            Ok(Decision::Commit(Box::new(change), after))
        },
    )
    .await?;
    let usages = usage(&record.limits, &Default::default(), app.clock.now_ms());
    json_response(200, &UsageView::of(&record, &usages))
}
