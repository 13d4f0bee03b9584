//! Start-up benchmark: time from spawn to the first heartbeat (the daemon's "ready"
//! signal), and resident memory once idle. Run with `cargo bench --bench startup`;
//! figures go to BENCHMARKS.md with the command. Not a test: these machines are noisy.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dify-bedrock");
const RUNS: usize = 30;

fn spawn() -> std::process::Child {
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

fn first_heartbeat(child: &mut std::process::Child) -> BufReader<std::process::ChildStdout> {
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).expect("read") > 0,
            "plugin exited before its heartbeat"
        );
        if line.contains("\"heartbeat\"") {
            return out;
        }
    }
}

fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("status field")
}

fn main() {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            let mut child = spawn();
            first_heartbeat(&mut child);
            let elapsed = t.elapsed();
            let _ = child.kill();
            let _ = child.wait();
            elapsed
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "spawn to first heartbeat over {RUNS} runs: min {:.2} ms, median {:.2} ms, p90 {:.2} ms",
        ms(times[0]),
        ms(times[RUNS / 2]),
        ms(times[RUNS * 9 / 10])
    );

    let mut child = spawn();
    let mut out = first_heartbeat(&mut child);
    std::thread::sleep(Duration::from_secs(2));
    let pid = child.id();
    println!(
        "idle resident memory after 2 s: {} KiB (peak {} KiB)",
        status_kib(pid, "VmRSS:"),
        status_kib(pid, "VmHWM:")
    );

    // The same process after answering requests, to show memory does not stay inflated.
    let mut stdin = child.stdin.take().expect("stdin");
    for i in 0..1000 {
        writeln!(
            stdin,
            r#"{{"session_id":"b{i}","event":"request","data":{{"user_id":"u","type":"model","action":"get_ai_model_schemas","provider":"bedrock","model":"amazon.nova-lite-v1:0","model_type":"llm","credentials":{{}}}}}}"#
        )
        .expect("write");
    }
    stdin.flush().expect("flush");
    let mut ends = 0;
    let mut line = String::new();
    while ends < 1000 {
        line.clear();
        assert!(out.read_line(&mut line).expect("read") > 0);
        if line.contains("\"type\":\"end\"") {
            ends += 1;
        }
    }
    println!(
        "after 1000 schema requests: {} KiB resident (peak {} KiB)",
        status_kib(pid, "VmRSS:"),
        status_kib(pid, "VmHWM:")
    );
    drop(stdin);
    let _ = child.wait();
}
