//! One table of requests run over all three ways the daemon talks to a plugin — stdio
//! (installed), TCP (remote debugging, after registering with a fake daemon) and HTTP
//! (serverless) — through the built binary and the Bedrock test double. Each request
//! must give the same payloads on every transport.

mod support;

use serde_json::{Value, json};
use support::aws::{
    double, embedding_request, key_credentials, llm_request, rerank_request, user, with,
};
use support::{Plugin, Session, Transport};

const NOVA: &str = "amazon.nova-lite-v1:0";

/// The requests, by name: each action family, streaming and blocking, answers and errors.
fn table(d: &bedrock_double::Double) -> Vec<(&'static str, &'static str, Value)> {
    let creds = key_credentials(d);
    let script = |s: &str| user(&format!("hello [[double: {s}]]"));
    vec![
        (
            "schema of a predefined model",
            "get_ai_model_schemas",
            json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "credentials": {}}),
        ),
        (
            "schema of an unknown model",
            "get_ai_model_schemas",
            json!({"provider": "bedrock", "model": "nope", "model_type": "llm", "credentials": {}}),
        ),
        (
            "token count",
            "get_llm_num_tokens",
            json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "credentials": {},
                   "prompt_messages": user("Hello, world!"), "tools": null}),
        ),
        (
            "streamed answer",
            "invoke_llm",
            llm_request(
                NOVA,
                &creds,
                script(r#"{"text": "one two three", "deltas": 3}"#),
                true,
                json!({"max_tokens": 50}),
            ),
        ),
        (
            "blocking answer",
            "invoke_llm",
            llm_request(
                NOVA,
                &creds,
                script(r#"{"text": "all at once"}"#),
                false,
                json!({}),
            ),
        ),
        (
            "streamed tool call",
            "invoke_llm",
            with(
                llm_request(
                    NOVA,
                    &creds,
                    script(
                        r#"{"tool_calls": [{"name": "weather", "input": {"city": "Paris"}, "id": "t1"}]}"#,
                    ),
                    true,
                    json!({}),
                ),
                json!({"tools": [{"name": "weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]}),
            ),
        ),
        (
            "an error from Bedrock mid-stream",
            "invoke_llm",
            llm_request(
                NOVA,
                &creds,
                script(
                    r#"{"deltas": 4, "exception": {"after": 3, "type": "validationException"}}"#,
                ),
                true,
                json!({}),
            ),
        ),
        (
            "an unknown model",
            "invoke_llm",
            llm_request("no.such-model", &creds, user("hi"), true, json!({})),
        ),
        (
            "embedding",
            "invoke_text_embedding",
            embedding_request(
                "amazon.titan-embed-text-v2:0",
                &creds,
                &["a", "b"],
                "document",
            ),
        ),
        (
            "rerank",
            "invoke_rerank",
            rerank_request(
                "cohere.rerank-v3-5:0",
                &with(creds.clone(), json!({"aws_region": "us-west-2"})),
                "q",
                &["x", "y", "z"],
                2,
                0.0,
            ),
        ),
        (
            "credential validation",
            "validate_provider_credentials",
            json!({"provider": "bedrock", "credentials": with(creds.clone(), json!({"model_for_validation": NOVA}))}),
        ),
        (
            "a payload of the wrong shape",
            "invoke_llm",
            json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "prompt_messages": "not a list"}),
        ),
        ("an action the provider lacks", "invoke_tts", json!({})),
    ]
}

/// A session's payloads with what legitimately differs between runs removed (timings).
fn payloads(s: &Session) -> Vec<Value> {
    fn scrub(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("latency");
                map.values_mut().for_each(scrub);
            }
            Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    s.lines
        .iter()
        .map(|l| {
            let mut data = l["data"].clone();
            scrub(&mut data);
            data
        })
        .collect()
}

fn run(d: &bedrock_double::Double, transport: Transport) -> Vec<(&'static str, Vec<Value>)> {
    let mut p = Plugin::start_over(
        transport,
        &[
            ("DIFY_BEDROCK_MAX_ATTEMPTS", "1"),
            ("DIFY_BEDROCK_STREAM_IDLE_TIMEOUT_SECS", "5"),
        ],
    );
    table(d)
        .into_iter()
        .map(|(name, action, fields)| {
            let s = p.call(action, fields);
            (name, payloads(&s))
        })
        .collect()
}

#[test]
fn every_transport_gives_the_same_answers() {
    // One double for all: the answers name its address.
    let d = double();
    let stdio = run(&d, Transport::Stdio);
    // The table means something: answers, streams and errors all occur in it.
    let kinds: Vec<&str> = stdio
        .iter()
        .flat_map(|(_, p)| p.iter().filter_map(|d| d["type"].as_str()))
        .collect();
    assert!(
        kinds.iter().filter(|k| **k == "stream").count() > 10,
        "{kinds:?}"
    );
    assert!(
        kinds.iter().filter(|k| **k == "error").count() >= 4,
        "{kinds:?}"
    );
    for transport in [Transport::Tcp, Transport::Http] {
        let other = run(&d, transport);
        for ((name, expected), (_, got)) in stdio.iter().zip(&other) {
            assert_eq!(
                got, expected,
                "{name} over {transport:?} differs from stdio"
            );
        }
    }
}

#[test]
fn remote_debugging_registers_as_the_daemon_expects() {
    let p = Plugin::start_over(Transport::Tcp, &[]);
    let reg = p.registration.as_ref().expect("registered");
    assert_eq!(reg.kinds.first().map(String::as_str), Some("handshake"));
    assert_eq!(
        reg.kinds[1..3],
        [
            "manifest_declaration".to_string(),
            "model_declaration".to_string()
        ]
    );
    assert_eq!(reg.kinds.last().map(String::as_str), Some("end"));
    assert_eq!(reg.manifest["name"], "bedrock");
    let models = reg.provider["models"].as_array().expect("models");
    assert!(models.iter().any(|m| m["model"] == NOVA));
    // The icons arrive whole: the bytes of the files in _assets.
    let icon = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/_assets/icon_s_en.svg"
    ))
    .expect("icon");
    assert_eq!(reg.assets.get("icon_s_en.svg"), Some(&icon));
    // Heartbeats follow the registration on the same connection.
    p.wait_first_heartbeat(std::time::Duration::from_secs(15));
}
