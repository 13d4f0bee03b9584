//! Sessions: reads request lines, runs each in its own task, and sends every output line
//! through one writer so lines never interleave. Also the heartbeat, and shutdown on
//! end of input, SIGTERM or the parent's death. Knows neither models nor AWS.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::actions::{self, AppState};
use crate::error::PluginError;
use crate::wire::{self, LineError, MAX_LINE_BYTES};

/// What the writer is asked to do.
enum Out {
    Line(String),
    /// Write what is queued, flush and stop.
    Close,
}

/// A handle to the single writer; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Out>,
}

/// The writer has stopped (its output is closed).
#[derive(Debug)]
pub struct WriterClosed;

impl Writer {
    /// Starts the writer on its own OS thread: output is blocking I/O, and a thread of
    /// its own cannot be starved by request work on the async runtime.
    pub fn spawn<W: Write + Send + 'static>(
        mut out: W,
    ) -> std::io::Result<(Writer, std::thread::JoinHandle<()>)> {
        let (tx, mut rx) = mpsc::channel::<Out>(4096);
        let handle = std::thread::Builder::new()
            .name("protocol-writer".into())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut closing = false;
                    let mut result = Ok(());
                    let mut next = Some(first);
                    // Batch whatever is already queued into one flush.
                    while let Some(msg) = next.take() {
                        match msg {
                            Out::Line(line) => {
                                result = result
                                    .and_then(|_| out.write_all(line.as_bytes()))
                                    .and_then(|_| out.write_all(b"\n"));
                            }
                            Out::Close => closing = true,
                        }
                        next = rx.try_recv().ok();
                    }
                    if let Err(e) = result.and_then(|_| out.flush()) {
                        // The daemon closed our output: nothing more can be delivered.
                        eprintln!("dify-bedrock: output closed ({e}); exiting");
                        std::process::exit(0);
                    }
                    if closing {
                        break;
                    }
                }
            })?;
        Ok((Writer { tx }, handle))
    }

    pub async fn send(&self, line: String) -> Result<(), WriterClosed> {
        self.tx
            .send(Out::Line(line))
            .await
            .map_err(|_| WriterClosed)
    }

    /// For threads outside the async runtime (heartbeat).
    pub fn blocking_send(&self, line: String) -> Result<(), WriterClosed> {
        self.tx
            .blocking_send(Out::Line(line))
            .map_err(|_| WriterClosed)
    }

    /// Never waits: for log lines, which are dropped rather than block the code logging.
    pub fn try_send(&self, line: String) -> bool {
        self.tx.try_send(Out::Line(line)).is_ok()
    }

    /// Asks the writer to flush what is queued and stop.
    pub async fn close(&self) {
        let _ = self.tx.send(Out::Close).await;
    }
}

/// Where one session's response items go.
pub struct SessionSink {
    session_id: Arc<str>,
    writer: Writer,
}

impl SessionSink {
    pub fn new(session_id: &str, writer: Writer) -> SessionSink {
        SessionSink {
            session_id: session_id.into(),
            writer,
        }
    }

    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Sends one `stream` item; refuses an item the daemon could not read.
    pub async fn stream<T: Serialize>(&self, data: &T) -> Result<(), PluginError> {
        let line = wire::stream_line(&self.session_id, data);
        if line.len() >= MAX_LINE_BYTES {
            return Err(PluginError::internal(format!(
                "the response is {} bytes, over the daemon's {} byte line limit",
                line.len(),
                MAX_LINE_BYTES
            )));
        }
        self.writer
            .send(line)
            .await
            .map_err(|_| PluginError::internal("output closed"))
    }
}

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

/// Exits the process when the parent dies (the daemon never says goodbye otherwise): we
/// are then re-parented, so the parent id changes. `parent` must be read at start-up,
/// before the parent could have gone.
pub fn spawn_parent_watch(parent: u32) {
    let _ = std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(500));
                if std::os::unix::process::parent_id() != parent {
                    eprintln!("dify-bedrock: parent process {parent} is gone; exiting");
                    std::process::exit(1);
                }
            }
        });
}

/// Why [`serve_lines`] stopped reading.
#[derive(Debug, PartialEq, Eq)]
pub enum StopReason {
    EndOfInput,
    Signal,
    ReadError,
}

/// Serves request lines from `input` until it ends or `stop` fires, then gives in-flight
/// sessions up to `grace` to finish.
pub async fn serve_lines<R: AsyncRead + Unpin>(
    input: R,
    writer: Writer,
    state: Arc<AppState>,
    max_workers: usize,
    grace: Duration,
    mut stop: watch::Receiver<bool>,
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
            _ = stop.changed() => break StopReason::Signal,
            read = reader.read_until(b'\n', &mut buf) => match read {
                Ok(0) => break StopReason::EndOfInput,
                Ok(_) => {
                    let line = std::mem::take(&mut buf);
                    let state = state.clone();
                    let writer = writer.clone();
                    sessions.spawn(async move { handle_line(line, state, writer).await });
                }
                Err(e) => {
                    tracing::error!("reading requests failed: {e}");
                    break StopReason::ReadError;
                }
            },
        }
    };
    let pending = sessions.len();
    if pending > 0 {
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

async fn handle_line(mut line: Vec<u8>, state: Arc<AppState>, writer: Writer) {
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    match wire::parse_request(&line) {
        Ok(request) => run_session(request, state, writer).await,
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
pub async fn run_session(request: wire::Request, state: Arc<AppState>, writer: Writer) {
    let session_id = request.session_id.clone();
    let action = request.action.clone();
    let sink = SessionSink::new(&session_id, writer.clone());
    supervise(&session_id, &action, &writer, async move {
        actions::dispatch(&state, request, &sink).await
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
    use std::sync::Mutex;

    /// Collects what the writer writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(capture: &Capture) -> Vec<serde_json::Value> {
        let bytes = capture.0.lock().expect("lock").clone();
        String::from_utf8(bytes)
            .expect("utf8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }

    #[tokio::test]
    async fn a_panic_becomes_that_sessions_error_and_the_next_session_is_served() {
        let capture = Capture::default();
        let (writer, thread) = Writer::spawn(capture.clone()).expect("writer");
        supervise("boom", "invoke_llm", &writer, async {
            panic!("handler bug")
        })
        .await;
        supervise("fine", "invoke_llm", &writer, async { Ok(()) }).await;
        writer.close().await;
        thread.join().expect("writer thread");
        let out = lines(&capture);
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

    #[tokio::test]
    async fn an_item_over_the_line_limit_is_refused() {
        let capture = Capture::default();
        let (writer, thread) = Writer::spawn(capture.clone()).expect("writer");
        let sink = SessionSink::new("big", writer.clone());
        let huge = "x".repeat(MAX_LINE_BYTES);
        let e = sink.stream(&huge).await.expect_err("too big");
        assert!(e.message.contains("line limit"), "{e}");
        sink.stream(&"small").await.expect("small item");
        writer.close().await;
        thread.join().expect("writer thread");
        assert_eq!(lines(&capture).len(), 1);
    }
}
