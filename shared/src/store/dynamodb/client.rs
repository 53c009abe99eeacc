//! The SDK client keygate uses: the standard AWS environment (region,
//! credentials, `AWS_ENDPOINT_URL`) with timeouts short enough that a hung
//! store cannot hold a Lambda for its whole timeout.

use std::time::Duration;

use aws_sdk_dynamodb::Client;

/// Connect, attempt and operation timeouts and attempts. The authorizer
/// fails closed when they fire.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
    pub max_attempts: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_millis(1000),
            attempt: Duration::from_millis(1000),
            operation: Duration::from_millis(2500),
            max_attempts: 3,
        }
    }
}

/// The SDK configuration keygate's client is built from, for callers that
/// add to it (an interceptor, say) before building the client.
pub async fn client_config(
    endpoint: Option<&str>,
    timeouts: Timeouts,
) -> aws_sdk_dynamodb::config::Builder {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(timeouts.connect)
                .operation_attempt_timeout(timeouts.attempt)
                .operation_timeout(timeouts.operation)
                .build(),
        )
        .retry_config(
            aws_config::retry::RetryConfig::standard().with_max_attempts(timeouts.max_attempts),
        );
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    aws_sdk_dynamodb::config::Builder::from(&loader.load().await)
}

/// A client from the standard AWS environment with keygate's timeouts;
/// `endpoint` overrides the URL.
pub async fn client(endpoint: Option<&str>, timeouts: Timeouts) -> Client {
    Client::from_conf(client_config(endpoint, timeouts).await.build())
}
