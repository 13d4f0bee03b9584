//! The chat matrix: streamed answers of a fixed number of deltas, with and without a
//! pause between deltas, at several numbers of streams in flight, through each plugin
//! and through the AWS SDK directly (the floor). Each in-flight slot sends its next
//! request as soon as its last one ended.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_sdk_bedrockruntime as br;
use bedrock_double::{TEST_ACCESS_KEY, TEST_SECRET_KEY};
use serde_json::{Value, json};

use crate::double::{DoubleProcess, Upstream};
use crate::plugin::{Launch, Plugin};
use crate::procs::{self, CpuSnapshot};
use crate::stats;

pub const MODEL: &str = "amazon.nova-lite-v1:0";

/// Who answers: a plugin through the daemon protocol, or the SDK in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Plugin,
    Python,
    Sdk,
}

impl Target {
    pub fn label(self) -> &'static str {
        match self {
            Target::Plugin => "dify-bedrock",
            Target::Python => "Python plugin",
            Target::Sdk => "AWS SDK directly",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub delay_ms: u64,
    pub concurrency: usize,
    pub requests: usize,
}

/// One run of one cell for one target.
#[derive(Debug, Clone, Default)]
pub struct CellRun {
    pub requested: usize,
    pub completed: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    /// Set when the cell's time ran out with requests unanswered.
    pub timed_out: Option<Duration>,
    /// Set when the run could not start at all.
    pub failed: Option<String>,
    pub chunks: u64,
    pub wall: Duration,
    pub cpu: Option<Duration>,
    /// Time to the first chunk with text, sorted.
    pub first: Vec<Duration>,
    pub idle_kib: Option<u64>,
    pub peak_kib: Option<u64>,
    pub upstream: Upstream,
}

impl CellRun {
    pub fn cpu_per_chunk_us(&self) -> Option<f64> {
        let cpu = self.cpu?;
        (self.chunks > 0).then(|| cpu.as_secs_f64() * 1e6 / self.chunks as f64)
    }
    pub fn first_ms(&self, p: f64) -> Option<f64> {
        stats::percentile(&self.first, p).map(stats::ms)
    }
    pub fn chunks_per_s(&self) -> Option<f64> {
        (self.chunks > 0 && !self.wall.is_zero())
            .then(|| self.chunks as f64 / self.wall.as_secs_f64())
    }
    pub fn above_idle_kib(&self) -> Option<f64> {
        Some(self.peak_kib?.saturating_sub(self.idle_kib?) as f64)
    }
    /// A run counts only when every request was answered without error.
    pub fn complete(&self) -> bool {
        self.failed.is_none()
            && self.timed_out.is_none()
            && self.errors == 0
            && self.completed == self.requested
    }
}

pub fn answer_text(deltas: usize) -> String {
    (0..deltas).map(|i| format!("w{i} ")).collect()
}

fn marker(deltas: usize, delay_ms: u64) -> String {
    let script = json!({"text": answer_text(deltas), "deltas": deltas, "delay_ms": delay_ms});
    format!("Say the words. [[double: {script}]]")
}

pub fn credentials(url: &str) -> Value {
    json!({
        "auth_method": "Access_Secret_Key",
        "aws_access_key_id": TEST_ACCESS_KEY,
        "aws_secret_access_key": TEST_SECRET_KEY,
        "aws_region": "us-east-1",
        "bedrock_endpoint_url": url,
    })
}

/// The request line the daemon sends for a streamed chat answer.
fn request_line(session: &str, url: &str, deltas: usize, delay_ms: u64) -> String {
    json!({
        "session_id": session,
        "conversation_id": null, "message_id": null, "app_id": null, "endpoint_id": null,
        "context": {},
        "event": "request",
        "data": {
            "user_id": "bench", "type": "model", "action": "invoke_llm",
            "provider": "bedrock", "model": MODEL, "model_type": "llm",
            "credentials": credentials(url),
            "model_parameters": {"max_tokens": 1024},
            "prompt_messages": [{"role": "user", "content": marker(deltas, delay_ms), "name": "", "tool_calls": null, "tool_call_id": ""}],
            "tools": null, "stop": null, "json_schema": null, "stream": true,
        },
    })
    .to_string()
}

/// The text a session's chunks carry, in order.
fn streamed_text(lines: &[String]) -> String {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["data"]["type"] == "stream")
        .filter_map(|v| {
            v["data"]["data"]["delta"]["message"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// Environment both plugins get besides the daemon's basics: no AWS profile files, so
/// nothing on this machine changes what is measured.
pub fn plugin_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
    ]
}

/// What one request gave, whoever answered it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub first: Option<Duration>,
    pub chunks: u64,
    pub error: Option<String>,
}

const TIMED_OUT: &str = "timed out";

/// Starts a fresh plugin, checks one answer, and measures a cell in it.
pub async fn run_plugin_cell(
    launch: &Launch,
    double: &DoubleProcess,
    cell: Cell,
    deltas: usize,
    tag: &str,
    limit: Duration,
) -> CellRun {
    let mut run = CellRun {
        requested: cell.requests,
        ..CellRun::default()
    };
    let mut plugin = match Plugin::spawn(launch, &plugin_env()) {
        Ok(p) => p,
        Err(e) => {
            run.failed = Some(e);
            return run;
        }
    };
    if let Err(e) = plugin.ready(Duration::from_secs(120)).await {
        run.failed = Some(e);
        plugin.stop().await;
        return run;
    }
    // Warm-up: the first request builds the clients; its answer is checked once.
    let session = format!("{tag}-warm");
    let warm = plugin
        .request(
            session.clone(),
            request_line(&session, &double.url, deltas, 0),
            true,
            tokio::time::Instant::now() + Duration::from_secs(60),
        )
        .await;
    let expected = answer_text(deltas);
    let problem = match warm {
        Ok(o) => match o.error {
            Some(e) => Some(format!("the warm-up request failed: {e}")),
            None if streamed_text(&o.lines) != expected => Some(format!(
                "the warm-up answer was not the scripted text: {:?}",
                streamed_text(&o.lines)
                    .chars()
                    .take(120)
                    .collect::<String>()
            )),
            None => None,
        },
        Err(e) => Some(format!("the warm-up request failed: {e}")),
    };
    if let Some(problem) = problem {
        run.failed = Some(problem);
        plugin.stop().await;
        return run;
    }
    // Settle, then the baseline: idle memory, and the peak reset to it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = plugin.pid;
    run.idle_kib = procs::status_kib(pid, "VmRSS");
    let peak_reset = procs::reset_peak(pid);
    let offset = double.log_offset();
    let plugin = Arc::new(plugin);
    let cpu_before = CpuSnapshot::take(pid);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + limit;
    let url = double.url.clone();
    let shared = plugin.clone();
    let tag = tag.to_string();
    let samples = drive(cell, deadline, move |i| {
        let plugin = shared.clone();
        let session = format!("{tag}-{i}");
        let line = request_line(&session, &url, deltas, cell.delay_ms);
        async move {
            let o = plugin.request(session, line, false, deadline).await?;
            Ok(Sample {
                first: o.first.map(|f| f - o.sent),
                chunks: u64::from(o.chunks),
                error: o.error,
            })
        }
    })
    .await;
    run.wall = started.elapsed();
    run.cpu = Some(cpu_before.until(&CpuSnapshot::take(pid)));
    run.peak_kib = if peak_reset {
        procs::status_kib(pid, "VmHWM")
    } else {
        None
    };
    run.upstream = double.upstream_since(offset, "ConverseStream");
    tally(&mut run, samples, limit);
    if let Ok(plugin) = Arc::try_unwrap(plugin) {
        plugin.stop().await;
    }
    run
}

/// The floor: the same streams read by the AWS SDK in this process, one client shared
/// by every slot, as a well-behaved application would. CPU is this process's.
pub async fn run_sdk_cell(
    double: &DoubleProcess,
    cell: Cell,
    deltas: usize,
    limit: Duration,
) -> CellRun {
    let mut run = CellRun {
        requested: cell.requests,
        ..CellRun::default()
    };
    let client = sdk_client(&double.url);
    let warm_deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    match sdk_stream(&client, deltas, 0, warm_deadline).await {
        Ok(s) if s.error.is_none() && s.chunks == deltas as u64 => {}
        Ok(s) => {
            run.failed = Some(format!(
                "the warm-up stream gave {} deltas{}",
                s.chunks,
                s.error.map(|e| format!(": {e}")).unwrap_or_default()
            ));
            return run;
        }
        Err(e) => {
            run.failed = Some(format!("the warm-up stream failed: {e}"));
            return run;
        }
    }
    let pid = std::process::id();
    let offset = double.log_offset();
    let cpu_before = CpuSnapshot::take_own(pid);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + limit;
    let samples = drive(cell, deadline, move |_| {
        let client = client.clone();
        async move { sdk_stream(&client, deltas, cell.delay_ms, deadline).await }
    })
    .await;
    run.wall = started.elapsed();
    run.cpu = Some(cpu_before.until(&CpuSnapshot::take_own(pid)));
    run.upstream = double.upstream_since(offset, "ConverseStream");
    tally(&mut run, samples, limit);
    run
}

fn sdk_client(url: &str) -> br::Client {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let conf = br::Config::builder()
        .behavior_version(br::config::BehaviorVersion::latest())
        .http_client(http)
        .region(br::config::Region::new("us-east-1"))
        .credentials_provider(br::config::Credentials::new(
            TEST_ACCESS_KEY,
            TEST_SECRET_KEY,
            None,
            None,
            "bench",
        ))
        .endpoint_url(url)
        .build();
    br::Client::from_conf(conf)
}

async fn sdk_stream(
    client: &br::Client,
    deltas: usize,
    delay_ms: u64,
    deadline: tokio::time::Instant,
) -> Result<Sample, String> {
    let read = async {
        let message = br::types::Message::builder()
            .role(br::types::ConversationRole::User)
            .content(br::types::ContentBlock::Text(marker(deltas, delay_ms)))
            .build()
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let sent = client
            .converse_stream()
            .model_id(MODEL)
            .messages(message)
            .inference_config(
                br::types::InferenceConfiguration::builder()
                    .max_tokens(1024)
                    .build(),
            )
            .send()
            .await;
        let mut stream = match sent {
            Ok(out) => out.stream,
            Err(e) => {
                return Ok(Sample {
                    first: None,
                    chunks: 0,
                    error: Some(br::error::DisplayErrorContext(&e).to_string()),
                });
            }
        };
        let (mut first, mut chunks) = (None, 0);
        loop {
            match stream.recv().await {
                Ok(Some(br::types::ConverseStreamOutput::ContentBlockDelta(d))) => {
                    if let Some(br::types::ContentBlockDelta::Text(t)) = d.delta()
                        && !t.is_empty()
                    {
                        first.get_or_insert_with(|| started.elapsed());
                        chunks += 1;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    return Ok(Sample {
                        first,
                        chunks,
                        error: Some(br::error::DisplayErrorContext(&e).to_string()),
                    });
                }
            }
        }
        Ok(Sample {
            first,
            chunks,
            error: None,
        })
    };
    tokio::time::timeout_at(deadline, read)
        .await
        .unwrap_or_else(|_| Err(TIMED_OUT.into()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `cell.concurrency` slots, each sending requests back to back until
/// `cell.requests` were sent or the deadline passed.
pub async fn drive<F, Fut>(
    cell: Cell,
    deadline: tokio::time::Instant,
    f: F,
) -> Vec<Result<Sample, String>>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Sample, String>> + Send + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(Vec::with_capacity(cell.requests)));
    let mut slots = tokio::task::JoinSet::new();
    for _ in 0..cell.concurrency {
        let (f, next, results) = (f.clone(), next.clone(), results.clone());
        slots.spawn(async move {
            while tokio::time::Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= cell.requests {
                    break;
                }
                let r = f(i).await;
                // A request that could not be sent or timed out ends its slot.
                let stop = r.is_err();
                lock(&results).push(r);
                if stop {
                    break;
                }
            }
        });
    }
    while slots.join_next().await.is_some() {}
    drop(f);
    std::mem::take(&mut *lock(&results))
}

fn tally(run: &mut CellRun, samples: Vec<Result<Sample, String>>, limit: Duration) {
    let mut timed_out = false;
    for s in samples {
        match s {
            Ok(s) => {
                run.chunks += s.chunks;
                match s.error {
                    Some(e) => {
                        run.errors += 1;
                        run.first_error.get_or_insert(e);
                    }
                    None => {
                        run.completed += 1;
                        if let Some(f) = s.first {
                            run.first.push(f);
                        }
                    }
                }
            }
            Err(e) if e == TIMED_OUT => timed_out = true,
            Err(e) => {
                run.errors += 1;
                run.first_error.get_or_insert(e);
            }
        }
    }
    if timed_out || run.completed + run.errors < run.requested {
        run.timed_out = Some(limit);
    }
    run.first.sort();
}
