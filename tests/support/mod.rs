//! The test driver: spawns the built `dify-bedrock` binary and speaks the plugin protocol
//! to it as Dify's plugin daemon does (reference dify-protocol.md §1, §2.1). Every session
//! it collects is checked against the daemon's own rules, so each end-to-end test also
//! checks what a Go daemon would reject.

#![allow(dead_code)]

pub mod aws;
pub mod daemon;
pub mod daemon_rules;
pub mod http;
pub mod proxy;
pub mod soak;
pub mod tls;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_dify-bedrock");

/// Where a test's plugin process writes, as it arrives.
#[derive(Default)]
struct State {
    /// Every stdout line that parsed as JSON, in order.
    lines: Vec<Value>,
    /// Stdout lines that were not JSON (there must be none).
    junk: Vec<String>,
    sessions: HashMap<String, Vec<Value>>,
    ended: HashSet<String>,
    heartbeats: Vec<Instant>,
    stdout_closed: bool,
    /// Serverless answers that were not 200 OK.
    http_failures: Vec<http::Response>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking test thread must not hide the state from the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How the test talks to the plugin, as the daemon would in each mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// An installed plugin: requests on stdin, events on stdout.
    Stdio,
    /// Remote debugging: the plugin connects to a fake daemon and registers first.
    Tcp,
    /// Serverless: one HTTP request per session.
    Http,
}

/// Where requests go.
enum Link {
    Stdio(Option<ChildStdin>),
    Tcp(Option<TcpStream>),
    Http(SocketAddr),
}

/// One running plugin process.
pub struct Plugin {
    child: Child,
    link: Link,
    /// Remote debugging: what the plugin sent to register.
    pub registration: Option<daemon::Registration>,
    shared: Arc<Shared>,
    stderr: Arc<Mutex<String>>,
    started: Instant,
    actions: Mutex<HashMap<String, String>>,
    next_id: AtomicU64,
    readers: Vec<JoinHandle<()>>,
}

/// The lines of one finished session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub action: String,
    pub lines: Vec<Value>,
}

impl Session {
    /// The `data` of every `stream` message.
    pub fn items(&self) -> Vec<&Value> {
        self.lines
            .iter()
            .filter(|l| l["data"]["type"] == "stream")
            .map(|l| &l["data"]["data"])
            .collect()
    }

    /// The text of an LLM answer: every chunk's content, in order.
    pub fn text(&self) -> String {
        self.items()
            .iter()
            .filter_map(|c| c["delta"]["message"]["content"].as_str())
            .collect()
    }

    /// The single result of a non-LLM action; panics with the session if there is none.
    pub fn result(&self) -> &Value {
        let items = self.items();
        assert_eq!(items.len(), 1, "expected one result in {self:#?}");
        items[0]
    }

    /// The `data` of the session's `error` message, if any.
    pub fn error(&self) -> Option<&Value> {
        self.lines
            .iter()
            .find(|l| l["data"]["type"] == "error")
            .map(|l| &l["data"]["data"])
    }

    /// The error, which the test expects; panics otherwise.
    pub fn expect_error(&self) -> &Value {
        self.error()
            .unwrap_or_else(|| panic!("expected an error in {self:#?}"))
    }
}

impl Plugin {
    /// Starts the plugin with a clean environment plus `env`.
    pub fn start_with(env: &[(&str, &str)]) -> Plugin {
        Plugin::start_over(Transport::Stdio, env)
    }

    /// The binary with a clean environment: nothing of the test's own reaches it.
    pub fn command(env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("INSTALL_METHOD", "local")
            // Never let a stray credential chain reach the real instance metadata service.
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts the plugin in the mode of `transport`, with a clean environment plus `env`,
    /// and connects to it as the daemon would (for TCP: accepts its registration).
    pub fn start_over(transport: Transport, env: &[(&str, &str)]) -> Plugin {
        match transport {
            Transport::Stdio => Plugin::spawn(Plugin::command(env)),
            Transport::Tcp => {
                let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake daemon");
                let url = listener.local_addr().expect("address").to_string();
                let mut cmd = Plugin::command(env);
                cmd.env("INSTALL_METHOD", "remote")
                    .env("REMOTE_INSTALL_URL", &url)
                    .env("REMOTE_INSTALL_KEY", daemon::KEY);
                let mut plugin = Plugin::spawn(cmd);
                let (stream, registration) =
                    daemon::accept(&listener, daemon::KEY, Duration::from_secs(20))
                        .unwrap_or_else(|e| panic!("{e}; stderr: {}", plugin.stderr()));
                plugin.attach_tcp(stream);
                plugin.registration = Some(registration);
                plugin
            }
            Transport::Http => {
                let mut cmd = Plugin::command(env);
                cmd.env("INSTALL_METHOD", "serverless")
                    .env("SERVERLESS_HOST", "127.0.0.1")
                    .env("SERVERLESS_PORT", "0");
                let mut plugin = Plugin::spawn(cmd);
                let addr = plugin.wait_listening(Duration::from_secs(20));
                plugin.link = Link::Http(addr);
                plugin
            }
        }
    }

    /// Reads events from `stream` and sends requests to it (after registration).
    pub fn attach_tcp(&mut self, stream: TcpStream) {
        let reader = stream.try_clone().expect("clone the socket");
        let shared = self.shared.clone();
        // A fresh connection: what the last one did not end is lost with it.
        shared.lock().stdout_closed = false;
        self.readers
            .push(std::thread::spawn(move || read_stdout(reader, shared)));
        self.link = Link::Tcp(Some(stream));
    }

    /// The serverless address the plugin logged it listens on.
    fn wait_listening(&mut self, timeout: Duration) -> SocketAddr {
        let deadline = Instant::now() + timeout;
        loop {
            let stderr = self.stderr();
            if let Some(addr) = stderr
                .split("on http://")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|a| a.parse().ok())
            {
                return addr;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the plugin exited ({status}) before listening: {stderr}");
            }
            assert!(
                Instant::now() < deadline,
                "the plugin never listened: {stderr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The serverless address (HTTP transport only).
    pub fn http_addr(&self) -> SocketAddr {
        match self.link {
            Link::Http(addr) => addr,
            _ => panic!("not a serverless plugin"),
        }
    }

    /// Starts any command that should speak the protocol (e.g. an installed package's
    /// `python -m main`); the caller sets its environment and working directory.
    pub fn spawn(mut cmd: Command) -> Plugin {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn dify-bedrock");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let stdout = child.stdout.take().expect("stdout");
        let stderr_pipe = child.stderr.take().expect("stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let reader = {
            let shared = shared.clone();
            std::thread::spawn(move || read_stdout(stdout, shared))
        };
        let err_reader = {
            let stderr = stderr.clone();
            std::thread::spawn(move || {
                let mut text = String::new();
                let mut pipe = stderr_pipe;
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    text.push_str(&String::from_utf8_lossy(&buf[..n]));
                    stderr
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone_from(&text);
                }
            })
        };
        let stdin = child.stdin.take();
        Plugin {
            child,
            link: Link::Stdio(stdin),
            registration: None,
            shared,
            stderr,
            started,
            actions: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            readers: vec![reader, err_reader],
        }
    }

    pub fn start() -> Plugin {
        Plugin::start_with(&[])
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the first heartbeat; returns the time from spawn to its arrival.
    pub fn wait_first_heartbeat(&self, timeout: Duration) -> Duration {
        let st = self.wait_until(timeout, |s| !s.heartbeats.is_empty());
        st.heartbeats[0].duration_since(self.started)
    }

    pub fn heartbeats(&self) -> Vec<Instant> {
        self.shared.lock().heartbeats.clone()
    }

    /// Writes one raw line (a newline is added); over HTTP, posts it as one request whose
    /// answer is read in the background.
    pub fn send_raw(&mut self, line: &str) {
        let out: &mut dyn Write = match &mut self.link {
            Link::Stdio(stdin) => stdin.as_mut().expect("stdin is open"),
            Link::Tcp(socket) => socket.as_mut().expect("connected"),
            Link::Http(addr) => {
                let (addr, shared, body) = (*addr, self.shared.clone(), line.to_string());
                self.readers.push(std::thread::spawn(move || {
                    let answer =
                        http::post_invoke_streaming(addr, &body, |l| take_line(&shared, l));
                    match answer {
                        Ok(response) if response.status == 200 => {}
                        Ok(response) => {
                            shared.lock().http_failures.push(response);
                            shared.changed.notify_all();
                        }
                        Err(e) => panic!("POST /invoke failed: {e}"),
                    }
                }));
                return;
            }
        };
        out.write_all(line.as_bytes()).expect("write");
        out.write_all(b"\n").expect("write");
        out.flush().expect("flush");
    }

    /// Serverless answers that were not 200 OK.
    pub fn http_failures(&self) -> Vec<http::Response> {
        self.shared.lock().http_failures.clone()
    }

    /// Sends a request for `action` with `fields` as the action payload; returns its session id.
    pub fn request(&mut self, action: &str, fields: Value) -> String {
        self.request_in_app(action, fields, None)
    }

    /// As [`Plugin::request`], from a Dify app (the envelope's `app_id`).
    pub fn request_in_app(&mut self, action: &str, fields: Value, app_id: Option<&str>) -> String {
        let id = format!(
            "sess-{}-{}",
            std::process::id(),
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let mut line = envelope(&id, action, fields);
        line["app_id"] = app_id.map_or(Value::Null, Value::from);
        self.actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), action.to_string());
        self.send_raw(&line.to_string());
        id
    }

    /// Waits for a session's `end` and checks it against the daemon's rules.
    pub fn wait_session(&self, id: &str, timeout: Duration) -> Session {
        let st = self.wait_until(timeout, |s| s.ended.contains(id));
        let lines = st.sessions.get(id).cloned().unwrap_or_default();
        drop(st);
        let action = self
            .actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .unwrap_or_default();
        let session = Session {
            id: id.to_string(),
            action,
            lines,
        };
        if let Err(problem) = daemon_rules::check_session(&session.action, &session.lines) {
            panic!("session violates the daemon's rules: {problem}\n{session:#?}");
        }
        session
    }

    /// Sends a request and waits for its whole answer.
    pub fn call(&mut self, action: &str, fields: Value) -> Session {
        let id = self.request(action, fields);
        self.wait_session(&id, Duration::from_secs(30))
    }

    /// Top-level `error` events (input that belonged to no session).
    pub fn top_level_errors(&self) -> Vec<Value> {
        self.shared
            .lock()
            .lines
            .iter()
            .filter(|l| l["event"] == "error")
            .cloned()
            .collect()
    }

    /// Waits for `n` top-level errors (they are answered concurrently with later requests).
    pub fn wait_top_level_errors(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let st = self.wait_until(timeout, |s| {
            s.lines.iter().filter(|l| l["event"] == "error").count() >= n
        });
        st.lines
            .iter()
            .filter(|l| l["event"] == "error")
            .cloned()
            .collect()
    }

    /// `log` events so far.
    pub fn logs(&self) -> Vec<Value> {
        self.shared
            .lock()
            .lines
            .iter()
            .filter(|l| l["event"] == "log")
            .cloned()
            .collect()
    }

    /// Every stdout line so far, and any line that was not JSON.
    pub fn stdout_lines(&self) -> (Vec<Value>, Vec<String>) {
        let st = self.shared.lock();
        (st.lines.clone(), st.junk.clone())
    }

    /// Stderr once it says `needle` (it is read in the background: after the process
    /// exits, its last words may still be on their way); panics after `timeout`.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.stderr();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "stderr never said {needle:?}: {text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every finished session, for the SDK conformance checker.
    pub fn finished_sessions(&self) -> Vec<Session> {
        let st = self.shared.lock();
        let actions = self.actions.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<_> = st.ended.iter().cloned().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| Session {
                action: actions.get(&id).cloned().unwrap_or_default(),
                lines: st.sessions.get(&id).cloned().unwrap_or_default(),
                id,
            })
            .collect()
    }

    /// Closes stdin, as the daemon does when it stops an instance (or, for remote
    /// debugging, drops the connection).
    pub fn close_stdin(&mut self) {
        match &mut self.link {
            Link::Stdio(stdin) => drop(stdin.take()),
            Link::Tcp(socket) => {
                if let Some(s) = socket.take() {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                }
            }
            Link::Http(_) => {}
        }
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the stdout reader saw the end of output, after the process exited.
    pub fn wait_stdout_closed(&self, timeout: Duration) {
        drop(self.wait_until(timeout, |s| s.stdout_closed));
    }

    fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&State) -> bool,
    ) -> std::sync::MutexGuard<'_, State> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while !done(&st) {
            let now = Instant::now();
            if now >= deadline || st.stdout_closed {
                if done(&st) {
                    break;
                }
                panic!(
                    "timed out after {timeout:?} (stdout closed: {}); last lines: {:#?}; stderr: {}",
                    st.stdout_closed,
                    st.lines.iter().rev().take(5).collect::<Vec<_>>(),
                    self.stderr()
                );
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The daemon's request envelope around an action payload.
pub fn envelope(session_id: &str, action: &str, fields: Value) -> Value {
    let mut data = json!({"user_id": "test-user", "type": "model", "action": action});
    if let (Some(d), Value::Object(f)) = (data.as_object_mut(), fields) {
        d.extend(f);
    }
    json!({
        "session_id": session_id,
        "conversation_id": null,
        "message_id": null,
        "app_id": null,
        "endpoint_id": null,
        "context": {},
        "event": "request",
        "data": data,
    })
}

fn read_stdout(stdout: impl Read, shared: Arc<Shared>) {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        take_line(&shared, &line);
    }
    shared.lock().stdout_closed = true;
    shared.changed.notify_all();
}

/// Files one line the plugin wrote.
fn take_line(shared: &Shared, line: &str) {
    let text = line.trim_end_matches(['\n', '\r']);
    if text.is_empty() {
        return;
    }
    let mut st = shared.lock();
    match serde_json::from_str::<Value>(text) {
        Ok(v) => {
            match v["event"].as_str() {
                Some("heartbeat") => st.heartbeats.push(Instant::now()),
                Some("session") => {
                    if let Some(id) = v["session_id"].as_str() {
                        if v["data"]["type"] == "end" {
                            st.ended.insert(id.to_string());
                        }
                        st.sessions
                            .entry(id.to_string())
                            .or_default()
                            .push(v.clone());
                    }
                }
                _ => {}
            }
            st.lines.push(v);
        }
        Err(_) => st.junk.push(text.to_string()),
    }
    drop(st);
    shared.changed.notify_all();
}

/// Helpers for tests that send what the daemon never would (the bad-input table).
impl Plugin {
    /// Sends `line` (any bytes, even invalid UTF-8; a newline is added) as the request of
    /// session `session_id` for `action`, so that [`Plugin::wait_session`] checks it by
    /// that action's rules. Over HTTP it is posted as it is, with the session id header;
    /// an answer that is not 200 OK lands in [`Plugin::http_failures`].
    pub fn send_session_bytes(&mut self, session_id: &str, action: &str, line: &[u8]) {
        self.actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session_id.to_string(), action.to_string());
        let out: &mut dyn Write = match &mut self.link {
            Link::Stdio(stdin) => stdin.as_mut().expect("stdin is open"),
            Link::Tcp(socket) => socket.as_mut().expect("connected"),
            Link::Http(addr) => {
                let (addr, shared) = (*addr, self.shared.clone());
                let (path, session, body) = (
                    format!("/invoke?action={action}"),
                    session_id.to_string(),
                    line.to_vec(),
                );
                self.readers.push(std::thread::spawn(move || {
                    let answer = http::request(
                        addr,
                        "POST",
                        &path,
                        &[
                            ("Content-Type", "application/json"),
                            ("Accept", "text/event-stream"),
                            ("Dify-Plugin-Session-ID", &session),
                        ],
                        http::Body::Chunked(&body),
                        |l| take_line(&shared, l),
                    );
                    match answer {
                        Ok(response) if response.status == 200 => {}
                        Ok(response) => {
                            shared.lock().http_failures.push(response);
                            shared.changed.notify_all();
                        }
                        Err(e) => panic!("POST /invoke failed: {e}"),
                    }
                }));
                return;
            }
        };
        out.write_all(line).expect("write");
        out.write_all(b"\n").expect("write");
        out.flush().expect("flush");
    }

    /// Waits until [`Plugin::http_failures`] holds `n` answers, and returns them.
    pub fn wait_http_failures(&self, n: usize, timeout: Duration) -> Vec<http::Response> {
        self.wait_until(timeout, |s| s.http_failures.len() >= n)
            .http_failures
            .clone()
    }

    /// Whether session `id` has ended (its `end` arrived).
    pub fn has_ended(&self, id: &str) -> bool {
        self.shared.lock().ended.contains(id)
    }

    /// Whether the process is still running (it has not exited or been killed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}
