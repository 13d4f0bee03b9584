//! Converse through the real aws-sdk-bedrockruntime: default answers,
//! scripted answers (reasoning, redacted reasoning, parallel tool calls, cache
//! usage), model resolution errors, body validation, and the request record.

mod common;

use bedrock_double::{
    Double, DoubleConfig, Matcher, Operation, Script, TEST_ACCESS_KEY, TEST_APP_PROFILE_ARN,
    ToolCall, Usage,
};
use br::error::ProvideErrorMetadata;
use br::operation::converse::ConverseError;
use br::types::{
    ContentBlock, ConverseOutput, InferenceConfiguration, ReasoningContentBlock,
    SystemContentBlock, Tool, ToolConfiguration, ToolInputSchema, ToolSpecification,
};
use common::*;
use serde_json::json;

const NOVA: &str = "amazon.nova-lite-v1:0";
const SONNET45_US: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

fn text_of(out: &br::operation::converse::ConverseOutput) -> Vec<String> {
    match out.output() {
        Some(ConverseOutput::Message(m)) => m
            .content()
            .iter()
            .filter_map(|b| b.as_text().ok().cloned())
            .collect(),
        _ => vec![],
    }
}

fn tool() -> Tool {
    Tool::ToolSpec(
        ToolSpecification::builder()
            .name("get_weather")
            .description("Weather")
            .input_schema(ToolInputSchema::Json(json_to_doc(
                &json!({"type":"object"}),
            )))
            .build()
            .expect("tool"),
    )
}

#[tokio::test]
async fn default_answer_is_derived_from_the_last_user_text() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    let out = c
        .converse()
        .model_id(NOVA)
        .system(SystemContentBlock::Text("be terse".into()))
        .messages(user("What is Rust?"))
        .send()
        .await
        .expect("converse");
    assert_eq!(text_of(&out), vec!["You said: What is Rust?".to_string()]);
    assert_eq!(out.stop_reason(), &br::types::StopReason::EndTurn);
    let u = out.usage().expect("usage");
    assert!(u.input_tokens() > 0);
    assert_eq!(u.total_tokens(), u.input_tokens() + u.output_tokens());
    assert_eq!(out.metrics().map(|m| m.latency_ms()), Some(100));

    // Same request, same response.
    let again = c
        .converse()
        .model_id(NOVA)
        .system(SystemContentBlock::Text("be terse".into()))
        .messages(user("What is Rust?"))
        .send()
        .await
        .expect("converse");
    assert_eq!(again.usage(), out.usage());

    let r = d.last_request().expect("recorded");
    assert_eq!(r.operation, Operation::Converse);
    assert_eq!(r.model_id.as_deref(), Some(NOVA));
    assert_eq!(r.path, "/model/amazon.nova-lite-v1%3A0/converse");
    assert_eq!(r.identity, TEST_ACCESS_KEY);
    assert_eq!(r.region.as_deref(), Some("us-east-1"));
    assert_eq!(r.service.as_deref(), Some("bedrock"));
    assert_eq!(r.body["system"][0]["text"], "be terse");
    assert_eq!(r.body["messages"][0]["content"][0]["text"], "What is Rust?");
    assert!(
        r.header("authorization")
            .is_some_and(|a| a.ends_with("Signature=<redacted>"))
    );
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn max_tokens_truncates_like_a_model() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let out = runtime(&d)
        .converse()
        .model_id(NOVA)
        .messages(user(
            "a fairly long question that produces a long echoed answer",
        ))
        .inference_config(InferenceConfiguration::builder().max_tokens(3).build())
        .send()
        .await
        .expect("converse");
    assert_eq!(out.stop_reason(), &br::types::StopReason::MaxTokens);
    assert_eq!(text_of(&out)[0].chars().count(), 12);
}

#[tokio::test]
async fn scripted_reasoning_tools_and_cache_usage() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    d.push_script(
        Matcher::operation(Operation::Converse).and_model(SONNET45_US),
        Script {
            text: Some("Let me check.".into()),
            reasoning: Some("The user wants weather.".into()),
            signature: Some("sig-123".into()),
            tool_calls: vec![
                ToolCall::new("get_weather", json!({"city": "Paris"})),
                ToolCall::new("get_weather", json!({"city": "Rome"})),
            ],
            usage: Some(Usage {
                input_tokens: Some(11),
                output_tokens: Some(22),
                cache_read_input_tokens: Some(5),
                cache_write_input_tokens: Some(7),
            }),
            ..Script::default()
        },
    );
    let out = runtime(&d)
        .converse()
        .model_id(SONNET45_US)
        .messages(user("weather in Paris and Rome?"))
        .tool_config(
            ToolConfiguration::builder()
                .tools(tool())
                .build()
                .expect("tc"),
        )
        .send()
        .await
        .expect("converse");
    let Some(ConverseOutput::Message(m)) = out.output() else {
        panic!("message")
    };
    let blocks = m.content();
    match &blocks[0] {
        ContentBlock::ReasoningContent(ReasoningContentBlock::ReasoningText(r)) => {
            assert_eq!(r.text(), "The user wants weather.");
            assert_eq!(r.signature(), Some("sig-123"));
        }
        other => panic!("expected reasoning, got {other:?}"),
    }
    assert_eq!(
        blocks[1].as_text().ok().map(String::as_str),
        Some("Let me check.")
    );
    let tools: Vec<_> = blocks.iter().filter_map(|b| b.as_tool_use().ok()).collect();
    assert_eq!(tools.len(), 2);
    assert_eq!(doc_to_json(tools[1].input()), json!({"city": "Rome"}));
    assert!(tools[0].tool_use_id().starts_with("tooluse_"));
    assert_ne!(tools[0].tool_use_id(), tools[1].tool_use_id());
    assert_eq!(out.stop_reason(), &br::types::StopReason::ToolUse);
    let u = out.usage().expect("usage");
    assert_eq!((u.input_tokens(), u.output_tokens()), (11, 22));
    assert_eq!(u.cache_read_input_tokens(), Some(5));
    assert_eq!(u.cache_write_input_tokens(), Some(7));
    assert_eq!(
        d.last_request().and_then(|r| r.resolved_model).as_deref(),
        Some("anthropic.claude-sonnet-4-5-20250929-v1:0")
    );
}

#[tokio::test]
async fn redacted_reasoning_and_stop_reason() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    d.script_next(Script {
        redacted: Some("AAECAw==".into()),
        stop_reason: Some("guardrail_intervened".into()),
        ..Script::default()
    });
    let out = runtime(&d)
        .converse()
        .model_id(SONNET45_US)
        .messages(user("hi"))
        .send()
        .await
        .expect("converse");
    let Some(ConverseOutput::Message(m)) = out.output() else {
        panic!("message")
    };
    match &m.content()[0] {
        ContentBlock::ReasoningContent(ReasoningContentBlock::RedactedContent(b)) => {
            assert_eq!(b.as_ref(), &[0u8, 1, 2, 3]);
        }
        other => panic!("expected redacted, got {other:?}"),
    }
    assert_eq!(
        out.stop_reason(),
        &br::types::StopReason::GuardrailIntervened
    );
}

#[tokio::test]
async fn scripted_http_errors_map_to_sdk_variants() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    let cases = [
        (429, "ThrottlingException"),
        (503, "ServiceUnavailableException"),
        (500, "InternalServerException"),
        (424, "ModelErrorException"),
        (408, "ModelTimeoutException"),
        (429, "ModelNotReadyException"),
        (404, "ResourceNotFoundException"),
    ];
    for (status, code) in cases {
        d.script_next(Script::error(status, code, "scripted failure"));
        let e = c
            .converse()
            .model_id(NOVA)
            .messages(user("x"))
            .send()
            .await
            .expect_err("error");
        assert_eq!(e.code(), Some(code));
        assert_eq!(e.message(), Some("scripted failure"));
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(status));
        let se = e.into_service_error();
        let ok = match code {
            "ThrottlingException" => se.is_throttling_exception(),
            "ServiceUnavailableException" => se.is_service_unavailable_exception(),
            "InternalServerException" => se.is_internal_server_exception(),
            "ModelErrorException" => se.is_model_error_exception(),
            "ModelTimeoutException" => se.is_model_timeout_exception(),
            "ModelNotReadyException" => se.is_model_not_ready_exception(),
            _ => se.is_resource_not_found_exception(),
        };
        assert!(ok, "{code} parsed as {se:?}");
    }
}

#[tokio::test]
async fn model_resolution_errors() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    let e = c
        .converse()
        .model_id("anthropic.claude-sonnet-4-5-20250929-v1:0")
        .messages(user("x"))
        .send()
        .await
        .expect_err("profile only");
    assert_eq!(
        e.message(),
        Some(
            "Invocation of model ID anthropic.claude-sonnet-4-5-20250929-v1:0 with on-demand throughput isn\u{2019}t supported. Retry your request with the ID or ARN of an inference profile that contains this model."
        )
    );
    assert!(matches!(
        e.into_service_error(),
        ConverseError::ValidationException(_)
    ));

    let e = c
        .converse()
        .model_id("anthropic.claude-v9")
        .messages(user("x"))
        .send()
        .await
        .expect_err("unknown");
    assert_eq!(
        e.message(),
        Some("The provided model identifier is invalid.")
    );

    // A model not offered in the caller's region is just as invalid.
    let eu = runtime_with(
        &d,
        "eu-west-1",
        TEST_ACCESS_KEY,
        bedrock_double::TEST_SECRET_KEY,
        None,
    );
    let e = eu
        .converse()
        .model_id("amazon.nova-premier-v1:0")
        .messages(user("x"))
        .send()
        .await
        .expect_err("region");
    assert_eq!(
        e.message(),
        Some("The provided model identifier is invalid.")
    );

    // An embedding model cannot converse.
    let e = c
        .converse()
        .model_id("amazon.titan-embed-text-v2:0")
        .messages(user("x"))
        .send()
        .await
        .expect_err("kind");
    assert!(
        e.message()
            .is_some_and(|m| m.contains("doesn't support the model"))
    );

    // Application profile ARN and system profile both resolve.
    let out = c
        .converse()
        .model_id(TEST_APP_PROFILE_ARN)
        .messages(user("x"))
        .send()
        .await
        .expect("app profile");
    assert_eq!(text_of(&out), vec!["You said: x".to_string()]);
    let rec = d.last_request().expect("record");
    assert_eq!(rec.model_id.as_deref(), Some(TEST_APP_PROFILE_ARN));
    assert_eq!(
        rec.resolved_model.as_deref(),
        Some("anthropic.claude-sonnet-4-5-20250929-v1:0")
    );
    assert!(rec.path.contains("arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fdbl0app0prof"));
}

#[tokio::test]
async fn malformed_bodies_get_bedrock_validation_messages() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    // Two user turns in a row.
    let e = c
        .converse()
        .model_id(NOVA)
        .messages(user("a"))
        .messages(user("b"))
        .send()
        .await
        .expect_err("alternate");
    assert_eq!(
        e.message(),
        Some(
            "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."
        )
    );
    // A tool result without a toolConfig.
    let assistant = br::types::Message::builder()
        .role(br::types::ConversationRole::Assistant)
        .content(ContentBlock::ToolUse(
            br::types::ToolUseBlock::builder()
                .tool_use_id("t1")
                .name("get_weather")
                .input(json_to_doc(&json!({})))
                .build()
                .expect("tu"),
        ))
        .build()
        .expect("assistant");
    let result = br::types::Message::builder()
        .role(br::types::ConversationRole::User)
        .content(ContentBlock::ToolResult(
            br::types::ToolResultBlock::builder()
                .tool_use_id("t1")
                .content(br::types::ToolResultContentBlock::Text("sunny".into()))
                .build()
                .expect("tr"),
        ))
        .build()
        .expect("result");
    let e = c
        .converse()
        .model_id(NOVA)
        .messages(user("a"))
        .messages(assistant.clone())
        .messages(result.clone())
        .send()
        .await
        .expect_err("toolConfig");
    assert_eq!(
        e.message(),
        Some(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks."
        )
    );
    assert!(matches!(
        e.into_service_error(),
        ConverseError::ValidationException(_)
    ));
    // With the toolConfig it is accepted.
    c.converse()
        .model_id(NOVA)
        .messages(user("a"))
        .messages(assistant)
        .messages(result)
        .tool_config(
            ToolConfiguration::builder()
                .tools(tool())
                .build()
                .expect("tc"),
        )
        .send()
        .await
        .expect("valid tool round trip");
    // Claude 4.5 rejects temperature together with topP.
    let e = c
        .converse()
        .model_id(SONNET45_US)
        .messages(user("a"))
        .inference_config(
            InferenceConfiguration::builder()
                .temperature(0.5)
                .top_p(0.9)
                .build(),
        )
        .send()
        .await
        .expect_err("exclusive");
    assert!(
        e.message()
            .is_some_and(|m| m.contains("`temperature` and `top_p` cannot both be specified"))
    );
    // Thinking budget must stay below maxTokens.
    let e = c
        .converse()
        .model_id(SONNET45_US)
        .messages(user("a"))
        .inference_config(InferenceConfiguration::builder().max_tokens(1000).build())
        .additional_model_request_fields(json_to_doc(
            &json!({"thinking": {"type": "enabled", "budget_tokens": 2048}}),
        ))
        .send()
        .await
        .expect_err("budget");
    assert!(
        e.message().is_some_and(
            |m| m.contains("`max_tokens` must be greater than `thinking.budget_tokens`")
        )
    );
    // Nova takes top_k only under inferenceConfig.
    let e = c
        .converse()
        .model_id(NOVA)
        .messages(user("a"))
        .additional_model_request_fields(json_to_doc(&json!({"top_k": 5})))
        .send()
        .await
        .expect_err("nova top_k");
    assert_eq!(
        e.message(),
        Some(
            "Malformed input request: #: extraneous key [top_k] is not permitted, please reformat your input and try again."
        )
    );
    // None of the failed requests consumed anything or left scripts behind.
    assert_eq!(d.pending_scripts(), 0);
    assert!(
        d.requests()
            .iter()
            .filter(|r| r.status == 400)
            .all(|r| r.error_code.as_deref() == Some("ValidationException"))
    );
}

#[tokio::test]
async fn agent_rounds_with_thinking_need_signed_reasoning_blocks() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    let thinking = json_to_doc(&json!({"thinking": {"type": "enabled", "budget_tokens": 1024}}));
    let tool_use = ContentBlock::ToolUse(
        br::types::ToolUseBlock::builder()
            .tool_use_id("tooluse_1")
            .name("get_weather")
            .input(json_to_doc(&json!({"city": "Paris"})))
            .build()
            .expect("tu"),
    );
    let result = br::types::Message::builder()
        .role(br::types::ConversationRole::User)
        .content(ContentBlock::ToolResult(
            br::types::ToolResultBlock::builder()
                .tool_use_id("tooluse_1")
                .content(br::types::ToolResultContentBlock::Text(
                    r#"sunny [[double: {"text":"It is sunny in Paris."}]]"#.into(),
                ))
                .build()
                .expect("tr"),
        ))
        .build()
        .expect("result");
    let send = |assistant: br::types::Message| {
        c.converse()
            .model_id(SONNET45_US)
            .messages(user("weather?"))
            .messages(assistant)
            .messages(result.clone())
            .tool_config(
                ToolConfiguration::builder()
                    .tools(tool())
                    .build()
                    .expect("tc"),
            )
            .inference_config(InferenceConfiguration::builder().max_tokens(4096).build())
            .additional_model_request_fields(thinking.clone())
            .send()
    };
    // The reasoning block of the tool-use turn was dropped: Claude refuses.
    let without = br::types::Message::builder()
        .role(br::types::ConversationRole::Assistant)
        .content(tool_use.clone())
        .build()
        .expect("assistant");
    let e = send(without).await.expect_err("missing thinking block");
    assert!(e
        .message()
        .is_some_and(|m| m.contains("messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`")));
    // Replayed with its signature it is accepted, and the marker in the tool
    // result scripts the answer.
    let reasoning = ContentBlock::ReasoningContent(ReasoningContentBlock::ReasoningText(
        br::types::ReasoningTextBlock::builder()
            .text("I should call the tool.")
            .signature("sig-1")
            .build()
            .expect("reasoning"),
    ));
    let with = br::types::Message::builder()
        .role(br::types::ConversationRole::Assistant)
        .content(reasoning)
        .content(tool_use)
        .build()
        .expect("assistant");
    let out = send(with).await.expect("accepted");
    assert_eq!(text_of(&out), vec!["It is sunny in Paris.".to_string()]);
}
