//! The API's errors: one catalogue of public error codes, each knowing its
//! HTTP status, and the one mapping of an error to an HTTP answer.

use std::time::Duration;

use lambda_http::{Body, Response};
use serde_json::json;

use crate::store::StoreError;

/// Every error code the API answers with. The README and the OpenAPI
/// document list exactly these (a test holds them to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// The body is larger than [`crate::api::MAX_BODY_BYTES`].
    PayloadTooLarge,
    /// The store is throttled, down or timing out; retry after `Retry-After`.
    ServiceUnavailable,
    /// A fault of keygate or its deployment, never of the request.
    InternalError,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidJson,
        ErrorCode::UnknownScope,
        ErrorCode::UnknownPreset,
        ErrorCode::Unauthenticated,
        ErrorCode::InsufficientScope,
        ErrorCode::PrivilegeEscalation,
        ErrorCode::InsufficientAuthority,
        ErrorCode::NotFound,
        ErrorCode::InvalidTransition,
        ErrorCode::PayloadTooLarge,
        ErrorCode::ServiceUnavailable,
        ErrorCode::InternalError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::UnknownScope => "unknown_scope",
            ErrorCode::UnknownPreset => "unknown_preset",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::PrivilegeEscalation => "privilege_escalation",
            ErrorCode::InsufficientAuthority => "insufficient_authority",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::InternalError => "internal_error",
        }
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
            ErrorCode::ServiceUnavailable => 503,
            ErrorCode::InternalError => 500,
        }
    }
}

/// An error answer: a code, a message for the caller, and (for 5xx) what
/// happened, for the one log line [`crate::api::handle`] writes.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Sent as `Retry-After` (503 only).
    pub retry_after: Option<Duration>,
    /// Logged, never sent.
    pub detail: Option<String>,
}

/// Longest caller input an error message repeats. Every key is longer (a
/// prefix, `_` and 65 characters), so a key pasted into the wrong field or
/// path is never echoed back; scope names, statuses and field names fit.
pub const MAX_ECHO_CHARS: usize = 40;

/// A run of this many base62 characters is never echoed: it could be a
/// secret (37 characters) or part of one.
pub const MAX_ECHO_BASE62_RUN: usize = 19;

/// The longest run of ASCII letters and digits in `text`.
pub fn longest_base62_run(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// Caller input as an error message shows it: quoted when short and free of
/// anything that could be part of a secret, else only its length.
pub fn quoted(input: &str) -> String {
    let chars = input.chars().count();
    if chars <= MAX_ECHO_CHARS && longest_base62_run(input) <= MAX_ECHO_BASE62_RUN {
        format!("{input:?}")
    } else {
        format!("(a value of {chars} characters, not repeated here)")
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
            detail: None,
        }
    }

    /// 400 `invalid_request` naming the field: `"<field>: <problem>"`.
    pub fn bad_request(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidRequest, format!("{field}: {problem}"))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
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

    pub fn unavailable(retry_after: Duration, detail: impl Into<String>) -> Self {
        Self {
            retry_after: Some(retry_after),
            detail: Some(detail.into()),
            ..Self::new(
                ErrorCode::ServiceUnavailable,
                format!(
                    "the key store is busy or unavailable; retry after {} s",
                    retry_after.as_secs().max(1)
                ),
            )
        }
    }

    /// 500: a fault of keygate or its deployment. `detail` is logged only.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self {
            detail: Some(detail.into()),
            ..Self::new(ErrorCode::InternalError, "internal error")
        }
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// `{"error": {"code", "message", "request_id"}}` with the matching status.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let body = json!({
            "error": {
                "code": self.code.as_str(),
                "message": self.message,
                "request_id": request_id,
            }
        });
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

impl From<StoreError> for ApiError {
    /// Outcomes a handler expects (not found, conflict, changed) are mapped
    /// by the handler, which knows the key; what reaches here is a fault.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable {
                reason,
                retry_after,
            } => ApiError::unavailable(retry_after, reason),
            // Contention a handler did not decide again on (a create whose
            // transaction met another write): nothing was written; retry.
            StoreError::Changed => ApiError::unavailable(
                Duration::from_secs(1),
                "a write the change depends on was in progress",
            ),
            e => ApiError::internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_map_to_their_status_class() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code:?}");
            assert!((400..600).contains(&code.status()));
        }
    }

    #[test]
    fn store_contention_is_a_503_to_retry_and_other_faults_a_500() {
        let changed = ApiError::from(StoreError::Changed);
        assert_eq!(
            (changed.status(), changed.retry_after.is_some()),
            (503, true)
        );
        let failed = ApiError::from(StoreError::Failed("AccessDenied".into()));
        assert_eq!(failed.status(), 500);
        assert_eq!(failed.message, "internal error");
    }

    #[test]
    fn quoted_never_repeats_what_could_be_a_secret() {
        assert_eq!(quoted("runs:fly"), "\"runs:fly\"");
        let secret = "aZ3kQ9mX2pL8vN4bR7tY1wE5sD6fG0hJ2kLmNo";
        assert!(!quoted(secret).contains(&secret[..20]));
        // Short enough to echo by length, but a run of 20 base62 characters.
        let run = "x-abcdefghijABCDEFGHIJ";
        assert!(!quoted(run).contains("abcdefghij"));
        assert_eq!(longest_base62_run("ab-cde_f"), 3);
    }
}
