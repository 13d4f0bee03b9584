//! `dify-bedrock serve`: the mode INSTALL_METHOD names (or `--install-method`), as the
//! daemon and the Python SDK choose it — `stdio` for an installed plugin, `tcp` for remote
//! debugging, `http` for serverless — each assembled from the same runtime and actions.
//! The exit status is decided here and returned to `main`; nothing else exits.

pub(crate) mod http;
mod pipe;
mod registration;
mod stdio;
mod tcp;

use std::process::ExitCode;

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::declaration::Catalog;
use crate::runtime::ServeOptions;
use crate::settings::{InstallMethod, Settings};

/// Options of `dify-bedrock serve`; each overrides the environment variable it names.
#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// local (stdin/stdout), remote (TCP to Dify's debugging port) or serverless (HTTP)
    #[arg(long, value_name = "METHOD")]
    install_method: Option<String>,
    /// remote: the daemon's debugging address, host:port [REMOTE_INSTALL_URL]
    #[arg(long, value_name = "HOST:PORT")]
    remote_install_url: Option<String>,
    /// remote: the debugging key Dify shows [REMOTE_INSTALL_KEY]
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    remote_install_key: Option<String>,
    /// serverless: the address to listen on [SERVERLESS_HOST]
    #[arg(long, value_name = "HOST")]
    serverless_host: Option<String>,
    /// serverless: the port to listen on [SERVERLESS_PORT]
    #[arg(long, value_name = "PORT")]
    serverless_port: Option<u16>,
    /// seconds between heartbeats [HEARTBEAT_INTERVAL]
    #[arg(long, value_name = "SECONDS")]
    heartbeat_interval: Option<f64>,
    /// requests served at once [MAX_WORKER]
    #[arg(long, value_name = "N")]
    max_worker: Option<u64>,
}

impl ServeArgs {
    /// The options given, as the variables they override.
    fn overrides(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut put = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                out.push((k, v));
            }
        };
        put("INSTALL_METHOD", self.install_method.clone());
        put("REMOTE_INSTALL_URL", self.remote_install_url.clone());
        put("REMOTE_INSTALL_KEY", self.remote_install_key.clone());
        put("SERVERLESS_HOST", self.serverless_host.clone());
        put(
            "SERVERLESS_PORT",
            self.serverless_port.map(|p| p.to_string()),
        );
        put(
            "HEARTBEAT_INTERVAL",
            self.heartbeat_interval.map(|h| h.to_string()),
        );
        put("MAX_WORKER", self.max_worker.map(|n| n.to_string()));
        out
    }
}

/// Serves the plugin protocol until the daemon goes away. `parent` is the parent process
/// id read at start-up (before the parent could have gone).
pub fn run(args: ServeArgs, parent: u32) -> ExitCode {
    let settings = match Settings::load(&args.overrides()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dify-bedrock: {e}");
            return ExitCode::from(2);
        }
    };
    match settings.install_method {
        InstallMethod::Local => stdio::run(settings, parent),
        InstallMethod::Remote => tcp::run(settings),
        InstallMethod::Serverless => http::run(settings),
    }
}

/// The declarations compiled in; failing to load them is a broken build, said where the
/// daemon shows launch failures.
fn catalog() -> Option<Catalog> {
    match Catalog::embedded() {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("dify-bedrock: the embedded declarations do not load: {e}");
            None
        }
    }
}

fn async_runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("dify-bedrock: cannot start the async runtime: {e}");
            None
        }
    }
}

fn serve_options(settings: &Settings, plain_text_is_refusal: bool) -> ServeOptions {
    ServeOptions {
        max_workers: settings.max_workers,
        grace: settings.shutdown_grace,
        idle_timeout: settings.max_request_timeout,
        plain_text_is_refusal,
    }
}

fn log_notes(settings: &Settings) {
    for note in &settings.notes {
        tracing::warn!("{note}");
    }
}

type Signals = (std::io::Result<Signal>, std::io::Result<Signal>);

/// Registers SIGTERM and SIGINT handlers (must run inside the runtime).
fn stop_signals() -> Signals {
    (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    )
}

async fn wait_for_signal(signals: Signals) {
    match signals {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}
