//! End-to-end tests of the stdio runtime through the built binary: readiness, concurrency,
//! bad input, logging, and every way the process is told to stop.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Plugin;

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn schema_request(model: &str) -> Value {
    json!({"provider": "bedrock", "model": model, "model_type": "llm", "credentials": {}})
}

#[test]
fn first_heartbeat_arrives_at_once_and_stdout_is_only_protocol_json() {
    let mut plugin = Plugin::start();
    let elapsed = plugin.wait_first_heartbeat(SECS(10));
    assert!(elapsed < SECS(10));
    let s = plugin.call(
        "get_ai_model_schemas",
        schema_request("amazon.nova-lite-v1:0"),
    );
    assert_eq!(s.result()["model_schema"]["model"], "amazon.nova-lite-v1:0");
    plugin.close_stdin();
    assert!(plugin.wait_exit(SECS(10)).is_some_and(|s| s.success()));
    plugin.wait_stdout_closed(SECS(5));
    let (lines, junk) = plugin.stdout_lines();
    assert!(junk.is_empty(), "non-JSON on stdout: {junk:?}");
    for line in &lines {
        assert!(
            matches!(
                line["event"].as_str(),
                Some("heartbeat" | "session" | "log" | "error")
            ),
            "{line}"
        );
    }
    assert_eq!(plugin.stderr(), "", "nothing should reach stderr");
}

#[test]
fn heartbeats_repeat_at_the_configured_interval() {
    let plugin = Plugin::start_with(&[("HEARTBEAT_INTERVAL", "1")]);
    plugin.wait_first_heartbeat(SECS(10));
    std::thread::sleep(Duration::from_millis(2600));
    let beats = plugin.heartbeats();
    assert!(
        beats.len() >= 3,
        "{} heartbeats in 2.6 s at a 1 s interval",
        beats.len()
    );
}

#[test]
fn two_hundred_concurrent_requests_each_get_exactly_one_end() {
    let mut plugin = Plugin::start();
    plugin.wait_first_heartbeat(SECS(10));
    let mut ids = Vec::new();
    for i in 0..200 {
        // A mix of answers and errors, all in flight together.
        let id = match i % 4 {
            0 => plugin.request("get_ai_model_schemas", schema_request("anthropic.claude-sonnet-4-5-20250929-v1:0")),
            1 => plugin.request("get_ai_model_schemas", schema_request("no.such-model")),
            2 => plugin.request(
                "invoke_llm",
                json!({"provider": "bedrock", "model": "amazon.nova-lite-v1:0", "model_type": "llm", "credentials": {},
                       "model_parameters": {"temperature": 3.0}, "prompt_messages": [], "stream": true}),
            ),
            _ => plugin.request("no_such_action", json!({})),
        };
        ids.push(id);
    }
    for (i, id) in ids.iter().enumerate() {
        let s = plugin.wait_session(id, SECS(30));
        let ends = s
            .lines
            .iter()
            .filter(|l| l["data"]["type"] == "end")
            .count();
        assert_eq!(ends, 1, "{s:#?}");
        match i % 4 {
            0 => assert_eq!(
                s.result()["model_schema"]["model"],
                "anthropic.claude-sonnet-4-5-20250929-v1:0"
            ),
            1 => assert_eq!(s.result()["model_schema"], Value::Null),
            2 => assert!(
                s.expect_error()["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("temperature")
            ),
            _ => assert!(
                s.expect_error()["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("no_such_action")
            ),
        }
    }
    // Nothing but those 200 sessions was answered.
    assert_eq!(plugin.finished_sessions().len(), 200);
}

#[test]
fn malformed_lines_do_not_disturb_good_requests() {
    let mut plugin = Plugin::start();
    plugin.wait_first_heartbeat(SECS(10));
    let bad = [
        "this is not json",
        "[1, 2, 3]",
        "42",
        r#"{"event": "request", "data": {}}"#,
        r#"{"session_id": 7, "event": "request"}"#,
        "{\"session_id\": \"half",
    ];
    let mut ids = Vec::new();
    for (i, junk) in bad.iter().enumerate() {
        plugin.send_raw(junk);
        ids.push(plugin.request(
            "get_ai_model_schemas",
            schema_request(if i % 2 == 0 {
                "amazon.nova-lite-v1:0"
            } else {
                "x"
            }),
        ));
    }
    // A blank line and a very long broken line are survived too.
    plugin.send_raw("");
    plugin.send_raw(&format!("{{\"session_id\": \"{}", "a".repeat(3_000_000)));
    ids.push(plugin.request(
        "get_ai_model_schemas",
        schema_request("amazon.nova-lite-v1:0"),
    ));
    for (i, id) in ids.iter().enumerate() {
        let s = plugin.wait_session(id, SECS(30));
        let expected = if i % 2 == 0 || i == bad.len() {
            json!("amazon.nova-lite-v1:0")
        } else {
            Value::Null
        };
        assert_eq!(
            s.result()["model_schema"]["model"].clone(),
            if expected.is_null() {
                Value::Null
            } else {
                expected
            }
        );
    }
    let errors = plugin.wait_top_level_errors(bad.len() + 1, SECS(30));
    for e in &errors {
        assert!(
            e["data"]["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{e}"
        );
        assert_eq!(e["session_id"], Value::Null);
    }
    // The warnings went out as protocol log events at their level.
    assert!(plugin.logs().iter().any(|l| {
        l["data"]["level"] == "WARNING"
            && l["data"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("not JSON"))
    }));
}

#[test]
fn a_bad_payload_gets_an_error_and_end_naming_the_field() {
    let mut plugin = Plugin::start();
    plugin.wait_first_heartbeat(SECS(10));
    let base = |extra: Value| {
        let mut v = json!({"provider": "bedrock", "model": "amazon.nova-lite-v1:0", "model_type": "llm", "credentials": {},
                           "model_parameters": {}, "prompt_messages": [{"role": "user", "content": "hi"}], "stream": true});
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    };
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "invoke_llm",
            json!({"provider": "bedrock", "model_type": "llm", "prompt_messages": []}),
            "ValidationError",
            "model",
        ),
        (
            "invoke_llm",
            base(json!({"prompt_messages": "hello"})),
            "ValidationError",
            "prompt_messages",
        ),
        (
            "invoke_llm",
            base(json!({"prompt_messages": [{"role": "wizard", "content": "x"}]})),
            "ValidationError",
            "prompt_messages[0].role",
        ),
        (
            "invoke_llm",
            base(json!({"model": "acme.unknown-v1"})),
            "InvokeBadRequestError",
            "acme.unknown-v1",
        ),
        (
            "invoke_llm",
            base(json!({"model_type": "rerank"})),
            "ValidationError",
            "model_type",
        ),
        (
            "invoke_llm",
            base(json!({"model_parameters": {"max_tokens": 999999}})),
            "InvokeBadRequestError",
            "max_tokens should be less than or equal to 5000",
        ),
        (
            "invoke_llm",
            base(json!({"model_parameters": {"max_tokens": "many"}})),
            "InvokeBadRequestError",
            "max_tokens should be int",
        ),
        (
            "invoke_rerank",
            json!({"provider": "bedrock", "model": "amazon.rerank-v1:0", "model_type": "rerank", "docs": ["a"]}),
            "ValidationError",
            "query",
        ),
        ("invoke_tts", json!({}), "NotImplementedError", "invoke_tts"),
        ("frobnicate", json!({}), "ValidationError", "frobnicate"),
    ];
    for (action, fields, error_type, needle) in cases {
        let s = plugin.call(action, fields.clone());
        let e = s.expect_error();
        assert_eq!(e["error_type"], error_type, "{action} {fields}: {e}");
        let message = e["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{action} {fields}: {message:?} should name {needle:?}"
        );
    }
    // Go's nulls and empty strings are accepted wherever a list, map or string is optional.
    let s = plugin.call(
        "get_ai_model_schemas",
        json!({"provider": "bedrock", "model": "amazon.rerank-v1:0", "model_type": "rerank", "credentials": null, "credential_type": ""}),
    );
    assert_eq!(s.result()["model_schema"]["model_type"], "rerank");
    let s = plugin.call(
        "invoke_llm",
        base(json!({"tools": null, "stop": null, "model_parameters": null, "json_schema": null})),
    );
    // Past the payload checks, the empty credentials are the next thing named.
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeBadRequestError");
    assert!(
        e["message"].as_str().unwrap_or("").contains("aws_region"),
        "{e}"
    );
}

#[test]
fn customizable_models_are_answered_from_their_credentials() {
    let mut plugin = Plugin::start();
    plugin.wait_first_heartbeat(SECS(10));
    let s = plugin.call(
        "get_ai_model_schemas",
        json!({"provider": "bedrock", "model": "my-profile", "model_type": "llm",
               "credentials": {"inference_profile_id": "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc", "context_length": "32000"}}),
    );
    let schema = &s.result()["model_schema"];
    assert_eq!(schema["model"], "my-profile");
    assert_eq!(schema["fetch_from"], "customizable-model");
    assert_eq!(schema["model_properties"]["context_size"], 32000);
    assert!(schema["parameter_rules"].as_array().is_some_and(|r| {
        r.iter()
            .any(|r| r["name"] == "max_tokens" && r["type"] == "int")
    }));
    let s = plugin.call(
        "get_ai_model_schemas",
        json!({"provider": "bedrock", "model": "p", "model_type": "llm", "credentials": {"inference_profile_id": "x", "context_length": "lots"}}),
    );
    assert!(
        s.expect_error()["message"]
            .as_str()
            .unwrap_or("")
            .contains("context_length")
    );
}

#[test]
fn end_of_input_lets_in_flight_sessions_finish_and_exits_zero() {
    let mut plugin = Plugin::start();
    plugin.wait_first_heartbeat(SECS(10));
    let ids: Vec<String> = (0..50)
        .map(|_| {
            plugin.request(
                "get_ai_model_schemas",
                schema_request("amazon.nova-lite-v1:0"),
            )
        })
        .collect();
    // Close at once: most of these are still in flight when input ends.
    plugin.close_stdin();
    let t = Instant::now();
    let status = plugin
        .wait_exit(SECS(10))
        .expect("exits after end of input");
    assert!(status.success(), "{status:?}");
    assert!(t.elapsed() < SECS(6));
    plugin.wait_stdout_closed(SECS(5));
    for id in &ids {
        let s = plugin.wait_session(id, SECS(1));
        assert_eq!(s.result()["model_schema"]["model"], "amazon.nova-lite-v1:0");
    }
}

#[test]
fn sigterm_stops_the_plugin_cleanly() {
    let mut plugin = Plugin::start();
    plugin.wait_first_heartbeat(SECS(10));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &plugin.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = plugin.wait_exit(SECS(10)).expect("exits on SIGTERM");
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn the_plugin_exits_when_its_parent_dies() {
    // A shell starts the plugin in the background with our pipe as its stdin (so input
    // stays open), prints its pid and exits a moment later: the plugin is orphaned.
    let (reader, _writer) = std::io::pipe().expect("pipe");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"exec 3<&0; "$0" <&3 3<&- >/dev/null 2>&1 & echo $!; sleep 1"#)
        .arg(support::BIN)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(reader)
        .output()
        .expect("sh");
    let pid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("pid");
    let deadline = Instant::now() + SECS(10);
    let gone = loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for a reaper that is not us.
        if stat.is_empty() || stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !gone {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    assert!(gone, "the orphaned plugin {pid} kept running");
}
