//! `keygate serve`: the whole API on 127.0.0.1, through [`keygate::gateway`]:
//! the same authorizer and handlers as in Lambda, answering as API Gateway does.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use keygate::api::{self, App};
use keygate::error::ApiError;
use keygate::gateway;
use keygate::lambda_http;
use keygate::store::Store;
use tokio::net::TcpListener;

/// Bodies are read up to this size; the handlers answer 413 above 16 KiB.
const READ_LIMIT: usize = 1024 * 1024;

type HttpResponse = hyper::Response<Full<Bytes>>;

/// Accept connections until `shutdown` resolves.
pub async fn run<S: Store>(
    app: Arc<App<S>>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        let source_ip = peer.ip().to_string();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = Arc::clone(&app);
                let source_ip = source_ip.clone();
                async move { Ok::<_, Infallible>(handle(&app, req, source_ip).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

/// As API Gateway does: route and identity source first (404, 401), before
/// the body is read; then the body (413 past [`READ_LIMIT`]), then the
/// authorizer and the handler.
async fn handle<S: Store>(
    app: &App<S>,
    req: hyper::Request<Incoming>,
    source_ip: String,
) -> HttpResponse {
    let (parts, body) = req.into_parts();
    let matched = match gateway::admit(app, &parts.method, &parts.uri, &parts.headers) {
        Ok(matched) => matched,
        Err(refusal) => return to_hyper(refusal.answer()),
    };
    let body = match Limited::new(body, READ_LIMIT).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => {
            let too_large = ApiError::payload_too_large(api::MAX_BODY_BYTES);
            return to_hyper(too_large.into_response(&uuid::Uuid::now_v7().to_string()));
        }
    };
    let incoming = gateway::Incoming {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body,
        source_ip: Some(source_ip),
    };
    to_hyper(gateway::forward(app, matched, incoming).await)
}

fn to_hyper(response: lambda_http::Response<lambda_http::Body>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(data) => Bytes::from(data),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
