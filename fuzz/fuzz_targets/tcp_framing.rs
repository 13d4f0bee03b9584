//! The runtime's line framing over a byte stream, as on stdin (local) and on the remote
//! debugging TCP connection (where a line that is not JSON is the daemon's refusal): the
//! bytes arrive in arbitrary pieces; lines may be empty, CRLF-terminated, unterminated
//! at the end, not JSON, or requests. Never a panic or a hang; each request line gets
//! exactly one `end` (after its items and at most one typed error), each unroutable
//! line one top-level `error`, and a refusal stops the reading with the daemon's words.
//!
//! Input: byte 0 chooses the mode (bit 0: remote) and the piece size, the rest is the
//! stream. The handler answers each request with one item naming its action, and fails
//! the action `fail`.
#![no_main]

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use dify_bedrock::internals::{
    self, Handler, LineError, PluginError, Request, ServeOptions, SessionSink, StopReason, Writer,
};
use dify_bedrock_fuzz::{check_session, drain, runtime};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, ReadBuf};

struct Echo;

impl Handler for Echo {
    async fn handle(&self, request: Request, sink: SessionSink) -> Result<(), PluginError> {
        sink.stream(&json!({ "action": request.action })).await?;
        if request.action == "fail" {
            return Err(PluginError::bad_request("asked to fail"));
        }
        Ok(())
    }
}

/// Hands the bytes over `piece` at a time, as a socket may.
struct Pieces<'a> {
    data: &'a [u8],
    piece: usize,
}

impl AsyncRead for Pieces<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.piece.min(self.data.len()).min(buf.remaining());
        let (head, rest) = self.data.split_at(n);
        buf.put_slice(head);
        self.data = rest;
        Poll::Ready(Ok(()))
    }
}


/// What the framing must produce: ends, top-level errors, and the refusal.
fn expected(data: &[u8], remote: bool) -> (usize, usize, Option<String>) {
    let (mut ends, mut tops) = (0, 0);
    let mut rest = data;
    while !rest.is_empty() {
        let len = rest
            .iter()
            .position(|b| *b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (raw, after) = rest.split_at(len);
        if remote && !internals::looks_like_request(raw) {
            // The refusal reads at most 64 KiB after its first line.
            let tail = &after[..after.len().min(64 * 1024)];
            let text = [raw, tail].concat();
            return (
                ends,
                tops,
                Some(String::from_utf8_lossy(&text).trim().to_string()),
            );
        }
        rest = after;
        let mut line = raw;
        while let [head @ .., b'\n' | b'\r'] = line {
            line = head;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match internals::decode_request_line(line) {
            Ok(_) | Err(LineError::Session { .. }) => ends += 1,
            Err(LineError::Unroutable(_)) => tops += 1,
            Err(LineError::Ignored(_)) => {}
        }
    }
    (ends, tops, None)
}

fuzz_target!(|bytes: &[u8]| {
    let Some((mode, data)) = bytes.split_first() else {
        return;
    };
    let remote = mode & 1 == 1;
    let piece = 1 + (*mode as usize >> 1) % 64;
    let options = ServeOptions {
        max_workers: 4,
        grace: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(10),
        plain_text_is_refusal: remote,
    };
    let (writer, lines) = Writer::channel(1024 * 1024);
    let (reason, out) = runtime().block_on(async {
        let serve =
            internals::serve_lines(Pieces { data, piece }, writer, Arc::new(Echo), &options);
        let serve = tokio::time::timeout(Duration::from_secs(20), serve);
        let (reason, out) = tokio::join!(serve, drain(lines));
        (reason.expect("serving the lines hung"), out)
    });
    let (ends, tops, refusal) = expected(data, remote);
    match refusal {
        Some(text) => assert_eq!(reason, StopReason::Refused(text)),
        None => assert_eq!(reason, StopReason::EndOfInput),
    }
    let mut sessions: HashMap<String, Vec<String>> = HashMap::new();
    let (mut seen_ends, mut seen_tops) = (0, 0);
    for line in &out {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        match v["event"].as_str() {
            Some("error") => seen_tops += 1,
            Some("session") => {
                if v["data"]["type"] == "end" {
                    seen_ends += 1;
                }
                let id = v["session_id"].as_str().expect("a session id").to_string();
                sessions.entry(id).or_default().push(line.clone());
            }
            other => panic!("unexpected event {other:?}: {line}"),
        }
    }
    if reason == StopReason::EndOfInput {
        // Every session was let finish.
        assert_eq!(seen_ends, ends, "one end per request line: {out:#?}");
        assert_eq!(
            seen_tops, tops,
            "one error event per unroutable line: {out:#?}"
        );
    } else {
        // A refusal stops the sessions still running (nobody reads their answers).
        assert!(seen_ends <= ends, "more ends than request lines: {out:#?}");
        assert!(
            seen_tops <= tops,
            "more error events than unroutable lines: {out:#?}"
        );
    }
    for (id, lines) in &sessions {
        let ended = lines
            .iter()
            .filter(|l| l.contains(r#""type":"end""#))
            .count();
        if ended == 1 && reason == StopReason::EndOfInput {
            check_session(lines, id);
        }
    }
});
