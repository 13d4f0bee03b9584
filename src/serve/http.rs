//! Serverless: an HTTP server that Dify's serverless runtime calls, one session per
//! request (`serverless_runtime/io.go`): `POST /invoke?action=…` with the request as the
//! body (often chunked), answered with a stream of newline-delimited events that ends
//! after the session's `end`. `GET /health` says it is up. Many requests run at once;
//! SIGTERM stops accepting and lets the streams in flight finish.

use std::convert::Infallible;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::{async_runtime, catalog, log_notes, stop_signals, wait_for_signal};
use crate::actions::AppState;
use crate::logging;
use crate::runtime;
use crate::session::{Lines, Writer};
use crate::settings::Settings;
use crate::wire::{self, LineError};

type HttpBody = BoxBody<Bytes, Infallible>;

/// What every request can reach.
struct Server {
    state: Arc<AppState>,
    settings: Settings,
    /// At most MAX_WORKER sessions at once; later requests wait for a slot.
    slots: Arc<Semaphore>,
    /// Turned true when the shutdown grace is over: sessions still running end with an
    /// error.
    cut: watch::Sender<bool>,
}

pub fn run(settings: Settings) -> ExitCode {
    logging::init_stderr(settings.log_filter.as_deref());
    log_notes(&settings);
    let Some(catalog) = catalog() else {
        return ExitCode::FAILURE;
    };
    let Some(rt) = async_runtime() else {
        return ExitCode::FAILURE;
    };
    let address = format!("{}:{}", settings.serverless.host, settings.serverless.port);
    let code = rt.block_on(async {
        let listener = match listen(&address).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("dify-bedrock: cannot listen on {address}: {e}");
                return ExitCode::FAILURE;
            }
        };
        match listener.local_addr() {
            Ok(bound) => tracing::info!("serving Dify's serverless runtime on http://{bound}"),
            Err(_) => tracing::info!("serving Dify's serverless runtime on http://{address}"),
        }
        let server = Arc::new(Server {
            state: Arc::new(AppState::new(catalog, settings.network.clone())),
            slots: Arc::new(Semaphore::new(settings.max_workers.max(1))),
            cut: watch::channel(false).0,
            settings,
        });
        serve(listener, server).await;
        ExitCode::SUCCESS
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

/// Pending connections the kernel may queue for us: the daemon opens one per session, so
/// a burst of sessions is a burst of connections, which a short queue answers with resets
/// (tokio's default is 1024; the kernel caps it at net.core.somaxconn).
const BACKLOG: u32 = 8192;

/// Listens on `address` (host:port) with [`BACKLOG`].
async fn listen(address: &str) -> std::io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(address).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As TcpListener::bind: a restart may bind while old connections linger.
        socket.set_reuseaddr(true)?;
        match socket.bind(addr).and_then(|()| socket.listen(BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to listen on")
    }))
}

/// Accepts connections until SIGTERM or SIGINT, then waits for the responses in flight
/// (at most the shutdown grace).
async fn serve(listener: TcpListener, server: Arc<Server>) {
    let graceful = GracefulShutdown::new();
    let signals = stop_signals();
    let mut stop = std::pin::pin!(wait_for_signal(signals));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accepting a connection failed: {e}");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let server = server.clone();
                let service = hyper::service::service_fn(move |req| {
                    let server = server.clone();
                    async move { Ok::<_, Infallible>(route(req, server).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("a connection ended with an error: {e}");
                    }
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    let grace = server.settings.shutdown_grace;
    tracing::info!("stopping: letting the responses in flight finish (at most {grace:?})");
    let shutdown = graceful.shutdown();
    tokio::pin!(shutdown);
    if tokio::time::timeout(grace, &mut shutdown).await.is_err() {
        tracing::warn!("responses still running after {grace:?}; stopping them");
        // Each gets its error and `end` before its response is closed.
        let _ = server.cut.send(true);
        let _ = tokio::time::timeout(runtime::CUT_WAIT, &mut shutdown).await;
    }
}

async fn route(req: Request<Incoming>, server: Arc<Server>) -> Response<HttpBody> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => text(StatusCode::OK, "OK"),
        (&Method::POST, "/invoke") => invoke(req, server).await,
        (_, "/health" | "/invoke") => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: the routes are POST /invoke and GET /health",
        ),
    }
}

async fn invoke(req: Request<Incoming>, server: Arc<Server>) -> Response<HttpBody> {
    let limit = server.settings.serverless.max_request_bytes;
    let declared = declared_length(req.headers());
    let body = match read_body(req.into_body(), limit, declared).await {
        Ok(Some(body)) => body,
        Ok(None) => return too_large(limit),
        Err(e) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                &format!("the request body could not be read: {e}"),
            );
        }
    };
    match wire::parse_request(&body) {
        Ok(request) => {
            let Ok(slot) = server.slots.clone().acquire_owned().await else {
                return failure(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ShuttingDown",
                    "the plugin is stopping",
                );
            };
            let (writer, lines) = Writer::channel(server.settings.serverless_max_line);
            let handler = server.state.clone();
            let idle = server.settings.max_request_timeout;
            let cut = server.cut.subscribe();
            tokio::spawn(async move {
                runtime::run_session(request, handler, writer, idle, Some(cut)).await;
                drop(slot);
            });
            stream(lines)
        }
        Err(LineError::Session { session_id, error }) => {
            let body = format!(
                "{}\n{}\n",
                wire::error_line(&session_id, &error),
                wire::end_line(&session_id)
            );
            ndjson(Full::new(Bytes::from(body)).boxed())
        }
        Err(LineError::Unroutable(message) | LineError::Ignored(message)) => {
            failure(StatusCode::BAD_REQUEST, "InvalidRequest", &message)
        }
    }
}

/// The body length a request declares (`Content-Length`), when it declares a readable one.
pub(crate) fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Past this, an oversized body is no longer read to its end before the refusal.
const DRAIN_CAP: u64 = 64 * 1024 * 1024;

/// The request body, or `None` when it is over `limit`. An oversized body is still read
/// (and dropped, up to a cap) so that the client, still sending, reads our refusal
/// instead of a reset connection.
pub(crate) async fn read_body(
    mut body: Incoming,
    limit: usize,
    declared: Option<u64>,
) -> Result<Option<Bytes>, hyper::Error> {
    let mut too_large = declared.is_some_and(|n| n > limit as u64);
    let mut kept = Vec::new();
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        seen += data.len() as u64;
        if seen > limit as u64 {
            too_large = true;
        }
        if too_large {
            kept = Vec::new();
            if seen > DRAIN_CAP {
                break;
            }
        } else {
            kept.extend_from_slice(data);
        }
    }
    Ok((!too_large).then(|| Bytes::from(kept)))
}

/// The body of a session's answer: each line as it is written, until the session ends.
struct LinesBody(Lines);

impl Body for LinesBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_line(cx).map(|line| {
            line.map(|mut line| {
                line.push('\n');
                Ok(Frame::data(Bytes::from(line)))
            })
        })
    }
}

fn stream(lines: Lines) -> Response<HttpBody> {
    ndjson(LinesBody(lines).boxed())
}

fn ndjson(body: HttpBody) -> Response<HttpBody> {
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

fn text(status: StatusCode, body: &'static str) -> Response<HttpBody> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())).boxed());
    *response.status_mut() = status;
    response
}

/// An error the daemon reports with our words: it reads `errorType` and `errorMessage`
/// from the body of a failed call (`serverless_runtime/io.go::buildServerlessRuntimeError`).
fn failure(status: StatusCode, kind: &str, message: &str) -> Response<HttpBody> {
    let body = json!({"errorType": kind, "errorMessage": message}).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn too_large(limit: usize) -> Response<HttpBody> {
    failure(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestTooLarge",
        &format!(
            "the request body is over {limit} bytes (MAX_SERVERLESS_REQUEST_BYTES); send fewer or smaller files or texts"
        ),
    )
}
