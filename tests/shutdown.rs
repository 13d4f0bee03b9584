//! Shutdown with work in flight (issue 17 item 6). Already covered elsewhere: stdin EOF
//! with fast requests in flight (`runtime.rs`
//! `end_of_input_lets_in_flight_sessions_finish_and_exits_zero`), SIGTERM of an idle
//! plugin (`runtime.rs` `sigterm_stops_the_plugin_cleanly`), the parent's death of an
//! idle plugin (`runtime.rs` `the_plugin_exits_when_its_parent_dies`), and SIGTERM of
//! the serverless mode with a stream in flight (`serverless.rs`
//! `sigterm_lets_streams_in_flight_finish`).
//!
//! Here: a long stream in flight at stdin EOF and at SIGTERM (stdio and remote
//! debugging) finishes within the shutdown grace; one that outlasts the grace gets an
//! error and its `end` before the process exits (stdio, remote debugging, serverless);
//! and a plugin whose parent dies while a
//! stream is in flight exits without waiting for it. Upper bounds on time are generous.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::aws::{double, key_credentials, llm_request, user};
use support::{Plugin, Session, Transport};

const SECS: fn(u64) -> Duration = Duration::from_secs;
const NOVA: &str = "amazon.nova-lite-v1:0";

/// A stream of `deltas` pieces `delay_ms` apart.
fn slow_stream(
    d: &bedrock_double::Double,
    text: &str,
    deltas: u64,
    delay_ms: u64,
) -> serde_json::Value {
    llm_request(
        NOVA,
        &key_credentials(d),
        user(&format!(
            "go [[double: {{\"text\": \"{text}\", \"deltas\": {deltas}, \"delay_ms\": {delay_ms}}}]]"
        )),
        true,
        json!({}),
    )
}

/// Waits until the session has streamed something (it is really in flight).
fn wait_started(p: &Plugin, id: &str) {
    let deadline = Instant::now() + SECS(20);
    while !p
        .stdout_lines()
        .0
        .iter()
        .any(|l| l["session_id"] == id && l["data"]["type"] == "stream")
    {
        assert!(Instant::now() < deadline, "the stream never started");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn sigterm(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// The session as it ended; it must have ended exactly once.
fn ended(p: &Plugin, id: &str) -> Session {
    p.wait_stdout_closed(SECS(10));
    let s = p.wait_session(id, SECS(1));
    let ends = s
        .lines
        .iter()
        .filter(|l| l["data"]["type"] == "end")
        .count();
    assert_eq!(ends, 1, "{s:#?}");
    s
}

#[test]
fn a_stream_in_flight_at_end_of_input_finishes() {
    let d = double();
    let mut p = Plugin::start_with(&[("DIFY_BEDROCK_SHUTDOWN_GRACE_MS", "20000")]);
    p.wait_first_heartbeat(SECS(10));
    let id = p.request(
        "invoke_llm",
        slow_stream(&d, "one two three four five six", 6, 200),
    );
    wait_started(&p, &id);
    p.close_stdin();
    let exit = p.wait_exit(SECS(30)).expect("exits after the stream");
    assert!(exit.success(), "{exit:?}");
    let s = ended(&p, &id);
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(s.text(), "one two three four five six");
}

/// SIGTERM while a stream is in flight: it finishes, then the process exits 0.
fn sigterm_lets_a_stream_finish(transport: Transport) {
    let d = double();
    let mut p = Plugin::start_over(transport, &[("DIFY_BEDROCK_SHUTDOWN_GRACE_MS", "20000")]);
    let id = p.request(
        "invoke_llm",
        slow_stream(&d, "still streaming here", 6, 200),
    );
    wait_started(&p, &id);
    sigterm(p.pid());
    let exit = p.wait_exit(SECS(30)).expect("exits after the stream");
    assert!(exit.success(), "{exit:?}");
    let s = ended(&p, &id);
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(s.text(), "still streaming here");
}

#[test]
fn sigterm_lets_a_stream_in_flight_finish_over_stdio() {
    sigterm_lets_a_stream_finish(Transport::Stdio);
}

#[test]
fn sigterm_lets_a_stream_in_flight_finish_over_remote_debugging() {
    sigterm_lets_a_stream_finish(Transport::Tcp);
}

/// A stream longer than the grace: when the grace is over, it gets an error and its
/// `end` (the daemon would otherwise wait for it), then the process exits.
fn a_stream_past_the_grace_gets_error_and_end(transport: Transport, stop: impl Fn(&mut Plugin)) {
    let d = double();
    let mut p = Plugin::start_over(transport, &[("DIFY_BEDROCK_SHUTDOWN_GRACE_MS", "1000")]);
    // 40 pieces, 250 ms apart: ten seconds, far past the one-second grace.
    let id = p.request("invoke_llm", slow_stream(&d, &"word ".repeat(40), 40, 250));
    wait_started(&p, &id);
    let t = Instant::now();
    stop(&mut p);
    let exit = p.wait_exit(SECS(30)).expect("exits after the grace");
    assert!(exit.success(), "{exit:?}");
    assert!(
        t.elapsed() < SECS(9),
        "the process waited for the whole stream ({:?}) instead of the grace",
        t.elapsed()
    );
    let s = ended(&p, &id);
    let e = s.expect_error();
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    assert!(
        "word ".repeat(40).starts_with(&s.text()),
        "what streamed is the start of the answer: {:?}",
        s.text()
    );
}

#[test]
fn a_stream_past_the_grace_at_end_of_input_gets_error_and_end() {
    a_stream_past_the_grace_gets_error_and_end(Transport::Stdio, |p| p.close_stdin());
}

#[test]
fn a_stream_past_the_grace_at_sigterm_gets_error_and_end() {
    a_stream_past_the_grace_gets_error_and_end(Transport::Stdio, |p| sigterm(p.pid()));
}

#[test]
fn a_stream_past_the_grace_at_sigterm_gets_error_and_end_over_remote_debugging() {
    a_stream_past_the_grace_gets_error_and_end(Transport::Tcp, |p| sigterm(p.pid()));
}

#[test]
fn the_plugin_exits_when_its_parent_dies_with_a_stream_in_flight() {
    let d = double();
    // The parent is a shell that starts the plugin in the background with our pipe as
    // its stdin (which stays open), sends it a request whose stream lasts a minute, and
    // exits two seconds later: the plugin is orphaned mid-stream, and its output
    // (to /dev/null) still accepts writes, so only the parent's death can stop it.
    let request = support::envelope(
        "orphan-stream",
        "invoke_llm",
        slow_stream(&d, &"word ".repeat(60), 60, 1000),
    )
    .to_string();
    let script = dir().join("request.json");
    std::fs::write(&script, format!("{request}\n")).expect("request file");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"(cat "$1"; sleep 30) 2>/dev/null | "$0" >/dev/null 2>&1 & echo $!; sleep 2"#)
        .arg(support::BIN)
        .arg(&script)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("DIFY_BEDROCK_SHUTDOWN_GRACE_MS", "60000")
        .output()
        .expect("sh");
    let pid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("pid");
    let gone = support::soak::wait_gone(pid, SECS(15));
    if !gone {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    assert!(
        gone,
        "the orphaned plugin {pid} kept running with its stream"
    );
    // The stream had started: the double saw the call.
    assert!(
        !support::aws::converse_bodies(&d).is_empty(),
        "the request never reached the double"
    );
}

fn dir() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("shutdown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn a_serverless_stream_past_the_grace_at_sigterm_gets_error_and_end() {
    let d = double();
    let mut p = Plugin::start_over(
        Transport::Http,
        &[("DIFY_BEDROCK_SHUTDOWN_GRACE_MS", "1000")],
    );
    let addr = p.http_addr();
    let line = support::envelope(
        "s-past-grace",
        "invoke_llm",
        slow_stream(&d, &"word ".repeat(40), 40, 250),
    )
    .to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        support::http::post_invoke_streaming(addr, &line, |_| {
            let _ = tx.send(());
        })
    });
    rx.recv_timeout(SECS(20)).expect("the stream started");
    let t = Instant::now();
    sigterm(p.pid());
    let exit = p.wait_exit(SECS(30)).expect("exits after the grace");
    assert!(exit.success(), "{exit:?}");
    assert!(t.elapsed() < SECS(9), "waited {:?}", t.elapsed());
    let r = client.join().expect("thread").expect("an answer");
    let lines: Vec<serde_json::Value> = r
        .body
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let kinds: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["data"]["type"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().rev().take(2).collect::<Vec<_>>(),
        [&"end", &"error"],
        "{kinds:?}"
    );
}
