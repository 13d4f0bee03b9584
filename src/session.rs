//! The output side of the protocol, shared by the runtime and the actions without either
//! knowing the other: one writer through which every line leaves (so lines never
//! interleave), each session's sink, and the [`Handler`] the runtime hands sessions to.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::error::PluginError;
use crate::wire::{self, Request};

/// Answers one request: the runtime's view of the actions.
pub trait Handler: Send + Sync + 'static {
    /// Streams the session's items to `sink`; `Err` becomes the session's `error`.
    fn handle(
        &self,
        request: Request,
        sink: SessionSink,
    ) -> impl Future<Output = Result<(), PluginError>> + Send;
}

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
    /// The longest line the reader accepts, newline included.
    max_line: usize,
}

/// The receiving end of a [`Writer`]: the lines to deliver, in order.
pub struct Lines {
    rx: mpsc::Receiver<Out>,
}

impl Lines {
    /// The next line (without its newline); `None` once the writer was closed or dropped.
    pub fn poll_line(&mut self, cx: &mut Context<'_>) -> Poll<Option<String>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Out::Line(line))) => Poll::Ready(Some(line)),
            Poll::Ready(Some(Out::Close) | None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The writer has stopped (its output is closed).
#[derive(Debug)]
pub struct WriterClosed;

impl Writer {
    /// A writer whose lines the caller delivers from [`Lines`] (an HTTP response body).
    pub fn channel(max_line: usize) -> (Writer, Lines) {
        let (tx, rx) = mpsc::channel::<Out>(4096);
        (Writer { tx, max_line }, Lines { rx })
    }

    /// Starts the writer on its own OS thread: output is blocking I/O, and a thread of
    /// its own cannot be starved by request work on the async runtime. `on_closed` runs
    /// once if the output fails (the reader went away); the writer then stops.
    pub fn spawn<W, F>(
        mut out: W,
        max_line: usize,
        on_closed: F,
    ) -> std::io::Result<(Writer, std::thread::JoinHandle<()>)>
    where
        W: Write + Send + 'static,
        F: FnOnce(std::io::Error) + Send + 'static,
    {
        let (writer, Lines { mut rx }) = Writer::channel(max_line);
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
                        on_closed(e);
                        break;
                    }
                    if closing {
                        break;
                    }
                }
            })?;
        Ok((writer, handle))
    }

    /// Starts the writer as a task on the async runtime, for outputs that are async
    /// (a socket): what is queued goes out in one write, then a flush.
    pub fn spawn_async<W, F>(
        mut out: W,
        max_line: usize,
        on_closed: F,
    ) -> (Writer, tokio::task::JoinHandle<()>)
    where
        W: AsyncWrite + Unpin + Send + 'static,
        F: FnOnce(std::io::Error) + Send + 'static,
    {
        let (writer, Lines { mut rx }) = Writer::channel(max_line);
        let task = tokio::spawn(async move {
            let mut buf: Vec<u8> = Vec::new();
            while let Some(first) = rx.recv().await {
                let mut closing = false;
                let mut next = Some(first);
                while let Some(msg) = next.take() {
                    match msg {
                        Out::Line(line) => {
                            buf.extend_from_slice(line.as_bytes());
                            buf.push(b'\n');
                        }
                        Out::Close => closing = true,
                    }
                    next = rx.try_recv().ok();
                }
                let written = async {
                    out.write_all(&buf).await?;
                    out.flush().await
                }
                .await;
                buf.clear();
                if let Err(e) = written {
                    on_closed(e);
                    return;
                }
                if closing {
                    break;
                }
            }
            let _ = out.shutdown().await;
        });
        (writer, task)
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
    activity: Activity,
}

/// When a session last sent something: the runtime ends sessions that go silent.
#[derive(Clone)]
pub struct Activity {
    started: Instant,
    /// Milliseconds after `started`.
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            started: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// The last time something was sent (the session's start before that).
    pub fn last(&self) -> Instant {
        self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

impl SessionSink {
    pub fn new(session_id: &str, writer: Writer) -> SessionSink {
        SessionSink {
            session_id: session_id.into(),
            writer,
            activity: Activity::new(),
        }
    }

    /// A handle on when this session last sent something.
    pub fn activity(&self) -> Activity {
        self.activity.clone()
    }

    /// The longest line the daemon reads: what one item may take.
    pub fn max_line(&self) -> usize {
        self.writer.max_line
    }

    /// Sends one `stream` item; refuses an item the daemon could not read (it would drop
    /// the whole plugin over a line longer than its limit).
    pub async fn stream<T: Serialize>(&self, data: &T) -> Result<(), PluginError> {
        let line = wire::stream_line(&self.session_id, data);
        // The newline counts: the daemon's scanner needs room for it.
        if line.len() >= self.writer.max_line {
            return Err(PluginError::internal(format!(
                "the response is {} bytes, over the daemon's {} byte line limit",
                line.len() + 1,
                self.writer.max_line
            )));
        }
        self.activity.touch();
        self.writer
            .send(line)
            .await
            .map_err(|_| PluginError::internal("output closed"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Collects what the writer writes.
    #[derive(Clone, Default)]
    pub(crate) struct Capture(pub(crate) Arc<Mutex<Vec<u8>>>);

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

    impl Capture {
        pub(crate) fn lines(&self) -> Vec<serde_json::Value> {
            let bytes = self.0.lock().expect("lock").clone();
            String::from_utf8(bytes)
                .expect("utf8")
                .lines()
                .map(|l| serde_json::from_str(l).expect("json line"))
                .collect()
        }
    }

    #[tokio::test]
    async fn an_item_over_the_line_limit_is_refused() {
        let capture = Capture::default();
        let (writer, thread) = Writer::spawn(capture.clone(), 4096, |_| {}).expect("writer");
        let sink = SessionSink::new("big", writer.clone());
        let huge = "x".repeat(4096);
        let e = sink.stream(&huge).await.expect_err("too big");
        assert!(e.message.contains("line limit"), "{e}");
        sink.stream(&"small").await.expect("small item");
        writer.close().await;
        thread.join().expect("writer thread");
        assert_eq!(capture.lines().len(), 1);
    }

    /// An output that fails on the first write.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_closed_output_is_reported_once_and_stops_the_writer() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (writer, thread) = Writer::spawn(Broken, 4096, move |e| {
            let _ = tx.send(e.kind());
        })
        .expect("writer");
        writer.send("a".into()).await.expect("queued");
        thread.join().expect("writer thread");
        assert_eq!(rx.recv().ok(), Some(std::io::ErrorKind::BrokenPipe));
        assert!(writer.send("b".into()).await.is_err());
    }
}
