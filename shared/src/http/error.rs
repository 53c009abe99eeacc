//! The API's errors: one catalogue of public error codes, each knowing its
//! HTTP status, and the one mapping of an error to an HTTP answer.

use std::time::Duration;

use lambda_http::{Body, Response};

use crate::domain::authority::Denied;
use crate::domain::lifecycle::{NotAllowed, NotRotatable, StillReplacing};

use crate::store::{BoxError, StoreError};

/// Every error code the API answers with. The README and the OpenAPI
/// document list exactly these (a test holds them to it).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    /// A field or query parameter is invalid; the message names it.
    InvalidRequest,
    /// The body is not a JSON object.
    InvalidJson,
    /// `permissions` names a scope outside the catalog.
    UnknownScope,
    /// `permissions.preset` names no preset.
    UnknownPreset,
    /// The request did not come through the keygate authorizer.
    Unauthenticated,
    /// The calling key lacks the route's scope (the handler's own check).
    InsufficientScope,
    /// A create asked for scopes (or full access) the calling key does not hold.
    PrivilegeEscalation,
    /// The calling key's permissions or expiry do not cover the key it acts on.
    InsufficientAuthority,
    /// No such key in the caller's organization.
    NotFound,
    /// The lifecycle does not allow this change from the key's state.
    InvalidTransition,
    /// The body is larger than [`crate::http::MAX_BODY_BYTES`].
    PayloadTooLarge,
    /// The calling key is over its rate limit or quota (`defer` mode);
    /// retry after `Retry-After`.
    LimitExceeded,
    /// The store is throttled, down or timing out; retry after `Retry-After`.
    ServiceUnavailable,
    /// A fault of keygate or its deployment, never of the request.
    InternalError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest
            | ErrorCode::InvalidJson
            | ErrorCode::UnknownScope
            | ErrorCode::UnknownPreset => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::InsufficientScope
            | ErrorCode::PrivilegeEscalation
            | ErrorCode::InsufficientAuthority => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::InvalidTransition => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::LimitExceeded => 429,
            ErrorCode::ServiceUnavailable => 503,
            ErrorCode::InternalError => 500,
        }
    }
}

/// keygate's error answer.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Error", deny_unknown_fields)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

/// What went wrong; 400 messages start with the field's name.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ErrorDetail<'a> {
    pub code: ErrorCode,
    pub message: &'a str,
    /// The request's id, to quote when asking about it.
    pub request_id: &'a str,
}

/// An error answer: a code, a message for the caller, and (for 5xx) what
/// happened, for the one log line [`crate::http::handle`] writes.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Sent as `Retry-After` (503 only).
    pub retry_after: Option<Duration>,
    /// What went wrong behind a 5xx: logged with its whole chain, never sent.
    #[source]
    pub source: Option<BoxError>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
            source: None,
        }
    }

    /// 400 `invalid_request` naming the field: `"<field>: <problem>"`.
    pub fn bad_request(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidRequest, format!("{field}: {problem}"))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// 404 for a key id (or what was sent as one) the caller's org lacks.
    pub fn no_such_key(id: &str) -> Self {
        Self::not_found(format!(
            "no API key {} in your organization",
            crate::domain::redaction::quoted(id)
        ))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidTransition, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorCode::Unauthenticated,
            "the request was not authorized by the keygate authorizer",
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// The answer to a request over its key's limits (`defer` mode).
    pub fn over_limit(over: &crate::http::context::OverLimit) -> Self {
        let code = if over.status == 429 {
            ErrorCode::LimitExceeded
        } else {
            ErrorCode::ServiceUnavailable
        };
        Self {
            retry_after: Some(Duration::from_secs(over.retry_after)),
            ..Self::new(code, over.message.clone())
        }
    }

    pub fn unavailable(retry_after: Duration, cause: impl Into<BoxError>) -> Self {
        Self {
            retry_after: Some(retry_after),
            source: Some(cause.into()),
            ..Self::new(
                ErrorCode::ServiceUnavailable,
                format!(
                    "the key store is busy or unavailable; retry after {} s",
                    retry_after.as_secs().max(1)
                ),
            )
        }
    }

    /// 500: a fault of keygate or its deployment. `cause` is logged only.
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self {
            source: Some(cause.into()),
            ..Self::new(ErrorCode::InternalError, "internal error")
        }
    }

    /// What the log says about this answer: the message, then each cause.
    pub fn chain(&self) -> String {
        crate::error_chain(self)
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// `{"error": {"code", "message", "request_id"}}` with the matching status.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let body = serde_json::to_value(ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
                request_id,
            },
        })
        .unwrap_or_default();
        let mut builder = Response::builder()
            .status(self.status())
            .header("content-type", "application/json");
        if let Some(retry_after) = self.retry_after {
            builder = builder.header("retry-after", retry_after.as_secs().max(1).to_string());
        }
        builder
            .body(Body::Text(body.to_string()))
            .unwrap_or_else(|_| Response::new(Body::Empty))
    }
}

/// API Gateway's own answers, `{"message": "..."}`: what the stack answers
/// before any keygate code runs, and what `keygate serve` answers the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
pub enum GatewayAnswer {
    /// No `X-API-Key` on a key-protected route.
    Unauthorized,
    /// The authorizer denied the key.
    Forbidden,
    /// No route matches.
    #[strum(serialize = "Not Found")]
    NotFound,
    /// A keygate path, but not a method it serves.
    #[strum(serialize = "Method Not Allowed")]
    MethodNotAllowed,
}

impl GatewayAnswer {
    pub fn message(self) -> &'static str {
        self.into()
    }

    pub fn status(self) -> u16 {
        match self {
            GatewayAnswer::Unauthorized => 401,
            GatewayAnswer::Forbidden => 403,
            GatewayAnswer::NotFound => 404,
            GatewayAnswer::MethodNotAllowed => 405,
        }
    }

    /// The body, `{"message": "..."}`.
    pub fn body(self) -> String {
        serde_json::json!({ "message": self.message() }).to_string()
    }

    pub fn response(self) -> Response<Body> {
        Response::builder()
            .status(self.status())
            .header("content-type", "application/json")
            .body(Body::Text(self.body()))
            .unwrap_or_default()
    }
}

/// 405 `{"message":"Method Not Allowed"}` with the `Allow` header: what the
/// stack's `ANY` routes and `keygate serve` answer for a keygate path with
/// a method it does not serve.
pub fn method_not_allowed(allow: &str) -> Response<Body> {
    let mut response = GatewayAnswer::MethodNotAllowed.response();
    if let Ok(value) = http::HeaderValue::from_str(allow) {
        response.headers_mut().insert(http::header::ALLOW, value);
    }
    response
}

// Every domain and store outcome becomes an HTTP answer here, and only
// here: a handler returns the outcome with `?`.

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable { retry_after, .. } => ApiError::unavailable(retry_after, e),
            // Contention a handler did not decide again on (a create whose
            // transaction met another write): nothing was written; retry.
            StoreError::Changed => ApiError::unavailable(
                Duration::from_secs(1),
                "a write the change depends on was in progress",
            ),
            StoreError::ActorChanged => ApiError::new(
                ErrorCode::InsufficientAuthority,
                "your key was suspended, revoked, deleted or given an earlier expiry while this \
                 request ran; nothing was changed",
            ),
            StoreError::AlreadyExists
            | StoreError::Corrupt(_)
            | StoreError::Malformed(_)
            | StoreError::Failed(_) => ApiError::internal(e),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(e: Denied) -> Self {
        let code = match e {
            Denied::Escalation(_) => ErrorCode::PrivilegeEscalation,
            _ => ErrorCode::InsufficientAuthority,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<NotAllowed> for ApiError {
    fn from(e: NotAllowed) -> Self {
        ApiError::conflict(e.to_string())
    }
}

impl From<StillReplacing> for ApiError {
    fn from(e: StillReplacing) -> Self {
        ApiError::conflict(e.to_string())
    }
}

impl From<NotRotatable> for ApiError {
    fn from(e: NotRotatable) -> Self {
        ApiError::conflict(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_map_to_their_status_class() {
        let mut seen = std::collections::HashSet::new();
        for code in <ErrorCode as strum::VariantArray>::VARIANTS {
            assert!(seen.insert(code.as_str()), "{code:?}");
            assert!((400..600).contains(&code.status()));
        }
    }

    #[test]
    fn a_caller_changed_mid_request_is_a_403_never_a_500() {
        let e = ApiError::from(StoreError::ActorChanged);
        assert_eq!(
            (e.status(), e.code),
            (403, ErrorCode::InsufficientAuthority)
        );
        assert!(e.message.contains("while this request ran"));
    }

    #[test]
    fn a_503_keeps_its_cause_for_the_log() {
        let cause = std::io::Error::other("connection reset");
        let e = ApiError::from(StoreError::Unavailable {
            reason: "cannot reach DynamoDB".into(),
            retry_after: Duration::from_secs(1),
            source: Some(Box::new(cause)),
        });
        assert_eq!(e.status(), 503);
        assert!(!e.message.contains("reset"), "the cause is never sent");
        assert!(
            e.chain()
                .ends_with("cannot reach DynamoDB: connection reset"),
            "{}",
            e.chain()
        );
    }

    #[test]
    fn store_contention_is_a_503_to_retry_and_other_faults_a_500() {
        let changed = ApiError::from(StoreError::Changed);
        assert_eq!(
            (changed.status(), changed.retry_after.is_some()),
            (503, true)
        );
        let failed = ApiError::from(StoreError::failed("AccessDenied"));
        assert_eq!(failed.status(), 500);
        assert_eq!(failed.message, "internal error");
    }
}
