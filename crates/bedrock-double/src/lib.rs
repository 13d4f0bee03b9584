//! `bedrock-double`: a faithful offline test double of Amazon Bedrock.
//!
//! It speaks the real wire protocol — restJson1 requests signed with SigV4 or
//! carrying a Bedrock API key, event-stream responses, AWS error headers — so
//! the official AWS SDK can be pointed at it with `endpoint_url` and exercise
//! its real HTTP, signing and stream decoding. It also stands in for STS,
//! IMDSv2 and the ECS credentials endpoint, so every credential path can be
//! tested offline.
//!
//! ```no_run
//! use bedrock_double::{Double, DoubleConfig, Matcher, Operation, Script};
//! let double = Double::start(DoubleConfig::default()).expect("double starts");
//! double.push_script(Matcher::operation(Operation::ConverseStream), Script {
//!     deltas: Some(5),
//!     ..Script::default()
//! });
//! // point the SDK at double.url(), then inspect double.requests()
//! ```
//!
//! See the crate README for the marker syntax and the defaults.

mod auth;
mod body;
pub mod catalog;
mod config;
mod control;
mod controls;
mod converse;
mod creds;
mod error;
mod guardrail;
mod invoke;
mod mantle;
mod record;
mod rerank;
mod runtime;
pub mod script;
mod server;
mod util;

pub use catalog::{ApplicationProfile, Family, ModelKind, ModelSpec};
pub use config::*;
pub use error::AwsError;
pub use guardrail::{GuardrailOutcome, GuardrailRequest, GuardrailSpec};
pub use record::{Operation, RecordedRequest};
pub use script::{
    ErrorScript, GuardrailAction, GuardrailScript, GuardrailSource, MARKER_OPEN, Matcher, Script,
    Stall, StreamException, ToolCall, Usage,
};

use server::{State, lock};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// A running double. Dropping it (or [`Double::shutdown`]) stops the server.
pub struct Double {
    state: Arc<State>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn bind(config: &DoubleConfig) -> std::io::Result<(std::net::TcpListener, SocketAddr)> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", config.port))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

impl Double {
    /// Starts the double on 127.0.0.1 (port from the config, 0 = any free
    /// port) on its own thread and tokio runtime, so it keeps serving whether
    /// the caller is async, blocking, or waiting on a child process.
    pub fn start(config: DoubleConfig) -> std::io::Result<Double> {
        let (listener, addr) = bind(&config)?;
        let state = Arc::new(State::new(config)?);
        let (tx, rx) = watch::channel(false);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name("bedrock-double".into())
            .spawn(move || {
                rt.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => server::run(l, st, rx).await,
                        Err(e) => tracing::error!(error = %e, "bedrock-double cannot listen"),
                    }
                });
            })?;
        Ok(Double {
            state,
            addr,
            shutdown: tx,
            thread: Some(thread),
            task: None,
        })
    }

    /// Starts the double as a task on the current tokio runtime (fails
    /// outside one). Its connections only progress while that runtime runs.
    pub fn start_local(config: DoubleConfig) -> std::io::Result<Double> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| std::io::Error::other(format!("no tokio runtime: {e}")))?;
        let (listener, addr) = bind(&config)?;
        let state = Arc::new(State::new(config)?);
        let (tx, rx) = watch::channel(false);
        let _guard = handle.enter();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let task = handle.spawn(server::run(listener, state.clone(), rx));
        Ok(Double {
            state,
            addr,
            shutdown: tx,
            thread: None,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, for every SDK client's `endpoint_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The configuration the double runs with.
    pub fn config(&self) -> &DoubleConfig {
        &self.state.config
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.records).clone()
    }

    /// The requests of one operation.
    pub fn requests_for(&self, op: Operation) -> Vec<RecordedRequest> {
        lock(&self.state.records)
            .iter()
            .filter(|r| r.operation == op)
            .cloned()
            .collect()
    }

    /// The most recent request.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.state.records).last().cloned()
    }

    pub fn clear_requests(&self) {
        lock(&self.state.records).clear();
    }

    /// TCP connections accepted so far.
    pub fn connections_accepted(&self) -> u64 {
        self.state
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The next request of any operation gets `script` (unless it carries a marker).
    pub fn script_next(&self, script: Script) {
        self.push_script(Matcher::any(), script);
    }

    /// The next request matching `matcher` gets `script`.
    pub fn push_script(&self, matcher: Matcher, script: Script) {
        self.push_script_times(matcher, script, 1);
    }

    /// The next `times` requests matching `matcher` get `script`.
    pub fn push_script_times(&self, matcher: Matcher, script: Script, times: usize) {
        lock(&self.state.scripts).push(matcher, script, times);
    }

    /// Scripts still queued.
    pub fn pending_scripts(&self) -> usize {
        lock(&self.state.scripts).len()
    }

    pub fn clear_scripts(&self) {
        lock(&self.state.scripts).clear();
    }

    /// Accepts another key pair from now on.
    pub fn add_key_pair(&self, pair: KeyPair) {
        lock(&self.state.dynamic_keys).insert(pair.access_key_id.clone(), pair);
    }

    /// Credentials issued so far: by the STS stand-in, and by IMDS when it rotates them
    /// ([`DoubleConfig::imds_credential_lifetime`]); each with its `expires_at`.
    pub fn issued_credentials(&self) -> Vec<KeyPair> {
        let mut v: Vec<KeyPair> = lock(&self.state.dynamic_keys).values().cloned().collect();
        v.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
        v
    }

    /// Stops the server and waits for it.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Double {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Double").field("url", &self.url()).finish()
    }
}
