//! The `dify-bedrock` command: serves Dify's plugin protocol (the mode chosen by
//! INSTALL_METHOD, as the daemon and the Python SDK do).

use std::process::ExitCode;
use std::sync::Arc;

use dify_bedrock::actions::AppState;
use dify_bedrock::declaration::Catalog;
use dify_bedrock::logging;
use dify_bedrock::runtime::{self, StopReason, Writer};
use dify_bedrock::settings::{InstallMethod, Settings};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;

const USAGE: &str = "\
dify-bedrock — the Amazon Bedrock model provider for Dify

USAGE:
    dify-bedrock [serve]     serve the plugin protocol; the mode comes from INSTALL_METHOD
                             (local: stdin/stdout, as the Dify plugin daemon runs it)
    dify-bedrock package     build the installable .difypkg
    dify-bedrock check --region R [--model M]
                             validate AWS credentials as Dify does (see check --help)
    dify-bedrock --version
    dify-bedrock --help

ENVIRONMENT (or a .env file in the working directory):
    INSTALL_METHOD        local (default)
    HEARTBEAT_INTERVAL    seconds between heartbeats (10)
    MAX_WORKER            requests served at once (1000)
    RUST_LOG              log level and filters (info)
";

fn main() -> ExitCode {
    // Read first, so a parent that dies during start-up is still noticed.
    let parent = std::os::unix::process::parent_id();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("serve") => serve(parent),
        Some("package") => dify_bedrock::package::run(&args[1..]),
        Some("check") => dify_bedrock::check::run(&args[1..]),
        Some("--version" | "-V" | "version") => {
            println!("dify-bedrock {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("--help" | "-h" | "help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("dify-bedrock: unknown command {other:?}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn serve(parent: u32) -> ExitCode {
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dify-bedrock: {e}");
            return ExitCode::from(2);
        }
    };
    match settings.install_method {
        InstallMethod::Local => serve_stdio(settings, parent),
        other => {
            eprintln!(
                "dify-bedrock: INSTALL_METHOD {other:?} is not supported by this version yet; use local"
            );
            ExitCode::from(2)
        }
    }
}

fn serve_stdio(settings: Settings, parent: u32) -> ExitCode {
    let (writer, writer_thread) = match Writer::spawn(std::io::stdout()) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("dify-bedrock: cannot start the output writer: {e}");
            return ExitCode::FAILURE;
        }
    };
    logging::init_protocol(writer.clone());
    let catalog = match Catalog::embedded() {
        Ok(c) => c,
        Err(e) => {
            // A broken build, not a user error: say so where the daemon shows launch failures.
            eprintln!("dify-bedrock: the embedded declarations do not load: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dify-bedrock: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let reason = rt.block_on(async {
        let (stop_tx, stop_rx) = watch::channel(false);
        // Signal handlers are in place before the first heartbeat says we are ready.
        let signals = stop_signals();
        tokio::spawn(async move {
            wait_for_signal(signals).await;
            let _ = stop_tx.send(true);
        });
        runtime::spawn_heartbeat(writer.clone(), settings.heartbeat_interval);
        runtime::spawn_parent_watch(parent);
        let state = Arc::new(AppState::new(catalog, settings.network.clone()));
        let reason = runtime::serve_lines(
            tokio::io::stdin(),
            writer.clone(),
            state,
            settings.max_workers,
            settings.shutdown_grace,
            stop_rx,
        )
        .await;
        tracing::info!("stopping: {reason:?}");
        writer.close().await;
        reason
    });
    let _ = writer_thread.join();
    // Tokio's stdin reader sits in a blocking read that cannot be interrupted: do not
    // wait for it when the input is still open (after a signal).
    rt.shutdown_background();
    if reason == StopReason::ReadError {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
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
