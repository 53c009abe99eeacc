//! `keygate serve`: the whole API and the console on 127.0.0.1.

use std::sync::Arc;

use crate::args::{LimitFailureArg, LimitModeArg, ServeArgs};
use crate::http_server;
use crate::library::{App, Catalog, LimitFailure, LimitMode, OrgId, Store as _};
use crate::store;

fn init_local_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_local_tracing();
    let org = OrgId::new(&args.org).map_err(anyhow::Error::msg)?;
    let mut settings = store::settings()?;
    if let Some(path) = &args.catalog {
        settings.catalog = Catalog::load(path)?;
    }
    if let Some(mode) = args.limit_mode {
        settings.limit_policy.mode = match mode {
            LimitModeArg::Deny => LimitMode::Deny,
            LimitModeArg::Defer => LimitMode::Defer,
        };
    }
    if let Some(failure) = args.limit_failure {
        settings.limit_policy.on_failure = match failure {
            LimitFailureArg::Closed => LimitFailure::Closed,
            LimitFailureArg::Open => LimitFailure::Open,
        };
    }
    let keys = settings.key_format().await?;
    let store = store::open(args.store, &settings).await?;
    // Listen before minting: a start that cannot serve must not print (and
    // so spend) the store's one first key.
    let listener = listen(args.port).await?;
    let shutdown = shutdown_signals()?;
    let addr = listener.local_addr()?;
    let app = Arc::new(
        App::new(store, keys)
            .with_catalog(settings.catalog)
            .with_limit_policy(settings.limit_policy),
    );
    // The OpenAPI document is built once, at its first request; build it
    // now, beside startup, so the console's first read of it does not wait.
    let catalog = app.catalog.clone();
    tokio::task::spawn_blocking(move || keygate::http::openapi::document_json(&catalog));
    if app.store.is_empty().await? {
        let (_, key) = app.mint_root_key(&org, "root").await?;
        println!(
            "keygate: new store; created organization \"{org}\" and its first full-access key."
        );
        println!("keygate: it is shown only this once, so store it now:");
        println!("{}", key.expose());
    }
    println!("keygate: console at http://{addr}/ (API under /v1, OpenAPI at /openapi.json)");
    if let Some(upstream) = &args.upstream {
        println!("keygate: your routes → {}", upstream.url());
    }
    println!("keygate: listening on http://{addr}");
    http_server::run(app, listener, args.upstream, shutdown).await?;
    eprintln!("keygate: stopped");
    Ok(())
}

/// A listener on 127.0.0.1:`port`, or why there can be none.
async fn listen(port: u16) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                " (is another keygate serve running? Pick another port with --port, or --port 0 \
                 for any free one)"
            } else {
                ""
            };
            anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {e}{hint}")
        })
}

/// Resolves on Ctrl-C or SIGTERM, caught from this call on: made before the
/// server says it is listening, a signal sent as soon as it does still
/// stops it cleanly rather than killing it.
fn shutdown_signals() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
