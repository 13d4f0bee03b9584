//! The Bedrock test double as its own process (so its CPU is not the harness's), with
//! its request log, from which the upstream connections of a cell are counted.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct DoubleProcess {
    child: Child,
    pub url: String,
    log: PathBuf,
}

/// Connections and requests one operation saw over part of the log.
#[derive(Debug, Clone, Copy, Default)]
pub struct Upstream {
    pub requests: usize,
    pub connections: usize,
}

impl Upstream {
    pub fn per_request(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.connections as f64 / self.requests as f64)
    }
}

impl DoubleProcess {
    pub fn start(bin: &Path, log: PathBuf) -> Result<DoubleProcess, String> {
        let _ = std::fs::remove_file(&log);
        let mut child = Command::new(bin)
            .arg("--log")
            .arg(&log)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut line));
        let url = line.trim().to_string();
        if !matches!(read, Some(Ok(n)) if n > 0) || !url.starts_with("http://127.0.0.1:") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the double printed no URL (got {url:?})"));
        }
        Ok(DoubleProcess { child, url, log })
    }

    /// Where the log ends now: the start of the next cell's records.
    pub fn log_offset(&self) -> u64 {
        std::fs::metadata(&self.log).map_or(0, |m| m.len())
    }

    /// Requests of `operation` recorded since `offset`, and the distinct TCP connections
    /// they came on.
    pub fn upstream_since(&self, offset: u64, operation: &str) -> Upstream {
        let mut text = String::new();
        let read = std::fs::File::open(&self.log).and_then(|mut f| {
            f.seek(SeekFrom::Start(offset))?;
            f.read_to_string(&mut text)
        });
        if read.is_err() {
            return Upstream::default();
        }
        let mut connections = HashSet::new();
        let mut requests = 0;
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if v["operation"] == operation {
                requests += 1;
                if let Some(id) = v["connection_id"].as_u64() {
                    connections.insert(id);
                }
            }
        }
        Upstream {
            requests,
            connections: connections.len(),
        }
    }
}

impl Drop for DoubleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
