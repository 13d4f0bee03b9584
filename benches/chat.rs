//! Chat benchmark: what the plugin adds to a streamed Bedrock answer. Against the Bedrock
//! test double (in this process), it measures the time to the first chunk and to the end
//! of a stream through the release binary, beside the same stream read directly with the
//! AWS SDK; then chunks per second with 500 streams in flight, the plugin's CPU time and
//! its peak memory. Run with `cargo bench --bench chat`; figures go to BENCHMARKS.md with
//! the command. Not a test: these machines are noisy.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bedrock_double::{Double, DoubleConfig, TEST_ACCESS_KEY, TEST_SECRET_KEY};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_dify-bedrock");
const MODEL: &str = "amazon.nova-lite-v1:0";
const SEQUENTIAL: usize = 200;
const CONCURRENT: usize = 500;
const DELTAS: usize = 20;

fn request(id: &str, url: &str) -> String {
    let text: String = (0..DELTAS).map(|i| format!("w{i} ")).collect();
    json!({"session_id": id, "event": "request", "data": {
        "user_id": "u", "type": "model", "action": "invoke_llm", "provider": "bedrock", "model": MODEL,
        "model_type": "llm", "stream": true, "model_parameters": {"max_tokens": 256}, "tools": null, "stop": null,
        "credentials": {"auth_method": "Access_Secret_Key", "aws_access_key_id": TEST_ACCESS_KEY,
            "aws_secret_access_key": TEST_SECRET_KEY, "aws_region": "us-east-1", "bedrock_endpoint_url": url},
        "prompt_messages": [{"role": "user", "content": format!("[[double: {{\"text\": \"{text}\", \"deltas\": {DELTAS}}}]]")}]}})
    .to_string()
}

fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "median {:.2} ms, p90 {:.2} ms",
        ms(v[v.len() / 2]),
        ms(v[v.len() * 9 / 10])
    )
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(") ")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// The same stream read directly through the AWS SDK: the floor the plugin adds to.
fn direct(url: &str) -> (Vec<Duration>, Vec<Duration>) {
    use aws_sdk_bedrockruntime as br;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
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
        let client = br::Client::from_conf(conf);
        let text: String = (0..DELTAS).map(|i| format!("w{i} ")).collect();
        let (mut first, mut whole) = (Vec::new(), Vec::new());
        for _ in 0..SEQUENTIAL {
            let msg = br::types::Message::builder()
                .role(br::types::ConversationRole::User)
                .content(br::types::ContentBlock::Text(format!(
                    "[[double: {{\"text\": \"{text}\", \"deltas\": {DELTAS}}}]]"
                )))
                .build()
                .expect("message");
            let t = Instant::now();
            let mut stream = client
                .converse_stream()
                .model_id(MODEL)
                .messages(msg)
                .send()
                .await
                .expect("send")
                .stream;
            let mut got_first = false;
            while let Some(event) = stream.recv().await.expect("event") {
                if !got_first
                    && matches!(event, br::types::ConverseStreamOutput::ContentBlockDelta(_))
                {
                    first.push(t.elapsed());
                    got_first = true;
                }
            }
            whole.push(t.elapsed());
        }
        (first, whole)
    })
}

fn main() {
    let double = Double::start(DoubleConfig::default()).expect("double");
    let url = double.url();
    let mut child = Command::new(BIN)
        .env_clear()
        .env("INSTALL_METHOD", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    // (session, is_end, time) for every stream item and end, from a reader thread.
    let (tx, rx) = mpsc::channel::<(String, bool, Instant)>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if v["event"] != "session" {
                continue;
            }
            let id = v["session_id"].as_str().unwrap_or("").to_string();
            let kind = v["data"]["type"].as_str().unwrap_or("");
            if kind == "error" {
                eprintln!("error: {}", v["data"]["data"]["message"]);
            }
            let _ = tx.send((id, kind == "end", Instant::now()));
        }
    });
    let mut send = |line: String| {
        writeln!(stdin, "{line}").expect("write");
        stdin.flush().expect("flush");
    };
    // Warm-up: the tenant's client and connection.
    send(request("warm", &url));
    while !rx.recv().expect("reader").1 {}

    let (mut first, mut whole) = (Vec::new(), Vec::new());
    for i in 0..SEQUENTIAL {
        let id = format!("s{i}");
        let t = Instant::now();
        send(request(&id, &url));
        let mut got_first = false;
        loop {
            let (sid, end, at) = rx.recv().expect("reader");
            if sid != id {
                continue;
            }
            if !got_first {
                first.push(at - t);
                got_first = true;
            }
            if end {
                whole.push(at - t);
                break;
            }
        }
    }
    let (direct_first, direct_whole) = direct(&url);
    println!("{SEQUENTIAL} sequential streams of {DELTAS} deltas, one at a time:");
    println!(
        "  through the plugin: first chunk {}; whole stream {}",
        percentiles(first),
        percentiles(whole)
    );
    println!(
        "  AWS SDK directly:   first delta {}; whole stream {}",
        percentiles(direct_first),
        percentiles(direct_whole)
    );

    let cpu_before = cpu_seconds(pid);
    let t = Instant::now();
    for i in 0..CONCURRENT {
        send(request(&format!("c{i}"), &url));
    }
    let (mut ends, mut items) = (0, 0usize);
    let mut seen: HashMap<String, usize> = HashMap::new();
    while ends < CONCURRENT {
        let (sid, end, _) = rx.recv().expect("reader");
        if !sid.starts_with('c') {
            continue;
        }
        if end {
            ends += 1;
        } else {
            items += 1;
            *seen.entry(sid).or_default() += 1;
        }
    }
    let elapsed = t.elapsed();
    println!(
        "{CONCURRENT} streams in flight: {items} chunks in {:.2} s = {:.0} chunks/s; plugin CPU {:.2} s; peak resident memory {} KiB",
        elapsed.as_secs_f64(),
        items as f64 / elapsed.as_secs_f64(),
        cpu_seconds(pid) - cpu_before,
        status_kib(pid, "VmHWM:")
    );
    drop(stdin);
    let _ = child.wait();
}
