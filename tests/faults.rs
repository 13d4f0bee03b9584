//! Fault injection (issue 17, item 3): each upstream or downstream fault through the built
//! binary against the Bedrock test double, asserting what the Dify user sees — the error
//! type and a message in plain words, the chunks sent before the fault kept, exactly one
//! `end` per session, and healthy sessions running alongside the fault unaffected.
//!
//! Rows already covered elsewhere are referenced, not repeated: the AWS error → Dify error
//! table and each mid-stream fault's kind (`tests/llm.rs`), a closed loopback port
//! (`tests/access.rs::an_unreachable_endpoint_names_the_host_tried`), bedrock-mantle's
//! stream faults (`tests/mantle.rs`).
//!
//! `DIFY_BEDROCK_FAULTS_LONG=1` runs the slow-reader test with ten times the volume.

mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bedrock_double::{Double, DoubleConfig, Matcher, Operation, Script, TEST_ROLE_ARN};
use serde_json::{Value, json};
use support::aws::{api_key_credentials, double, key_credentials, llm_request, user, with};
use support::{Plugin, Session};

/// The model faults are scripted for.
const NOVA: &str = "amazon.nova-lite-v1:0";
/// The model of the healthy sessions running alongside, so that a script queued for
/// [`NOVA`] can never be taken by one of them.
const MICRO: &str = "amazon.nova-micro-v1:0";
const SECS: fn(u64) -> Duration = Duration::from_secs;

fn start(env: &[(&str, &str)]) -> Plugin {
    let p = Plugin::start_with(env);
    p.wait_first_heartbeat(SECS(10));
    p
}

/// A user message carrying a marker: `nonce` makes the request findable in the double's
/// records (every retry of it carries it too).
fn scripted(nonce: &str, script: Value) -> Value {
    user(&format!("{nonce} [[double: {script}]]"))
}

/// The statuses the double answered for the requests carrying `nonce`: one per attempt.
fn attempts(d: &Double, nonce: &str) -> Vec<u16> {
    d.requests()
        .iter()
        .filter(|r| r.body.to_string().contains(&format!("{nonce} ")))
        .map(|r| r.status)
        .collect()
}

fn message(e: &Value) -> &str {
    e["message"].as_str().unwrap_or("")
}

/// Six deltas of five characters: "0001 0002 … 0006 ".
const SIX: &str = "0001 0002 0003 0004 0005 0006 ";

/// Healthy streams started alongside a fault (about 1 s each, on another model and
/// another tenant); checked by [`check_bystanders`].
fn bystanders(p: &mut Plugin, d: &Double, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let text = format!("bystander {i}: a b c d e f");
            let script = json!({"text": text, "deltas": 6, "delay_ms": 150});
            let id = p.request(
                "invoke_llm",
                llm_request(
                    MICRO,
                    &api_key_credentials(d),
                    scripted(&format!("by-{i}"), script),
                    true,
                    json!({}),
                ),
            );
            (id, text)
        })
        .collect()
}

fn check_bystanders(p: &Plugin, ids: &[(String, String)]) {
    for (id, text) in ids {
        let s = p.wait_session(id, SECS(60));
        assert!(s.error().is_none(), "a bystander failed: {s:#?}");
        assert_eq!(&s.text(), text, "a bystander lost text");
    }
}

/// Every one of `ids` has exactly one `end`, as its last line, on the whole of stdout so
/// far (a line arriving after the end would be a second answer the daemon drops).
fn one_end_each(p: &Plugin, ids: &[&str]) {
    let (lines, junk) = p.stdout_lines();
    assert!(junk.is_empty(), "stdout lines that are not JSON: {junk:?}");
    for id in ids {
        let own: Vec<&Value> = lines
            .iter()
            .filter(|l| l["event"] == "session" && l["session_id"] == *id)
            .collect();
        let ends = own.iter().filter(|l| l["data"]["type"] == "end").count();
        assert_eq!(ends, 1, "session {id}: {own:#?}");
        assert_eq!(own.last().map(|l| &l["data"]["type"]), Some(&json!("end")));
    }
}

/// A stream of six deltas for `nonce`, with `fault` merged into its script.
fn six_deltas(nonce: &str, fault: Value) -> Value {
    let mut script = json!({"text": SIX, "deltas": 6, "delay_ms": 20});
    if let (Some(s), Value::Object(f)) = (script.as_object_mut(), fault) {
        s.extend(f);
    }
    scripted(nonce, script)
}

#[test]
fn throttling_then_success_is_retried_within_the_attempts_setting() {
    // Strengthens tests/access.rs::throttling_is_retried_with_backoff: the last allowed
    // attempt still succeeds, for streamed and blocking calls, with other sessions running.
    let d = double();
    let mut p = start(&[
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "4"),
        ("DIFY_BEDROCK_RETRY_BACKOFF_MS", "10"),
    ]);
    for stream in [true, false] {
        let op = if stream {
            Operation::ConverseStream
        } else {
            Operation::Converse
        };
        d.push_script_times(
            Matcher::operation(op).and_model(NOVA),
            Script::error(
                429,
                "ThrottlingException",
                "Too many requests, please wait.",
            ),
            3,
        );
        let by = bystanders(&mut p, &d, 3);
        let nonce = format!("throttled-then-ok-{stream}");
        let id = p.request(
            "invoke_llm",
            llm_request(
                NOVA,
                &key_credentials(&d),
                user(&format!("{nonce} hello")),
                stream,
                json!({}),
            ),
        );
        let s = p.wait_session(&id, SECS(30));
        assert!(s.error().is_none(), "stream={stream}: {s:#?}");
        assert_eq!(s.text(), format!("You said: {nonce} hello"));
        assert_eq!(
            attempts(&d, &nonce),
            [429, 429, 429, 200],
            "stream={stream}"
        );
        check_bystanders(&p, &by);
        one_end_each(&p, &[id.as_str()]);
    }
}

#[test]
fn throttling_forever_is_a_rate_limit_error_after_the_attempts_setting() {
    let d = double();
    let mut p = start(&[
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "3"),
        ("DIFY_BEDROCK_RETRY_BACKOFF_MS", "10"),
    ]);
    for stream in [true, false] {
        let by = bystanders(&mut p, &d, 3);
        let nonce = format!("throttled-forever-{stream}");
        let s = p.call(
            "invoke_llm",
            llm_request(
                NOVA,
                &key_credentials(&d),
                scripted(
                    &nonce,
                    json!({"error": {"status": 429, "type": "ThrottlingException",
                                     "message": "Too many requests, please wait before trying again."}}),
                ),
                stream,
                json!({}),
            ),
        );
        let e = s.expect_error();
        assert_eq!(e["error_type"], "InvokeRateLimitError", "{e}");
        assert_eq!(
            message(e),
            "[bedrock] ThrottlingException: Too many requests, please wait before trying again."
        );
        assert!(s.text().is_empty());
        assert_eq!(attempts(&d, &nonce), [429, 429, 429], "stream={stream}");
        check_bystanders(&p, &by);
        one_end_each(&p, &[s.id.as_str()]);
    }
}

#[test]
fn server_errors_are_retried_then_reported_as_unavailable() {
    let d = double();
    let mut p = start(&[
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "3"),
        ("DIFY_BEDROCK_RETRY_BACKOFF_MS", "10"),
    ]);
    let by = bystanders(&mut p, &d, 3);
    for (status, code) in [
        (500, "InternalServerException"),
        (503, "ServiceUnavailableException"),
    ] {
        // Twice, then an answer: the retry hides the fault.
        d.push_script_times(
            Matcher::operation(Operation::ConverseStream).and_model(NOVA),
            Script::error(status, code, "scripted outage"),
            2,
        );
        let nonce = format!("recovers-{status}");
        let s = p.call(
            "invoke_llm",
            llm_request(
                NOVA,
                &key_credentials(&d),
                user(&format!("{nonce} hello")),
                true,
                json!({}),
            ),
        );
        assert!(s.error().is_none(), "{s:#?}");
        assert_eq!(attempts(&d, &nonce), [status, status, 200]);

        // Every attempt fails: the error says what AWS said, as a server-side problem.
        let nonce = format!("outage-{status}");
        let s = p.call(
            "invoke_llm",
            llm_request(
                NOVA,
                &key_credentials(&d),
                scripted(
                    &nonce,
                    json!({"error": {"status": status, "type": code, "message": "scripted outage"}}),
                ),
                true,
                json!({}),
            ),
        );
        let e = s.expect_error();
        assert_eq!(e["error_type"], "InvokeServerUnavailableError", "{e}");
        assert_eq!(message(e), format!("[bedrock] {code}: scripted outage"));
        assert_eq!(attempts(&d, &nonce), [status; 3]);
        one_end_each(&p, &[s.id.as_str()]);
    }
    check_bystanders(&p, &by);
}

#[test]
fn one_tenants_throttling_storm_leaves_other_tenants_their_retries() {
    // The SDK keeps a retry quota (a token bucket: 500 tokens, 5 per throttled retry).
    // Shared by every client of a region, one tenant throttled without end would spend
    // it for all, and another tenant's throttled call would then fail at its first
    // attempt; each tenant has a quota of its own.
    let d = double();
    let mut p = start(&[
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "10"),
        ("DIFY_BEDROCK_RETRY_BACKOFF_MS", "1"),
    ]);
    let storm =
        json!({"error": {"status": 429, "type": "ThrottlingException", "message": "slow down"}});
    // 16 calls of 9 retries each: 144 retries, more than the 100 one quota allows.
    let ids: Vec<String> = (0..16)
        .map(|i| {
            p.request(
                "invoke_llm",
                llm_request(
                    NOVA,
                    &key_credentials(&d),
                    scripted(&format!("storm-{i}"), storm.clone()),
                    true,
                    json!({}),
                ),
            )
        })
        .collect();
    for id in &ids {
        let s = p.wait_session(id, SECS(60));
        assert_eq!(s.expect_error()["error_type"], "InvokeRateLimitError");
    }
    let spent = d.requests().len();
    assert!(
        spent > 100,
        "the storm made {spent} attempts: it must exhaust one quota"
    );
    // Another tenant (an API key), same region: throttled twice, then answered.
    d.push_script_times(
        Matcher::operation(Operation::ConverseStream).and_model(MICRO),
        Script::error(429, "ThrottlingException", "slow down"),
        2,
    );
    let s = p.call(
        "invoke_llm",
        llm_request(
            MICRO,
            &api_key_credentials(&d),
            user("other-tenant hello"),
            true,
            json!({}),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(attempts(&d, "other-tenant"), [429, 429, 200]);
}

#[test]
fn an_exception_frame_midstream_keeps_the_chunks_sent_then_error_and_end() {
    let d = double();
    let mut p = start(&[("DIFY_BEDROCK_MAX_ATTEMPTS", "3")]);
    let by = bystanders(&mut p, &d, 4);
    // After messageStart and three deltas; never retried (the answer had begun).
    let cases = [
        (
            "throttlingException",
            "InvokeRateLimitError",
            "[bedrock] the response stream broke off: ThrottlingException: slow down",
        ),
        (
            "internalServerException",
            "InvokeServerUnavailableError",
            "[bedrock] the response stream broke off: InternalServerException: slow down",
        ),
        (
            "modelStreamErrorException",
            "InvokeConnectionError",
            "[bedrock] the response stream broke off: ModelStreamErrorException: slow down",
        ),
    ];
    let ids: Vec<String> = cases
        .iter()
        .map(|(exception, _, _)| {
            let fault =
                json!({"exception": {"after": 4, "type": exception, "message": "slow down"}});
            p.request(
                "invoke_llm",
                llm_request(
                    NOVA,
                    &key_credentials(&d),
                    six_deltas(exception, fault),
                    true,
                    json!({}),
                ),
            )
        })
        .collect();
    for (id, (exception, kind, text)) in ids.iter().zip(cases) {
        let s = p.wait_session(id, SECS(30));
        assert_eq!(s.text(), "0001 0002 0003 ", "{exception}: {s:#?}");
        let e = s.expect_error();
        assert_eq!(e["error_type"], kind, "{e}");
        assert_eq!(message(e), text);
        assert_eq!(attempts(&d, exception), [200]);
        error_then_end(&s);
    }
    check_bystanders(&p, &by);
    one_end_each(&p, &ids.iter().map(String::as_str).collect::<Vec<_>>());
}

/// The session's last two lines are its error and its end.
fn error_then_end(s: &Session) {
    let types: Vec<&Value> = s.lines.iter().map(|l| &l["data"]["type"]).collect();
    assert_eq!(
        types[types.len().saturating_sub(2)..],
        [&json!("error"), &json!("end")],
        "{s:#?}"
    );
}

#[test]
fn a_connection_reset_midstream_keeps_the_chunks_sent_then_error_and_end() {
    let d = double();
    let mut p = start(&[
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "2"),
        ("DIFY_BEDROCK_RETRY_BACKOFF_MS", "10"),
    ]);
    let by = bystanders(&mut p, &d, 4);
    let streamed = p.request(
        "invoke_llm",
        llm_request(
            NOVA,
            &key_credentials(&d),
            six_deltas("reset-stream", json!({"drop_after": 4})),
            true,
            json!({}),
        ),
    );
    // A blocking call whose connection closes before any answer is retried (nothing was
    // answered), then reported with the host.
    let blocking = p.request(
        "invoke_llm",
        llm_request(
            NOVA,
            &key_credentials(&d),
            six_deltas("reset-blocking", json!({"drop_after": 0})),
            false,
            json!({}),
        ),
    );
    let s = p.wait_session(&streamed, SECS(30));
    assert_eq!(s.text(), "0001 0002 0003 ", "{s:#?}");
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeConnectionError", "{e}");
    let host = d.url().trim_start_matches("http://").to_string();
    assert!(
        message(e).contains("broke off") && message(e).contains(&host),
        "{e}"
    );
    assert_eq!(attempts(&d, "reset-stream"), [200]);
    error_then_end(&s);

    let s = p.wait_session(&blocking, SECS(30));
    assert!(s.text().is_empty());
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeConnectionError", "{e}");
    assert_eq!(
        message(e),
        format!(
            "[bedrock] could not reach {host}: the connection was closed before an answer (a proxy or firewall in between may be dropping it)"
        )
    );
    assert_eq!(attempts(&d, "reset-blocking").len(), 2);
    check_bystanders(&p, &by);
    one_end_each(&p, &[streamed.as_str(), blocking.as_str()]);
}

#[test]
fn a_stalled_stream_ends_with_an_error_at_the_idle_timeout() {
    let d = double();
    let mut p = start(&[
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "1"),
        ("DIFY_BEDROCK_STREAM_IDLE_TIMEOUT_SECS", "1"),
    ]);
    let by = bystanders(&mut p, &d, 4);
    // Stalled after three deltas, and before the first event; the double resumes after
    // 4 s, when the session has long ended: nothing more may reach it.
    let midway = p.request(
        "invoke_llm",
        llm_request(
            NOVA,
            &key_credentials(&d),
            six_deltas("stall-midway", json!({"stall": {"after": 4, "ms": 4000}})),
            true,
            json!({}),
        ),
    );
    let at_once = p.request(
        "invoke_llm",
        llm_request(
            NOVA,
            &key_credentials(&d),
            six_deltas("stall-at-once", json!({"stall": {"after": 0, "ms": 4000}})),
            true,
            json!({}),
        ),
    );
    let started = Instant::now();
    let host = d.url().trim_start_matches("http://").to_string();
    for (id, text) in [(&midway, "0001 0002 0003 "), (&at_once, "")] {
        let s = p.wait_session(id, SECS(30));
        assert_eq!(s.text(), text, "{s:#?}");
        let e = s.expect_error();
        assert_eq!(e["error_type"], "InvokeConnectionError", "{e}");
        assert_eq!(
            message(e),
            format!("[bedrock] the response stream from {host} stalled: nothing arrived for 1 s")
        );
        error_then_end(&s);
    }
    check_bystanders(&p, &by);
    // Past the stall, when the double would have gone on.
    std::thread::sleep(SECS(5).saturating_sub(started.elapsed()));
    one_end_each(&p, &[midway.as_str(), at_once.as_str()]);
}

/// A listener that accepts connections and never answers: requests go into it and
/// nothing comes back. Counts the connections (one per attempt).
struct Blackhole {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl Blackhole {
    fn start() -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                // Read and discard what is sent, so the request is fully delivered.
                let mut reader = stream.try_clone().expect("clone");
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
                });
                held.push(stream);
            }
        });
        Blackhole { addr, accepted }
    }
}

/// A listening socket whose accept queue is full, so a new connection's handshake is
/// never answered (Linux drops the SYN): a connect that times out, on loopback.
struct Unanswered {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
    _listener: tokio::net::TcpListener,
    _queued: Vec<TcpStream>,
}

impl Unanswered {
    fn start() -> Unanswered {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _entered = runtime.enter();
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.1:0".parse().expect("address"))
            .expect("bind");
        let listener = socket.listen(1).expect("listen");
        let addr = listener.local_addr().expect("addr");
        let mut queued = Vec::new();
        // Fill the queue (never accepted) until a handshake goes unanswered.
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) => queued.push(s),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                Err(e) => panic!("filling the accept queue: {e}"),
            }
            assert!(queued.len() < 64, "the accept queue never filled");
        }
        Unanswered {
            addr,
            _runtime: runtime,
            _listener: listener,
            _queued: queued,
        }
    }
}

#[test]
fn an_endpoint_that_never_answers_times_out_in_plain_words() {
    let d = double();
    let mut p = start(&[
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "2"),
        ("DIFY_BEDROCK_RETRY_BACKOFF_MS", "10"),
        ("DIFY_BEDROCK_CONNECT_TIMEOUT_SECS", "1"),
        ("DIFY_BEDROCK_READ_TIMEOUT_SECS", "1"),
    ]);
    let blackhole = Blackhole::start();
    let unanswered = Unanswered::start();
    let creds = |addr: SocketAddr| {
        with(
            key_credentials(&d),
            json!({"bedrock_endpoint_url": format!("http://{addr}")}),
        )
    };
    let by = bystanders(&mut p, &d, 4);
    let read = p.request(
        "invoke_llm",
        llm_request(NOVA, &creds(blackhole.addr), user("hi"), true, json!({})),
    );
    let connect = p.request(
        "invoke_llm",
        llm_request(NOVA, &creds(unanswered.addr), user("hi"), true, json!({})),
    );
    let s = p.wait_session(&read, SECS(30));
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeConnectionError", "{e}");
    let host = blackhole.addr.to_string();
    assert_eq!(
        message(e),
        format!(
            "[bedrock] could not reach {host}: it took the request but sent no answer within the read timeout (DIFY_BEDROCK_READ_TIMEOUT_SECS; a long answer that is not streamed needs more)"
        )
    );
    assert_eq!(blackhole.accepted.load(Ordering::SeqCst), 2, "two attempts");
    error_then_end(&s);

    let s = p.wait_session(&connect, SECS(30));
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeConnectionError", "{e}");
    assert_eq!(
        message(e),
        format!(
            "[bedrock] could not reach {}: the connection timed out",
            unanswered.addr
        )
    );
    error_then_end(&s);
    check_bystanders(&p, &by);
    one_end_each(&p, &[read.as_str(), connect.as_str()]);
}

#[test]
fn expiring_role_credentials_are_refreshed_while_streams_run() {
    // Both role paths hand out credentials that live 16 s and are refused after: the
    // instance role from IMDS (rotated on every fetch) and a role assumed through STS
    // on top of access keys. The SDK's identity cache takes new ones 5 to 10 s before
    // expiry (aws-smithy-runtime's lazy cache: a 10 s buffer less up to half of it as
    // jitter), so no request is signed with credentials about to expire; AWS checks
    // credentials when a request arrives, so a stream outlives the credentials that
    // signed it. For 32 s a stream starts every second for each tenant.
    let lifetime = SECS(16);
    let d = Double::start(
        DoubleConfig::default()
            .imds_credential_lifetime(lifetime)
            .sts_default_duration(lifetime),
    )
    .expect("double");
    let url = d.url();
    let mut p = start(&[
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "1"),
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url),
        ("AWS_ENDPOINT_URL_STS", &url),
    ]);
    let instance_role =
        json!({"auth_method": "IAM_Role", "aws_region": "us-east-1", "bedrock_endpoint_url": url});
    let assumed_role = with(key_credentials(&d), json!({"aws_role_arn": TEST_ROLE_ARN}));
    let tenants = [("imds", &instance_role), ("sts", &assumed_role)];
    struct Run {
        id: String,
        nonce: String,
        text: String,
        started: SystemTime,
    }
    let mut runs: Vec<Run> = Vec::new();
    let mut launch = |p: &mut Plugin, tenant: &str, creds: &Value, n: usize, deltas: usize| {
        let nonce = format!("{tenant}-{n}");
        let text: String = (0..deltas).map(|i| format!("{nonce}/{i} ")).collect();
        let script = json!({"text": text, "deltas": deltas, "delay_ms": 1000});
        let started = SystemTime::now();
        let id = p.request(
            "invoke_llm",
            llm_request(NOVA, creds, scripted(&nonce, script), true, json!({})),
        );
        runs.push(Run {
            id,
            nonce,
            text,
            started,
        });
    };
    // One long stream per tenant (about 20 s): it outlives the credentials that signed it.
    for (tenant, creds) in tenants {
        launch(&mut p, tenant, creds, 0, 20);
    }
    for n in 1..=32 {
        std::thread::sleep(SECS(1));
        for (tenant, creds) in tenants {
            launch(&mut p, tenant, creds, n, 4);
        }
    }
    let issued = |prefix: &str| -> Vec<bedrock_double::KeyPair> {
        d.issued_credentials()
            .into_iter()
            .filter(|k| k.access_key_id.starts_with(prefix))
            .collect()
    };
    for run in &runs {
        let s = p.wait_session(&run.id, SECS(60));
        assert!(s.error().is_none(), "{}: {s:#?}", run.nonce);
        assert_eq!(s.text(), run.text);
        let signed: Vec<_> = d
            .requests()
            .into_iter()
            .filter(|r| r.body.to_string().contains(&format!("{} ", run.nonce)))
            .collect();
        assert_eq!(signed.len(), 1, "{}", run.nonce);
        if run.nonce.ends_with("-0") {
            let key = d
                .issued_credentials()
                .into_iter()
                .find(|k| k.access_key_id == signed[0].identity)
                .expect("signed with issued credentials");
            let expiry = key.expires_at.expect("an expiry");
            assert!(
                run.started < expiry && SystemTime::now() > expiry,
                "{}",
                run.nonce
            );
        }
    }
    let model_calls: Vec<_> = d.requests_for(Operation::ConverseStream);
    assert_eq!(model_calls.len(), runs.len());
    assert!(model_calls.iter().all(|r| r.status == 200));
    for (prefix, fetch) in [
        ("ASIADBLIMDS", Operation::ImdsCredentials),
        ("ASIADBLSTS", Operation::AssumeRole),
    ] {
        let keys = issued(prefix);
        let used: HashSet<&str> = model_calls
            .iter()
            .map(|r| r.identity.as_str())
            .filter(|i| i.starts_with(prefix))
            .collect();
        // 34 s with 16 s credentials refreshed 5–10 s early: at least three sets.
        assert!(
            used.len() >= 3,
            "{prefix}: signed with {used:?} of {} issued",
            keys.len()
        );
        assert!(d.requests_for(fetch).len() >= 3, "{fetch:?}");
    }
    // The control: the first assumed-role credentials, now expired, are refused — so the
    // run above succeeded because they were replaced in time.
    let first = issued("ASIADBLSTS").into_iter().next().expect("issued");
    let s = p.call(
        "invoke_llm",
        llm_request(
            NOVA,
            &json!({"auth_method": "Access_Secret_Key", "aws_access_key_id": first.access_key_id,
                    "aws_secret_access_key": first.secret_access_key,
                    "aws_session_token": first.session_token, "aws_region": "us-east-1",
                    "bedrock_endpoint_url": d.url()}),
            user("expired"),
            true,
            json!({}),
        ),
    );
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeAuthorizationError", "{e}");
    assert!(message(e).contains("ExpiredTokenException"), "{e}");
}

/// The plugin's resident memory now and at its peak, in KiB (Linux /proc).
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn a_daemon_reading_slowly_gets_every_line_in_order_with_memory_bounded() {
    // A daemon that stops reading for 5 s, then reads slowly, while many large streams
    // run with no pacing upstream. The plugin must wait (its output pipe and its bounded
    // writer queue full, its streams unread, so the double is held back by TCP) rather than
    // buffer the answers: its peak memory stays far below what they weigh. Then every
    // chunk of every session arrives, in order, and each session ends once.
    let long = std::env::var("DIFY_BEDROCK_FAULTS_LONG").is_ok_and(|v| v == "1");
    // The default run checks order, completeness and a generous memory bound at a size CI
    // runs in seconds; the long run (DIFY_BEDROCK_FAULTS_LONG=1) sends answers that
    // together outweigh the bound several times, and each several times what one stream
    // may hold in buffers (hyper's read buffer grows to about 400 KiB per connection), so
    // memory that grew with the volume would fail it.
    let (sessions, copies) = if long { (60, 4000) } else { (40, 600) };
    let piece = "x".repeat(1000);
    let d = double();
    let mut child = Plugin::command(&[("DIFY_BEDROCK_MAX_ATTEMPTS", "1")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let paused = Arc::new(AtomicBool::new(false));
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    // Counted as they arrive: scanning every line while reading would slow the reader.
    let ends = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (paused, lines, ends) = (paused.clone(), lines.clone(), ends.clone());
        std::thread::spawn(move || {
            // Small reads with a pause after each: a slow consumer.
            let mut out = BufReader::with_capacity(4096, stdout);
            let mut line = String::new();
            let mut since_nap = 0usize;
            loop {
                while paused.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                line.clear();
                match out.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => since_nap += n,
                }
                if line.contains(r#""type":"end""#) {
                    ends.fetch_add(1, Ordering::SeqCst);
                }
                lines
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(line.trim_end().to_string());
                if since_nap >= 64 * 1024 {
                    since_nap = 0;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        })
    };
    // Idle, with the heartbeat read.
    let deadline = Instant::now() + SECS(10);
    while lines.lock().map(|l| l.is_empty()).unwrap_or(true) {
        assert!(Instant::now() < deadline, "no heartbeat");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (idle_rss, _) = memory_kib(pid);

    paused.store(true, Ordering::SeqCst);
    let mut expected = Vec::new();
    for i in 0..sessions {
        let id = format!("slow-{i}");
        let marker =
            json!({"text": piece, "repeat": copies, "deltas": copies, "stop_reason": "end_turn"});
        let request = support::envelope(
            &id,
            "invoke_llm",
            llm_request(
                NOVA,
                &key_credentials(&d),
                scripted(&id, marker),
                true,
                json!({}),
            ),
        );
        writeln!(stdin, "{request}").expect("write a request");
        let text: String = (1..=copies).map(|c| format!("[{c}]{piece}")).collect();
        expected.push((id, text));
    }
    stdin.flush().expect("flush");
    let volume_kib = (sessions * copies * piece.len() / 1024) as u64;
    let mut peak_paused = 0;
    let pause_until = Instant::now() + SECS(5);
    while Instant::now() < pause_until {
        peak_paused = peak_paused.max(memory_kib(pid).0);
        std::thread::sleep(Duration::from_millis(50));
    }
    paused.store(false, Ordering::SeqCst);

    let deadline = Instant::now() + SECS(if long { 900 } else { 120 });
    while ends.load(Ordering::SeqCst) < sessions {
        assert!(Instant::now() < deadline, "not every session ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, peak) = memory_kib(pid);
    drop(stdin);
    let _ = child.wait();
    let _ = reader.join();

    let lines = lines.lock().unwrap_or_else(|e| e.into_inner());
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for (id, text) in &expected {
        let own: Vec<Value> = parsed
            .iter()
            .filter(|l| l["session_id"] == id.as_str())
            .cloned()
            .collect();
        support::daemon_rules::check_session("invoke_llm", &own)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let s = Session {
            id: id.clone(),
            action: "invoke_llm".into(),
            lines: own,
        };
        assert!(s.error().is_none(), "{id}: {:?}", s.error());
        assert!(s.text() == *text, "{id}: a chunk was lost or reordered");
        assert_eq!(
            s.lines.last().map(|l| &l["data"]["type"]),
            Some(&json!("end"))
        );
    }
    eprintln!(
        "slow reader: idle {idle_rss} KiB, peak while paused {peak_paused} KiB, peak {peak} KiB, answers {volume_kib} KiB"
    );
    // Generous: a fixed allowance (the writer's queue of 4096 lines, the runtime) and
    // 1.5 MiB per stream in flight (about 1.2 MiB measured: hyper's read buffer and the
    // event-stream decoder of a stream read more slowly than it arrives). Buffering the
    // answers would need their whole weight.
    let bound = idle_rss + 16 * 1024 + sessions as u64 * 1536;
    assert!(
        !long || volume_kib > 2 * (bound - idle_rss),
        "the answers ({volume_kib} KiB) must outweigh the bound"
    );
    assert!(
        peak_paused <= bound && peak <= bound,
        "memory grew with the answers: idle {idle_rss} KiB, peak while paused {peak_paused} KiB, \
         peak {peak} KiB, answers {volume_kib} KiB"
    );
}
