//! What the newest models take, through the built binary and the Bedrock double: Claude's
//! beta flags (the 1M-token context window), adaptive thinking with an effort on the
//! models that reject budgets, Claude 5's refusal fallback, and the reasoning effort of
//! gpt-oss and Nova 2 Lite — each asserted in the request sent to Bedrock and in the
//! chunks Dify receives.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::aws::{converse_bodies, double, in_region, key_credentials, llm_request, user};
use support::{Plugin, Session};

const SONNET_45: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const HAIKU_45: &str = "anthropic.claude-haiku-4-5-20251001-v1:0";
const SONNET_5: &str = "anthropic.claude-sonnet-5";
const OPUS_48: &str = "anthropic.claude-opus-4-8";

fn plugin() -> Plugin {
    let p = Plugin::start_with(&[("DIFY_BEDROCK_MAX_ATTEMPTS", "1")]);
    p.wait_first_heartbeat(Duration::from_secs(10));
    p
}

fn schema(p: &mut Plugin, model: &str) -> Value {
    p.call(
        "get_ai_model_schemas",
        json!({"provider": "bedrock", "model": model, "model_type": "llm", "credentials": {}}),
    )
    .result()["model_schema"]
        .clone()
}

fn rule<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
    schema["parameter_rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["name"] == name))
}

#[test]
fn anthropic_beta_flags_and_the_1m_context_window() {
    let d = double();
    let mut p = plugin();
    // Sonnet 4.5 reaches 1M tokens with the beta flag, which is on by default.
    let sonnet = schema(&mut p, SONNET_45);
    assert_eq!(sonnet["model_properties"]["context_size"], 1_000_000);
    assert_eq!(
        rule(&sonnet, "anthropic_beta").map(|r| &r["default"]),
        Some(&json!("context-1m-2025-08-07"))
    );
    let creds = key_credentials(&d);
    let s = p.call(
        "invoke_llm",
        llm_request(
            SONNET_45,
            &creds,
            user("hi"),
            true,
            json!({"anthropic_beta": "context-1m-2025-08-07"}),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    let body = &converse_bodies(&d)[0].body;
    assert_eq!(
        body["additionalModelRequestFields"]["anthropic_beta"],
        json!(["context-1m-2025-08-07"])
    );
    // A comma-separated list, as Dify users type it, becomes a list.
    d.clear_requests();
    let s = p.call(
        "invoke_llm",
        llm_request(HAIKU_45, &creds, user("hi"), false, json!({"anthropic_beta": " interleaved-thinking-2025-05-14 , token-efficient-tools-2025-02-19,"})),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(
        converse_bodies(&d)[0].body["additionalModelRequestFields"]["anthropic_beta"],
        json!([
            "interleaved-thinking-2025-05-14",
            "token-efficient-tools-2025-02-19"
        ])
    );
    // Unset: no flag is sent (Haiku's rule has no default).
    d.clear_requests();
    p.call(
        "invoke_llm",
        llm_request(HAIKU_45, &creds, user("hi"), true, json!({})),
    );
    assert!(
        converse_bodies(&d)[0].body["additionalModelRequestFields"]
            .get("anthropic_beta")
            .is_none()
    );
}

#[test]
fn effort_switches_on_adaptive_thinking_where_budgets_are_rejected() {
    let d = double();
    let mut p = plugin();
    for model in [
        "anthropic.claude-opus-4-8",
        "anthropic.claude-opus-5",
        SONNET_5,
    ] {
        let decl = schema(&mut p, model);
        assert!(
            rule(&decl, "reasoning_budget").is_none(),
            "{model} takes no budget"
        );
        assert!(
            rule(&decl, "temperature").is_none(),
            "{model} takes no temperature"
        );
        assert_eq!(
            rule(&decl, "effort").map(|r| &r["default"]),
            Some(&json!("high"))
        );
        d.clear_requests();
        let s = p.call(
            "invoke_llm",
            llm_request(
                model,
                &key_credentials(&d),
                user(r#"think [[double: {"reasoning": "Let me see.", "text": "Done."}]]"#),
                true,
                json!({"effort": "max", "max_tokens": 2000}),
            ),
        );
        assert!(s.error().is_none(), "{model}: {s:#?}");
        assert_eq!(s.text(), "<think>\nLet me see.\n</think>\nDone.", "{model}");
        let body = &converse_bodies(&d)[0].body;
        let extra = &body["additionalModelRequestFields"];
        assert_eq!(extra["thinking"], json!({"type": "adaptive"}), "{model}");
        assert_eq!(extra["output_config"], json!({"effort": "max"}), "{model}");
        assert!(body["inferenceConfig"].get("temperature").is_none());
    }
}

#[test]
fn a_claude_5_refusal_is_answered_by_the_fallback_model() {
    let d = double();
    let mut p = plugin();
    let creds = key_credentials(&d);
    // Sonnet 5 refuses; Opus 4.8 answers the same request.
    let refuses = format!(
        r#"help [[double: {{"stop_reason": "refusal", "text": "", "only_models": ["{SONNET_5}"]}}]]"#
    );
    for stream in [true, false] {
        d.clear_requests();
        let s = p.call(
            "invoke_llm",
            llm_request(SONNET_5, &creds, user(&refuses), stream, json!({})),
        );
        assert!(s.error().is_none(), "{s:#?}");
        let bodies = converse_bodies(&d);
        let called: Vec<&str> = bodies
            .iter()
            .filter_map(|b| b.resolved_model.as_deref())
            .collect();
        assert_eq!(called, [SONNET_5, OPUS_48], "stream {stream}");
        // Called the same way: the same global profile.
        assert_eq!(
            bodies[1].model_id.as_deref(),
            Some("global.anthropic.claude-opus-4-8")
        );
        assert_eq!(bodies[0].body["messages"], bodies[1].body["messages"]);
        // The chunks name the model that answered, and only its answer is shown.
        assert!(
            s.items()
                .iter()
                .all(|c| c["model"] == "global.anthropic.claude-opus-4-8")
        );
        assert!(!s.text().is_empty());
        let last = s
            .items()
            .last()
            .map(|c| c["delta"]["finish_reason"].clone());
        assert_eq!(last, Some(json!("stop")));
    }
    // Switched off: the refusal is reported as a content filter, with no second call.
    d.clear_requests();
    let s = p.call(
        "invoke_llm",
        llm_request(
            SONNET_5,
            &creds,
            user(&refuses),
            true,
            json!({"refusal_fallback": false}),
        ),
    );
    assert_eq!(converse_bodies(&d).len(), 1);
    let finish = s
        .items()
        .last()
        .map(|c| c["delta"]["finish_reason"].clone());
    assert_eq!(finish, Some(json!("refusal")));
    // After text was shown, a refusal cannot be retried: a clear error says so.
    d.clear_requests();
    let late = format!(
        r#"help [[double: {{"stop_reason": "refusal", "text": "Sure, the first", "deltas": 2, "only_models": ["{SONNET_5}"]}}]]"#
    );
    let s = p.call(
        "invoke_llm",
        llm_request(SONNET_5, &creds, user(&late), true, json!({})),
    );
    let e = s.expect_error();
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("refused this request")
            && e["message"]
                .as_str()
                .unwrap_or("")
                .contains("already shown"),
        "{e}"
    );
    assert_eq!(converse_bodies(&d).len(), 1);
}

#[test]
fn reasoning_effort_for_gpt_oss_and_nova_2_lite() {
    let d = double();
    let mut p = plugin();
    for (model, region, expected) in [
        (
            "openai.gpt-oss-120b-1:0",
            "us-west-2",
            json!({"reasoning_effort": "high"}),
        ),
        (
            "amazon.nova-2-lite-v1:0",
            "us-east-1",
            json!({"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "high"}}),
        ),
    ] {
        d.clear_requests();
        let creds = in_region(&key_credentials(&d), region);
        let s = p.call(
            "invoke_llm",
            llm_request(
                model,
                &creds,
                user("hi"),
                true,
                json!({"reasoning_effort": "high"}),
            ),
        );
        assert!(s.error().is_none(), "{model}: {s:#?}");
        assert_eq!(
            converse_bodies(&d)[0].body["additionalModelRequestFields"],
            expected,
            "{model}"
        );
        // Unset, nothing is sent: the model's own default applies.
        d.clear_requests();
        p.call(
            "invoke_llm",
            llm_request(model, &creds, user("hi"), true, json!({})),
        );
        assert!(
            converse_bodies(&d)[0]
                .body
                .get("additionalModelRequestFields")
                .is_none(),
            "{model}"
        );
    }
}

/// The chunk that carries the answer's signed reasoning for the next turn.
fn opaque_body(s: &Session) -> Value {
    let carrying: Vec<&Value> = s
        .items()
        .into_iter()
        .filter(|c| c["delta"]["message"].get("opaque_body").is_some())
        .collect();
    assert_eq!(carrying.len(), 1, "one chunk carries the reasoning: {s:#?}");
    assert!(
        !carrying[0]["delta"]["finish_reason"].is_null(),
        "the last one"
    );
    carrying[0]["delta"]["message"]["opaque_body"].clone()
}

#[test]
fn signed_thinking_is_carried_through_an_agent_tool_loop() {
    let d = double();
    let mut p = plugin();
    let creds = key_credentials(&d);
    let tools = json!([{"name": "get_weather", "description": "Weather",
                        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let params = json!({"reasoning_type": true, "reasoning_budget": 1024, "max_tokens": 4000});
    for stream in [true, false] {
        d.clear_requests();
        // Step 1: the model thinks (signed, plus a redacted block), then calls a tool.
        let first = p.call(
            "invoke_llm",
            support::aws::with(
                llm_request(
                    HAIKU_45,
                    &creds,
                    user(r#"Weather in Paris? [[double: {"reasoning": "I need the tool.", "signature": "c2lnLTE=", "redacted": "AAECAw==", "tool_calls": [{"name": "get_weather", "input": {"city": "Paris"}, "id": "tool1"}]}]]"#),
                    stream,
                    params.clone(),
                ),
                json!({"tools": tools}),
            ),
        );
        assert!(first.error().is_none(), "{first:#?}");
        let body = opaque_body(&first);
        assert_eq!(
            body,
            json!({"bedrock_reasoning": [
                {"text": "I need the tool.", "signature": "c2lnLTE="},
                {"redacted": "AAECAw=="}
            ]}),
            "stream {stream}"
        );
        let shown: String = first
            .items()
            .iter()
            .filter_map(|c| c["delta"]["message"]["content"].as_str())
            .collect();
        // Step 2: Dify sends the assistant turn back with its opaque_body, then the result.
        let history = json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": shown, "opaque_body": body,
             "tool_calls": [{"id": "tool1", "type": "function",
                             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
            {"role": "tool", "content": "{\"temp\": 21}", "tool_call_id": "tool1"}
        ]);
        d.clear_requests();
        let second = p.call(
            "invoke_llm",
            support::aws::with(
                llm_request(HAIKU_45, &creds, history, stream, params.clone()),
                json!({"tools": tools}),
            ),
        );
        assert!(second.error().is_none(), "{second:#?}");
        let sent = &converse_bodies(&d)[0].body;
        // Thinking stays on for the whole run...
        assert_eq!(
            sent["additionalModelRequestFields"]["thinking"],
            json!({"type": "enabled", "budget_tokens": 1024}),
            "stream {stream}: {sent:#}"
        );
        // ...because the tool-use turn starts with the model's own signed blocks.
        let assistant = &sent["messages"][1]["content"];
        assert_eq!(
            assistant[0]["reasoningContent"]["reasoningText"],
            json!({"text": "I need the tool.", "signature": "c2lnLTE="})
        );
        assert_eq!(
            assistant[1]["reasoningContent"]["redactedContent"],
            "AAECAw=="
        );
        assert!(assistant[2].get("toolUse").is_some() || assistant[3].get("toolUse").is_some());
        // The <think> text shown to the user is not sent back as words.
        assert!(!assistant.to_string().contains("<think>"));
    }
}
