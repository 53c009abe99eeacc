//! DynamoDB's answers as the port reports them: throttling, outages and
//! timeouts are [`StoreError::Unavailable`] (503 in the API, a deny in the
//! authorizer); everything else [`StoreError::Failed`]. The SDK's error is
//! kept as the source, so the log shows the whole chain once.

use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::store::StoreError;

/// How long a caller is told to wait after throttling or an outage.
pub(super) const RETRY_AFTER: Duration = Duration::from_secs(1);

/// `Unavailable` with `reason`, and the error that said so when there is one.
pub(super) fn unavailable(
    reason: impl Into<String>,
    source: Option<crate::store::BoxError>,
) -> StoreError {
    StoreError::Unavailable {
        reason: reason.into(),
        retry_after: RETRY_AFTER,
        source,
    }
}

/// Throttling, outages and timeouts are `Unavailable`; the rest `Failed`.
pub(super) fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let reason = match &err {
        SdkError::TimeoutError(_) => Some("timed out".to_owned()),
        SdkError::DispatchFailure(_) => Some("cannot reach DynamoDB".to_owned()),
        SdkError::ResponseError(_) => Some("unreadable response".to_owned()),
        SdkError::ServiceError(e) => {
            let code = e.err().code().unwrap_or("unknown");
            is_retryable(code).then(|| code.to_owned())
        }
        _ => None,
    };
    match reason {
        Some(reason) => unavailable(reason, Some(Box::new(err))),
        None => StoreError::Failed(Box::new(err)),
    }
}

/// Error codes (and transaction cancellation reasons) that mean "busy or
/// down, try later" rather than "wrong".
pub(super) fn is_retryable(code: &str) -> bool {
    const RETRYABLE: [&str; 9] = [
        "ThrottlingException",
        "ThrottlingError",
        "ProvisionedThroughputExceededException",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        "TransactionInProgressException",
    ];
    RETRYABLE.contains(&code)
}

pub(super) fn is_conditional_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(e) if e.err().code() == Some("ConditionalCheckFailedException"))
}
