//! Sessions: reads request lines, runs each in its own task with the [`Handler`], and
//! ends each exactly once (within the request timeout). Also the heartbeat, and shutdown
//! on end of input, a signal, a closed output, the parent's death or the daemon's
//! refusal. Knows neither models nor AWS, nor which transport the lines travel on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::{ErrorKind, PluginError};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    EndOfInput,
    /// SIGTERM or SIGINT.
    Signal,
    ReadError,
    /// The daemon stopped reading our output: nothing more can be delivered.
    OutputClosed,
    /// The daemon process is gone.
    ParentGone,
    /// The daemon answered with plain text and closed (remote debugging: a bad key, a
    /// declaration it refused); the text says why.
    Refused(String),
}

impl StopReason {
    /// Whether in-flight sessions may still finish: only while someone reads their answers.
    fn lets_sessions_finish(&self) -> bool {
        !matches!(
            self,
            StopReason::OutputClosed | StopReason::ParentGone | StopReason::Refused(_)
        )
    }
}

/// How [`serve_lines`] serves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Most sessions at once; later lines wait to be read.
    pub max_workers: usize,
    /// How long in-flight sessions may finish after input stops.
    pub grace: Duration,
    /// A session silent this long is ended with an error.
    pub idle_timeout: Duration,
    /// A line that is not JSON is the daemon refusing us (remote debugging), not a bad
    /// request: read what it says to the end and stop.
    pub plain_text_is_refusal: bool,
}

/// After the grace, how long the sessions still running have to write their error and
/// `end` before they are dropped.
pub(crate) const CUT_WAIT: Duration = Duration::from_secs(2);

/// The longest refusal text kept, and how long to wait for the rest of it.
const MAX_REFUSAL_BYTES: u64 = 64 * 1024;
const REFUSAL_WAIT: Duration = Duration::from_secs(2);

/// Asks [`serve_lines`] to stop; the first reason given wins.
pub type StopSender = Arc<watch::Sender<Option<StopReason>>>;

pub fn stop_channel() -> (StopSender, watch::Receiver<Option<StopReason>>) {
    let (tx, rx) = watch::channel(None);
    (Arc::new(tx), rx)
}

/// Records `reason` unless another stop came first; but that nobody reads the answers
/// any more always gets through, so that sessions still finishing are stopped.
pub fn request_stop(stop: &StopSender, reason: StopReason) {
    stop.send_if_modified(|current| {
        let replaces = match current {
            None => true,
            Some(first) => first.lets_sessions_finish() && !reason.lets_sessions_finish(),
        };
        if replaces {
            *current = Some(reason);
        }
        replaces
    });
}

/// Serves request lines from `input` until it ends or `stop` fires, then gives in-flight
/// sessions up to `options.grace` to finish.
pub async fn serve_lines<R: AsyncRead + Unpin, H: Handler>(
    input: R,
    writer: Writer,
    handler: Arc<H>,
    options: &ServeOptions,
    mut stop: watch::Receiver<Option<StopReason>>,
) -> StopReason {
    let (max_workers, grace) = (options.max_workers.max(1), options.grace);
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut sessions: JoinSet<()> = JoinSet::new();
    // Fired when the grace is over: each session still running ends with an error.
    let (cut, cut_rx) = watch::channel(false);
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
            changed = stop.changed() => match (changed, stop.borrow().clone()) {
                (_, Some(reason)) => break reason,
                // Every sender is gone: nothing can ask us to stop any more.
                (Err(_), None) => std::future::pending::<()>().await,
                (Ok(()), None) => {}
            },
            read = reader.read_until(b'\n', &mut buf) => match read {
                Ok(0) => break StopReason::EndOfInput,
                Ok(_) => {
                    let line = std::mem::take(&mut buf);
                    if options.plain_text_is_refusal && !looks_like_json(&line) {
                        break StopReason::Refused(read_refusal(line, &mut reader).await);
                    }
                    let handler = handler.clone();
                    let writer = writer.clone();
                    let idle = options.idle_timeout;
                    let cut = cut_rx.clone();
                    sessions.spawn(async move { handle_line(line, handler, writer, idle, cut).await });
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
        let mut stop_open = true;
        let drained = tokio::time::timeout(grace, async {
            loop {
                tokio::select! {
                    next = sessions.join_next() => if next.is_none() { return true },
                    // Nobody reads the answers any more: stop at once.
                    changed = stop.changed(), if stop_open => match changed {
                        Ok(()) if stop.borrow().as_ref().is_some_and(|r| !r.lets_sessions_finish()) => {
                            return false;
                        }
                        Ok(()) => {}
                        Err(_) => stop_open = false,
                    },
                }
            }
        })
        .await;
        if !matches!(drained, Ok(true)) {
            tracing::warn!(
                "{} sessions still running after {grace:?}; stopping them",
                sessions.len()
            );
            // While the answers are still read, each gets its error and `end`: the daemon
            // would otherwise wait for them.
            if drained.is_err() {
                let _ = cut.send(true);
                let _ = tokio::time::timeout(CUT_WAIT, async {
                    while sessions.join_next().await.is_some() {}
                })
                .await;
            }
            sessions.abort_all();
        }
    }
    reason
}

/// Whether a line starts like JSON (of any kind: a malformed request is that session's
/// or the daemon's error, not a refusal that ends the connection for every session);
/// the daemon's refusals are plain sentences.
/// Whether a line may be JSON (a request, however broken): anything else, over remote
/// debugging, is the daemon's refusal.
pub(crate) fn looks_like_json(line: &[u8]) -> bool {
    let text = line.trim_ascii();
    text.is_empty()
        || matches!(text[0], b'{' | b'[' | b'"' | b'-' | b'0'..=b'9')
        || [&b"true"[..], b"false", b"null"]
            .iter()
            .any(|w| text.starts_with(w))
}

/// The daemon's refusal: this line and whatever follows until it closes (its messages
/// can span lines), bounded in size and time.
async fn read_refusal<R: AsyncRead + Unpin>(first: Vec<u8>, reader: &mut BufReader<R>) -> String {
    let mut text = first;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(
        REFUSAL_WAIT,
        reader.take(MAX_REFUSAL_BYTES).read_to_end(&mut rest),
    )
    .await;
    text.extend_from_slice(&rest);
    String::from_utf8_lossy(&text).trim().to_string()
}

async fn handle_line<H: Handler>(
    mut line: Vec<u8>,
    handler: Arc<H>,
    writer: Writer,
    idle_timeout: Duration,
    cut: watch::Receiver<bool>,
) {
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    match wire::parse_request(&line) {
        Ok(request) => run_session(request, handler, writer, idle_timeout, Some(cut)).await,
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

/// Runs one session to its single `end`; a session that sends nothing for
/// `idle_timeout` is stopped and ended with an error, and so is one still running when
/// `cut` turns true (the shutdown grace is over).
pub async fn run_session<H: Handler>(
    request: wire::Request,
    handler: Arc<H>,
    writer: Writer,
    idle_timeout: Duration,
    cut: Option<watch::Receiver<bool>>,
) {
    let session_id = request.session_id.clone();
    let action = request.action.clone();
    let sink = SessionSink::new(&session_id, writer.clone());
    let activity = sink.activity();
    // Boxed: the work runs as a task of its own, and this future (which waits for it)
    // should not keep room for the work's whole state machine as well.
    let work = Box::pin(async move { handler.handle(request, sink).await });
    supervise(&session_id, &action, &writer, work, |spawned| {
        until_idle(spawned, activity, idle_timeout, cut)
    })
    .await;
}

/// Returns once `cut` is true; never without one (or once its sender is gone).
async fn cut_fired(cut: &mut Option<watch::Receiver<bool>>) {
    if let Some(rx) = cut
        && rx.wait_for(|v| *v).await.is_ok()
    {
        return;
    }
    std::future::pending::<()>().await
}

/// Waits for `task`, unless nothing was sent for `idle` since the last item, or the
/// shutdown grace is over (`cut`).
async fn until_idle(
    mut task: tokio::task::JoinHandle<Result<(), PluginError>>,
    activity: crate::session::Activity,
    idle: Duration,
    mut cut: Option<watch::Receiver<bool>>,
) -> Result<Result<(), PluginError>, tokio::task::JoinError> {
    loop {
        let deadline = activity.last() + idle;
        tokio::select! {
            done = &mut task => return done,
            _ = cut_fired(&mut cut) => {
                task.abort();
                return Ok(Err(PluginError::new(
                    ErrorKind::ServerUnavailable,
                    "the plugin is shutting down and stopped this request before it finished (DIFY_BEDROCK_SHUTDOWN_GRACE_MS)",
                )));
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                if Instant::now() >= activity.last() + idle {
                    task.abort();
                    return Ok(Err(PluginError::new(
                        ErrorKind::Connection,
                        format!(
                            "the request produced nothing for {} s (MAX_REQUEST_TIMEOUT) and was stopped",
                            idle.as_secs()
                        ),
                    )));
                }
            }
        }
    }
}

/// Runs a session's work in a task of its own, so that a panic stays contained to it, and
/// ends the session exactly once: `error` then `end` on failure, `end` alone on success.
/// `wait` waits for the spawned task (with a timeout, for instance).
pub async fn supervise<F, W, WF>(session_id: &str, action: &str, writer: &Writer, work: F, wait: W)
where
    F: Future<Output = Result<(), PluginError>> + Send + 'static,
    W: FnOnce(tokio::task::JoinHandle<Result<(), PluginError>>) -> WF,
    WF: Future<Output = Result<Result<(), PluginError>, tokio::task::JoinError>>,
{
    let result = match wait(tokio::spawn(work)).await {
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
        supervise(
            "boom",
            "invoke_llm",
            &writer,
            async { panic!("handler bug") },
            |t| t,
        )
        .await;
        supervise("fine", "invoke_llm", &writer, async { Ok(()) }, |t| t).await;
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

    #[tokio::test]
    async fn a_silent_session_is_ended_after_the_idle_timeout() {
        let capture = Capture::default();
        let (writer, thread) = Writer::spawn(capture.clone(), 4096, |_| {}).expect("writer");
        let sink = SessionSink::new("slow", writer.clone());
        let activity = sink.activity();
        let work = async move {
            sink.stream(&"first").await?;
            std::future::pending::<()>().await;
            Ok(())
        };
        supervise("slow", "invoke_llm", &writer, work, |t| {
            until_idle(t, activity, Duration::from_millis(200), None)
        })
        .await;
        writer.close().await;
        thread.join().expect("writer thread");
        let out = capture.lines();
        let kinds: Vec<_> = out
            .iter()
            .map(|l| l["data"]["type"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(kinds, ["stream", "error", "end"]);
        let message = out[1]["data"]["data"]["message"].as_str().unwrap_or("");
        assert!(message.contains("MAX_REQUEST_TIMEOUT"), "{message}");
    }

    #[tokio::test]
    async fn a_plain_text_line_is_the_daemons_refusal() {
        struct Nothing;
        impl Handler for Nothing {
            async fn handle(&self, _: wire::Request, _: SessionSink) -> Result<(), PluginError> {
                Ok(())
            }
        }
        let capture = Capture::default();
        let (writer, thread) = Writer::spawn(capture.clone(), 4096, |_| {}).expect("writer");
        let (_stop, stop_rx) = stop_channel();
        let options = ServeOptions {
            max_workers: 4,
            grace: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(60),
            plain_text_is_refusal: true,
        };
        let input: &[u8] =
            b"\nregister failed, invalid manifest detected: name\nmust match ^[a-z]\n";
        let reason = serve_lines(input, writer.clone(), Arc::new(Nothing), &options, stop_rx).await;
        writer.close().await;
        thread.join().expect("writer thread");
        assert_eq!(
            reason,
            StopReason::Refused(
                "register failed, invalid manifest detected: name\nmust match ^[a-z]".into()
            )
        );
        assert!(capture.lines().is_empty());
    }

    #[test]
    fn only_plain_sentences_are_refusals() {
        for json in ["[[[[", "42", "\"x\"", "null", "{", " {", ""] {
            assert!(looks_like_json(json.as_bytes()), "{json}");
        }
        for refusal in ["register failed, invalid key", "handshake failed"] {
            assert!(!looks_like_json(refusal.as_bytes()), "{refusal}");
        }
    }

    #[test]
    fn the_first_stop_reason_wins_unless_nobody_listens_any_more() {
        let (tx, rx) = stop_channel();
        request_stop(&tx, StopReason::OutputClosed);
        request_stop(&tx, StopReason::Signal);
        assert_eq!(*rx.borrow(), Some(StopReason::OutputClosed));
        let (tx, rx) = stop_channel();
        request_stop(&tx, StopReason::Signal);
        request_stop(&tx, StopReason::EndOfInput);
        assert_eq!(*rx.borrow(), Some(StopReason::Signal));
        request_stop(&tx, StopReason::OutputClosed);
        assert_eq!(*rx.borrow(), Some(StopReason::OutputClosed));
    }
}
