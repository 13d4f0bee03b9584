//! A plugin under test, driven as Dify's daemon drives it in local mode: spawned with
//! `INSTALL_METHOD=local`, one JSON request per line on stdin, many sessions in flight,
//! and a reader that times each session's first `stream` line and its `end`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{oneshot, watch};

/// How to start one plugin: the program, its arguments and working directory.
#[derive(Debug, Clone)]
pub struct Launch {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub dir: Option<PathBuf>,
}

/// What one session produced, timed at the moment the harness read each line.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub sent: Instant,
    /// The first `stream` line with answer text (or vectors).
    pub first: Option<Instant>,
    /// `stream` lines.
    pub chunks: u32,
    /// Vectors in embedding results.
    pub vectors: usize,
    pub error: Option<String>,
    /// Every line of the session, when asked for (the warm-up's check).
    pub lines: Vec<String>,
}

struct Pending {
    sent: Instant,
    first: Option<Instant>,
    chunks: u32,
    vectors: usize,
    error: Option<String>,
    keep: bool,
    lines: Vec<String>,
    done: oneshot::Sender<Outcome>,
}

type Sessions = Arc<Mutex<HashMap<String, Pending>>>;

pub struct Plugin {
    child: Child,
    pub pid: u32,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    sessions: Sessions,
    heartbeat: watch::Receiver<Option<Instant>>,
    pub spawned: Instant,
}

#[derive(Deserialize)]
struct Line<'a> {
    event: &'a str,
    #[serde(borrow)]
    session_id: Option<&'a str>,
    data: Option<SessionData>,
}

/// A session event's `data`; other events' (`heartbeat`'s `{}`, a log's) have no type.
#[derive(Deserialize)]
struct SessionData {
    #[serde(rename = "type", default)]
    kind: String,
    data: Option<Payload>,
}

/// Only what is counted; everything else in a chunk is skipped unread.
#[derive(Deserialize)]
struct Payload {
    embeddings: Option<Vec<IgnoredAny>>,
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Message {
    content: Option<serde_json::Value>,
}

impl Payload {
    /// Whether this chunk carries answer text: the first such chunk is the one the user
    /// sees, so an empty opening chunk does not count as the first.
    fn has_text(&self) -> bool {
        let content = self
            .delta
            .as_ref()
            .and_then(|d| d.message.as_ref()?.content.as_ref());
        match content {
            Some(serde_json::Value::String(s)) => !s.is_empty(),
            Some(serde_json::Value::Array(parts)) => !parts.is_empty(),
            _ => false,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Plugin {
    pub fn spawn(launch: &Launch, env: &[(&str, String)]) -> Result<Plugin, String> {
        let mut cmd = Command::new(&launch.program);
        cmd.args(&launch.args)
            // The daemon passes its own environment; here only what the plugin needs,
            // with the instance-metadata lookup off so nothing can leave the machine.
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("INSTALL_METHOD", "local")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(dir) = &launch.dir {
            cmd.current_dir(dir);
        }
        let spawned = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", launch.program.display()))?;
        let pid = child.id().ok_or("the plugin exited at once")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let sessions: Sessions = Arc::default();
        let (beat_tx, heartbeat) = watch::channel(None);
        tokio::spawn(read_output(stdout, sessions.clone(), beat_tx));
        Ok(Plugin {
            child,
            pid,
            stdin: tokio::sync::Mutex::new(stdin),
            sessions,
            heartbeat,
            spawned,
        })
    }

    /// Waits for the first heartbeat (the daemon's "ready"); the time since spawn.
    pub async fn ready(&mut self, limit: Duration) -> Result<Duration, String> {
        let wait = self.heartbeat.wait_for(Option::is_some);
        match tokio::time::timeout(limit, wait).await {
            Ok(Ok(at)) => Ok(at.map_or(Duration::ZERO, |t| t - self.spawned)),
            Ok(Err(_)) => Err("the plugin exited before its first heartbeat".into()),
            Err(_) => Err(format!("no heartbeat within {} s", limit.as_secs())),
        }
    }

    /// Sends one request line and waits for its `end` (or the deadline).
    pub async fn request(
        &self,
        session: String,
        line: String,
        keep_lines: bool,
        deadline: tokio::time::Instant,
    ) -> Result<Outcome, String> {
        let (tx, rx) = oneshot::channel();
        {
            let mut stdin = self.stdin.lock().await;
            let Some(pipe) = stdin.as_mut() else {
                return Err("stdin closed".into());
            };
            // The clock starts when the line can be written, not while waiting for the pipe.
            lock(&self.sessions).insert(
                session.clone(),
                Pending {
                    sent: Instant::now(),
                    first: None,
                    chunks: 0,
                    vectors: 0,
                    error: None,
                    keep: keep_lines,
                    lines: Vec::new(),
                    done: tx,
                },
            );
            let mut bytes = line.into_bytes();
            bytes.push(b'\n');
            if let Err(e) = pipe.write_all(&bytes).await {
                lock(&self.sessions).remove(&session);
                return Err(format!("cannot write to the plugin: {e}"));
            }
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err("the plugin's output ended".into()),
            Err(_) => {
                lock(&self.sessions).remove(&session);
                Err("timed out".into())
            }
        }
    }

    /// Closes stdin (the daemon's stop) and waits a little for the exit, then kills.
    pub async fn stop(mut self) {
        drop(self.stdin.lock().await.take());
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

async fn read_output(
    stdout: tokio::process::ChildStdout,
    sessions: Sessions,
    heartbeat: watch::Sender<Option<Instant>>,
) {
    let mut lines = BufReader::with_capacity(1 << 20, stdout).lines();
    while let Ok(Some(text)) = lines.next_line().await {
        let now = Instant::now();
        let Ok(line) = serde_json::from_str::<Line>(&text) else {
            continue;
        };
        match line.event {
            "heartbeat" => {
                heartbeat.send_if_modified(|t| t.is_none().then(|| *t = Some(now)).is_some());
            }
            "session" => {
                let (Some(id), Some(data)) = (line.session_id, line.data) else {
                    continue;
                };
                let mut map = lock(&sessions);
                let Some(p) = map.get_mut(id) else { continue };
                if p.keep {
                    p.lines.push(text.clone());
                }
                match data.kind.as_str() {
                    "stream" => {
                        p.chunks += 1;
                        if let Some(payload) = data.data {
                            if let Some(v) = &payload.embeddings {
                                p.vectors += v.len();
                                p.first.get_or_insert(now);
                            } else if payload.has_text() {
                                p.first.get_or_insert(now);
                            }
                        }
                    }
                    "error" => {
                        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                        let msg = v["data"]["data"]["message"]
                            .as_str()
                            .unwrap_or("(no message)");
                        let kind = v["data"]["data"]["error_type"].as_str().unwrap_or("");
                        p.error = Some(format!(
                            "{kind}: {}",
                            msg.chars().take(300).collect::<String>()
                        ));
                    }
                    "end" => {
                        if let Some(p) = map.remove(id) {
                            let _ = p.done.send(Outcome {
                                sent: p.sent,
                                first: p.first,
                                chunks: p.chunks,
                                vectors: p.vectors,
                                error: p.error,
                                lines: p.lines,
                            });
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}
