//! Conformance with the official SDK: the declarations and the JSON the binary emits for
//! every action are validated with `dify_plugin` 0.7.4's own data models (and the daemon's
//! Go rules) by the checkers in `tests/conformance/`, in a venv this test creates.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use support::Plugin;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python, created once per test run (reused across runs while the pin holds).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-venv");
        let status = Command::new("bash")
            .arg(root().join("tests/conformance/setup_venv.sh"))
            .arg(&venv)
            .status()
            .expect("run setup_venv.sh");
        assert!(
            status.success(),
            "could not set up the conformance venv (python3 and PyPI are needed)"
        );
        venv.join("bin/python")
    })
}

fn run_checker(args: &[&str]) -> String {
    let out = Command::new(python())
        .args(args)
        .current_dir(root())
        .output()
        .expect("run checker");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "checker {args:?} failed:\n{text}");
    text
}

#[test]
fn the_checkers_catch_what_they_should() {
    // The checkers' own tests prove each rule fails on a bad input.
    run_checker(&["-m", "unittest", "discover", "-s", "tests/conformance"]);
}

#[test]
fn declarations_conform_to_the_sdk_and_the_daemon() {
    let report = run_checker(&["tests/conformance/check_declarations.py", "."]);
    assert!(report.contains(", 0 problems"), "{report}");
}

#[test]
fn every_action_answers_in_the_shapes_the_sdk_accepts() {
    let mut plugin = Plugin::start();
    plugin.wait_first_heartbeat(Duration::from_secs(10));
    let model = |model: &str, model_type: &str| json!({"provider": "bedrock", "model": model, "model_type": model_type, "credentials": {}});
    let with = |mut base: Value, extra: Value| {
        if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
            b.extend(e);
        }
        base
    };
    let calls: Vec<(&str, Value)> = vec![
        (
            "get_ai_model_schemas",
            model("anthropic.claude-sonnet-4-5-20250929-v1:0", "llm"),
        ),
        (
            "get_ai_model_schemas",
            model("amazon.nova-lite-v1:0", "llm"),
        ),
        (
            "get_ai_model_schemas",
            model("amazon.titan-embed-text-v2:0", "text-embedding"),
        ),
        (
            "get_ai_model_schemas",
            model("amazon.rerank-v1:0", "rerank"),
        ),
        ("get_ai_model_schemas", model("unknown.model-v1:0", "llm")),
        (
            "get_ai_model_schemas",
            with(
                model("my-profile", "llm"),
                json!({"credentials": {"inference_profile_id": "us.meta.llama3-1-8b-instruct-v1:0", "context_length": "128000"}}),
            ),
        ),
        (
            "get_ai_model_schemas",
            with(
                model("my-embedder", "text-embedding"),
                json!({"credentials": {"inference_profile_id": "amazon.titan-embed-text-v2:0"}}),
            ),
        ),
        (
            "get_ai_model_schemas",
            with(
                model("my-reranker", "rerank"),
                json!({"credentials": {"inference_profile_id": "cohere.rerank-v3-5:0"}}),
            ),
        ),
        (
            "invoke_llm",
            with(
                model("amazon.nova-lite-v1:0", "llm"),
                json!({"model_parameters": {"temperature": 9}, "prompt_messages": [{"role": "user", "content": "hi"}], "stream": true}),
            ),
        ),
        (
            "invoke_text_embedding",
            with(
                model("nope", "text-embedding"),
                json!({"texts": ["a"], "input_type": "document"}),
            ),
        ),
        (
            "invoke_rerank",
            with(
                model("amazon.rerank-v1:0", "rerank"),
                json!({"docs": ["a"]}),
            ),
        ),
        ("invoke_tts", model("x", "tts")),
    ];
    // Chat answers from the Bedrock test double: streamed, blocking, tool calls, reasoning,
    // a mid-stream failure and an AWS error.
    let double = support::aws::double();
    let creds = support::aws::key_credentials(&double);
    let chat = |marker: &str, stream: bool| {
        let mut req = support::aws::llm_request(
            "anthropic.claude-haiku-4-5-20251001-v1:0",
            &creds,
            support::aws::user(&format!("hi [[double: {marker}]]")),
            stream,
            json!({"max_tokens": 512}),
        );
        req["tools"] = json!([{"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {}}}]);
        ("invoke_llm", req)
    };
    let mut calls = calls;
    for stream in [true, false] {
        calls.push(chat(r#"{"text": "Hello there", "deltas": 3, "usage": {"input_tokens": 9, "output_tokens": 3, "cache_read_input_tokens": 4}}"#, stream));
        calls.push(chat(r#"{"tool_calls": [{"name": "get_weather", "input": {"city": "Oslo"}}, {"name": "get_weather", "input": {"city": "Rome"}}]}"#, stream));
        calls.push(chat(
            r#"{"reasoning": "thinking", "signature": "s", "text": "done", "deltas": 2}"#,
            stream,
        ));
        calls.push(chat(
            r#"{"error": {"status": 429, "type": "ThrottlingException", "message": "slow"}}"#,
            stream,
        ));
    }
    calls.push(chat(r#"{"text": "a b c", "deltas": 3, "exception": {"after": 3, "type": "internalServerException"}}"#, true));
    calls.push((
        "get_llm_num_tokens",
        json!({"provider": "bedrock", "model": "amazon.nova-lite-v1:0", "model_type": "llm", "credentials": {},
               "prompt_messages": [{"role": "user", "content": "count me"}], "tools": []}),
    ));
    // Embedding, rerank and validation answers from the double (these must succeed).
    let mut must_succeed = Vec::new();
    let west = support::aws::with(creds.clone(), json!({"aws_region": "us-west-2"}));
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    for (action, fields) in [
        (
            "invoke_text_embedding",
            json!({"model": "amazon.titan-embed-text-v2:0", "model_type": "text-embedding", "credentials": creds, "texts": ["a", "b"], "input_type": "document"}),
        ),
        (
            "invoke_text_embedding",
            json!({"model": "cohere.embed-english-v3", "model_type": "text-embedding", "credentials": creds, "texts": ["a", "b", "c"], "input_type": "query"}),
        ),
        (
            "invoke_multimodal_embedding",
            json!({"model": "amazon.nova-2-multimodal-embeddings-v1:0", "model_type": "text-embedding", "credentials": creds,
            "documents": [{"content": "a cat", "content_type": "text"}, {"content": png, "content_type": "image"}], "input_type": "document"}),
        ),
        (
            "get_text_embedding_num_tokens",
            json!({"model": "amazon.titan-embed-text-v2:0", "model_type": "text-embedding", "credentials": {}, "texts": ["one two", "three"]}),
        ),
        (
            "invoke_rerank",
            json!({"model": "amazon.rerank-v1:0", "model_type": "rerank", "credentials": west, "query": "rust", "docs": ["rust is fast", "tea"], "score_threshold": 0, "top_n": 0}),
        ),
        (
            "invoke_multimodal_rerank",
            json!({"model": "cohere.rerank-v3-5:0", "model_type": "rerank", "credentials": west,
            "query": {"content": "rust", "content_type": "text"}, "docs": [{"content": "rust", "content_type": "text"}], "score_threshold": 0.0, "top_n": 1}),
        ),
        (
            "validate_provider_credentials",
            json!({"credentials": creds}),
        ),
        (
            "validate_model_credentials",
            json!({"model": "mine", "model_type": "llm", "credentials": support::aws::with(creds.clone(), json!({"inference_profile_id": "amazon.nova-lite-v1:0"}))}),
        ),
    ] {
        must_succeed.push(calls.len());
        calls.push((
            action,
            support::aws::with(json!({"provider": "bedrock"}), fields),
        ));
    }
    let expected = calls.len();
    let mut transcript = String::new();
    for (i, (action, fields)) in calls.into_iter().enumerate() {
        let session = plugin.call(action, fields);
        if must_succeed.contains(&i) {
            assert!(session.error().is_none(), "{action}: {:?}", session.error());
        }
        transcript.push_str(&json!({"action": session.action, "lines": session.lines}).to_string());
        transcript.push('\n');
    }
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-sessions.jsonl");
    std::fs::write(&file, transcript).expect("write transcript");
    let report = run_checker(&[
        "tests/conformance/check_responses.py",
        file.to_str().expect("utf8 path"),
    ]);
    assert!(
        report.contains(&format!("{expected} sessions checked, 0 problems")),
        "{report}"
    );
}
