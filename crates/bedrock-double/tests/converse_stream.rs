//! ConverseStream through the real SDK's event-stream decoder: deltas with
//! delays, parallel tool calls with split input, reasoning with signature,
//! redacted reasoning, cache usage, mid-stream exceptions as the matching SDK
//! variants, dropped connections, stalls, and throughput.

mod common;

use bedrock_double::{
    Double, DoubleConfig, Matcher, Operation, Script, Stall, StreamException, ToolCall, Usage,
};
use br::types::error::ConverseStreamOutputError;
use br::types::{
    ContentBlockDelta, ContentBlockStart, ConverseStreamOutput, ReasoningContentBlockDelta,
};
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

const CLAUDE: &str = "global.anthropic.claude-sonnet-4-5-20250929-v1:0";

/// Everything a stream delivered, as plain values.
#[derive(Debug, Default)]
struct Collected {
    events: usize,
    text: String,
    reasoning: String,
    signature: Option<String>,
    redacted: Vec<u8>,
    tools: Vec<(String, String, String)>,
    stop: Option<String>,
    usage: Option<br::types::TokenUsage>,
    error: Option<
        br::error::SdkError<ConverseStreamOutputError, aws_smithy_types::event_stream::RawMessage>,
    >,
    arrival: Vec<Instant>,
}

async fn collect(d: &Double, text: &str) -> Collected {
    let c = runtime(d);
    let mut stream = c
        .converse_stream()
        .model_id(CLAUDE)
        .messages(user(text))
        .send()
        .await
        .expect("stream opens")
        .stream;
    let mut out = Collected::default();
    loop {
        match stream.recv().await {
            Ok(Some(ev)) => {
                out.events += 1;
                out.arrival.push(Instant::now());
                match ev {
                    ConverseStreamOutput::ContentBlockDelta(dl) => match dl.delta() {
                        Some(ContentBlockDelta::Text(t)) => out.text.push_str(t),
                        Some(ContentBlockDelta::ToolUse(tu)) => {
                            if let Some(last) = out.tools.last_mut() {
                                last.2.push_str(tu.input());
                            }
                        }
                        Some(ContentBlockDelta::ReasoningContent(
                            ReasoningContentBlockDelta::Text(t),
                        )) => out.reasoning.push_str(t),
                        Some(ContentBlockDelta::ReasoningContent(
                            ReasoningContentBlockDelta::Signature(s),
                        )) => out.signature = Some(s.clone()),
                        Some(ContentBlockDelta::ReasoningContent(
                            ReasoningContentBlockDelta::RedactedContent(b),
                        )) => out.redacted.extend_from_slice(b.as_ref()),
                        _ => {}
                    },
                    ConverseStreamOutput::ContentBlockStart(s) => {
                        if let Some(ContentBlockStart::ToolUse(t)) = s.start() {
                            out.tools.push((
                                t.tool_use_id().to_string(),
                                t.name().to_string(),
                                String::new(),
                            ));
                        }
                    }
                    ConverseStreamOutput::MessageStop(s) => {
                        out.stop = Some(s.stop_reason().as_str().to_string())
                    }
                    ConverseStreamOutput::Metadata(m) => out.usage = m.usage().cloned(),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
    }
    out
}

#[tokio::test]
async fn text_in_n_deltas_with_delay() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    d.push_script(
        Matcher::operation(Operation::ConverseStream),
        Script {
            text: Some("Hello streaming world".into()),
            deltas: Some(5),
            delay_ms: Some(20),
            ..Script::default()
        },
    );
    let started = Instant::now();
    let c = collect(&d, "hi").await;
    assert!(c.error.is_none(), "{:?}", c.error);
    assert_eq!(c.text, "Hello streaming world");
    // messageStart, 5 deltas, blockStop, messageStop, metadata
    assert_eq!(c.events, 9);
    assert!(started.elapsed() >= Duration::from_millis(8 * 20));
    assert_eq!(c.stop.as_deref(), Some("end_turn"));
    let rec = d.last_request().expect("record");
    assert_eq!(rec.operation, Operation::ConverseStream);
    assert_eq!(
        rec.resolved_model.as_deref(),
        Some("anthropic.claude-sonnet-4-5-20250929-v1:0")
    );
}

#[tokio::test]
async fn parallel_tool_calls_with_split_input() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    d.script_next(Script {
        tool_calls: vec![
            ToolCall {
                chunks: Some(4),
                ..ToolCall::new("search", json!({"q": "rust streams", "limit": 3}))
            },
            ToolCall {
                id: Some("tooluse_fixed".into()),
                ..ToolCall::new("lookup", json!({"id": 7}))
            },
        ],
        ..Script::default()
    });
    let c = collect(&d, "go").await;
    assert!(c.error.is_none());
    assert_eq!(c.tools.len(), 2);
    assert_eq!(c.tools[0].1, "search");
    let first: serde_json::Value = serde_json::from_str(&c.tools[0].2).expect("joined JSON");
    assert_eq!(first, json!({"q": "rust streams", "limit": 3}));
    assert_eq!(c.tools[1].0, "tooluse_fixed");
    assert_eq!(c.tools[1].2, r#"{"id":7}"#);
    assert_eq!(c.stop.as_deref(), Some("tool_use"));
    assert!(c.text.is_empty());
}

#[tokio::test]
async fn reasoning_signature_redacted_and_cache_usage() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    d.script_next(Script {
        reasoning: Some("First, think.".into()),
        signature: Some("EqQBCkgIARABGAIiQ".into()),
        redacted: Some("3q2+7w==".into()),
        text: Some("Answer".into()),
        usage: Some(Usage {
            input_tokens: Some(100),
            output_tokens: Some(20),
            cache_read_input_tokens: Some(80),
            cache_write_input_tokens: Some(10),
        }),
        latency_ms: Some(250),
        ..Script::default()
    });
    let c = collect(&d, "think").await;
    assert!(c.error.is_none());
    assert_eq!(c.reasoning, "First, think.");
    assert_eq!(c.signature.as_deref(), Some("EqQBCkgIARABGAIiQ"));
    assert_eq!(c.redacted, vec![0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(c.text, "Answer");
    let u = c.usage.expect("usage");
    assert_eq!(
        (u.input_tokens(), u.output_tokens(), u.total_tokens()),
        (100, 20, 210)
    );
    assert_eq!(u.cache_read_input_tokens(), Some(80));
    assert_eq!(u.cache_write_input_tokens(), Some(10));
}

#[tokio::test]
async fn mid_stream_exceptions_are_the_matching_sdk_variants() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let kinds = [
        "throttlingException",
        "modelStreamErrorException",
        "validationException",
        "internalServerException",
        "serviceUnavailableException",
        "modelTimeoutException",
    ];
    for kind in kinds {
        d.script_next(Script {
            deltas: Some(10),
            exception: Some(StreamException {
                after: 3,
                exception_type: kind.into(),
                message: Some(format!("{kind} now")),
            }),
            ..Script::default()
        });
        let c = collect(&d, "x").await;
        assert_eq!(c.events, 3, "{kind}");
        let e = c.error.expect("error");
        let se = e.as_service_error().expect("service error");
        let matched = match kind {
            "throttlingException" => se.is_throttling_exception(),
            "modelStreamErrorException" => se.is_model_stream_error_exception(),
            "validationException" => se.is_validation_exception(),
            "internalServerException" => se.is_internal_server_exception(),
            "serviceUnavailableException" => se.is_service_unavailable_exception(),
            // ConverseStream's union has no modelTimeoutException member: the
            // SDK surfaces it as an unmodelled error carrying the message.
            _ => {
                !se.is_throttling_exception()
                    && !se.is_model_stream_error_exception()
                    && !se.is_validation_exception()
                    && !se.is_internal_server_exception()
                    && !se.is_service_unavailable_exception()
            }
        };
        assert!(matched, "{kind} -> {se:?}");
        assert_eq!(
            br::error::ProvideErrorMetadata::message(se),
            Some(format!("{kind} now").as_str())
        );
    }
}

#[tokio::test]
async fn dropped_connection_mid_stream() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    d.script_next(Script {
        deltas: Some(10),
        drop_after: Some(4),
        ..Script::default()
    });
    let c = collect(&d, "x").await;
    assert_eq!(c.events, 4);
    let e = c.error.expect("the stream fails");
    assert!(
        e.as_service_error().is_none(),
        "a transport failure, not a service error: {e:?}"
    );
    assert_eq!(c.stop, None);
}

#[tokio::test]
async fn stall_then_continue() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    d.script_next(Script {
        deltas: Some(4),
        stall: Some(Stall { after: 2, ms: 300 }),
        ..Script::default()
    });
    let c = collect(&d, "x").await;
    assert!(c.error.is_none());
    assert_eq!(c.events, 8);
    let gap = c.arrival[2].duration_since(c.arrival[1]);
    assert!(gap >= Duration::from_millis(280), "gap {gap:?}");
    let rest = c.arrival[7].duration_since(c.arrival[2]);
    assert!(
        rest < Duration::from_millis(200),
        "no other pauses: {rest:?}"
    );
}

#[tokio::test]
async fn a_stall_is_visible_to_a_client_watchdog() {
    // The SDK applies neither read timeouts nor stalled-stream protection to
    // ConverseStream events once the response has started, so a client must
    // watch for idle streams itself; this is what such a watchdog sees.
    let d = Double::start(DoubleConfig::default()).expect("start");
    d.script_next(Script {
        stall: Some(Stall {
            after: 1,
            ms: 1_000,
        }),
        ..Script::default()
    });
    let c = runtime(&d);
    let mut s = c
        .converse_stream()
        .model_id(CLAUDE)
        .messages(user("x"))
        .send()
        .await
        .expect("opens")
        .stream;
    assert!(matches!(
        s.recv().await,
        Ok(Some(ConverseStreamOutput::MessageStart(_)))
    ));
    let idle = tokio::time::timeout(Duration::from_millis(300), s.recv()).await;
    assert!(idle.is_err(), "no event during the stall");
    // After the stall the stream resumes where it stopped.
    let next = s.recv().await;
    assert!(
        matches!(next, Ok(Some(ConverseStreamOutput::ContentBlockDelta(_)))),
        "{next:?}"
    );
}

#[tokio::test]
async fn marker_in_last_user_text_drives_the_stream() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let marker = r#"tell me [[double: {"text":"abcdef","deltas":3,"stop_reason":"max_tokens"}]]"#;
    let c = collect(&d, marker).await;
    assert_eq!(c.text, "abcdef");
    assert_eq!(c.events, 7);
    assert_eq!(c.stop.as_deref(), Some("max_tokens"));
    // A bad marker is a labelled ValidationException before the stream opens.
    let e = runtime(&d)
        .converse_stream()
        .model_id(CLAUDE)
        .messages(user(r#"[[double: {"delta":3}]]"#))
        .send()
        .await
        .expect_err("bad marker");
    assert!(
        br::error::ProvideErrorMetadata::message(&e)
            .is_some_and(|m| m.starts_with("bedrock-double: invalid [[double: …]] marker"))
    );
}

#[tokio::test]
async fn thousands_of_events_per_second() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    // A 20,000-character answer in 20,000 one-character deltas.
    d.script_next(Script {
        text: Some("x".repeat(20_000)),
        deltas: Some(20_000),
        ..Script::default()
    });
    let started = Instant::now();
    let c = collect(&d, "go fast").await;
    let elapsed = started.elapsed();
    assert!(c.error.is_none());
    assert_eq!(c.events, 20_004);
    let rate = c.events as f64 / elapsed.as_secs_f64();
    // The SDK's decoder (debug build) is the bottleneck here, not the double.
    assert!(rate > 2_000.0, "only {rate:.0} events/s");
}
