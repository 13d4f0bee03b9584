//! Sessions: reads request lines, runs each in its own task with the [`Handler`], and
//! ends each exactly once. Also the heartbeat, and shutdown on end of input, a signal,
//! a closed output or the parent's death. Knows neither models nor AWS.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::PluginError;
use crate::session::{Handler, SessionSink, Writer};
use crate::wire::{self, LineError};

/// Sends a heartbeat now and every `interval`, from a thread of its own.
pub fn spawn_heartbeat(writer: Writer, interval: Duration) {
    let started = std::thread::Builder::new()
        .name("heartbeat".into())
        .spawn(move || {
            while writer.blocking_send(wire::heartbeat_line()).is_ok() {
                std::thread::sleep(interval);
            }
        });
    if let Err(e) = started {
        tracing::error!("cannot start the heartbeat thread: {e}");
    }
}

/// Calls `on_gone` when the parent dies (the daemon never says goodbye otherwise): we
/// are then re-parented, so the parent id changes. `parent` must be read at start-up,
/// before the parent could have gone.
pub fn spawn_parent_watch(parent: u32, on_gone: impl FnOnce() + Send + 'static) {
    let _ = std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(500));
                if std::os::unix::process::parent_id() != parent {
                    on_gone();
                    return;
                }
            }
        });
}

/// Why [`serve_lines`] stopped reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    EndOfInput,
    /// SIGTERM or SIGINT.
    Signal,
    ReadError,
    /// The daemon stopped reading our output: nothing more can be delivered.
    OutputClosed,
    /// The daemon process is gone.
    ParentGone,
}

impl StopReason {
    /// Whether in-flight sessions may still finish: only while someone reads their answers.
    fn lets_sessions_finish(self) -> bool {
        !matches!(self, StopReason::OutputClosed | StopReason::ParentGone)
    }
}

/// Asks [`serve_lines`] to stop; the first reason given wins.
pub type StopSender = Arc<watch::Sender<Option<StopReason>>>;

pub fn stop_channel() -> (StopSender, watch::Receiver<Option<StopReason>>) {
    let (tx, rx) = watch::channel(None);
    (Arc::new(tx), rx)
}

/// Records `reason` unless another stop came first.
pub fn request_stop(stop: &StopSender, reason: StopReason) {
    stop.send_if_modified(|current| {
        if current.is_some() {
            return false;
        }
        *current = Some(reason);
        true
    });
}

/// Serves request lines from `input` until it ends or `stop` fires, then gives in-flight
/// sessions up to `grace` to finish.
pub async fn serve_lines<R: AsyncRead + Unpin, H: Handler>(
    input: R,
    writer: Writer,
    handler: Arc<H>,
    max_workers: usize,
    grace: Duration,
    mut stop: watch::Receiver<Option<StopReason>>,
) -> StopReason {
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut sessions: JoinSet<()> = JoinSet::new();
    // Kept across iterations: `read_until` may be interrupted by another select branch
    // after appending part of a line, and resumes where it stopped.
    let mut buf: Vec<u8> = Vec::new();
    let reason = loop {
        if sessions.len() >= max_workers {
            sessions.join_next().await;
            continue;
        }
        tokio::select! {
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            changed = stop.changed() => match (changed, *stop.borrow()) {
                (_, Some(reason)) => break reason,
                // Every sender is gone: nothing can ask us to stop any more.
                (Err(_), None) => std::future::pending::<()>().await,
                (Ok(()), None) => {}
            },
            read = reader.read_until(b'\n', &mut buf) => match read {
                Ok(0) => break StopReason::EndOfInput,
                Ok(_) => {
                    let line = std::mem::take(&mut buf);
                    let handler = handler.clone();
                    let writer = writer.clone();
                    sessions.spawn(async move { handle_line(line, handler, writer).await });
                }
                Err(e) => {
                    tracing::error!("reading requests failed: {e}");
                    break StopReason::ReadError;
                }
            },
        }
    };
    let pending = sessions.len();
    if pending > 0 && !reason.lets_sessions_finish() {
        tracing::warn!("{reason:?}: stopping {pending} sessions");
        sessions.abort_all();
    } else if pending > 0 {
        tracing::info!("input closed ({reason:?}); waiting up to {grace:?} for {pending} sessions");
        let drained = tokio::time::timeout(grace, async {
            while sessions.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "{} sessions still running after {grace:?}; stopping them",
                sessions.len()
            );
            sessions.abort_all();
        }
    }
    reason
}

async fn handle_line<H: Handler>(mut line: Vec<u8>, handler: Arc<H>, writer: Writer) {
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    match wire::parse_request(&line) {
        Ok(request) => run_session(request, handler, writer).await,
        Err(LineError::Unroutable(message)) => {
            tracing::warn!("{message}");
            let _ = writer.send(wire::top_error_line(&message)).await;
        }
        Err(LineError::Session { session_id, error }) => {
            tracing::warn!("session {session_id}: {error}");
            let _ = writer.send(wire::error_line(&session_id, &error)).await;
            let _ = writer.send(wire::end_line(&session_id)).await;
        }
        Err(LineError::Ignored(message)) => tracing::debug!("{message}"),
    }
}

/// Runs one session to its single `end`.
pub async fn run_session<H: Handler>(request: wire::Request, handler: Arc<H>, writer: Writer) {
    let session_id = request.session_id.clone();
    let action = request.action.clone();
    let sink = SessionSink::new(&session_id, writer.clone());
    supervise(&session_id, &action, &writer, async move {
        handler.handle(request, sink).await
    })
    .await;
}

/// Runs a session's work in a task of its own, so that a panic stays contained to it, and
/// ends the session exactly once: `error` then `end` on failure, `end` alone on success.
pub async fn supervise<F>(session_id: &str, action: &str, writer: &Writer, work: F)
where
    F: Future<Output = Result<(), PluginError>> + Send + 'static,
{
    let result = match tokio::spawn(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(PluginError::internal(format!(
            "the plugin failed unexpectedly while handling {action}; other requests are not affected"
        ))),
        Err(_) => Err(PluginError::internal("the request was cancelled")),
    };
    if let Err(error) = result {
        tracing::info!(session = %session_id, action = %action, "request failed: {error}");
        let _ = writer.send(wire::error_line(session_id, &error)).await;
    }
    let _ = writer.send(wire::end_line(session_id)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::tests::Capture;

    #[tokio::test]
    async fn a_panic_becomes_that_sessions_error_and_the_next_session_is_served() {
        let capture = Capture::default();
        let (writer, thread) = Writer::spawn(capture.clone(), 4096, |_| {}).expect("writer");
        supervise("boom", "invoke_llm", &writer, async {
            panic!("handler bug")
        })
        .await;
        supervise("fine", "invoke_llm", &writer, async { Ok(()) }).await;
        writer.close().await;
        thread.join().expect("writer thread");
        let out = capture.lines();
        let kinds: Vec<_> = out
            .iter()
            .map(|l| {
                (
                    l["session_id"].as_str().unwrap_or(""),
                    l["data"]["type"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(kinds, [("boom", "error"), ("boom", "end"), ("fine", "end")]);
        assert_eq!(out[0]["data"]["data"]["error_type"], "InternalError");
    }

    #[test]
    fn the_first_stop_reason_wins() {
        let (tx, rx) = stop_channel();
        request_stop(&tx, StopReason::OutputClosed);
        request_stop(&tx, StopReason::Signal);
        assert_eq!(*rx.borrow(), Some(StopReason::OutputClosed));
    }
}
