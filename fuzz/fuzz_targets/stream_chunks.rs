//! Bedrock's answer → the LLM result chunks the plugin emits, through the real
//! `invoke_llm` path: the request goes to a loopback Bedrock that answers with an
//! arbitrary ConverseStream event sequence (real event-stream frames, then optional raw
//! bytes), or an arbitrary Converse body, or an error status. Whatever comes back, the
//! session is well-formed: stream items, at most one typed error (never InternalError),
//! exactly one end; a session without error ends with a chunk that has a finish reason
//! and usage.
#![no_main]
// The session future of the real invoke path is deep.
#![recursion_limit = "256"]

use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use dify_bedrock::internals::{self, State, Writer};
use dify_bedrock_fuzz::{
    Reply, check_session, drain, isolate_from_aws, runtime, set_reply, upstream,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

/// Converse models of different families (reasoning, tools, documents, none of these).
const MODELS: &[&str] = &[
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "amazon.nova-lite-v1:0",
    "deepseek.r1-v1:0",
    "meta.llama3-1-8b-instruct-v1:0",
    "openai.gpt-oss-20b-1:0",
    "anthropic.claude-opus-5",
];

const STOP_REASONS: &[&str] = &[
    "end_turn",
    "tool_use",
    "max_tokens",
    "stop_sequence",
    "guardrail_intervened",
    "content_filtered",
    "model_context_window_exceeded",
    "refusal",
    "",
];

const EXCEPTIONS: &[&str] = &[
    "throttlingException",
    "validationException",
    "internalServerException",
    "modelStreamErrorException",
    "serviceUnavailableException",
    "accessDeniedException",
    "unknownException",
];

const EVENT_TYPES: &[&str] = &[
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
    "somethingNew",
];

#[derive(Arbitrary, Debug)]
enum Ev {
    MessageStart,
    BlockStart {
        index: i8,
        tool: Option<(String, String)>,
    },
    Text {
        index: i8,
        text: String,
    },
    ToolInput {
        index: i8,
        input: String,
    },
    Reasoning {
        index: i8,
        text: String,
    },
    Signature {
        index: i8,
        signature: String,
    },
    Redacted {
        index: i8,
        bytes: Vec<u8>,
    },
    BlockStop {
        index: i8,
    },
    MessageStop {
        reason: u8,
        other: Option<String>,
    },
    Metadata {
        input: i64,
        output: i64,
        cache_read: Option<i32>,
        cache_write: Option<i32>,
        tier: Option<u8>,
        latency: Option<bool>,
    },
    Exception {
        kind: u8,
        message: String,
    },
    Raw {
        event_type: u8,
        payload: Vec<u8>,
    },
}

#[derive(Arbitrary, Debug)]
struct Case {
    stream: bool,
    model: u8,
    tools: bool,
    reasoning: bool,
    /// 0..=3: 200; otherwise an error status.
    status: u8,
    events: Vec<Ev>,
    /// Bytes after the frames (or the body): a broken frame, trailing junk.
    tail: Vec<u8>,
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[i as usize % list.len()]
}

fn frame(buf: &mut BytesMut, message_type: &str, type_header: (&str, &str), payload: Vec<u8>) {
    let msg = Message::new(Bytes::from(payload))
        .add_header(Header::new(
            type_header.0.to_string(),
            HeaderValue::String(type_header.1.to_string().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(message_type.to_string().into()),
        ));
    let _ = aws_smithy_eventstream::frame::write_message_to(&msg, buf);
}

fn stop_reason(reason: u8, other: &Option<String>) -> String {
    match other {
        Some(s) if reason % 4 == 0 => s.clone(),
        _ => pick(STOP_REASONS, reason).to_string(),
    }
}

fn metadata(ev: &Ev) -> Value {
    let Ev::Metadata {
        input,
        output,
        cache_read,
        cache_write,
        tier,
        latency,
    } = ev
    else {
        return json!({});
    };
    let mut usage = json!({"inputTokens": input, "outputTokens": output,
        "totalTokens": input.saturating_add(*output)});
    if let Some(n) = cache_read {
        usage["cacheReadInputTokens"] = json!(n);
    }
    if let Some(n) = cache_write {
        usage["cacheWriteInputTokens"] = json!(n);
        usage["cacheDetails"] = json!([{"ttl": "1h", "inputTokens": n}]);
    }
    let mut meta = json!({"usage": usage, "metrics": {"latencyMs": 12}});
    if let Some(t) = tier {
        meta["serviceTier"] =
            json!({"type": pick(&["priority", "default", "flex", "reserved", "x"], *t)});
    }
    if let Some(l) = latency {
        meta["performanceConfig"] = json!({"latency": if *l { "optimized" } else { "standard" }});
    }
    meta
}

/// The ConverseStream body: one frame per event.
fn stream_body(events: &[Ev], tail: &[u8]) -> Bytes {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut buf = BytesMut::new();
    for ev in events {
        let event = |buf: &mut BytesMut, kind: &str, v: Value| {
            frame(
                buf,
                "event",
                (":event-type", kind),
                v.to_string().into_bytes(),
            )
        };
        match ev {
            Ev::MessageStart => event(&mut buf, "messageStart", json!({"role": "assistant"})),
            Ev::BlockStart { index, tool } => {
                let start = match tool {
                    Some((id, name)) => json!({"toolUse": {"toolUseId": id, "name": name}}),
                    None => json!({}),
                };
                event(
                    &mut buf,
                    "contentBlockStart",
                    json!({"contentBlockIndex": index, "start": start}),
                )
            }
            Ev::Text { index, text } => event(
                &mut buf,
                "contentBlockDelta",
                json!({"contentBlockIndex": index, "delta": {"text": text}}),
            ),
            Ev::ToolInput { index, input } => event(
                &mut buf,
                "contentBlockDelta",
                json!({"contentBlockIndex": index, "delta": {"toolUse": {"input": input}}}),
            ),
            Ev::Reasoning { index, text } => event(
                &mut buf,
                "contentBlockDelta",
                json!({"contentBlockIndex": index, "delta": {"reasoningContent": {"text": text}}}),
            ),
            Ev::Signature { index, signature } => event(
                &mut buf,
                "contentBlockDelta",
                json!({"contentBlockIndex": index, "delta": {"reasoningContent": {"signature": signature}}}),
            ),
            Ev::Redacted { index, bytes } => event(
                &mut buf,
                "contentBlockDelta",
                json!({"contentBlockIndex": index,
                    "delta": {"reasoningContent": {"redactedContent": b64.encode(bytes)}}}),
            ),
            Ev::BlockStop { index } => event(
                &mut buf,
                "contentBlockStop",
                json!({"contentBlockIndex": index}),
            ),
            Ev::MessageStop { reason, other } => event(
                &mut buf,
                "messageStop",
                json!({"stopReason": stop_reason(*reason, other)}),
            ),
            Ev::Metadata { .. } => event(&mut buf, "metadata", metadata(ev)),
            Ev::Exception { kind, message } => frame(
                &mut buf,
                "exception",
                (":exception-type", pick(EXCEPTIONS, *kind)),
                json!({"message": message}).to_string().into_bytes(),
            ),
            Ev::Raw {
                event_type,
                payload,
            } => frame(
                &mut buf,
                "event",
                (":event-type", pick(EVENT_TYPES, *event_type)),
                payload.clone(),
            ),
        }
    }
    buf.extend_from_slice(tail);
    buf.freeze()
}

/// The Converse (blocking) body with the same content, as one message.
fn blocking_body(events: &[Ev], tail: &[u8]) -> Bytes {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut content = Vec::new();
    let mut stop = "end_turn".to_string();
    let mut usage = json!({"inputTokens": 1, "outputTokens": 1, "totalTokens": 2});
    let mut extra = json!({});
    for ev in events {
        match ev {
            Ev::Text { text, .. } => content.push(json!({"text": text})),
            Ev::BlockStart { tool: Some((id, name)), .. } => {
                content.push(json!({"toolUse": {"toolUseId": id, "name": name, "input": {}}}))
            }
            Ev::ToolInput { input, .. } => {
                let input = serde_json::from_str::<Value>(input).unwrap_or(json!(input));
                content.push(json!({"toolUse": {"toolUseId": "t", "name": "n", "input": input}}))
            }
            Ev::Reasoning { text, .. } => content.push(
                json!({"reasoningContent": {"reasoningText": {"text": text}}}),
            ),
            Ev::Signature { signature, .. } => content.push(
                json!({"reasoningContent": {"reasoningText": {"text": "", "signature": signature}}}),
            ),
            Ev::Redacted { bytes, .. } => content
                .push(json!({"reasoningContent": {"redactedContent": b64.encode(bytes)}})),
            Ev::MessageStop { reason, other } => stop = stop_reason(*reason, other),
            Ev::Metadata { .. } => {
                let meta = metadata(ev);
                usage = meta["usage"].clone();
                extra = meta;
            }
            Ev::Raw { payload, .. } => {
                if let Ok(v) = serde_json::from_slice::<Value>(payload) {
                    content.push(v);
                }
            }
            _ => {}
        }
    }
    let mut body = json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": usage,
        "metrics": {"latencyMs": 10},
    });
    for key in ["serviceTier", "performanceConfig"] {
        if let Some(v) = extra.get(key) {
            body[key] = v.clone();
        }
    }
    let mut bytes = body.to_string().into_bytes();
    bytes.extend_from_slice(tail);
    Bytes::from(bytes)
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| {
        isolate_from_aws();
        let catalog = internals::embedded_catalog().expect("the embedded catalogue loads");
        internals::app_state(catalog, 1, Duration::from_secs(5))
    })
}

fuzz_target!(|case: Case| {
    let state = state();
    let endpoint = format!("http://{}", upstream());
    let reply = match case.status {
        0..=3 if case.stream => Reply {
            status: 200,
            content_type: "application/vnd.amazon.eventstream",
            body: stream_body(&case.events, &case.tail),
        },
        0..=3 => Reply {
            status: 200,
            content_type: "application/json",
            body: blocking_body(&case.events, &case.tail),
        },
        s => {
            let (status, kind) = [
                (400, "ValidationException"),
                (403, "AccessDeniedException"),
                (404, "ResourceNotFoundException"),
                (424, "ModelErrorException"),
                (429, "ThrottlingException"),
                (500, "InternalServerException"),
                (503, "ServiceUnavailableException"),
                (408, "ModelTimeoutException"),
            ][s as usize % 8];
            let mut body = json!({"__type": kind, "message": "fuzz"})
                .to_string()
                .into_bytes();
            body.extend_from_slice(&case.tail);
            Reply {
                status,
                content_type: "application/json",
                body: Bytes::from(body),
            }
        }
    };
    set_reply(reply);
    let mut credentials = dify_bedrock_fuzz::credentials(&endpoint);
    // Every AWS endpoint is the loopback one: nothing leaves the machine.
    credentials["bedrock_control_endpoint_url"] = json!(endpoint);
    credentials["bedrock_mantle_endpoint_url"] = json!(endpoint);
    let mut params = json!({});
    if case.reasoning {
        params = json!({"reasoning_type": "enabled", "reasoning_budget": 1024, "max_tokens": 4096});
    }
    let tools = if case.tools {
        json!([{"name": "get_weather", "description": "w",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}])
    } else {
        json!([])
    };
    let line = json!({
        "session_id": "s",
        "event": "request",
        "data": {
            "user_id": "fuzz", "type": "model", "action": "invoke_llm", "provider": "bedrock",
            "model_type": "llm", "model": pick(MODELS, case.model),
            "credentials": credentials, "model_parameters": params,
            "prompt_messages": [{"role": "user", "content": "hi"}],
            "tools": tools, "stream": case.stream,
        }
    });
    let request = internals::decode_request_line(line.to_string().as_bytes())
        .expect("the harness's request decodes");
    let (writer, lines) = Writer::channel(5 * 1024 * 1024);
    let out = runtime().block_on(async {
        let session = internals::run_session(state, request, writer, Duration::from_secs(10));
        let (_, out) = tokio::join!(session, drain(lines));
        out
    });
    let items = check_session(&out, "s");
    for (i, item) in items.iter().enumerate() {
        assert_eq!(
            item["delta"]["index"], i,
            "chunk indices run from 0: {out:?}"
        );
        assert!(
            item["delta"]["message"]["content"].is_string(),
            "content is never null: {item}"
        );
        for call in item["delta"]["message"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert!(call["function"]["arguments"].is_string(), "{call}");
        }
    }
    let errored = out.iter().any(|l| l.contains(r#""type":"error""#));
    if !errored {
        let last = items
            .last()
            .unwrap_or_else(|| panic!("no chunk and no error: {out:?}"));
        assert!(
            last["delta"]["finish_reason"].is_string(),
            "the last chunk has no finish reason: {last}"
        );
        assert!(
            last["delta"]["usage"].is_object(),
            "the last chunk has no usage: {last}"
        );
        if !case.stream {
            assert_eq!(items.len(), 1, "a blocking answer is one chunk: {out:?}");
        }
    }
});
