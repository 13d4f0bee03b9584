//! Remote debugging: connects to the daemon's debugging port, registers (the handshake
//! with the key, the declarations, the icons), then serves the ordinary protocol on the
//! same socket with heartbeats. A refusal (a bad key, a declaration the daemon rejects)
//! ends the process with the daemon's words; a dropped connection is re-established with
//! the same registration, a bounded number of times with backoff.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{
    async_runtime, catalog, log_notes, registration, serve_options, stop_signals, wait_for_signal,
};
use crate::actions::AppState;
use crate::logging;
use crate::runtime::{self, StopReason, request_stop};
use crate::session::Writer;
use crate::settings::Settings;

/// Tries in a row before giving up, and the first wait between them (doubled each time).
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// A connection that lasted this long was working: its loss starts a fresh count.
const STABLE: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(settings: Settings) -> ExitCode {
    // The daemon discards `log` events from a debugged plugin: the developer's terminal
    // is where logs are read.
    logging::init_stderr(settings.log_filter.as_deref());
    log_notes(&settings);
    let Some(catalog) = catalog() else {
        return ExitCode::FAILURE;
    };
    let Some(key) = settings.remote.key.clone() else {
        eprintln!("dify-bedrock: REMOTE_INSTALL_KEY is required for remote debugging");
        return ExitCode::from(2);
    };
    let registration = match registration::lines(&catalog, &key) {
        Ok(lines) => lines,
        Err(e) => {
            eprintln!("dify-bedrock: the declarations cannot be sent: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(rt) = async_runtime() else {
        return ExitCode::FAILURE;
    };
    let address = format!("{}:{}", settings.remote.host, settings.remote.port);
    let code = rt.block_on(async {
        let (stop, stop_rx) = runtime::stop_channel();
        let signals = stop_signals();
        tokio::spawn(async move {
            wait_for_signal(signals).await;
            request_stop(&stop, StopReason::Signal);
        });
        let state = Arc::new(AppState::new(catalog, settings.network.clone()));
        reconnecting(&settings, &address, &registration, state, stop_rx).await
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    code
}

/// Serves connection after connection until a signal, a refusal, or too many failures.
async fn reconnecting(
    settings: &Settings,
    address: &str,
    registration: &[String],
    state: Arc<AppState>,
    mut stop: watch::Receiver<Option<StopReason>>,
) -> ExitCode {
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        let outcome = connection(settings, address, registration, state.clone(), stop.clone());
        let problem = match outcome.await {
            Ok(StopReason::Signal) => return ExitCode::SUCCESS,
            Ok(StopReason::Refused(text)) => {
                eprintln!("{}", refusal_message(address, &text));
                return ExitCode::FAILURE;
            }
            Ok(other) => {
                if started.elapsed() >= STABLE {
                    failures = 0;
                }
                format!("the connection was lost ({other:?})")
            }
            Err(e) => e,
        };
        failures += 1;
        if failures >= ATTEMPTS {
            eprintln!(
                "dify-bedrock: could not keep a connection to the Dify plugin daemon at {address} ({failures} tries; last: {problem}). Check REMOTE_INSTALL_URL and that the daemon is running."
            );
            return ExitCode::FAILURE;
        }
        let wait = FIRST_BACKOFF * 2u32.pow(failures - 1);
        tracing::warn!(
            "{address}: {problem}; connecting again in {} s",
            wait.as_secs()
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return ExitCode::SUCCESS,
        }
    }
}

/// What the user reads when the daemon refuses the plugin.
fn refusal_message(address: &str, text: &str) -> String {
    let hint = if text.contains("invalid key") {
        " Check REMOTE_INSTALL_KEY: copy the current debugging key from Dify (Plugins → the debug icon); keys expire."
    } else if text.contains("busy") {
        " The daemon has reached its limit of debugging connections; try again later."
    } else {
        ""
    };
    format!("dify-bedrock: the Dify plugin daemon at {address} refused the plugin: {text}{hint}")
}

/// One connection: register, then serve until it ends. `Err` when it could not be made.
async fn connection(
    settings: &Settings,
    address: &str,
    registration: &[String],
    state: Arc<AppState>,
    mut global: watch::Receiver<Option<StopReason>>,
) -> Result<StopReason, String> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| format!("connecting timed out after {} s", CONNECT_TIMEOUT.as_secs()))?
        .map_err(|e| format!("cannot connect: {e}"))?;
    // Tokens are small writes that should leave at once.
    let _ = stream.set_nodelay(true);
    let (mut read, mut write) = stream.into_split();
    // Registration goes before any other line: the daemon ends the connection over a
    // heartbeat sent before `end`.
    let mut bytes = Vec::new();
    for line in registration {
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
    }
    if let Err(e) = async {
        write.write_all(&bytes).await?;
        write.flush().await
    }
    .await
    {
        // The daemon may have refused before all was sent: keep its words.
        let mut said = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), read.read_to_end(&mut said)).await;
        let said = String::from_utf8_lossy(&said).trim().to_string();
        return if said.is_empty() {
            Err(format!("registering failed: {e}"))
        } else {
            Ok(StopReason::Refused(said))
        };
    }
    tracing::info!("registered with the Dify plugin daemon at {address}");

    let (conn_stop, conn_rx) = runtime::stop_channel();
    let forward = {
        let conn_stop = conn_stop.clone();
        tokio::spawn(async move {
            loop {
                if let Some(reason) = global.borrow_and_update().clone() {
                    request_stop(&conn_stop, reason);
                    return;
                }
                if global.changed().await.is_err() {
                    return;
                }
            }
        })
    };
    let on_closed = {
        let conn_stop = conn_stop.clone();
        move |_: std::io::Error| request_stop(&conn_stop, StopReason::OutputClosed)
    };
    let (writer, writer_task) = Writer::spawn_async(write, settings.local_max_line, on_closed);
    runtime::spawn_heartbeat(writer.clone(), settings.heartbeat_interval);
    let reason = runtime::serve_lines(
        read,
        writer.clone(),
        state,
        &serve_options(settings, true),
        conn_rx,
    )
    .await;
    writer.close().await;
    drop(writer);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer_task).await;
    forward.abort();
    Ok(reason)
}
