//! The API Gateway HTTP API (payload 2.0) Lambda REQUEST authorizer with
//! simple responses. Every failure is a deny, never an error.

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use serde_json::{Map, Value};

use super::context::AuthorizerContext;
use crate::app::{App, LimitFailure, LimitMode};
use crate::domain::limits::{
    Admission, LimitKind, ceil_seconds, ratelimit_field, ratelimit_policy_field, usage,
};
use crate::domain::record::{KeyRecord, KeyStatus};
use crate::domain::routes::Requirement;
use crate::store::Store;

/// The header the authorizer reads (API Gateway lower-cases header names).
pub const API_KEY_HEADER: &str = "x-api-key";
/// [`API_KEY_HEADER`] as a header name, built once rather than per lookup.
static API_KEY_HEADER_NAME: http::HeaderName = http::HeaderName::from_static(API_KEY_HEADER);

/// `last_used_at` is written at most once per this many seconds per key.
pub const LAST_USED_EVERY_SECS: i64 = 60;

/// Why a request was denied; logged, never returned to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    NoKey,
    Malformed,
    UnknownRoute,
    UnknownKey,
    WrongSecret,
    Suspended,
    Revoked,
    Expired,
    MissingScope,
    /// Over its rate limit or quota (`deny` mode).
    OverLimit(LimitKind),
    StoreFailed,
}

/// The outcome of [`decide`], before it becomes an API Gateway response.
#[derive(Debug, Clone, PartialEq)]
// One per request, returned and consumed at once: boxing the context would
// add an allocation to every allowed request and save nothing.
#[allow(clippy::large_enum_variant)]
pub enum Decision {
    Allow(AuthorizerContext),
    Deny(DenyReason),
}

/// The presented key: the `X-API-Key` header, else the first identity source.
fn presented_key(event: &ApiGatewayV2CustomAuthorizerV2Request) -> Option<&str> {
    event
        .headers
        .get(&API_KEY_HEADER_NAME)
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            event
                .identity_source
                .as_ref()
                .and_then(|s| s.first())
                .map(String::as_str)
        })
}

/// Steps 1–5 of the contract. Malformed keys and unknown routes are denied
/// before any store call.
pub async fn decide<S: Store>(
    app: &App<S>,
    event: &ApiGatewayV2CustomAuthorizerV2Request,
) -> Decision {
    let Some(text) = presented_key(event) else {
        return Decision::Deny(DenyReason::NoKey);
    };
    let Ok(key) = app.keys.parse(text) else {
        return Decision::Deny(DenyReason::Malformed);
    };
    let route_key = event
        .route_key
        .as_deref()
        .or(event.request_context.route_key.as_deref())
        .unwrap_or_default();
    let Some(requirement) = app.routes().required_scope(route_key) else {
        return Decision::Deny(DenyReason::UnknownRoute);
    };
    let record = match app.store.get(key.id).await {
        Ok(Some(record)) => record,
        Ok(None) => return Decision::Deny(DenyReason::UnknownKey),
        Err(e) => {
            let error = crate::error_chain(&e);
            tracing::error!(key_id = %key.id, %error, "key store failed; denying");
            return Decision::Deny(DenyReason::StoreFailed);
        }
    };
    if !app.keys.hasher().verify(&key, &record.secret_hash) {
        return Decision::Deny(DenyReason::WrongSecret);
    }
    match record.status {
        KeyStatus::Active => {}
        KeyStatus::Suspended => return Decision::Deny(DenyReason::Suspended),
        KeyStatus::Revoked => return Decision::Deny(DenyReason::Revoked),
    }
    let now = app.clock.now();
    if record.is_expired(now) {
        return Decision::Deny(DenyReason::Expired);
    }
    if let Requirement::Scope(scope) = requirement
        && !record.permissions.covers(scope)
    {
        return Decision::Deny(DenyReason::MissingScope);
    }
    // For the handlers (and the deployer's backend): who is calling, the
    // hint the audit trail names it by, and the expiry a key it mints may
    // not outlive.
    let mut context = AuthorizerContext::of(&record, key.id_text());
    // Counted only now that every other check passed: a forged key, an
    // inactive or expired one, or a missing scope spends nothing. A key
    // without limits costs nothing more.
    if !record.limits.is_none()
        && let Some(reason) = count(app, &record, &mut context).await
    {
        return Decision::Deny(reason);
    }
    let threshold = now.plus_seconds(-LAST_USED_EVERY_SECS);
    if context.limit.is_empty() && record.last_used_at.is_none_or(|t| t <= threshold) {
        // Best effort: a failed write never changes the decision.
        if let Err(e) = app.store.record_use(record.id, now, threshold).await {
            let error = crate::error_chain(&e);
            tracing::warn!(key_id = %record.id, %error, "could not record last use");
        }
    }
    Decision::Allow(context)
}

/// Count the request against the key's limits. Within them, the context
/// gets the RateLimit fields; over them, a deny (`deny` mode) or a context
/// saying which limit and for how long (`defer` mode). A count that could
/// not be made refuses the request unless the deployer chose fail-open.
async fn count<S: Store>(
    app: &App<S>,
    record: &KeyRecord,
    context: &mut AuthorizerContext,
) -> Option<DenyReason> {
    let now_ms = app.clock.now_ms();
    let policy = app.limit_policy;
    match app.store.admit(record.budget, &record.limits, now_ms).await {
        Ok(Admission::Admitted(counters)) => {
            let usages = usage(&record.limits, &counters, now_ms);
            context.ratelimit = ratelimit_field(&usages, now_ms);
            context.ratelimit_policy = ratelimit_policy_field(&usages);
            None
        }
        Ok(Admission::Exceeded(exceeded)) => {
            let retry_after = ceil_seconds(exceeded.retry_after_ms).max(1);
            tracing::info!(
                key_id = %record.id,
                budget = %record.budget,
                limit = exceeded.limit.as_str(),
                retry_after,
                "over its limit"
            );
            match policy.mode {
                LimitMode::Deny => Some(DenyReason::OverLimit(exceeded.limit)),
                LimitMode::Defer => {
                    let usages: Vec<_> = usage(&record.limits, &Default::default(), now_ms)
                        .into_iter()
                        .filter(|u| u.kind == exceeded.limit)
                        .collect();
                    context.ratelimit =
                        format!("\"{}\";r=0;t={retry_after}", exceeded.limit.as_str());
                    context.ratelimit_policy = ratelimit_policy_field(&usages);
                    context.limit = exceeded.limit.as_str().to_owned();
                    context.retry_after = retry_after.to_string();
                    None
                }
            }
        }
        Err(e) => {
            let error = crate::error_chain(&e);
            match (policy.on_failure, policy.mode) {
                (LimitFailure::Open, _) => {
                    tracing::warn!(key_id = %record.id, %error, "could not count a use; allowing it uncounted (fail-open)");
                    None
                }
                (LimitFailure::Closed, LimitMode::Deny) => {
                    tracing::error!(key_id = %record.id, %error, "could not count a use; denying");
                    Some(DenyReason::StoreFailed)
                }
                (LimitFailure::Closed, LimitMode::Defer) => {
                    tracing::error!(key_id = %record.id, %error, "could not count a use; deferring a 503");
                    context.limit = "unavailable".to_owned();
                    context.retry_after = "1".to_owned();
                    None
                }
            }
        }
    }
}

/// The Lambda handler body: decide, log, answer in API Gateway's simple format.
pub async fn authorize<S: Store>(
    app: &App<S>,
    event: &ApiGatewayV2CustomAuthorizerV2Request,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    let decision = decide(app, event).await;
    let route = event.route_key.as_deref().unwrap_or_default();
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    match decision {
        Decision::Allow(context) => {
            tracing::debug!(route, key_id = %context.key_id, "allow");
            response.is_authorized = true;
            response.context = serde_json::to_value(context).unwrap_or_default();
        }
        Decision::Deny(reason) => {
            tracing::info!(route, ?reason, "deny");
            response.is_authorized = false;
            response.context = Value::Object(Map::new());
        }
    }
    response
}
