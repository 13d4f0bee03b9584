//! Embedding throughput: short texts sent as Dify sends them (requests of the model's
//! `max_chunks` texts, one or several requests in flight), through each plugin, with
//! the plugin's CPU per vector and its memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::chat::{Cell, Sample, credentials, drive, plugin_env};
use crate::double::{DoubleProcess, Upstream};
use crate::plugin::{Launch, Plugin};
use crate::procs::{self, CpuSnapshot};

#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub model: &'static str,
    /// Texts per request: the model's `max_chunks`, as Dify batches.
    pub per_request: usize,
    pub in_flight: usize,
}

pub const SCENARIOS: [Scenario; 4] = [
    Scenario {
        model: "amazon.titan-embed-text-v2:0",
        per_request: 200,
        in_flight: 1,
    },
    Scenario {
        model: "amazon.titan-embed-text-v2:0",
        per_request: 200,
        in_flight: 4,
    },
    Scenario {
        model: "cohere.embed-english-v3",
        per_request: 96,
        in_flight: 1,
    },
    Scenario {
        model: "cohere.embed-english-v3",
        per_request: 96,
        in_flight: 4,
    },
];

#[derive(Debug, Clone, Default)]
pub struct EmbedRun {
    pub texts: usize,
    pub vectors: u64,
    pub wall: Duration,
    pub cpu: Option<Duration>,
    pub peak_kib: Option<u64>,
    pub upstream: Upstream,
    pub problem: Option<String>,
}

impl EmbedRun {
    pub fn texts_per_s(&self) -> Option<f64> {
        (self.problem.is_none() && !self.wall.is_zero())
            .then(|| self.vectors as f64 / self.wall.as_secs_f64())
    }
    pub fn cpu_per_vector_ms(&self) -> Option<f64> {
        let cpu = self.cpu?;
        (self.problem.is_none() && self.vectors > 0)
            .then(|| cpu.as_secs_f64() * 1000.0 / self.vectors as f64)
    }
}

pub fn texts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("Short passage {i} about topic {} for the index.", i % 37))
        .collect()
}

fn request_line(session: &str, model: &str, url: &str, texts: &[String]) -> String {
    json!({
        "session_id": session,
        "event": "request",
        "data": {
            "user_id": "bench", "type": "model", "action": "invoke_text_embedding",
            "provider": "bedrock", "model": model, "model_type": "text-embedding",
            "credentials": credentials(url), "texts": texts, "input_type": "document",
        },
    })
    .to_string()
}

/// One scenario in a fresh plugin process, after a one-text warm-up request.
pub async fn run(
    launch: &Launch,
    double: &DoubleProcess,
    s: Scenario,
    texts: Arc<Vec<String>>,
    tag: &str,
    limit: Duration,
) -> EmbedRun {
    let mut run = EmbedRun {
        texts: texts.len(),
        ..EmbedRun::default()
    };
    let mut plugin = match Plugin::spawn(launch, &plugin_env()) {
        Ok(p) => p,
        Err(e) => {
            run.problem = Some(e);
            return run;
        }
    };
    if let Err(e) = plugin.ready(Duration::from_secs(120)).await {
        run.problem = Some(e);
        plugin.stop().await;
        return run;
    }
    let warm = format!("{tag}-warm");
    let answer = plugin
        .request(
            warm.clone(),
            request_line(&warm, s.model, &double.url, &texts[..1]),
            false,
            tokio::time::Instant::now() + Duration::from_secs(60),
        )
        .await;
    let problem = match answer {
        Ok(o) if o.error.is_none() && o.vectors == 1 => None,
        Ok(o) => Some(format!(
            "the warm-up request gave {} vectors{}",
            o.vectors,
            o.error.map(|e| format!(": {e}")).unwrap_or_default()
        )),
        Err(e) => Some(format!("the warm-up request failed: {e}")),
    };
    if let Some(problem) = problem {
        run.problem = Some(problem);
        plugin.stop().await;
        return run;
    }
    let pid = plugin.pid;
    let peak_reset = procs::reset_peak(pid);
    let offset = double.log_offset();
    let plugin = Arc::new(plugin);
    let shared = plugin.clone();
    let requests = texts.len().div_ceil(s.per_request);
    let cell = Cell {
        delay_ms: 0,
        concurrency: s.in_flight,
        requests,
    };
    let url = double.url.clone();
    let tag = tag.to_string();
    let cpu_before = CpuSnapshot::take(pid);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + limit;
    let samples = drive(cell, deadline, move |i| {
        let plugin = shared.clone();
        let session = format!("{tag}-{i}");
        let end = ((i + 1) * s.per_request).min(texts.len());
        let line = request_line(&session, s.model, &url, &texts[i * s.per_request..end]);
        async move {
            let o = plugin.request(session, line, false, deadline).await?;
            Ok(Sample {
                first: None,
                chunks: o.vectors as u64,
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
    run.upstream = double.upstream_since(offset, "InvokeModel");
    let answered = samples.len();
    for sample in samples {
        match sample {
            Ok(s) => {
                run.vectors += s.chunks;
                if let Some(e) = s.error {
                    run.problem.get_or_insert(format!("error: {e}"));
                }
            }
            Err(e) => {
                run.problem.get_or_insert(format!(
                    "{e} after {} s ({answered} of {requests} requests)",
                    limit.as_secs()
                ));
            }
        }
    }
    if run.problem.is_none() && run.vectors != texts_len(&run) {
        run.problem = Some(format!("{} vectors for {} texts", run.vectors, run.texts));
    }
    if let Ok(plugin) = Arc::try_unwrap(plugin) {
        plugin.stop().await;
    }
    run
}

fn texts_len(run: &EmbedRun) -> u64 {
    run.texts as u64
}
