//! Logs through `tracing`. In local mode each event becomes a protocol `log` line, which
//! the daemon files at its level (it files every stderr line as a warning); elsewhere they
//! go to stderr. The level comes from RUST_LOG, `info` by default.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::FilterFn;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::session::Writer;
use crate::wire;

/// `RUST_LOG` as the settings read it (environment or `.env`); `info` when unset or
/// not understood.
fn filter(directives: Option<&str>) -> EnvFilter {
    directives
        .and_then(|d| EnvFilter::try_new(d).ok())
        .unwrap_or_else(|| EnvFilter::new("info"))
}

/// The AWS SDK and its HTTP stack dump whole requests, configurations and credential
/// providers at debug and trace level (an assumed role's external id among them), so
/// their debug output never leaves the process, whatever RUST_LOG asks for.
fn is_safe(meta: &tracing::Metadata<'_>) -> bool {
    const SDK: [&str; 6] = ["aws_", "hyper", "h2", "rustls", "tower", "reqwest"];
    *meta.level() <= Level::INFO || !SDK.iter().any(|p| meta.target().starts_with(p))
}

/// Sends logs as protocol `log` events through the writer.
pub fn init_protocol(writer: Writer, directives: Option<&str>) {
    let _ = tracing_subscriber::registry()
        .with(filter(directives))
        .with(ProtocolLogLayer { writer }.with_filter(FilterFn::new(is_safe)))
        .try_init();
    install_panic_hook();
}

/// Sends logs to stderr (command-line use, remote debugging, serverless).
pub fn init_stderr(directives: Option<&str>) {
    let _ = tracing_subscriber::registry()
        .with(filter(directives))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_filter(FilterFn::new(is_safe)),
        )
        .try_init();
    install_panic_hook();
}

/// Panics are logged like any other error instead of printed raw to stderr.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("internal error: {info}");
    }));
}

struct ProtocolLogLayer {
    writer: Writer,
}

impl<S: Subscriber> Layer<S> for ProtocolLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut text = MessageText::default();
        event.record(&mut text);
        let level = match *event.metadata().level() {
            Level::ERROR => "ERROR",
            Level::WARN => "WARNING",
            Level::INFO => "INFO",
            Level::DEBUG | Level::TRACE => "DEBUG",
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        // Dropped when the output is congested: logging must never block a request.
        self.writer
            .try_send(wire::log_line(level, &text.finish(), now));
    }
}

/// The event's message followed by its fields as `key=value`.
#[derive(Default)]
struct MessageText {
    message: String,
    fields: String,
}

impl MessageText {
    fn finish(self) -> String {
        if self.fields.is_empty() {
            self.message
        } else {
            format!("{}{}", self.message, self.fields)
        }
    }
}

impl Visit for MessageText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}
