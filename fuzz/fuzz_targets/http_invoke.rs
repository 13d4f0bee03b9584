//! The serverless runtime's `POST /invoke`: arbitrary bytes on the HTTP connection
//! (request line, headers, Content-Length or chunked bodies, truncated or oversized, many
//! requests in a row) → the body the plugin reads, bounded by its limit, and the request
//! or error it decodes to. Never a panic or a hang; an unreadable body and a body over
//! the limit are told apart; a decoded body is a request or a typed error.
//!
//! Input: byte 0 chooses the body limit, the rest is what the client sends.
#![no_main]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use dify_bedrock::internals::{self, ErrorKind, HttpInvokeBody, LineError};
use dify_bedrock_fuzz::{check_session, runtime};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fuzz_target!(|bytes: &[u8]| {
    let Some((which, sent)) = bytes.split_first() else {
        return;
    };
    let limit = [16, 256, 4096, 5 * 1024 * 1024][*which as usize % 4];
    let outcomes: Arc<Mutex<Vec<HttpInvokeBody>>> = Arc::default();
    runtime().block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let seen = outcomes.clone();
        let service = hyper::service::service_fn(move |req| {
            let seen = seen.clone();
            async move {
                let outcome = internals::http_invoke_body(req, limit).await;
                seen.lock().unwrap_or_else(|e| e.into_inner()).push(outcome);
                Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::new())))
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(server), service);
        let send = async {
            let _ = client.write_all(sent).await;
            let _ = client.shutdown().await;
            let mut answer = Vec::new();
            let _ = client.read_to_end(&mut answer).await;
        };
        let both = async { tokio::join!(conn, send) };
        // A connection error (bytes that are not HTTP) is hyper's answer, not ours.
        let (_connection, ()) = tokio::time::timeout(Duration::from_secs(20), both)
            .await
            .expect("the connection hung");
    });
    for outcome in outcomes.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        match outcome {
            HttpInvokeBody::TooLarge => {}
            HttpInvokeBody::Unreadable(why) => assert!(!why.is_empty()),
            HttpInvokeBody::Decoded(Ok(request)) => assert!(!request.session_id.is_empty()),
            HttpInvokeBody::Decoded(Err(e)) => {
                if let LineError::Session { session_id, error } = &e {
                    assert_eq!(error.kind, ErrorKind::Validation);
                    check_session(&internals::line_error_lines(&e), session_id);
                }
            }
        }
    }
});
