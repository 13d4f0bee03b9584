//! Embedding benchmark: 10,000 short texts embedded through the release binary against
//! the Bedrock test double (started in this process), sent as Dify sends them: requests
//! of the model's `max_chunks` texts, one or several requests in flight. Prints texts
//! per second and the plugin's peak resident memory (VmHWM). Run with
//! `cargo bench --bench embedding`; figures go to BENCHMARKS.md with the command. Not a
//! test: these machines are noisy, and the double shares the CPU with the plugin.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bedrock_double::{Double, DoubleConfig, TEST_ACCESS_KEY, TEST_SECRET_KEY};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_dify-bedrock");
const TEXTS: usize = 10_000;

struct Scenario {
    model: &'static str,
    /// Texts per request: the model's max_chunks, as Dify batches.
    per_request: usize,
    /// Requests in flight at once.
    in_flight: usize,
}

/// What the plugin's output reader saw of one session.
enum Seen {
    Result { vectors: usize },
    Error(String),
    End,
}

fn spawn() -> Child {
    Command::new(BIN)
        .env_clear()
        .env("INSTALL_METHOD", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dify-bedrock")
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("proc status")
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("status field")
}

/// CPU seconds (user + system) the process has used, from /proc/PID/stat (clock ticks
/// of 1/100 s on Linux).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Reads the plugin's stdout without parsing the (multi-megabyte) result lines: the
/// session's message type and a count of vectors are found by scanning.
fn read_output(out: impl std::io::Read, tx: mpsc::Sender<Seen>) {
    let mut reader = BufReader::with_capacity(1 << 20, out);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if !line.contains("\"event\":\"session\"") {
            continue;
        }
        let seen = if line.contains("\"type\":\"end\"") {
            Seen::End
        } else if line.contains("\"type\":\"error\"") {
            Seen::Error(line.chars().take(400).collect())
        } else if line.contains("\"embeddings\":[[") {
            Seen::Result {
                vectors: line.matches("],[").count() + 1,
            }
        } else {
            Seen::Result { vectors: 0 }
        };
        if tx.send(seen).is_err() {
            return;
        }
    }
}

fn request(id: &str, model: &str, credentials: &Value, texts: &[String]) -> String {
    json!({
        "session_id": id,
        "event": "request",
        "data": {
            "user_id": "bench", "type": "model", "action": "invoke_text_embedding",
            "provider": "bedrock", "model": model, "model_type": "text-embedding",
            "credentials": credentials, "texts": texts, "input_type": "document",
        },
    })
    .to_string()
}

fn run(s: &Scenario, credentials: &Value, texts: &[String]) {
    let mut child = spawn();
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || read_output(stdout, tx));
    let wait_end = |rx: &mpsc::Receiver<Seen>, vectors: &mut usize| loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Seen::End) => return,
            Ok(Seen::Result { vectors: n }) => *vectors += n,
            Ok(Seen::Error(e)) => panic!("the plugin answered an error: {e}"),
            Err(e) => panic!("no answer from the plugin: {e}"),
        }
    };
    // Warm up: the tenant's client and connection pool are built on first use.
    let mut warm = 0;
    writeln!(
        stdin,
        "{}",
        request("warm", s.model, credentials, &texts[..1])
    )
    .expect("write");
    stdin.flush().expect("flush");
    wait_end(&rx, &mut warm);

    let requests: Vec<&[String]> = texts.chunks(s.per_request).collect();
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    let mut sent = 0;
    let mut done = 0;
    let mut vectors = 0;
    while done < requests.len() {
        while sent < requests.len() && sent - done < s.in_flight {
            let line = request(&format!("r{sent}"), s.model, credentials, requests[sent]);
            writeln!(stdin, "{line}").expect("write");
            stdin.flush().expect("flush");
            sent += 1;
        }
        wait_end(&rx, &mut vectors);
        done += 1;
    }
    let elapsed = started.elapsed();
    assert_eq!(vectors, texts.len(), "one vector per text");
    let cpu = cpu_seconds(pid) - cpu_before;
    let peak = status_kib(pid, "VmHWM:");
    println!(
        "{:<32} {:>4} texts/request, {} in flight: {:>6} texts in {:>6.2} s = {:>7.0} texts/s; plugin CPU {:.2} s; plugin peak RSS {} KiB ({:.1} MiB)",
        s.model,
        s.per_request,
        s.in_flight,
        texts.len(),
        elapsed.as_secs_f64(),
        texts.len() as f64 / elapsed.as_secs_f64(),
        cpu,
        peak,
        peak as f64 / 1024.0
    );
    drop(stdin);
    let _ = child.wait();
    let _ = reader.join();
}

fn main() {
    let double = Double::start(DoubleConfig::default()).expect("start the Bedrock test double");
    let credentials = json!({
        "auth_method": "Access_Secret_Key",
        "aws_access_key_id": TEST_ACCESS_KEY,
        "aws_secret_access_key": TEST_SECRET_KEY,
        "aws_region": "us-east-1",
        "bedrock_endpoint_url": double.url(),
    });
    let texts: Vec<String> = (0..TEXTS)
        .map(|i| format!("Short passage {i} about topic {} for the index.", i % 37))
        .collect();
    let scenarios = [
        // One text per InvokeModel call: 10,000 calls, 8 in flight per request.
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
        // 96 texts per call: 105 calls.
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
    for s in &scenarios {
        double.clear_requests();
        run(s, &credentials, &texts);
    }
}
