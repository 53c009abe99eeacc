//! The API's errors and their one mapping to HTTP.

use std::time::Duration;

use lambda_http::{Body, Response};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad input; the message names the field.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// The request carries no authorizer context (not routed through the authorizer).
    #[error("the request was not authorized by the keygate authorizer")]
    Unauthenticated,
    /// Scope missing, or a create that would escalate privileges.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    /// A transition the lifecycle does not allow.
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the key store is busy or unavailable; retry after {} s", retry_after.as_secs().max(1))]
    Unavailable { retry_after: Duration },
    #[error("internal error")]
    Internal,
}

/// Longest caller input an error message repeats. Every key is longer (a
/// prefix, `_` and 65 characters), so a key pasted into the wrong field or
/// path is never echoed back; scope names, statuses and field names fit.
pub const MAX_ECHO_CHARS: usize = 40;

/// Caller input as an error message shows it: quoted when short, else only
/// its length.
pub fn quoted(input: &str) -> String {
    let chars = input.chars().count();
    if chars <= MAX_ECHO_CHARS {
        format!("{input:?}")
    } else {
        format!("(a value of {chars} characters, not repeated here)")
    }
}

impl ApiError {
    pub fn bad_request(field: &str, problem: impl std::fmt::Display) -> Self {
        ApiError::BadRequest {
            code: "invalid_request",
            message: format!("{field}: {problem}"),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest { .. } => 400,
            ApiError::Unauthenticated => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::NotFound(_) => 404,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::Unavailable { .. } => 503,
            ApiError::Internal => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } | ApiError::Forbidden { code, .. } => code,
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "invalid_transition",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::Unavailable { .. } => "service_unavailable",
            ApiError::Internal => "internal_error",
        }
    }

    /// `{"error": {"code", "message", "request_id"}}` with the matching status.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let body = json!({
            "error": {
                "code": self.code(),
                "message": self.to_string(),
                "request_id": request_id,
            }
        });
        let mut builder = Response::builder()
            .status(self.status())
            .header("content-type", "application/json");
        if let ApiError::Unavailable { retry_after } = &self {
            builder = builder.header("retry-after", retry_after.as_secs().max(1).to_string());
        }
        builder
            .body(Body::Text(body.to_string()))
            .unwrap_or_else(|_| Response::new(Body::Empty))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("no such API key".into()),
            StoreError::Conflict { current } => {
                ApiError::Conflict(format!("the API key is {current}, which is final"))
            }
            StoreError::Unavailable {
                reason,
                retry_after,
            } => {
                tracing::warn!(%reason, "key store unavailable");
                ApiError::Unavailable { retry_after }
            }
            e @ (StoreError::AlreadyExists | StoreError::Corrupt(_) | StoreError::Failed(_)) => {
                tracing::error!(error = %e, "key store failure");
                ApiError::Internal
            }
        }
    }
}
