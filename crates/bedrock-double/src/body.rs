//! Response bodies: a whole buffer, or an `application/vnd.amazon.eventstream`
//! stream played from a precomputed plan of frames, pauses and faults.
//!
//! Streams are planned up front and consecutive frames with no pause between
//! them are coalesced into one buffer, so ten thousand events cost a handful
//! of writes and no timer or task per event. A pause is a tokio sleep inside
//! `poll_frame`; a dropped connection is an error from the body, which makes
//! hyper abort the connection without the terminating chunk, exactly what a
//! client sees when a connection dies mid-stream.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Writes one event-stream frame (`:message-type` = `event`).
pub fn write_event(buf: &mut BytesMut, event_type: &str, payload: Bytes) {
    let msg = Message::new(payload)
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String(event_type.to_string().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ));
    // Encoding only fails for oversized headers or payloads (> 16 MiB), which
    // the double never produces; log rather than panic if it ever happens.
    if let Err(e) = write_message_to(&msg, buf) {
        tracing::error!(error = %e, "failed to encode event frame");
    }
}

/// Writes an exception frame as Bedrock sends it mid-stream: `:message-type`
/// = `exception`, `:exception-type` = the lowerCamel member name (e.g.
/// `throttlingException`), payload `{"message": …}`.
pub fn write_exception(buf: &mut BytesMut, exception_type: &str, message: &str) {
    let payload =
        serde_json::to_vec(&serde_json::json!({ "message": message })).unwrap_or_default();
    let msg = Message::new(Bytes::from(payload))
        .add_header(Header::new(
            ":exception-type",
            HeaderValue::String(exception_type.to_string().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("exception".into()),
        ));
    if let Err(e) = write_message_to(&msg, buf) {
        tracing::error!(error = %e, "failed to encode exception frame");
    }
}

/// One step of a planned stream.
#[derive(Debug)]
pub enum Step {
    Bytes(Bytes),
    Sleep(Duration),
    /// Abort the connection.
    Drop,
}

/// Faults and pacing applied while a stream is planned.
#[derive(Debug, Clone, Default)]
pub struct Pacing {
    /// Pause between consecutive events.
    pub delay: Option<Duration>,
    /// (after N events, exception type, message)
    pub exception: Option<(usize, String, String)>,
    /// Abort after N events.
    pub drop_after: Option<usize>,
    /// (after N events, pause)
    pub stall: Option<(usize, Duration)>,
}

/// Builds a stream plan event by event, applying [`Pacing`].
pub struct StreamPlan {
    steps: Vec<Step>,
    buf: BytesMut,
    events: usize,
    pacing: Pacing,
    done: bool,
}

impl StreamPlan {
    pub fn new(pacing: Pacing) -> Self {
        let mut plan = Self {
            steps: Vec::new(),
            buf: BytesMut::with_capacity(4096),
            events: 0,
            pacing,
            done: false,
        };
        // Faults "after 0 events" happen before the first event (the response
        // headers have already gone out by then).
        plan.before_event();
        plan
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            self.steps.push(Step::Bytes(self.buf.split().freeze()));
        }
    }

    /// Applies faults due once `self.events` events have been sent.
    fn before_event(&mut self) {
        if self.done {
            return;
        }
        let n = self.events;
        if let Some((after, ref kind, ref message)) = self.pacing.exception
            && after == n
        {
            let (kind, message) = (kind.clone(), message.clone());
            write_exception(&mut self.buf, &kind, &message);
            self.done = true;
            return;
        }
        if self.pacing.drop_after == Some(n) {
            self.flush();
            // hyper discards buffered bytes when a body fails; a short pause
            // lets the events before the drop reach the client first.
            if n > 0 {
                self.steps.push(Step::Sleep(Duration::from_millis(20)));
            }
            self.steps.push(Step::Drop);
            self.done = true;
            return;
        }
        if let Some((after, pause)) = self.pacing.stall
            && after == n
        {
            self.flush();
            self.steps.push(Step::Sleep(pause));
        }
    }

    /// Whether more events will be sent.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Adds one event frame (ignored once a fault ended the stream).
    pub fn event(&mut self, event_type: &str, payload: Bytes) {
        if self.done {
            return;
        }
        if self.events > 0
            && let Some(d) = self.pacing.delay.filter(|d| !d.is_zero())
        {
            self.flush();
            self.steps.push(Step::Sleep(d));
        }
        write_event(&mut self.buf, event_type, payload);
        self.events += 1;
        self.before_event();
    }

    /// Number of events planned so far.
    pub fn events(&self) -> usize {
        self.events
    }

    pub fn finish(mut self) -> Vec<Step> {
        // A fault scheduled after the last event still happens.
        self.flush();
        self.steps
    }
}

/// A response body: a complete buffer or a planned event stream.
pub enum DoubleBody {
    Full(Option<Bytes>),
    Stream {
        steps: VecDeque<Step>,
        sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    },
}

impl DoubleBody {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        DoubleBody::Full(Some(bytes.into()))
    }

    pub fn stream(steps: Vec<Step>) -> Self {
        DoubleBody::Stream {
            steps: steps.into(),
            sleep: None,
        }
    }

    /// Collects the body (unit tests).
    #[cfg(test)]
    pub async fn collect_bytes(self) -> Result<Bytes, std::io::Error> {
        Ok(http_body_util::BodyExt::collect(self).await?.to_bytes())
    }
}

impl Body for DoubleBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            DoubleBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            DoubleBody::Stream { steps, sleep } => loop {
                if let Some(s) = sleep.as_mut() {
                    match s.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(()) => *sleep = None,
                    }
                }
                match steps.pop_front() {
                    None => return Poll::Ready(None),
                    Some(Step::Bytes(b)) => return Poll::Ready(Some(Ok(Frame::data(b)))),
                    Some(Step::Sleep(d)) => *sleep = Some(Box::pin(tokio::time::sleep(d))),
                    Some(Step::Drop) => {
                        steps.clear();
                        return Poll::Ready(Some(Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionAborted,
                            "bedrock-double: scripted connection drop",
                        ))));
                    }
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            DoubleBody::Full(b) => b.is_none(),
            DoubleBody::Stream { steps, sleep } => steps.is_empty() && sleep.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            DoubleBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            DoubleBody::Full(None) => SizeHint::with_exact(0),
            DoubleBody::Stream { .. } => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;

    fn payload() -> Bytes {
        Bytes::from_static(b"{}")
    }

    #[test]
    fn coalesces_frames_without_pauses() {
        let mut plan = StreamPlan::new(Pacing::default());
        for _ in 0..100 {
            plan.event("contentBlockDelta", payload());
        }
        let steps = plan.finish();
        assert_eq!(steps.len(), 1);
    }

    #[test]
    fn exception_after_k_events() {
        let pacing = Pacing {
            exception: Some((2, "throttlingException".into(), "slow".into())),
            ..Pacing::default()
        };
        let mut plan = StreamPlan::new(pacing);
        for _ in 0..5 {
            plan.event("contentBlockDelta", payload());
        }
        let steps = plan.finish();
        let Some(Step::Bytes(b)) = steps.first() else {
            panic!("expected bytes");
        };
        let mut buf = b.clone();
        let mut types = Vec::new();
        while !buf.is_empty() {
            let m = read_message_from(&mut buf).expect("frame");
            let h = m
                .headers()
                .iter()
                .find(|h| h.name().as_str() == ":message-type")
                .and_then(|h| h.value().as_string().ok().map(|s| s.as_str().to_string()));
            types.push(h.unwrap_or_default());
        }
        assert_eq!(types, vec!["event", "event", "exception"]);
    }

    #[tokio::test]
    async fn drop_yields_error() {
        let pacing = Pacing {
            drop_after: Some(1),
            ..Pacing::default()
        };
        let mut plan = StreamPlan::new(pacing);
        plan.event("messageStart", payload());
        plan.event("contentBlockDelta", payload());
        let body = DoubleBody::stream(plan.finish());
        assert!(body.collect_bytes().await.is_err());
    }
}
