//! Start-up and idle memory: spawn to the first heartbeat (the daemon's "ready"), the
//! resident memory 2 s later, and after answering 1000 schema requests.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::chat::{Cell, Sample, drive, plugin_env};
use crate::plugin::{Launch, Plugin};
use crate::procs;

#[derive(Debug, Clone, Default)]
pub struct Startup {
    /// Spawn to first heartbeat, sorted.
    pub ready: Vec<Duration>,
    pub idle_kib: Option<u64>,
    pub after_kib: Option<u64>,
    pub after_peak_kib: Option<u64>,
    pub schema_requests: usize,
    pub problem: Option<String>,
}

pub async fn measure(launch: &Launch, spawns: usize, schema_requests: usize) -> Startup {
    let mut out = Startup {
        schema_requests,
        ..Startup::default()
    };
    for _ in 0..spawns {
        let mut plugin = match Plugin::spawn(launch, &plugin_env()) {
            Ok(p) => p,
            Err(e) => {
                out.problem = Some(e);
                return out;
            }
        };
        match plugin.ready(Duration::from_secs(120)).await {
            Ok(t) => out.ready.push(t),
            Err(e) => {
                out.problem = Some(e);
                plugin.stop().await;
                return out;
            }
        }
        plugin.stop().await;
    }
    out.ready.sort();

    let mut plugin = match Plugin::spawn(launch, &plugin_env()) {
        Ok(p) => p,
        Err(e) => {
            out.problem = Some(e);
            return out;
        }
    };
    if let Err(e) = plugin.ready(Duration::from_secs(120)).await {
        out.problem = Some(e);
        plugin.stop().await;
        return out;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = plugin.pid;
    out.idle_kib = procs::status_kib(pid, "VmRSS");
    let plugin = Arc::new(plugin);
    let shared = plugin.clone();
    let cell = Cell {
        delay_ms: 0,
        concurrency: 16,
        requests: schema_requests,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let samples = drive(cell, deadline, move |i| {
        let plugin = shared.clone();
        let session = format!("schema-{i}");
        let line = json!({
            "session_id": session, "event": "request",
            "data": {"user_id": "bench", "type": "model", "action": "get_ai_model_schemas",
                "provider": "bedrock", "model": crate::chat::MODEL, "model_type": "llm", "credentials": {}},
        })
        .to_string();
        async move {
            let o = plugin.request(session, line, false, deadline).await?;
            Ok(Sample {
                first: None,
                chunks: u64::from(o.chunks),
                error: o.error,
            })
        }
    })
    .await;
    let failed = samples
        .iter()
        .filter(|s| !matches!(s, Ok(s) if s.error.is_none() && s.chunks == 1))
        .count();
    if failed > 0 || samples.len() < schema_requests {
        out.problem = Some(format!(
            "{failed} of {schema_requests} schema requests failed or went unanswered"
        ));
    }
    out.after_kib = procs::status_kib(pid, "VmRSS");
    out.after_peak_kib = procs::status_kib(pid, "VmHWM");
    if let Ok(plugin) = Arc::try_unwrap(plugin) {
        plugin.stop().await;
    }
    out
}
