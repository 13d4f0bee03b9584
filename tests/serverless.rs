//! The serverless mode through the built binary: an HTTP client calls it as the daemon's
//! serverless runtime does (chunked request bodies, newline-delimited answers), with
//! many streams at once, a body over the limit, wrong routes, and a SIGTERM while
//! streams are in flight.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::aws::{double, key_credentials, llm_request, user};
use support::http::{self, Body};
use support::{Plugin, Transport, envelope};

const NOVA: &str = "amazon.nova-lite-v1:0";
const SECS: fn(u64) -> Duration = Duration::from_secs;

fn events(body: &str) -> Vec<Value> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn health_and_routes() {
    let p = Plugin::start_over(Transport::Http, &[]);
    let addr = p.http_addr();
    let r = http::get(addr, "/health").expect("health");
    assert_eq!((r.status, r.body.as_str()), (200, "OK"));
    assert_eq!(http::get(addr, "/nowhere").expect("404").status, 404);
    assert_eq!(http::get(addr, "/invoke").expect("405").status, 405);
    // A body that is not a request: a 400 whose error the daemon shows.
    let r = http::request(
        addr,
        "POST",
        "/invoke",
        &[],
        Body::Fixed(b"not json"),
        |_| {},
    )
    .expect("400");
    assert_eq!(r.status, 400);
    let e: Value = serde_json::from_str(&r.body).expect("json error");
    assert_eq!(e["errorType"], "InvalidRequest");
    assert!(
        e["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("not JSON"),
        "{e}"
    );
}

#[test]
fn one_session_per_request_streamed_as_lines() {
    let d = double();
    let p = Plugin::start_over(Transport::Http, &[]);
    let line = envelope(
        "s-stream",
        "invoke_llm",
        llm_request(
            NOVA,
            &key_credentials(&d),
            user(r#"hi [[double: {"text": "a b c d", "deltas": 4, "delay_ms": 50}]]"#),
            true,
            json!({}),
        ),
    )
    .to_string();
    let mut arrivals = Vec::new();
    let started = Instant::now();
    let r = http::post_invoke_streaming(p.http_addr(), &line, |_| arrivals.push(started.elapsed()))
        .expect("invoke");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let lines = events(&r.body);
    assert!(lines.iter().all(|l| l["session_id"] == "s-stream"));
    assert_eq!(
        lines.last().map(|l| &l["data"]["type"]),
        Some(&json!("end"))
    );
    let text: String = lines
        .iter()
        .filter_map(|l| l["data"]["data"]["delta"]["message"]["content"].as_str())
        .collect();
    assert_eq!(text, "a b c d");
    // Streamed, not buffered: the deltas 50 ms apart arrived apart.
    let spread = arrivals.last().copied().unwrap_or_default() - arrivals[0];
    assert!(spread >= Duration::from_millis(100), "{arrivals:?}");
}

#[test]
fn many_streams_at_once() {
    let d = double();
    let p = Plugin::start_over(Transport::Http, &[]);
    let addr = p.http_addr();
    let creds = key_credentials(&d);
    let started = Instant::now();
    let handles: Vec<_> = (0..40)
        .map(|i| {
            let line = envelope(
                &format!("s-{i}"),
                "invoke_llm",
                llm_request(
                    NOVA,
                    &creds,
                    user(&format!(
                        r#"n{i} [[double: {{"text": "answer {i}", "deltas": 5, "delay_ms": 100}}]]"#
                    )),
                    true,
                    json!({}),
                ),
            )
            .to_string();
            std::thread::spawn(move || (i, http::post_invoke(addr, &line).expect("invoke")))
        })
        .collect();
    for h in handles {
        let (i, r) = h.join().expect("thread");
        assert_eq!(r.status, 200);
        let lines = events(&r.body);
        assert!(lines.iter().all(|l| l["session_id"] == format!("s-{i}")));
        let text: String = lines
            .iter()
            .filter_map(|l| l["data"]["data"]["delta"]["message"]["content"].as_str())
            .collect();
        assert_eq!(text, format!("answer {i}"));
    }
    // 40 streams of ~0.6 s each ran side by side, not one after another.
    assert!(started.elapsed() < SECS(10), "{:?}", started.elapsed());
}

#[test]
fn a_body_over_the_limit_is_refused_with_a_clear_error() {
    let p = Plugin::start_over(
        Transport::Http,
        &[("MAX_SERVERLESS_REQUEST_BYTES", "100000")],
    );
    let addr = p.http_addr();
    let big = envelope(
        "s-big",
        "invoke_llm",
        llm_request(
            NOVA,
            &json!({}),
            user(&"x".repeat(200_000)),
            true,
            json!({}),
        ),
    )
    .to_string();
    for body in [Body::Chunked(big.as_bytes()), Body::Fixed(big.as_bytes())] {
        let r = http::request(addr, "POST", "/invoke?action=invoke_llm", &[], body, |_| {})
            .expect("answer");
        assert_eq!(r.status, 413);
        let e: Value = serde_json::from_str(&r.body).expect("json error");
        assert_eq!(e["errorType"], "RequestTooLarge");
        assert!(
            e["errorMessage"]
                .as_str()
                .unwrap_or("")
                .contains("over 100000 bytes (MAX_SERVERLESS_REQUEST_BYTES)"),
            "{e}"
        );
    }
    // The server keeps serving.
    assert_eq!(http::get(addr, "/health").expect("health").status, 200);
}

#[test]
fn sigterm_lets_streams_in_flight_finish() {
    let d = double();
    let mut p = Plugin::start_over(Transport::Http, &[]);
    let addr = p.http_addr();
    let line = envelope(
        "s-long",
        "invoke_llm",
        llm_request(
            NOVA,
            &key_credentials(&d),
            user(r#"hi [[double: {"text": "still here", "deltas": 10, "delay_ms": 150}]]"#),
            true,
            json!({}),
        ),
    )
    .to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        http::post_invoke_streaming(addr, &line, |_| {
            let _ = tx.send(());
        })
    });
    rx.recv_timeout(SECS(10)).expect("the stream started");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &p.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let r = client
        .join()
        .expect("thread")
        .expect("the stream completed");
    let lines = events(&r.body);
    assert_eq!(
        lines.last().map(|l| &l["data"]["type"]),
        Some(&json!("end"))
    );
    let text: String = lines
        .iter()
        .filter_map(|l| l["data"]["data"]["delta"]["message"]["content"].as_str())
        .collect();
    assert_eq!(text, "still here");
    let exit = p.wait_exit(SECS(15)).expect("exits after the stream");
    assert!(exit.success(), "{exit:?}");
    // New connections are no longer taken.
    assert!(http::get(addr, "/health").is_err());
}
