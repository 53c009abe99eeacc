//! Start-up shared by every Lambda binary: tracing, settings, the DynamoDB
//! store, then the runtime loop into a handler of this crate.

use std::convert::Infallible;
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{LambdaEvent, service_fn};

use crate::app::App;
use crate::domain::routes::Operation;
use crate::http::{self, authorizer};
use crate::runtime::config::{ConfigError, PepperSource, Settings};
use crate::store::DynamoDbStore;
use crate::store::dynamodb::client;

pub type Error = lambda_runtime::Error;

/// JSON log lines for CloudWatch; level from `RUST_LOG` (default `info`).
/// The Lambda runtime's own crates are held at `info` whatever `RUST_LOG`
/// says: at `trace` they log each raw event, and an authorizer event carries
/// the caller's key.
pub fn init_tracing() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    for directive in [
        "lambda_runtime=info",
        "lambda_runtime_api_client=info",
        "lambda_http=info",
    ] {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .try_init();
}

/// An invalid setting stops the function at start-up, with a readable reason.
fn config_error(e: ConfigError) -> Error {
    let error = crate::error_chain(&e);
    tracing::error!(%error, "invalid configuration");
    format!("invalid configuration: {error}").into()
}

async fn app_from_env() -> Result<Arc<App<DynamoDbStore>>, Error> {
    init_tracing();
    let settings = Settings::from_env().map_err(config_error)?;
    if matches!(settings.pepper, PepperSource::Plain(_)) {
        // The pepper in a function's environment is readable by anyone who
        // may read the function's configuration.
        return Err(config_error(ConfigError::PlainPepperInLambda));
    }
    let tables = Settings::tables_from_env().map_err(config_error)?;
    // Reads the pepper from Secrets Manager when one is configured: a
    // function that hashes never runs without it.
    let keys = settings.key_format().await.map_err(config_error)?;
    let client = client(None, settings.timeouts).await;
    let store = DynamoDbStore::new(client, &tables)
        .with_audit_retention(settings.audit_retention_days)
        .with_usage_lease(settings.limit_lease);
    let app = App::new(store, keys)
        .with_catalog(settings.catalog)
        .with_limit_policy(settings.limit_policy);
    Ok(Arc::new(app))
}

/// Lambda hands a process one event at a time, so one thread is enough, and
/// cheaper per invocation than a multi-threaded runtime.
fn block_on<F: std::future::Future<Output = Result<(), Error>>>(main: F) -> Result<(), Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(main)
}

/// The `main` of each management function.
pub fn run_operation(op: Operation) -> Result<(), Error> {
    block_on(async move {
        let app = app_from_env().await?;
        lambda_http::run(service_fn(move |req| {
            let app = Arc::clone(&app);
            async move { Ok::<_, Infallible>(http::handle(&app, op, req).await) }
        }))
        .await
    })
}

/// The `main` of the `console` function: the public routes (the console
/// page, its assets, the OpenAPI document). It needs no store and no key.
pub fn run_console() -> Result<(), Error> {
    block_on(async {
        init_tracing();
        // The OpenAPI document shows the deployment's scopes and presets.
        let catalog = Arc::new(Settings::from_env().map_err(config_error)?.catalog);
        lambda_http::run(service_fn(move |req| {
            let catalog = Arc::clone(&catalog);
            async move { Ok::<_, Infallible>(http::public::handle(req, &catalog)) }
        }))
        .await
    })
}

/// The `main` of the authorizer function.
pub fn run_authorizer() -> Result<(), Error> {
    block_on(async {
        let app = app_from_env().await?;
        lambda_runtime::run(service_fn(
            move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| {
                let app = Arc::clone(&app);
                async move {
                    Ok::<_, Infallible>(authorizer::authorize(&app, &event.payload).await)
                }
            },
        ))
        .await
    })
}
