//! The HTTP server of `keygate serve`: each connection through the
//! library's local gateway, so the same authorizer and handlers as in Lambda
//! answer, as API Gateway would; allowed requests on the deployer's own
//! routes go to the deployer's backend ([`upstream`]), if one is given.

pub mod upstream;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::library::gateway::Routed;
use crate::library::gateway::integration::{IntegrationAnswer, MAX_PAYLOAD_BYTES};
use crate::library::{ApiError, App, MAX_BODY_BYTES, Store, gateway, lambda_http};
use upstream::Upstream;

/// Bodies are kept up to this size; the handlers answer 413 above 16 KiB.
const READ_LIMIT: usize = 1024 * 1024;
/// A body is read (and dropped) up to API Gateway's own payload limit before
/// an early answer, so the client reads the answer rather than a reset
/// connection; past it the connection is closed.
const DRAIN_LIMIT: usize = 10 * 1024 * 1024;

pub(crate) type HttpResponse = hyper::Response<Full<Bytes>>;

/// Accept connections until `shutdown` resolves; allowed requests on the
/// deployer's routes go to `upstream` (without one, they are a 404).
pub async fn run<S: Store>(
    app: Arc<App<S>>,
    listener: TcpListener,
    upstream: Option<Upstream>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let upstream = upstream.map(Arc::new);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        let upstream = upstream.clone();
        let source_ip = peer.ip().to_string();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = Arc::clone(&app);
                let upstream = upstream.clone();
                let source_ip = source_ip.clone();
                async move {
                    Ok::<_, Infallible>(handle(&app, upstream.as_deref(), req, source_ip).await)
                }
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
/// the body is looked at; then the body (413 past [`READ_LIMIT`], or past
/// API Gateway's own limit on the deployer's routes), then the authorizer and
/// the handler or the deployer's backend.
async fn handle<S: Store>(
    app: &App<S>,
    upstream: Option<&Upstream>,
    req: hyper::Request<Incoming>,
    source_ip: String,
) -> HttpResponse {
    let (parts, body) = req.into_parts();
    let matched = match gateway::admit(app, &parts.method, &parts.uri, &parts.headers) {
        Ok(matched) => matched,
        Err(refusal) => {
            drain(body, 0).await;
            return to_hyper(refusal.answer());
        }
    };
    let deployers = !matched.route.is_keygate();
    let limit = if deployers {
        MAX_PAYLOAD_BYTES
    } else {
        READ_LIMIT
    };
    let body = match read_body(body, limit).await {
        Some(bytes) => bytes,
        None if deployers => return to_hyper(IntegrationAnswer::TooLarge.response()),
        None => {
            let too_large = ApiError::payload_too_large(MAX_BODY_BYTES);
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
    let Some(upstream) = upstream else {
        return to_hyper(gateway::forward(app, matched, incoming).await);
    };
    match gateway::route(app, matched, incoming).await {
        Routed::Answer(answer) => to_hyper(answer),
        Routed::Deployer(request) => upstream.answer(*request).await,
    }
}

/// The body, if it is at most `limit` bytes; a larger one is drained.
async fn read_body(mut body: Incoming, limit: usize) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map(|f| f.into_data()) else {
            return None;
        };
        if let Ok(data) = data {
            if bytes.len() + data.len() > limit {
                drain(body, bytes.len() + data.len()).await;
                return None;
            }
            bytes.extend_from_slice(&data);
        }
    }
    Some(bytes)
}

/// Read and drop the rest of a body, up to [`DRAIN_LIMIT`] in all.
async fn drain(mut body: Incoming, mut seen: usize) {
    while seen <= DRAIN_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len()),
            _ => return,
        }
    }
}

pub(crate) fn to_hyper(response: lambda_http::Response<lambda_http::Body>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(data) => Bytes::from(data),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
