//! Responses API answers → chat events: the server-sent events of a streamed response
//! (`response.output_text.delta`, `response.reasoning_summary_text.delta`,
//! `response.output_item.added`/`done`, `response.function_call_arguments.delta`/`done`,
//! `response.completed`/`incomplete`/`failed`, `error`) and the response object of a
//! blocking one, both as the events Converse yields.

use std::collections::{HashMap, VecDeque};

use aws_sdk_bedrockruntime::types::StopReason;
use serde_json::Value;

use crate::bedrock::events::{ChatEvent, Usage};
use crate::error::{ErrorKind, PluginError};

/// Splits a byte stream into server-sent events: `(event name, data)` per blank-line-
/// terminated block, `data:` lines joined by newlines, comments and other fields left out.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    buffer: Vec<u8>,
}

impl SseDecoder {
    /// Adds bytes; returns the events they complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<(Option<String>, String)> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some((end, sep)) = block_end(&self.buffer) {
            let block: Vec<u8> = self.buffer.drain(..end + sep).collect();
            if let Some(event) = parse_block(&String::from_utf8_lossy(&block[..end])) {
                events.push(event);
            }
        }
        events
    }

    /// What is left when the stream ends: a last event without its blank line.
    pub(crate) fn finish(&mut self) -> Option<(Option<String>, String)> {
        let rest = std::mem::take(&mut self.buffer);
        parse_block(&String::from_utf8_lossy(&rest))
    }
}

/// Where the first block ends, and the length of its separator.
fn block_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn parse_block(block: &str) -> Option<(Option<String>, String)> {
    let mut name = None;
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = Some(value.to_string()),
            "data" => data.push(value),
            _ => {}
        }
    }
    (!data.is_empty()).then(|| (name, data.join("\n")))
}

/// A function call being streamed.
#[derive(Debug, Default)]
struct PendingCall {
    call_id: String,
    name: String,
    arguments: String,
}

/// Turns streamed Responses events into chat events.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    calls: HashMap<u64, PendingCall>,
    reasoning_open: bool,
    tool_called: bool,
    /// The response ended (completed, incomplete or failed).
    pub(crate) done: bool,
}

impl StreamState {
    /// The chat events of one server-sent event's data; `Err` for an error event.
    pub(crate) fn on_event(
        &mut self,
        data: &str,
        out: &mut VecDeque<ChatEvent>,
    ) -> Result<(), PluginError> {
        if data.trim() == "[DONE]" {
            return Ok(());
        }
        let event: Value = serde_json::from_str(data).map_err(|e| {
            PluginError::new(
                ErrorKind::ServerUnavailable,
                format!("bedrock-mantle sent a stream event that is not JSON ({e})"),
            )
        })?;
        let kind = event["type"].as_str().unwrap_or_default();
        let index = event["output_index"].as_u64().unwrap_or(0);
        match kind {
            "response.output_text.delta" => {
                self.close_reasoning(out);
                if let Some(delta) = event["delta"].as_str().filter(|d| !d.is_empty()) {
                    out.push_back(ChatEvent::Text(delta.to_string()));
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                if let Some(delta) = event["delta"].as_str().filter(|d| !d.is_empty()) {
                    self.reasoning_open = true;
                    out.push_back(ChatEvent::Reasoning(delta.to_string()));
                }
            }
            "response.output_item.added" => {
                let item = &event["item"];
                if item["type"] == "function_call" {
                    self.calls.insert(
                        index,
                        PendingCall {
                            call_id: text(&item["call_id"]),
                            name: text(&item["name"]),
                            arguments: text(&item["arguments"]),
                        },
                    );
                }
            }
            "response.function_call_arguments.delta" => {
                if let (Some(call), Some(delta)) =
                    (self.calls.get_mut(&index), event["delta"].as_str())
                {
                    call.arguments.push_str(delta);
                }
            }
            "response.function_call_arguments.done" => {
                if let (Some(call), Some(arguments)) =
                    (self.calls.get_mut(&index), event["arguments"].as_str())
                {
                    call.arguments = arguments.to_string();
                }
            }
            "response.output_item.done" => {
                let item = &event["item"];
                match item["type"].as_str() {
                    Some("function_call") => {
                        let pending = self.calls.remove(&index).unwrap_or_default();
                        let pick = |field: &str, fallback: String| {
                            item[field]
                                .as_str()
                                .filter(|s| !s.is_empty())
                                .map_or(fallback, str::to_string)
                        };
                        self.close_reasoning(out);
                        self.tool_called = true;
                        out.push_back(tool_call(
                            pick("call_id", pending.call_id),
                            pick("name", pending.name),
                            pick("arguments", pending.arguments),
                        ));
                    }
                    Some("reasoning") => self.close_reasoning(out),
                    _ => {}
                }
            }
            "response.completed" | "response.incomplete" => {
                self.close_reasoning(out);
                self.done = true;
                let response = &event["response"];
                out.push_back(ChatEvent::Stop(stop_reason(response, self.tool_called)));
                if let Some(usage) = usage(&response["usage"]) {
                    out.push_back(ChatEvent::Usage(usage));
                }
            }
            "response.failed" => {
                self.done = true;
                return Err(error_event(&event["response"]["error"]));
            }
            "error" => {
                self.done = true;
                return Err(error_event(&event));
            }
            _ => {}
        }
        Ok(())
    }

    fn close_reasoning(&mut self, out: &mut VecDeque<ChatEvent>) {
        if std::mem::take(&mut self.reasoning_open) {
            out.push_back(ChatEvent::ReasoningEnd(None));
        }
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn tool_call(id: String, name: String, arguments: String) -> ChatEvent {
    let arguments = if arguments.trim().is_empty() {
        "{}".to_string()
    } else {
        arguments
    };
    ChatEvent::ToolCall {
        id,
        name,
        arguments,
    }
}

/// The answer's stop reason in Bedrock's words: `incomplete_details.reason` for an
/// incomplete answer, `tool_use` when it called tools, `end_turn` otherwise.
fn stop_reason(response: &Value, tool_called: bool) -> StopReason {
    if response["status"] == "incomplete" {
        return match response["incomplete_details"]["reason"].as_str() {
            Some("max_output_tokens") => StopReason::MaxTokens,
            Some("content_filter") => StopReason::ContentFiltered,
            Some(other) => StopReason::from(other),
            None => StopReason::EndTurn,
        };
    }
    if tool_called {
        StopReason::ToolUse
    } else {
        StopReason::EndTurn
    }
}

/// `usage` of a response: cached input tokens are counted as cache reads.
fn usage(u: &Value) -> Option<Usage> {
    let input = u["input_tokens"].as_u64()?;
    let cached = u["input_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap_or(0)
        .min(input);
    Some(Usage {
        input: input - cached,
        output: u["output_tokens"].as_u64().unwrap_or(0),
        cache_read: cached,
        cache_write: 0,
        cache_write_1h: None,
    })
}

/// The Dify kind for an error code of the Responses API (OpenAI's codes and types).
pub(crate) fn kind_for_code(code: &str) -> ErrorKind {
    let code = code.to_ascii_lowercase();
    if code.contains("rate_limit") || code.contains("throttl") || code.contains("too_many") {
        ErrorKind::RateLimit
    } else if code.contains("server")
        || code.contains("internal")
        || code.contains("unavailable")
        || code.contains("overloaded")
        || code.contains("timeout")
    {
        ErrorKind::ServerUnavailable
    } else if code.contains("auth") || code.contains("api_key") || code.contains("permission") {
        ErrorKind::Authorization
    } else if code.contains("invalid") || code.contains("bad_request") || code.contains("not_found")
    {
        ErrorKind::BadRequest
    } else {
        ErrorKind::Invoke
    }
}

/// An `error` event, or a failed response's `error`: `{code, message}`.
fn error_event(e: &Value) -> PluginError {
    let code = e["code"]
        .as_str()
        .or_else(|| e["type"].as_str().filter(|t| *t != "error"))
        .unwrap_or("error");
    let message = e["message"].as_str().unwrap_or("(no message)");
    PluginError::new(kind_for_code(code), format!("{code}: {message}"))
}

/// The events of a blocking response object, or the error it reports.
pub(crate) fn blocking_events(response: &Value) -> Result<VecDeque<ChatEvent>, PluginError> {
    if response["status"] == "failed" || response["error"].is_object() {
        return Err(error_event(&response["error"]));
    }
    let mut events = VecDeque::new();
    let mut tool_called = false;
    for item in response["output"].as_array().into_iter().flatten() {
        match item["type"].as_str() {
            Some("message") => {
                for part in item["content"].as_array().into_iter().flatten() {
                    if part["type"] == "output_text"
                        && let Some(t) = part["text"].as_str().filter(|t| !t.is_empty())
                    {
                        events.push_back(ChatEvent::Text(t.to_string()));
                    }
                }
            }
            Some("reasoning") => {
                let summary: Vec<&str> = item["summary"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["text"].as_str())
                    .collect();
                if !summary.is_empty() {
                    events.push_back(ChatEvent::Reasoning(summary.join("\n\n")));
                    events.push_back(ChatEvent::ReasoningEnd(None));
                }
            }
            Some("function_call") => {
                tool_called = true;
                events.push_back(tool_call(
                    text(&item["call_id"]),
                    text(&item["name"]),
                    text(&item["arguments"]),
                ));
            }
            _ => {}
        }
    }
    events.push_back(ChatEvent::Stop(stop_reason(response, tool_called)));
    if let Some(u) = usage(&response["usage"]) {
        events.push_back(ChatEvent::Usage(u));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(events: &[Value]) -> (Vec<ChatEvent>, Option<PluginError>) {
        let mut state = StreamState::default();
        let mut out = VecDeque::new();
        for e in events {
            if let Err(err) = state.on_event(&e.to_string(), &mut out) {
                return (out.into(), Some(err));
            }
        }
        (out.into(), None)
    }

    #[test]
    fn sse_blocks_are_split_whatever_the_chunking() {
        let text = "event: response.created\ndata: {\"a\":1}\n\n: comment\n\nevent: x\r\ndata: line1\r\ndata: line2\r\n\r\ndata: tail";
        for size in [1, 3, 7, text.len()] {
            let mut d = SseDecoder::default();
            let mut got = Vec::new();
            for chunk in text.as_bytes().chunks(size) {
                got.extend(d.push(chunk));
            }
            got.extend(d.finish());
            assert_eq!(
                got,
                vec![
                    (Some("response.created".into()), "{\"a\":1}".into()),
                    (Some("x".into()), "line1\nline2".into()),
                    (None, "tail".into()),
                ],
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn text_reasoning_tools_and_usage_become_chat_events() {
        let (events, err) = run(&[
            json!({"type": "response.created", "response": {"status": "in_progress"}}),
            json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "hmm"}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "reasoning"}}),
            json!({"type": "response.output_text.delta", "output_index": 1, "delta": "Hi"}),
            json!({"type": "response.output_item.added", "output_index": 2, "item": {"type": "function_call", "call_id": "call_9", "name": "f", "arguments": ""}}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 2, "delta": "{\"a\":"}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 2, "delta": "1}"}),
            json!({"type": "response.output_item.done", "output_index": 2, "item": {"type": "function_call", "call_id": "call_9", "name": "f"}}),
            json!({"type": "response.completed", "response": {"status": "completed",
                "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 5}}}),
        ]);
        assert!(err.is_none());
        assert_eq!(
            events,
            vec![
                ChatEvent::Reasoning("hmm".into()),
                ChatEvent::ReasoningEnd(None),
                ChatEvent::Text("Hi".into()),
                ChatEvent::ToolCall {
                    id: "call_9".into(),
                    name: "f".into(),
                    arguments: "{\"a\":1}".into()
                },
                ChatEvent::Stop(StopReason::ToolUse),
                ChatEvent::Usage(Usage {
                    input: 6,
                    output: 5,
                    cache_read: 4,
                    cache_write: 0,
                    cache_write_1h: None
                }),
            ]
        );
    }

    #[test]
    fn incomplete_and_failed_answers_say_why() {
        let (events, _) = run(&[json!({"type": "response.incomplete", "response": {
            "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}})]);
        assert_eq!(events, vec![ChatEvent::Stop(StopReason::MaxTokens)]);

        let (events, err) = run(&[
            json!({"type": "response.output_text.delta", "delta": "Hel"}),
            json!({"type": "error", "code": "rate_limit_exceeded", "message": "slow down"}),
        ]);
        assert_eq!(events, vec![ChatEvent::Text("Hel".into())]);
        let err = err.expect("an error");
        assert_eq!(err.kind, ErrorKind::RateLimit);
        assert_eq!(err.message, "rate_limit_exceeded: slow down");

        let (_, err) = run(&[
            json!({"type": "response.failed", "response": {"status": "failed",
            "error": {"code": "server_error", "message": "boom"}}}),
        ]);
        assert_eq!(err.map(|e| e.kind), Some(ErrorKind::ServerUnavailable));
    }

    #[test]
    fn a_blocking_response_gives_the_same_events() {
        let events = blocking_events(&json!({
            "status": "completed",
            "output": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Answer"}]},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": ""}
            ],
            "usage": {"input_tokens": 3, "output_tokens": 2}
        }))
        .expect("events");
        assert_eq!(
            Vec::from(events),
            vec![
                ChatEvent::Reasoning("think".into()),
                ChatEvent::ReasoningEnd(None),
                ChatEvent::Text("Answer".into()),
                ChatEvent::ToolCall {
                    id: "c1".into(),
                    name: "f".into(),
                    arguments: "{}".into()
                },
                ChatEvent::Stop(StopReason::ToolUse),
                ChatEvent::Usage(Usage {
                    input: 3,
                    output: 2,
                    cache_read: 0,
                    cache_write: 0,
                    cache_write_1h: None
                }),
            ]
        );
        let e = blocking_events(
            &json!({"status": "failed", "error": {"code": "invalid_prompt", "message": "no"}}),
        )
        .expect_err("failed");
        assert_eq!(e.kind, ErrorKind::BadRequest);
    }
}
