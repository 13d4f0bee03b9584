//! `dify-bedrock serve`: puts the pieces together for the mode INSTALL_METHOD names (as
//! the daemon and the Python SDK choose it) and says how the process should exit.

use std::process::ExitCode;
use std::sync::Arc;

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::actions::AppState;
use crate::declaration::Catalog;
use crate::logging;
use crate::runtime::{self, StopReason, request_stop};
use crate::session::Writer;
use crate::settings::{InstallMethod, Settings};
use crate::wire;

/// Serves the plugin protocol until the daemon goes away. `parent` is the parent process
/// id read at start-up (before the parent could have gone).
pub fn run(parent: u32) -> ExitCode {
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
    let (stop, stop_rx) = runtime::stop_channel();
    let on_closed = {
        let stop = stop.clone();
        move |e: std::io::Error| {
            eprintln!("dify-bedrock: output closed ({e}); exiting");
            request_stop(&stop, StopReason::OutputClosed);
        }
    };
    let (writer, writer_thread) =
        match Writer::spawn(std::io::stdout(), wire::DEFAULT_MAX_LINE_BYTES, on_closed) {
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
        // Signal handlers are in place before the first heartbeat says we are ready.
        let signals = stop_signals();
        let on_signal = stop.clone();
        tokio::spawn(async move {
            wait_for_signal(signals).await;
            request_stop(&on_signal, StopReason::Signal);
        });
        runtime::spawn_heartbeat(writer.clone(), settings.heartbeat_interval);
        let on_parent_gone = stop.clone();
        runtime::spawn_parent_watch(parent, move || {
            eprintln!("dify-bedrock: parent process {parent} is gone; exiting");
            request_stop(&on_parent_gone, StopReason::ParentGone);
        });
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
    drop(stop);
    let _ = writer_thread.join();
    // Tokio's stdin reader sits in a blocking read that cannot be interrupted: do not
    // wait for it when the input is still open (after a signal).
    rt.shutdown_background();
    exit_code(reason)
}

fn exit_code(reason: StopReason) -> ExitCode {
    match reason {
        StopReason::EndOfInput | StopReason::Signal | StopReason::OutputClosed => ExitCode::SUCCESS,
        StopReason::ReadError | StopReason::ParentGone => ExitCode::FAILURE,
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
