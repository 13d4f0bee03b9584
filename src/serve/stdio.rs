//! The local mode of an installed plugin: requests on stdin, answers on stdout through
//! one writer (a task on the runtime for the daemon's pipe, else a thread), logs as
//! protocol `log` events, and an exit when the daemon (our parent) goes away.

use std::process::ExitCode;
use std::sync::Arc;

use std::time::Duration;

use super::pipe::PipeOut;
use super::{async_runtime, catalog, log_notes, serve_options, stop_signals, wait_for_signal};
use crate::actions::AppState;
use crate::logging;
use crate::runtime::{self, StopReason, request_stop};
use crate::session::Writer;
use crate::settings::Settings;

/// How long the output may take to drain at exit.
const WRITER_DRAIN: Duration = Duration::from_secs(10);

pub fn run(settings: Settings, parent: u32) -> ExitCode {
    let (stop, stop_rx) = runtime::stop_channel();
    let on_closed = {
        let stop = stop.clone();
        move |e: std::io::Error| {
            eprintln!("dify-bedrock: output closed ({e}); exiting");
            request_stop(&stop, StopReason::OutputClosed);
        }
    };
    let Some(rt) = async_runtime() else {
        return ExitCode::FAILURE;
    };
    // A pipe (the daemon's case) is written from the runtime; anything else from a
    // thread of its own.
    let pipe = {
        let _entered = rt.enter();
        PipeOut::stdout()
    };
    let (writer, writer_task, writer_thread) = match pipe {
        Some(out) => {
            let _entered = rt.enter();
            let (writer, task) = Writer::spawn_async(out, settings.local_max_line, on_closed);
            (writer, Some(task), None)
        }
        None => match Writer::spawn(std::io::stdout(), settings.local_max_line, on_closed) {
            Ok((writer, thread)) => (writer, None, Some(thread)),
            Err(e) => {
                eprintln!("dify-bedrock: cannot start the output writer: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    logging::init_protocol(writer.clone(), settings.log_filter.as_deref());
    log_notes(&settings);
    let Some(catalog) = catalog() else {
        return ExitCode::FAILURE;
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
            &serve_options(&settings, false),
            stop_rx,
        )
        .await;
        tracing::info!("stopping: {reason:?}");
        writer.close().await;
        if let Some(task) = writer_task {
            // What is queued is written before the process ends, unless the reader has
            // stopped reading.
            let _ = tokio::time::timeout(WRITER_DRAIN, task).await;
        }
        reason
    });
    drop(stop);
    if let Some(thread) = writer_thread {
        let _ = thread.join();
    }
    // Tokio's stdin reader sits in a blocking read that cannot be interrupted: do not
    // wait for it when the input is still open (after a signal).
    rt.shutdown_background();
    match reason {
        StopReason::EndOfInput | StopReason::Signal | StopReason::OutputClosed => ExitCode::SUCCESS,
        StopReason::ReadError | StopReason::ParentGone | StopReason::Refused(_) => {
            ExitCode::FAILURE
        }
    }
}
