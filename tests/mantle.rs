//! End-to-end tests of OpenAI's GPT-5.x through bedrock-mantle's Responses API: the built
//! binary against the Bedrock test double (`POST /openai/v1/responses`, bearer tokens
//! checked for real). Each test asserts what the plugin sent (the recorded body and
//! identity) and what it emitted to Dify (chunks checked by the daemon's rules).

mod support;

use std::time::Duration;

use bedrock_double::{
    Operation, RecordedRequest, Script, TEST_ACCESS_KEY, TEST_IMDS_ACCESS_KEY, TEST_ROLE_ARN,
    TEST_SESSION_ACCESS_KEY, TEST_SESSION_SECRET_KEY, TEST_SESSION_TOKEN,
};
use serde_json::{Value, json};
use support::aws::{api_key_credentials, double, key_credentials, llm_request, user, with};
use support::{Plugin, Session};

const GPT54: &str = "openai.gpt-5.4";
const GPT55: &str = "openai.gpt-5.5";
const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn plugin() -> Plugin {
    plugin_with(&[])
}

fn plugin_with(extra: &[(&str, &str)]) -> Plugin {
    let mut env = vec![
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "1"),
        ("DIFY_BEDROCK_STREAM_IDLE_TIMEOUT_SECS", "2"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    env.extend_from_slice(extra);
    let p = Plugin::start_with(&env);
    p.wait_first_heartbeat(Duration::from_secs(10));
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

fn responses(d: &bedrock_double::Double) -> Vec<RecordedRequest> {
    d.requests_for(Operation::CreateResponse)
}

fn only_response(d: &bedrock_double::Double) -> RecordedRequest {
    let sent = responses(d);
    assert_eq!(sent.len(), 1, "one Responses call: {sent:#?}");
    assert!(
        d.requests()
            .iter()
            .all(|r| !matches!(r.operation, Operation::Converse | Operation::ConverseStream)),
        "no Converse call for a mantle model"
    );
    sent[0].clone()
}

#[test]
fn streaming_text_arrives_as_deltas_with_usage_and_price() {
    let d = double();
    let mut p = plugin();
    let prompt = r#"Say hi [[double: {"text": "Hello there, friend!", "deltas": 4, "usage": {"input_tokens": 1000, "output_tokens": 50}}]]"#;
    let s = p.call(
        "invoke_llm",
        llm_request(
            GPT54,
            &api_key_credentials(&d),
            user(prompt),
            true,
            json!({"max_tokens": 200, "reasoning_effort": "low"}),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(s.items().len(), 5, "4 deltas and the final chunk: {s:#?}");
    for (i, chunk) in s.items().iter().enumerate() {
        assert_eq!(chunk["delta"]["index"], i as u64);
        assert_eq!(chunk["model"], GPT54);
    }
    assert_eq!(text_of(&s), "Hello there, friend!");
    let end = last(&s);
    assert_eq!(end["delta"]["finish_reason"], "stop");
    let usage = &end["delta"]["usage"];
    assert_eq!(usage["prompt_tokens"], 1000);
    assert_eq!(usage["completion_tokens"], 50);
    // GPT-5.4: $2.75 / $16.50 per 1M tokens.
    assert_eq!(usage["prompt_unit_price"], "0.00275");
    assert_eq!(usage["prompt_price"], "0.0027500");
    assert_eq!(usage["completion_price"], "0.0008250");

    let sent = only_response(&d);
    assert_eq!(sent.path, "/openai/v1/responses");
    assert_eq!(sent.identity, "bearer:double-api-key");
    assert_eq!(
        sent.body,
        json!({
            "model": GPT54,
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}],
            "max_output_tokens": 200,
            "reasoning": {"effort": "low"},
            "stream": true
        })
    );
}

#[test]
fn blocking_answers_in_one_chunk() {
    let d = double();
    let mut p = plugin();
    let s = p.call(
        "invoke_llm",
        llm_request(
            GPT55,
            &api_key_credentials(&d),
            json!([
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": r#"Hi [[double: {"text": "Whole answer", "usage": {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 4}}]]"#}
            ]),
            false,
            json!({"max_tokens": 64, "temperature": 0.3}),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(s.items().len(), 1, "{s:#?}");
    assert_eq!(text_of(&s), "Whole answer");
    let usage = &last(&s)["delta"]["usage"];
    assert_eq!(
        usage["prompt_tokens"], 10,
        "cached tokens count as prompt tokens"
    );
    assert_eq!(usage["completion_tokens"], 3);
    let body = only_response(&d).body;
    assert_eq!(body["stream"], false);
    assert_eq!(body["temperature"], 0.3);
    assert_eq!(body["max_output_tokens"], 64);
    assert_eq!(
        body["input"][0],
        json!({"type": "message", "role": "system", "content": "Be brief."})
    );
    assert!(body.get("reasoning").is_none(), "{body}");
}

fn tools() -> Value {
    json!([
        {"name": "get_weather", "description": "Weather for a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
        {"name": "get_time", "description": "", "parameters": {}}
    ])
}

#[test]
fn a_streamed_tool_call_then_the_follow_up_with_its_result() {
    let d = double();
    let mut p = plugin();
    let marker = r#"[[double: {"tool_calls": [{"name": "get_weather", "input": {"city": "Paris"}, "id": "call_paris", "chunks": 3}, {"name": "get_time", "input": {}, "id": "call_time"}]}]]"#;
    let first = with(
        llm_request(
            GPT54,
            &key_credentials(&d),
            user(&format!("Weather and time? {marker}")),
            true,
            json!({}),
        ),
        json!({"tools": tools(), "tool_choice": {"mode": "required"}}),
    );
    let s = p.call("invoke_llm", first);
    assert!(s.error().is_none(), "{s:#?}");
    let calls = tool_calls(&s);
    assert_eq!(
        calls,
        vec![
            json!({"id": "call_paris", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}),
            json!({"id": "call_time", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}),
        ]
    );
    assert_eq!(last(&s)["delta"]["finish_reason"], "tool_calls");
    let body = only_response(&d).body;
    assert_eq!(body["tool_choice"], "required");
    assert_eq!(
        body["tools"],
        json!([
            {"type": "function", "name": "get_weather", "description": "Weather for a city",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}, "strict": false},
            {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}, "strict": false}
        ])
    );

    d.clear_requests();
    let history = json!([
        {"role": "user", "content": "Weather and time?"},
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "content": "{\"temp\": 21}", "tool_call_id": "call_paris"},
        {"role": "tool", "content": r#"12:00 [[double: {"text": "21 degrees at noon"}]]"#, "tool_call_id": "call_time"}
    ]);
    let follow_up = with(
        llm_request(GPT54, &key_credentials(&d), history, true, json!({})),
        json!({"tools": tools()}),
    );
    let s = p.call("invoke_llm", follow_up);
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(text_of(&s), "21 degrees at noon");
    assert_eq!(last(&s)["delta"]["finish_reason"], "stop");
    let body = only_response(&d).body;
    assert_eq!(
        body["input"],
        json!([
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather and time?"}]},
            {"type": "function_call", "call_id": "call_paris", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call", "call_id": "call_time", "name": "get_time", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_paris", "output": "{\"temp\": 21}"},
            {"type": "function_call_output", "call_id": "call_time", "output": r#"12:00 [[double: {"text": "21 degrees at noon"}]]"#}
        ])
    );
}

#[test]
fn blocking_tool_calls_come_in_the_one_chunk() {
    let d = double();
    let mut p = plugin();
    let marker = r#"[[double: {"tool_calls": [{"name": "get_weather", "input": {"city": "Rome"}, "id": "call_rome"}]}]]"#;
    let req = with(
        llm_request(GPT54, &key_credentials(&d), user(marker), false, json!({})),
        json!({"tools": tools(), "tool_choice": {"mode": "tool", "name": "get_weather"}}),
    );
    let s = p.call("invoke_llm", req);
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(s.items().len(), 1);
    assert_eq!(tool_calls(&s)[0]["id"], "call_rome");
    assert_eq!(last(&s)["delta"]["finish_reason"], "tool_calls");
    assert_eq!(
        only_response(&d).body["tool_choice"],
        json!({"type": "function", "name": "get_weather"})
    );
}

#[test]
fn an_image_goes_as_a_data_url() {
    let d = double();
    let mut p = plugin();
    let messages = json!([{"role": "user", "content": [
        {"type": "text", "data": "What is this?"},
        {"type": "image", "base64_data": PNG_1X1, "mime_type": "image/png", "format": "png"}
    ]}]);
    let s = p.call(
        "invoke_llm",
        llm_request(GPT54, &api_key_credentials(&d), messages, true, json!({})),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(text_of(&s), "You said: What is this?");
    assert_eq!(
        only_response(&d).body["input"][0]["content"],
        json!([
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": format!("data:image/png;base64,{PNG_1X1}")}
        ])
    );
}

#[test]
fn reasoning_is_shown_in_think_tags_and_effort_is_sent() {
    let d = double();
    let mut p = plugin();
    let s = p.call(
        "invoke_llm",
        llm_request(
            GPT54,
            &api_key_credentials(&d),
            user(
                r#"[[double: {"reasoning": "Think first.", "text": "Then answer.", "deltas": 2}]]"#,
            ),
            true,
            json!({"reasoning_effort": "xhigh", "max_tokens": 1000}),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(text_of(&s), "<think>\nThink first.\n</think>\nThen answer.");
    assert_eq!(
        only_response(&d).body["reasoning"],
        json!({"effort": "xhigh"})
    );
}

#[test]
fn an_answer_cut_at_max_tokens_finishes_with_length() {
    let d = double();
    let mut p = plugin();
    for stream in [true, false] {
        let s = p.call(
            "invoke_llm",
            llm_request(
                GPT54,
                &api_key_credentials(&d),
                user(r#"[[double: {"text": "partial", "stop_reason": "max_tokens"}]]"#),
                stream,
                json!({"max_tokens": 16}),
            ),
        );
        assert!(s.error().is_none(), "{s:#?}");
        assert_eq!(
            last(&s)["delta"]["finish_reason"],
            "length",
            "stream={stream}"
        );
    }
}

#[test]
fn access_keys_authenticate_with_a_derived_token_the_double_verifies() {
    let d = double();
    let mut p = plugin();
    for stream in [true, false] {
        let s = p.call(
            "invoke_llm",
            llm_request(
                GPT54,
                &key_credentials(&d),
                user("hello"),
                stream,
                json!({}),
            ),
        );
        assert!(s.error().is_none(), "{s:#?}");
        assert_eq!(text_of(&s), "You said: hello");
    }
    let sent = responses(&d);
    assert_eq!(sent.len(), 2);
    for r in &sent {
        assert_eq!(r.identity, format!("token:{TEST_ACCESS_KEY}"));
        assert_eq!(r.region.as_deref(), Some("us-east-1"));
    }
    let auth: Vec<&str> = sent
        .iter()
        .flat_map(|r| r.headers.iter())
        .filter(|(k, _)| k == "authorization")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(
        auth.iter().all(|v| !v.contains("bedrock-api-key-")),
        "tokens are not recorded: {auth:?}"
    );

    // Temporary keys: the session token is signed into the token.
    let session = json!({
        "auth_method": "Access_Secret_Key",
        "aws_access_key_id": TEST_SESSION_ACCESS_KEY,
        "aws_secret_access_key": TEST_SESSION_SECRET_KEY,
        "aws_session_token": TEST_SESSION_TOKEN,
        "aws_region": "us-east-2",
        "bedrock_mantle_endpoint_url": d.url(),
    });
    d.clear_requests();
    let s = p.call(
        "invoke_llm",
        llm_request(GPT55, &session, user("hi"), true, json!({})),
    );
    assert!(s.error().is_none(), "{s:#?}");
    let sent = only_response(&d);
    assert_eq!(sent.identity, format!("token:{TEST_SESSION_ACCESS_KEY}"));
    assert_eq!(sent.region.as_deref(), Some("us-east-2"));

    // A wrong secret signs a token the double refuses.
    let wrong = with(
        key_credentials(&d),
        json!({"aws_secret_access_key": "not-the-secret-not-the-secret-not-the-s"}),
    );
    let s = p.call(
        "invoke_llm",
        llm_request(GPT54, &wrong, user("hi"), true, json!({})),
    );
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeAuthorizationError", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("invalid_api_key"),
        "{e}"
    );
}

#[test]
fn iam_role_and_assumed_role_credentials_derive_tokens_too() {
    let d = double();
    let url = d.url();
    // IAM Role: the machine's credential chain, here the instance metadata service.
    let mut p = plugin_with(&[
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url),
    ]);
    let iam_role = json!({"auth_method": "IAM_Role", "aws_region": "us-east-2",
        "bedrock_mantle_endpoint_url": d.url()});
    let s = p.call(
        "invoke_llm",
        llm_request(GPT55, &iam_role, user("hi"), true, json!({})),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(
        only_response(&d).identity,
        format!("token:{TEST_IMDS_ACCESS_KEY}")
    );

    // An assumed role: the token is signed with the role's keys, and made once for both
    // calls (cached until shortly before the credentials expire).
    d.clear_requests();
    let mut p = plugin_with(&[("AWS_ENDPOINT_URL_STS", &url)]);
    let creds = with(key_credentials(&d), json!({"aws_role_arn": TEST_ROLE_ARN}));
    for _ in 0..2 {
        let s = p.call(
            "invoke_llm",
            llm_request(GPT54, &creds, user("hi"), true, json!({})),
        );
        assert!(s.error().is_none(), "{s:#?}");
    }
    assert_eq!(d.requests_for(Operation::AssumeRole).len(), 1);
    let issued = d
        .issued_credentials()
        .last()
        .map(|k| k.access_key_id.clone())
        .expect("STS issued keys");
    let identities: Vec<String> = responses(&d).into_iter().map(|r| r.identity).collect();
    assert_eq!(
        identities,
        [format!("token:{issued}"), format!("token:{issued}")]
    );
}

#[test]
fn http_errors_map_to_dify_errors_with_the_apis_message() {
    let d = double();
    let mut p = plugin();
    let wrong_key = with(
        api_key_credentials(&d),
        json!({"bedrock_api_key": "ABSKnot-a-real-key"}),
    );
    let s = p.call(
        "invoke_llm",
        llm_request(GPT54, &wrong_key, user("hi"), true, json!({})),
    );
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeAuthorizationError", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("Please make sure your API Key is valid"),
        "{e}"
    );

    let cases = [
        (429, "rate_limit_exceeded", "InvokeRateLimitError"),
        (400, "invalid_prompt", "InvokeBadRequestError"),
        (500, "server_error", "InvokeServerUnavailableError"),
        (403, "permission_denied", "InvokeAuthorizationError"),
    ];
    for stream in [true, false] {
        for (status, code, kind) in cases {
            let marker = format!(
                r#"[[double: {{"error": {{"status": {status}, "type": "{code}", "message": "scripted {code}"}}}}]]"#
            );
            let s = p.call(
                "invoke_llm",
                llm_request(
                    GPT54,
                    &api_key_credentials(&d),
                    user(&marker),
                    stream,
                    json!({}),
                ),
            );
            let e = s.expect_error();
            assert_eq!(e["error_type"], kind, "{code} stream={stream}: {e}");
            assert_eq!(
                e["message"],
                format!("[bedrock] {code}: scripted {code}"),
                "{e}"
            );
        }
    }

    // The API's own validation: a parameter it does not know is named in its message.
    let s = p.call(
        "invoke_llm",
        llm_request(
            GPT54,
            &api_key_credentials(&d),
            user("hi"),
            true,
            json!({"max_tokens": 1}),
        ),
    );
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeBadRequestError", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("integer_below_min_value: Invalid 'max_output_tokens'"),
        "{e}"
    );
}

#[test]
fn a_stream_failing_after_text_ends_with_an_error() {
    let d = double();
    let mut p = plugin();
    let cases = [
        (
            r#"{"text": "one two three four", "deltas": 4, "exception": {"after": 8, "type": "rate_limit_exceeded", "message": "slow down"}}"#,
            "InvokeRateLimitError",
            "rate_limit_exceeded: slow down",
        ),
        (
            r#"{"text": "one two three four", "deltas": 4, "exception": {"after": 8, "type": "server_error", "message": "boom"}}"#,
            "InvokeServerUnavailableError",
            "server_error: boom",
        ),
        (
            r#"{"text": "one two three four", "deltas": 4, "drop_after": 8}"#,
            "InvokeConnectionError",
            "broke off",
        ),
        (
            r#"{"text": "one two three four", "deltas": 4, "stall": {"after": 8, "ms": 5000}}"#,
            "InvokeConnectionError",
            "stalled",
        ),
    ];
    for (script, kind, needle) in cases {
        let s = p.call(
            "invoke_llm",
            llm_request(
                GPT54,
                &api_key_credentials(&d),
                user(&format!("[[double: {script}]]")),
                true,
                json!({}),
            ),
        );
        assert!(!text_of(&s).is_empty(), "some text was sent first: {s:#?}");
        let e = s.expect_error();
        assert_eq!(e["error_type"], kind, "{script}: {e}");
        let message = e["message"].as_str().unwrap_or("");
        assert!(message.contains(needle), "{script}: {e}");
        if needle != "stalled" {
            assert!(message.contains("the response stream broke off"), "{e}");
        }
    }
}

#[test]
fn throttling_is_retried_before_the_answer() {
    let d = double();
    let mut p = plugin_with(&[
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "3"),
        ("DIFY_BEDROCK_RETRY_BACKOFF_MS", "10"),
    ]);
    d.script_next(Script::error(429, "rate_limit_exceeded", "slow down"));
    d.script_next(Script::error(503, "server_error", "busy"));
    let s = p.call(
        "invoke_llm",
        llm_request(GPT54, &api_key_credentials(&d), user("hi"), true, json!({})),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(text_of(&s), "You said: hi");
    let statuses: Vec<u16> = responses(&d).iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 503, 200]);
}

#[test]
fn unsupported_input_is_refused_before_any_call() {
    let d = double();
    let mut p = plugin();
    let document = json!([{"role": "user", "content": [
        {"type": "document", "base64_data": "JVBERi0xLjQK", "mime_type": "application/pdf"}
    ]}]);
    let s = p.call(
        "invoke_llm",
        llm_request(GPT54, &api_key_credentials(&d), document, true, json!({})),
    );
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeBadRequestError", "{e}");
    assert!(responses(&d).is_empty());
}

#[test]
fn credential_validation_probes_a_mantle_model_with_a_tiny_responses_call() {
    let d = double();
    let mut p = plugin();
    for creds in [api_key_credentials(&d), key_credentials(&d)] {
        d.clear_requests();
        let form = with(creds, json!({"model_for_validation": GPT54}));
        let s = p.call(
            "validate_provider_credentials",
            json!({"provider": "bedrock", "credentials": form}),
        );
        assert!(s.error().is_none(), "{s:#?}");
        assert_eq!(s.result()["result"], true);
        let body = only_response(&d).body;
        assert_eq!(body["model"], GPT54);
        assert_eq!(body["max_output_tokens"], 16);
        assert_eq!(body["stream"], false);
    }
    let form = with(
        api_key_credentials(&d),
        json!({"model_for_validation": GPT54, "bedrock_api_key": "ABSKwrong"}),
    );
    let s = p.call(
        "validate_provider_credentials",
        json!({"provider": "bedrock", "credentials": form}),
    );
    let e = s.expect_error();
    assert_eq!(e["error_type"], "CredentialsValidateFailedError", "{e}");
}

#[test]
fn every_mantle_model_streams_and_counts_tokens() {
    let d = double();
    let mut p = plugin();
    for model in [
        "openai.gpt-5.4",
        "openai.gpt-5.5",
        "openai.gpt-5.6-sol",
        "openai.gpt-5.6-terra",
        "openai.gpt-5.6-luna",
    ] {
        d.clear_requests();
        let s = p.call(
            "invoke_llm",
            llm_request(
                model,
                &api_key_credentials(&d),
                user(r#"[[double: {"text": "per model", "deltas": 2}]]"#),
                true,
                json!({"max_tokens": 4096, "reasoning_effort": "medium"}),
            ),
        );
        assert!(s.error().is_none(), "{model}: {s:#?}");
        assert_eq!(text_of(&s), "per model", "{model}");
        assert_eq!(only_response(&d).body["model"], model);

        let s = p.call(
            "get_llm_num_tokens",
            json!({"provider": "bedrock", "model": model, "model_type": "llm",
                   "credentials": api_key_credentials(&d),
                   "prompt_messages": [{"role": "user", "content": "Hello, world!"}], "tools": []}),
        );
        assert!(s.error().is_none(), "{model}: {s:#?}");
        assert_eq!(s.result()["num_tokens"], 4, "{model}");
    }
}
