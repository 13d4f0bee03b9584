//! Conformance with the official SDK: the declarations and the JSON the binary emits for
//! every action are validated with the pinned `dify_plugin`'s own data models (the pin is
//! `tests/conformance/requirements.txt`; the daemon's Go rules too) by the checkers in
//! `tests/conformance/`, in a venv of Python >= 3.12 this test creates. Every model action
//! the SDK defines is sent to the binary, so a newer SDK's action fails here until the
//! plugin answers it.

mod support;

use std::collections::BTreeMap;
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
            "could not set up the conformance venv (Python >= 3.12 and PyPI are needed; see above)"
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
fn the_readme_names_the_pinned_sdk() {
    // requirements.txt holds the pin; the README repeats it so that readers see which SDK
    // the plugin is checked with. This keeps the two in step (no venv needed).
    let requirements = std::fs::read_to_string(root().join("tests/conformance/requirements.txt"))
        .expect("read requirements.txt");
    let pin = requirements
        .lines()
        .find_map(|l| l.trim().strip_prefix("dify_plugin=="))
        .expect("requirements.txt pins dify_plugin==<version>");
    let readme = std::fs::read_to_string(root().join("README.md")).expect("read README.md");
    assert!(
        readme.contains(&format!("`dify_plugin=={pin}`")),
        "README.md's Tests section should name the pinned SDK, dify_plugin=={pin}"
    );
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
    // The newer controls: native structured output, Claude 5's refusal answered by the
    // fallback model, and GPT-5.x on bedrock-mantle (streamed and blocking).
    let llm = |model: &str, text: &str, stream: bool, params: Value| {
        (
            "invoke_llm",
            support::aws::llm_request(model, &creds, support::aws::user(text), stream, params),
        )
    };
    calls.push(llm(
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        r#"where [[double: {"text": "{\"city\": \"Oslo\"}"}]]"#,
        true,
        json!({"json_schema": "{\"schema\": {\"type\": \"object\"}, \"name\": \"llm_response\"}"}),
    ));
    calls.push(llm(
        "anthropic.claude-sonnet-5",
        r#"help [[double: {"stop_reason": "refusal", "text": "", "only_models": ["anthropic.claude-sonnet-5"]}]]"#,
        true,
        json!({"effort": "low"}),
    ));
    for stream in [true, false] {
        calls.push(llm(
            "openai.gpt-5.4",
            r#"hi [[double: {"reasoning": "hmm", "text": "Hello", "deltas": 2}]]"#,
            stream,
            json!({"reasoning_effort": "low"}),
        ));
    }
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

/// The values of the pinned SDK's `ModelActions` enum: every action the daemon may send a
/// model plugin. Read from the SDK itself rather than listed here, so that moving the pin
/// to an SDK with a new action makes the next test fail until the plugin answers it.
fn sdk_model_actions() -> Vec<String> {
    let out = Command::new(python())
        .args(["tests/conformance/sdk_models.py", "--model-actions"])
        .current_dir(root())
        .output()
        .expect("run sdk_models.py");
    assert!(
        out.status.success(),
        "sdk_models.py --model-actions failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON list of action names")
}

/// What the plugin must answer an action with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    /// One result (a stream of chunks for `invoke_llm`), no error.
    Result,
    /// A model type or feature this provider does not offer: `NotImplementedError` then
    /// `end`. That error type also proves the action is routed: an unknown action gets
    /// a `ValidationError`.
    NotOffered,
}

#[test]
fn every_model_action_of_the_sdk_gets_a_well_formed_answer() {
    let double = support::aws::double();
    let creds = support::aws::key_credentials(&double);
    // The double serves rerank in us-west-2, as Bedrock does.
    let west = support::aws::in_region(&creds, "us-west-2");
    let model = |model: &str, model_type: &str, credentials: &Value| json!({"provider": "bedrock", "model": model, "model_type": model_type, "credentials": credentials});
    let with = support::aws::with;
    let chat = |stream: bool| {
        support::aws::llm_request(
            "anthropic.claude-haiku-4-5-20251001-v1:0",
            &creds,
            support::aws::user(r#"hi [[double: {"text": "Hello there", "deltas": 2}]]"#),
            stream,
            json!({"max_tokens": 64}),
        )
    };
    // One request per action, shaped as the daemon sends it (the transcript has the SDK
    // validate each one with its request model for the action).
    let requests: BTreeMap<&str, (Answer, Value)> = BTreeMap::from([
        (
            "validate_provider_credentials",
            (
                Answer::Result,
                json!({"provider": "bedrock", "credentials": creds}),
            ),
        ),
        (
            "validate_model_credentials",
            (
                Answer::Result,
                model(
                    "mine",
                    "llm",
                    &with(
                        creds.clone(),
                        json!({"inference_profile_id": "amazon.nova-lite-v1:0"}),
                    ),
                ),
            ),
        ),
        ("invoke_llm", (Answer::Result, chat(true))),
        // Polling is an opt-in LLM feature (`features: [polling]`) no model declares.
        ("start_polling", (Answer::NotOffered, chat(false))),
        (
            "check_polling",
            (
                Answer::NotOffered,
                with(
                    model("anthropic.claude-haiku-4-5-20251001-v1:0", "llm", &creds),
                    json!({"plugin_state": {"job": "j-1"}}),
                ),
            ),
        ),
        (
            "get_llm_num_tokens",
            (
                Answer::Result,
                with(
                    model("amazon.nova-lite-v1:0", "llm", &json!({})),
                    json!({"prompt_messages": [{"role": "user", "content": "count me"}], "tools": []}),
                ),
            ),
        ),
        (
            "invoke_text_embedding",
            (
                Answer::Result,
                with(
                    model("amazon.titan-embed-text-v2:0", "text-embedding", &creds),
                    json!({"texts": ["a", "b"], "input_type": "document"}),
                ),
            ),
        ),
        (
            "invoke_multimodal_embedding",
            (
                Answer::Result,
                with(
                    model(
                        "amazon.nova-2-multimodal-embeddings-v1:0",
                        "text-embedding",
                        &creds,
                    ),
                    json!({"documents": [{"content": "a cat", "content_type": "text"}], "input_type": "document"}),
                ),
            ),
        ),
        (
            "get_text_embedding_num_tokens",
            (
                Answer::Result,
                with(
                    model("amazon.titan-embed-text-v2:0", "text-embedding", &json!({})),
                    json!({"texts": ["one two", "three"]}),
                ),
            ),
        ),
        (
            "invoke_rerank",
            (
                Answer::Result,
                with(
                    model("amazon.rerank-v1:0", "rerank", &west),
                    json!({"query": "rust", "docs": ["rust is fast", "tea"], "score_threshold": null, "top_n": null}),
                ),
            ),
        ),
        (
            "invoke_multimodal_rerank",
            (
                Answer::Result,
                with(
                    model("cohere.rerank-v3-5:0", "rerank", &west),
                    json!({"query": {"content": "rust", "content_type": "text"},
                           "docs": [{"content": "rust", "content_type": "text"}], "score_threshold": 0.0, "top_n": 1}),
                ),
            ),
        ),
        (
            "invoke_tts",
            (
                Answer::NotOffered,
                with(
                    model("amazon.polly", "tts", &creds),
                    json!({"content_text": "hello", "voice": "Joanna", "tenant_id": "t-1"}),
                ),
            ),
        ),
        (
            "get_tts_model_voices",
            (
                Answer::NotOffered,
                with(
                    model("amazon.polly", "tts", &creds),
                    json!({"language": "en-US"}),
                ),
            ),
        ),
        (
            "invoke_speech2text",
            (
                Answer::NotOffered,
                // `file` is the audio, hex-encoded ("RIFF").
                with(
                    model("amazon.transcribe", "speech2text", &creds),
                    json!({"file": "52494646"}),
                ),
            ),
        ),
        (
            "invoke_moderation",
            (
                Answer::NotOffered,
                with(
                    model("amazon.guardrail", "moderation", &creds),
                    json!({"text": "hello"}),
                ),
            ),
        ),
        (
            "get_ai_model_schemas",
            (
                Answer::Result,
                model("amazon.nova-lite-v1:0", "llm", &json!({})),
            ),
        ),
    ]);

    let actions = sdk_model_actions();
    let unknown: Vec<&String> = actions
        .iter()
        .filter(|a| !requests.contains_key(a.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "the pinned SDK defines model actions this test sends nothing for: {unknown:?}; \
         add a request here and answer the action in src/actions/mod.rs"
    );
    let dropped: Vec<&&str> = requests
        .keys()
        .filter(|a| !actions.iter().any(|s| s == **a))
        .collect();
    assert!(
        dropped.is_empty(),
        "the pinned SDK no longer defines the model actions {dropped:?}"
    );

    let mut plugin = Plugin::start();
    plugin.wait_first_heartbeat(Duration::from_secs(10));
    let mut transcript = String::new();
    for action in &actions {
        let (answer, fields) = &requests[action.as_str()];
        // The request's `data` exactly as the driver sends it, for the checker.
        let request = support::envelope("", action, fields.clone())["data"].clone();
        let session = plugin.call(action, fields.clone());
        match answer {
            Answer::Result => {
                assert!(
                    session.error().is_none() && !session.items().is_empty(),
                    "{action} should succeed: {session:#?}"
                );
            }
            Answer::NotOffered => {
                let error = session
                    .error()
                    .unwrap_or_else(|| panic!("{action} should fail: {session:#?}"));
                assert_eq!(
                    error["error_type"], "NotImplementedError",
                    "{action} is not routed as an action the provider does not offer: {error}"
                );
            }
        }
        transcript.push_str(
            &json!({"action": action, "request": request, "lines": session.lines}).to_string(),
        );
        transcript.push('\n');
    }
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-every-action.jsonl");
    std::fs::write(&file, transcript).expect("write transcript");
    let report = run_checker(&[
        "tests/conformance/check_responses.py",
        file.to_str().expect("utf8 path"),
    ]);
    assert!(
        report.contains(&format!("{} sessions checked, 0 problems", actions.len())),
        "{report}"
    );
}
