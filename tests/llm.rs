//! End-to-end tests of `invoke_llm` and `get_llm_num_tokens` through the built binary and
//! the real AWS SDK against the Bedrock test double: what the plugin sent to Bedrock
//! (recorded bodies) and what it emitted to Dify (chunks checked by the daemon's rules).

mod support;

use std::time::{Duration, Instant};

use bedrock_double::{Operation, RecordedRequest};
use serde_json::{Value, json};
use support::aws::{double, key_credentials, llm_request, user, with};
use support::{Plugin, Session};

const NOVA: &str = "amazon.nova-lite-v1:0";
/// Priced at 0.001 / 0.005 per 1K tokens; called through its global profile by default.
const HAIKU: &str = "anthropic.claude-haiku-4-5-20251001-v1:0";
const SECS: fn(u64) -> Duration = Duration::from_secs;

fn plugin() -> Plugin {
    // One attempt and a short idle timeout keep error tests fast.
    let p = Plugin::start_with(&[
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "1"),
        ("DIFY_BEDROCK_STREAM_IDLE_TIMEOUT_SECS", "2"),
    ]);
    p.wait_first_heartbeat(SECS(10));
    p
}

fn text_of(s: &Session) -> String {
    s.items()
        .iter()
        .filter_map(|c| c["delta"]["message"]["content"].as_str())
        .collect()
}

fn last(s: &Session) -> Value {
    s.items()
        .last()
        .map(|v| (*v).clone())
        .unwrap_or(Value::Null)
}

fn tool_calls(s: &Session) -> Vec<Value> {
    s.items()
        .iter()
        .flat_map(|c| {
            c["delta"]["message"]["tool_calls"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// The model calls the double received: Converse, and bedrock-mantle's Responses API
/// for the families it serves.
fn converse_bodies(d: &bedrock_double::Double) -> Vec<RecordedRequest> {
    d.requests()
        .into_iter()
        .filter(|r| {
            matches!(
                r.operation,
                Operation::Converse | Operation::ConverseStream | Operation::CreateResponse
            )
        })
        .collect()
}

#[test]
fn streaming_text_arrives_as_deltas_with_usage_and_price_at_the_end() {
    let d = double();
    let mut p = plugin();
    let prompt = r#"Say hi [[double: {"text": "Hello there, friend!", "deltas": 4, "usage": {"input_tokens": 1000, "output_tokens": 50}}]]"#;
    let s = p.call(
        "invoke_llm",
        llm_request(
            HAIKU,
            &key_credentials(&d),
            user(prompt),
            true,
            json!({"max_tokens": 200, "temperature": 0.5}),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    let items = s.items();
    assert_eq!(
        items.len(),
        5,
        "4 text deltas and the final chunk: {items:#?}"
    );
    for (i, chunk) in items.iter().enumerate() {
        assert_eq!(chunk["delta"]["index"], i as u64);
        assert_eq!(chunk["model"], HAIKU);
    }
    assert_eq!(text_of(&s), "Hello there, friend!");
    let end = last(&s);
    assert_eq!(end["delta"]["finish_reason"], "stop");
    let usage = &end["delta"]["usage"];
    assert_eq!(
        (
            usage["prompt_tokens"].as_u64(),
            usage["completion_tokens"].as_u64()
        ),
        (Some(1000), Some(50))
    );
    assert_eq!(usage["prompt_unit_price"], "0.001");
    assert_eq!(usage["prompt_price"], "0.0010000");
    assert_eq!(usage["completion_price"], "0.0002500");
    assert_eq!(usage["total_price"], "0.0012500");
    assert!(usage["latency"].as_f64().is_some_and(|l| l > 0.0));

    let sent = converse_bodies(&d);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].operation, Operation::ConverseStream);
    assert_eq!(
        sent[0].model_id.as_deref(),
        Some(format!("global.{HAIKU}").as_str())
    );
    assert_eq!(
        sent[0].body["inferenceConfig"],
        json!({"maxTokens": 200, "temperature": 0.5})
    );
    assert_eq!(sent[0].body["messages"][0]["content"][0]["text"], prompt);
}

#[test]
fn blocking_answers_in_one_chunk_with_the_whole_message() {
    let d = double();
    let mut p = plugin();
    let prompt = r#"[[double: {"text": "All at once.", "usage": {"input_tokens": 10, "output_tokens": 4}}]]"#;
    let s = p.call(
        "invoke_llm",
        llm_request(NOVA, &key_credentials(&d), user(prompt), false, json!({})),
    );
    let items = s.items();
    assert_eq!(items.len(), 1, "{s:#?}");
    assert_eq!(items[0]["delta"]["index"], 0);
    assert_eq!(items[0]["delta"]["message"]["content"], "All at once.");
    assert_eq!(items[0]["delta"]["usage"]["total_tokens"], 14);
    assert_eq!(converse_bodies(&d)[0].operation, Operation::Converse);
}

fn tool_request(d: &bedrock_double::Double, stream: bool, marker: &str) -> Value {
    with(
        llm_request(
            NOVA,
            &key_credentials(d),
            user(&format!("Weather in Paris and Rome? {marker}")),
            stream,
            json!({}),
        ),
        json!({"tools": [
            {"name": "get_weather", "description": "Weather for a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            {"name": "get_time", "description": "", "parameters": {}}
        ]}),
    )
}

#[test]
fn every_parallel_tool_call_is_emitted_complete_in_both_modes() {
    let d = double();
    let mut p = plugin();
    let marker = r#"[[double: {"tool_calls": [{"name": "get_weather", "input": {"city": "Paris"}, "id": "t1", "chunks": 3}, {"name": "get_weather", "input": {"city": "Rome"}, "id": "t2"}]}]]"#;
    for stream in [true, false] {
        let s = p.call("invoke_llm", tool_request(&d, stream, marker));
        let calls = tool_calls(&s);
        assert_eq!(calls.len(), 2, "stream={stream}: {s:#?}");
        for (call, (id, city)) in calls.iter().zip([("t1", "Paris"), ("t2", "Rome")]) {
            assert_eq!(call["id"], id);
            assert_eq!(call["type"], "function");
            assert_eq!(call["function"]["name"], "get_weather");
            let args: Value =
                serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or(""))
                    .expect("JSON arguments");
            assert_eq!(args, json!({"city": city}));
        }
        assert_eq!(last(&s)["delta"]["finish_reason"], "tool_calls");
    }
    let sent = converse_bodies(&d);
    let tools = &sent[0].body["toolConfig"]["tools"];
    assert_eq!(tools[0]["toolSpec"]["name"], "get_weather");
    assert_eq!(
        tools[0]["toolSpec"]["inputSchema"]["json"]["required"],
        json!(["city"])
    );
    // An empty schema is sent as an empty object schema, and no empty description.
    assert_eq!(
        tools[1]["toolSpec"]["inputSchema"]["json"],
        json!({"type": "object", "properties": {}})
    );
    assert!(tools[1]["toolSpec"].get("description").is_none());
    assert_eq!(
        sent[0].body["toolConfig"]["toolChoice"],
        json!({"auto": {}})
    );
}

#[test]
fn reasoning_is_wrapped_in_think_tags() {
    let d = double();
    let mut p = plugin();
    let prompt =
        r#"[[double: {"reasoning": "Let me think about it.", "signature": "sig", "text": "42"}]]"#;
    for stream in [true, false] {
        let s = p.call(
            "invoke_llm",
            llm_request(NOVA, &key_credentials(&d), user(prompt), stream, json!({})),
        );
        assert_eq!(
            text_of(&s),
            "<think>\nLet me think about it.\n</think>\n42",
            "stream={stream}"
        );
    }
}

#[test]
fn history_maps_to_converse_messages() {
    let d = double();
    let mut p = plugin();
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let messages = json!([
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": [
            {"type": "text", "data": "What is in this picture and this file?"},
            {"type": "image", "format": "png", "base64_data": png, "mime_type": "image/png", "url": "", "filename": ""},
            {"type": "document", "format": "pdf", "base64_data": "JVBERi0xLjQKJcOkw7zDtsOfCg==", "mime_type": "application/pdf", "url": "", "filename": "Q3 report: final.pdf"}
        ]},
        {"role": "user", "content": "And be quick."},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
        ]},
        {"role": "tool", "content": "{\"temp\": 21}", "tool_call_id": "call_1"},
        {"role": "tool", "content": "sunny", "tool_call_id": "call_2"},
        {"role": "user", "content": "Thanks [[double: {\"text\": \"ok\"}]]"}
    ]);
    let req = with(
        llm_request(
            HAIKU,
            &key_credentials(&d),
            messages,
            true,
            json!({"top_k": 20, "top_p": 0.5, "max_tokens": 300}),
        ),
        json!({"stop": ["END", ""], "tools": null}),
    );
    let s = p.call("invoke_llm", req);
    assert!(s.error().is_none(), "{s:#?}");
    let body = &converse_bodies(&d)[0].body;
    assert_eq!(body["system"], json!([{"text": "You are terse."}]));
    let msgs = body["messages"].as_array().expect("messages");
    let roles: Vec<&str> = msgs
        .iter()
        .map(|m| m["role"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        roles,
        ["user", "assistant", "user"],
        "same-role turns merged: {body:#}"
    );
    let first = msgs[0]["content"].as_array().expect("content");
    assert_eq!(first[1]["image"]["format"], "png");
    assert_eq!(first[1]["image"]["source"]["bytes"], png);
    assert_eq!(first[2]["document"]["format"], "pdf");
    assert_eq!(first[2]["document"]["name"], "Q3 report final (1)");
    assert_eq!(first[3]["text"], "And be quick.");
    let assistant = msgs[1]["content"].as_array().expect("assistant content");
    assert_eq!(assistant[0]["text"], "Let me check.");
    assert_eq!(
        assistant[1]["toolUse"],
        json!({"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}})
    );
    assert_eq!(assistant[2]["toolUse"]["input"], json!({}));
    let results = msgs[2]["content"].as_array().expect("results");
    assert_eq!(
        results[0]["toolResult"],
        json!({"toolUseId": "call_1", "content": [{"json": {"temp": 21}}]})
    );
    assert_eq!(
        results[1]["toolResult"],
        json!({"toolUseId": "call_2", "content": [{"text": "sunny"}]})
    );
    // History holds tool use but no tool is offered: a placeholder tool keeps Bedrock happy.
    assert_eq!(
        body["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "dify_no_tools_available"
    );
    assert_eq!(
        body["inferenceConfig"],
        json!({"maxTokens": 300, "topP": 0.5, "stopSequences": ["END"]})
    );
    assert_eq!(body["additionalModelRequestFields"], json!({"top_k": 20}));
}

#[test]
fn tool_choice_is_honoured() {
    let d = double();
    let mut p = plugin();
    let cases = [
        (json!({"mode": "auto"}), Some(json!({"auto": {}}))),
        (json!({"mode": "required"}), Some(json!({"any": {}}))),
        (
            json!({"mode": "tool", "name": "get_time"}),
            Some(json!({"tool": {"name": "get_time"}})),
        ),
        (json!({"mode": "none"}), None),
    ];
    for (choice, expected) in cases {
        d.clear_requests();
        let s = p.call(
            "invoke_llm",
            with(tool_request(&d, true, ""), json!({"tool_choice": choice})),
        );
        assert!(s.error().is_none(), "{choice}: {s:#?}");
        let body = &converse_bodies(&d)[0].body;
        match expected {
            Some(c) => assert_eq!(body["toolConfig"]["toolChoice"], c, "{choice}"),
            None => assert!(
                body.get("toolConfig").is_none(),
                "{choice}: no tools at all: {body:#}"
            ),
        }
    }
}

#[test]
fn unsupported_input_is_refused_before_any_call_to_aws() {
    let d = double();
    let mut p = plugin();
    let part = |kind: &str, mime: &str, b64: &str| json!([{"role": "user", "content": [{"type": kind, "mime_type": mime, "base64_data": b64, "format": "", "url": ""}]}]);
    let cases = [
        (
            part("image", "image/tiff", "SUkqAAgAAAA="),
            "image type image/tiff is not supported",
        ),
        (
            part("image", "image/png", "@@not base64@@"),
            "not valid base64",
        ),
        (
            part("document", "application/zip", "UEsDBA=="),
            "document type application/zip is not supported",
        ),
        (
            part("audio", "audio/mp3", "SUQz"),
            "audio content is not supported",
        ),
        (
            json!([{"role": "user", "content": [{"type": "image", "url": "https://example.com/cat.png", "mime_type": "image/png"}]}]),
            "given as a link",
        ),
    ];
    for (messages, needle) in cases {
        let s = p.call(
            "invoke_llm",
            llm_request(NOVA, &key_credentials(&d), messages, true, json!({})),
        );
        let e = s.expect_error();
        assert_eq!(e["error_type"], "InvokeBadRequestError", "{e}");
        assert!(
            e["message"].as_str().unwrap_or("").contains(needle),
            "{e} should say {needle:?}"
        );
        assert_eq!(e["args"]["description"], e["message"]);
    }
    let s = p.call(
        "invoke_llm",
        llm_request(
            HAIKU,
            &key_credentials(&d),
            json!([{"role": "user", "content": "x"}]),
            true,
            json!({"top_k": 900}),
        ),
    );
    assert!(
        s.expect_error()["message"]
            .as_str()
            .unwrap_or("")
            .contains("top_k should be less than or equal to")
    );
    assert!(
        converse_bodies(&d).is_empty(),
        "nothing may reach Bedrock: {:#?}",
        d.requests()
    );
}

#[test]
fn aws_errors_map_to_the_dify_errors_dify_understands() {
    let d = double();
    let mut p = plugin();
    let cases = [
        (403, "AccessDeniedException", "InvokeAuthorizationError"),
        (429, "ThrottlingException", "InvokeRateLimitError"),
        (400, "ServiceQuotaExceededException", "InvokeRateLimitError"),
        (400, "ValidationException", "InvokeBadRequestError"),
        (404, "ResourceNotFoundException", "InvokeBadRequestError"),
        (
            500,
            "InternalServerException",
            "InvokeServerUnavailableError",
        ),
        (
            503,
            "ServiceUnavailableException",
            "InvokeServerUnavailableError",
        ),
        (408, "ModelTimeoutException", "InvokeServerUnavailableError"),
        (424, "ModelErrorException", "InvokeServerUnavailableError"),
        (
            429,
            "ModelNotReadyException",
            "InvokeServerUnavailableError",
        ),
        (
            403,
            "UnrecognizedClientException",
            "InvokeAuthorizationError",
        ),
        (403, "ExpiredTokenException", "InvokeAuthorizationError"),
    ];
    for stream in [true, false] {
        for (status, code, kind) in cases {
            let marker = format!(
                r#"[[double: {{"error": {{"status": {status}, "type": "{code}", "message": "scripted {code}"}}}}]]"#
            );
            let s = p.call(
                "invoke_llm",
                llm_request(NOVA, &key_credentials(&d), user(&marker), stream, json!({})),
            );
            let e = s.expect_error();
            assert_eq!(e["error_type"], kind, "{code} stream={stream}: {e}");
            let message = e["message"].as_str().unwrap_or("");
            assert!(
                message.starts_with("[bedrock] ")
                    && message.contains(code)
                    && message.contains(&format!("scripted {code}")),
                "{message}"
            );
        }
    }
}

#[test]
fn a_stream_failing_after_text_ends_with_error_then_end() {
    let d = double();
    let mut p = plugin();
    let cases = [
        (
            r#"{"text": "one two three four", "deltas": 4, "exception": {"after": 4, "type": "throttlingException", "message": "slow down"}}"#,
            "InvokeRateLimitError",
            "ThrottlingException",
        ),
        (
            r#"{"text": "one two three four", "deltas": 4, "exception": {"after": 4, "type": "modelStreamErrorException", "message": "boom"}}"#,
            "InvokeConnectionError",
            "ModelStreamErrorException",
        ),
        (
            r#"{"text": "one two three four", "deltas": 4, "exception": {"after": 4, "type": "internalServerException"}}"#,
            "InvokeServerUnavailableError",
            "InternalServerException",
        ),
        (
            r#"{"text": "one two three four", "deltas": 4, "exception": {"after": 4, "type": "validationException", "message": "bad"}}"#,
            "InvokeBadRequestError",
            "ValidationException",
        ),
        (
            r#"{"text": "one two three four", "deltas": 4, "drop_after": 4}"#,
            "",
            "broke off",
        ),
        (
            r#"{"text": "one two three four", "deltas": 4, "stall": {"after": 4, "ms": 5000}}"#,
            "InvokeConnectionError",
            "stalled",
        ),
    ];
    for (script, kind, needle) in cases {
        let s = p.call(
            "invoke_llm",
            llm_request(
                NOVA,
                &key_credentials(&d),
                user(&format!("[[double: {script}]]")),
                true,
                json!({}),
            ),
        );
        assert!(!text_of(&s).is_empty(), "some text was sent first: {s:#?}");
        let e = s.expect_error();
        if !kind.is_empty() {
            assert_eq!(e["error_type"], kind, "{script}: {e}");
        }
        assert!(
            e["message"].as_str().unwrap_or("").contains(needle),
            "{script}: {e}"
        );
    }
}

#[test]
fn cache_tokens_count_as_prompt_tokens_at_their_own_price() {
    let d = double();
    let mut p = plugin();
    let prompt = r#"[[double: {"usage": {"input_tokens": 100, "output_tokens": 10, "cache_read_input_tokens": 1000, "cache_write_input_tokens": 200}}]]"#;
    let s = p.call(
        "invoke_llm",
        llm_request(NOVA, &key_credentials(&d), user(prompt), true, json!({})),
    );
    let usage = &last(&s)["delta"]["usage"];
    assert_eq!(usage["prompt_tokens"], 1300);
    assert_eq!(usage["total_tokens"], 1310);
}

#[test]
fn token_counts_need_no_network() {
    let mut p = plugin();
    let s = p.call(
        "get_llm_num_tokens",
        json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "credentials": {},
               "prompt_messages": [{"role": "user", "content": "Hello, world!"}], "tools": []}),
    );
    assert_eq!(s.result()["num_tokens"], 4);
}

#[test]
fn two_hundred_slow_streams_run_concurrently_while_heartbeats_continue() {
    let d = double();
    let mut p = Plugin::start_with(&[("HEARTBEAT_INTERVAL", "1")]);
    p.wait_first_heartbeat(SECS(10));
    // Each stream takes about 2 s (10 events, 200 ms apart); 200 in a row would take 400 s.
    let marker = r#"[[double: {"text": "a b c d e f g h", "deltas": 8, "delay_ms": 200}]]"#;
    let started = Instant::now();
    let ids: Vec<String> = (0..200)
        .map(|_| {
            p.request(
                "invoke_llm",
                llm_request(NOVA, &key_credentials(&d), user(marker), true, json!({})),
            )
        })
        .collect();
    for id in &ids {
        let s = p.wait_session(id, SECS(120));
        assert!(s.error().is_none(), "{s:#?}");
        assert_eq!(text_of(&s), "a b c d e f g h");
    }
    let elapsed = started.elapsed();
    assert!(elapsed < SECS(60), "200 streams of ~2 s took {elapsed:?}");
    let during: Vec<_> = p
        .heartbeats()
        .into_iter()
        .filter(|t| *t >= started)
        .collect();
    assert!(
        during.len() as u64 + 1 >= elapsed.as_secs(),
        "{} heartbeats in {elapsed:?}",
        during.len()
    );
    for pair in during.windows(2) {
        assert!(
            pair[1] - pair[0] < SECS(3),
            "a heartbeat gap of {:?}",
            pair[1] - pair[0]
        );
    }
}

#[test]
fn claude_parameters_map_to_their_fields() {
    let d = double();
    let mut p = plugin();
    let messages = json!([
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "<think>\nprivate\n</think>\nfirst answer"},
        {"role": "user", "content": "second question [[double: {\"text\": \"{}\"}]]"}
    ]);
    let parameters = json!({"reasoning_type": true, "reasoning_budget": 2000, "max_tokens": 4000,
        "system_cache_checkpoint": true, "latest_two_messages_cache_checkpoint": true, "response_format": "JSON"});
    let id = p.request_in_app(
        "invoke_llm",
        llm_request(
            HAIKU,
            &with(
                key_credentials(&d),
                json!({"enable_request_metadata": "enabled"}),
            ),
            messages,
            true,
            parameters,
        ),
        Some("app-42"),
    );
    let s = p.wait_session(&id, SECS(30));
    assert!(s.error().is_none(), "{s:#?}");
    let body = &converse_bodies(&d)[0].body;
    assert_eq!(
        body["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 2000}})
    );
    assert_eq!(body["inferenceConfig"], json!({"maxTokens": 4000}));
    let system = body["system"].as_array().expect("system");
    assert_eq!(system[0]["text"], "Be exact.");
    assert!(
        system[1]["text"]
            .as_str()
            .unwrap_or("")
            .contains("one valid JSON document")
    );
    assert_eq!(system[2], json!({"cachePoint": {"type": "default"}}));
    let msgs = body["messages"].as_array().expect("messages");
    assert_eq!(
        msgs[1]["content"],
        json!([{"text": "first answer"}]),
        "think text is not sent back"
    );
    for i in [0, 2] {
        let content = msgs[i]["content"].as_array().expect("content");
        assert_eq!(
            content.last(),
            Some(&json!({"cachePoint": {"type": "default"}})),
            "user turn {i}"
        );
    }
    assert_eq!(
        body["requestMetadata"],
        json!({"dify_app_id": "app-42", "dify_source": "dify"})
    );
    // Thinking with a non-default temperature is refused before AWS.
    d.clear_requests();
    let s = p.call(
        "invoke_llm",
        llm_request(
            HAIKU,
            &key_credentials(&d),
            user("x"),
            true,
            json!({"reasoning_type": true, "temperature": 0.3}),
        ),
    );
    assert!(
        s.expect_error()["message"]
            .as_str()
            .unwrap_or("")
            .contains("extended thinking needs temperature 1")
    );
    assert!(d.requests().is_empty());
}

#[test]
fn cross_region_choices_resolve_per_region_and_refuse_clearly() {
    let d = double();
    let mut p = plugin();
    let region = |r: &str| with(key_credentials(&d), json!({"aws_region": r}));
    for (r, choice, expected) in [
        ("eu-west-1", "geographic", format!("eu.{HAIKU}")),
        ("us-west-2", "global", format!("global.{HAIKU}")),
        ("ap-northeast-1", "jp", format!("jp.{HAIKU}")),
    ] {
        d.clear_requests();
        let s = p.call(
            "invoke_llm",
            llm_request(
                HAIKU,
                &region(r),
                user("hi"),
                true,
                json!({"cross-region": choice}),
            ),
        );
        assert!(s.error().is_none(), "{r} {choice}: {s:#?}");
        assert_eq!(
            converse_bodies(&d)[0].model_id.as_deref(),
            Some(expected.as_str()),
            "{r} {choice}"
        );
    }
    d.clear_requests();
    let s = p.call(
        "invoke_llm",
        llm_request(
            HAIKU,
            &region("us-east-1"),
            user("hi"),
            true,
            json!({"cross-region": "jp"}),
        ),
    );
    let message = s.expect_error()["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    // Never stricter than AWS: the call is made, and AWS's refusal comes back with the
    // catalogue's advice.
    assert!(
        message.contains("The provided model identifier is invalid"),
        "{message}"
    );
    assert!(
        message
            .contains("no \"jp\" cross-region inference profile that can be called from us-east-1"),
        "{message}"
    );
    assert!(
        message.contains("\"geographic\" or \"global\""),
        "{message}"
    );
    assert_eq!(
        converse_bodies(&d)[0].model_id.as_deref(),
        Some(format!("jp.{HAIKU}").as_str())
    );
}

#[test]
fn each_family_streams_and_blocks() {
    let d = double();
    let mut p = plugin();
    // Llama 3.1 8B runs in-region only in us-west-2: from us-east-1 it takes the us. profile.
    for (model, params) in [
        (HAIKU, json!({"max_tokens": 100})),
        (NOVA, json!({"max_tokens": 100})),
        (
            "meta.llama3-1-8b-instruct-v1:0",
            json!({"max_tokens": 100, "cross-region": "geographic"}),
        ),
    ] {
        for stream in [true, false] {
            d.clear_requests();
            let prompt = r#"[[double: {"text": "family answer", "deltas": 2, "usage": {"input_tokens": 3, "output_tokens": 2}}]]"#;
            let s = p.call(
                "invoke_llm",
                llm_request(
                    model,
                    &key_credentials(&d),
                    user(prompt),
                    stream,
                    params.clone(),
                ),
            );
            assert!(s.error().is_none(), "{model} stream={stream}: {s:#?}");
            assert_eq!(text_of(&s), "family answer", "{model} stream={stream}");
            assert_eq!(last(&s)["delta"]["usage"]["total_tokens"], 5);
            let sent = converse_bodies(&d);
            assert_eq!(
                sent[0].operation,
                if stream {
                    Operation::ConverseStream
                } else {
                    Operation::Converse
                }
            );
            assert_eq!(sent[0].resolved_model.as_deref(), Some(model), "{model}");
        }
    }
}

/// Every catalogue LLM as (family, model, region, cross-region choice, deprecated): a
/// region and a choice that its YAML says work.
fn catalogue_models() -> Vec<(String, String, String, Option<String>, bool)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/llm");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("models/llm")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut all = Vec::new();
    for path in files {
        if path.file_name().is_some_and(|n| n == "_position.yaml") {
            continue;
        }
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).expect("read")).expect("yaml");
        let family = yaml["bedrock"]["family"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let deprecated = yaml["deprecated"].as_bool() == Some(true);
        let model = yaml["model"].as_str().unwrap_or_default().to_string();
        let on_demand = yaml["bedrock"]["on_demand"].as_bool().unwrap_or(true);
        let first = |v: &serde_yaml::Value| {
            v.as_sequence()
                .and_then(|s| s.first())
                .and_then(|r| r.as_str())
                .map(str::to_string)
        };
        let profiles = &yaml["bedrock"]["profiles"];
        let (region, choice) = match (on_demand, first(&yaml["bedrock"]["regions"])) {
            (true, Some(r)) => (r, "disabled"),
            _ => match ["us", "eu", "apac"]
                .iter()
                .find_map(|p| first(&profiles[*p]))
            {
                Some(r) => (r, "geographic"),
                None => match first(&profiles["global"]) {
                    Some(r) => (r, "global"),
                    None => continue,
                },
            },
        };
        let has_rule = yaml["parameter_rules"]
            .as_sequence()
            .is_some_and(|rules| rules.iter().any(|r| r["name"] == "cross-region"));
        let choice = has_rule.then(|| choice.to_string());
        all.push((family, model, region, choice, deprecated));
    }
    all
}

/// The first catalogue model of each family row: a current one where the family has one.
fn one_model_per_family() -> Vec<(String, String, String, Option<String>)> {
    let mut seen: std::collections::BTreeMap<String, (String, String, Option<String>, bool)> =
        Default::default();
    for (family, model, region, choice, deprecated) in catalogue_models() {
        if seen
            .get(&family)
            .is_some_and(|(_, _, _, was_deprecated)| !was_deprecated || deprecated)
        {
            continue;
        }
        seen.insert(family, (model, region, choice, deprecated));
    }
    seen.into_iter()
        .map(|(f, (m, r, c, _))| (f, m, r, c))
        .collect()
}

#[test]
fn every_catalogue_model_answers_with_its_documented_choice() {
    let d = double();
    let mut p = plugin();
    let mut failures = Vec::new();
    for (_, model, region, choice, _) in catalogue_models() {
        d.clear_requests();
        let creds = with(key_credentials(&d), json!({"aws_region": region}));
        let params = choice
            .as_ref()
            .map_or(json!({}), |c| json!({"cross-region": c}));
        let s = p.call(
            "invoke_llm",
            llm_request(&model, &creds, user("hello"), true, params),
        );
        match s.error() {
            Some(e) => failures.push(format!(
                "{model} in {region} ({choice:?}): {}",
                e["message"]
            )),
            None => assert_eq!(
                converse_bodies(&d)[0].resolved_model.as_deref(),
                Some(model.as_str())
            ),
        }
    }
    assert!(
        failures.is_empty(),
        "the catalogue and the double disagree:\n{}",
        failures.join("\n")
    );
}

#[test]
fn one_streaming_call_per_family_in_the_table() {
    let d = double();
    let mut p = plugin();
    let models = one_model_per_family();
    let tested: Vec<&str> = models.iter().map(|(f, ..)| f.as_str()).collect();
    for family in dify_bedrock::bedrock::families::FAMILIES {
        assert!(
            tested.contains(&family.name),
            "no catalogue model of family {} to call: {tested:?}",
            family.name
        );
    }
    for (_, model, region, choice) in models {
        d.clear_requests();
        let creds = with(key_credentials(&d), json!({"aws_region": region}));
        let params = match &choice {
            Some(c) => json!({"cross-region": c}),
            None => json!({}),
        };
        let s = p.call(
            "invoke_llm",
            llm_request(
                &model,
                &creds,
                user(r#"[[double: {"text": "per family", "deltas": 2}]]"#),
                true,
                params,
            ),
        );
        assert!(
            s.error().is_none(),
            "{model} in {region} ({choice:?}): {s:#?}"
        );
        assert_eq!(text_of(&s), "per family", "{model}");
        assert_eq!(
            converse_bodies(&d)[0].resolved_model.as_deref(),
            Some(model.as_str())
        );
    }
}

#[test]
fn thinking_continues_a_tool_loop_without_the_unsigned_turn_failing() {
    let d = double();
    let mut p = plugin();
    let params = json!({"reasoning_type": true, "reasoning_budget": 1024, "max_tokens": 4000});
    let tools = json!({"tools": [{"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]});
    // The first step thinks.
    let s = p.call(
        "invoke_llm",
        with(
            llm_request(
                HAIKU,
                &key_credentials(&d),
                user("Weather in Oslo?"),
                true,
                params.clone(),
            ),
            tools.clone(),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert!(converse_bodies(&d)[0].body["additionalModelRequestFields"]["thinking"].is_object());
    // The next step carries the tool call and its result, with no signed thinking block.
    d.clear_requests();
    let history = json!([
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": "<think>\nI should call the tool.\n</think>\n", "tool_calls": [
            {"id": "tooluse_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
        {"role": "tool", "content": "{\"temp\": 3}", "tool_call_id": "tooluse_1"}
    ]);
    let s = p.call(
        "invoke_llm",
        with(
            llm_request(HAIKU, &key_credentials(&d), history, true, params),
            tools,
        ),
    );
    assert!(
        s.error().is_none(),
        "Bedrock would refuse thinking here: {s:#?}"
    );
    assert!(
        converse_bodies(&d)[0]
            .body
            .get("additionalModelRequestFields")
            .is_none()
    );
}

#[test]
fn video_goes_to_the_models_that_take_it() {
    let d = double();
    let mut p = plugin();
    // The first bytes of an MP4 file (an `ftyp` box): Bedrock is what reads the video.
    let mp4 = "AAAAIGZ0eXBpc29tAAACAGlzb21pc28yYXZjMW1wNDE=";
    let video = |mime: &str| {
        json!([{"role": "user", "content": [
            {"type": "video", "mime_type": mime, "base64_data": mp4, "format": "", "url": ""},
            {"type": "text", "data": "What happens?"}
        ]}])
    };
    let s = p.call(
        "invoke_llm",
        llm_request(
            NOVA,
            &key_credentials(&d),
            video("video/mp4"),
            true,
            json!({}),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    let body = &converse_bodies(&d)[0].body;
    let block = &body["messages"][0]["content"][0]["video"];
    assert_eq!(block["format"], "mp4", "{body:#}");
    assert_eq!(block["source"]["bytes"], mp4);
    // A model without the video feature refuses it by name, before any call.
    d.clear_requests();
    let s = p.call(
        "invoke_llm",
        llm_request(
            "amazon.nova-micro-v1:0",
            &key_credentials(&d),
            video("video/mp4"),
            true,
            json!({}),
        ),
    );
    assert!(
        s.expect_error()["message"]
            .as_str()
            .unwrap_or("")
            .contains("does not accept video"),
        "{s:#?}"
    );
    let s = p.call(
        "invoke_llm",
        llm_request(
            NOVA,
            &key_credentials(&d),
            video("video/x-msvideo"),
            true,
            json!({}),
        ),
    );
    assert!(
        s.expect_error()["message"]
            .as_str()
            .unwrap_or("")
            .contains("video type video/x-msvideo is not supported"),
        "{s:#?}"
    );
    assert!(converse_bodies(&d).is_empty());
}

#[test]
fn a_profile_only_model_called_in_region_gets_awss_refusal_with_the_catalogues_advice() {
    // Claude Haiku 4.5 runs only through profiles as far as the catalogue knows: with
    // cross-region "disabled" the plugin still calls it (AWS may have added it to the
    // region since), and AWS's on-demand refusal comes back with what to choose.
    let d = double();
    let mut p = plugin();
    let s = p.call(
        "invoke_llm",
        llm_request(
            HAIKU,
            &key_credentials(&d),
            user("hi"),
            true,
            json!({"cross-region": "disabled"}),
        ),
    );
    let e = s.expect_error();
    let message = e["message"].as_str().unwrap_or("");
    assert_eq!(e["error_type"], "InvokeBadRequestError");
    assert!(message.contains("on-demand throughput"), "{message}");
    assert!(
        message.contains("can only be called through a cross-region inference profile")
            && message.contains("choose Cross-region inference"),
        "{message}"
    );
    assert_eq!(
        converse_bodies(&d)[0].model_id.as_deref(),
        Some(HAIKU),
        "the call was made"
    );
}
