//! The HTTP server of `keygate serve`: each connection through the
//! library's local gateway, so the same authorizer and handlers as in Lambda
//! answer, as API Gateway would.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::library::{ApiError, App, MAX_BODY_BYTES, Store, gateway, lambda_http};

/// Bodies are kept up to this size; the handlers answer 413 above 16 KiB.
const READ_LIMIT: usize = 1024 * 1024;
/// A body is read (and dropped) up to API Gateway's own payload limit before
/// an early answer, so the client reads the answer rather than a reset
/// connection; past it the connection is closed.
const DRAIN_LIMIT: usize = 10 * 1024 * 1024;

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
/// the body is looked at; then the body (413 past [`READ_LIMIT`]), then the
/// authorizer and the handler.
async fn handle<S: Store>(
    app: &App<S>,
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
    let body = match read_body(body).await {
        Some(bytes) => bytes,
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
    to_hyper(gateway::forward(app, matched, incoming).await)
}

/// The body, if it is at most [`READ_LIMIT`] bytes; a larger one is drained.
async fn read_body(mut body: Incoming) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map(|f| f.into_data()) else {
            return None;
        };
        if let Ok(data) = data {
            if bytes.len() + data.len() > READ_LIMIT {
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

fn to_hyper(response: lambda_http::Response<lambda_http::Body>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(data) => Bytes::from(data),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
