//! bedrock-mantle's OpenAI-compatible Responses API: `POST /openai/v1/responses`, as
//! OpenAI's API reference documents it and Bedrock serves it for OpenAI's GPT-5.x
//! (Bedrock user guide, "Responses API"; the model cards name the `/openai/v1` base
//! path on bedrock-mantle). Bodies are checked for the shapes the API takes; the answer
//! is a response object, or server-sent events (`response.created`, output items, text,
//! reasoning-summary and function-call-argument deltas, `response.completed`).
//!
//! Scripted by the same marker as Converse, found in the last user text (or, after tool
//! results only, in their output). Errors are OpenAI-shaped: `{"error": {"message",
//! "type", "code"}}`; a mid-stream `exception` is an `error` event, a failed stream.

use crate::body::{DoubleBody, Step};
use crate::error::AwsError;
use crate::script::{Script, extract_marker};
use crate::server::{Call, Reply};
use crate::util::{count_tokens, fnv1a64, split_even};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The models bedrock-mantle serves through this API in the double.
pub const MANTLE_MODELS: &[&str] = &[
    "openai.gpt-5.4",
    "openai.gpt-5.5",
    "openai.gpt-5.6-sol",
    "openai.gpt-5.6-terra",
    "openai.gpt-5.6-luna",
];

const TOP_LEVEL: &[&str] = &[
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "temperature",
    "reasoning",
    "stream",
    "store",
    "metadata",
    "parallel_tool_calls",
    "text",
    "truncation",
    "user",
    "previous_response_id",
    "include",
    "service_tier",
];

const EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh", "max"];

fn invalid(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, code, message)
}

fn missing(param: &str) -> AwsError {
    invalid(
        "missing_required_parameter",
        format!("Missing required parameter: '{param}'."),
    )
}

fn wrong_type(param: &str, expected: &str) -> AwsError {
    invalid(
        "invalid_type",
        format!("Invalid type for '{param}': expected {expected}."),
    )
}

/// What the answer is built from, once the body checks out.
struct Request {
    model: String,
    stream: bool,
    /// All input text, for the default usage.
    input_text: String,
    /// The last user text with the marker removed, for the default answer.
    last_user: String,
    marker: Option<Script>,
    max_output_tokens: Option<u64>,
}

fn validate(body: &Value) -> Result<Request, AwsError> {
    let o = body
        .as_object()
        .ok_or_else(|| invalid("invalid_json", "The body must be a JSON object."))?;
    for key in o.keys() {
        if key == "top_p" {
            return Err(invalid(
                "unsupported_parameter",
                "Unsupported parameter: 'top_p' is not supported with this model.",
            ));
        }
        if !TOP_LEVEL.contains(&key.as_str()) {
            return Err(invalid(
                "unknown_parameter",
                format!("Unknown parameter: '{key}'."),
            ));
        }
    }
    let model = o
        .get("model")
        .ok_or_else(|| missing("model"))?
        .as_str()
        .ok_or_else(|| wrong_type("model", "a string"))?;
    if !MANTLE_MODELS.contains(&model) {
        return Err(AwsError::new(
            404,
            "model_not_found",
            format!("The model `{model}` does not exist or you do not have access to it."),
        ));
    }
    let stream = match o.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(wrong_type("stream", "a boolean")),
    };
    let max_output_tokens = match o.get("max_output_tokens") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let n = v
                .as_u64()
                .ok_or_else(|| wrong_type("max_output_tokens", "an integer"))?;
            if n < 16 {
                return Err(invalid(
                    "integer_below_min_value",
                    format!(
                        "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {n} instead."
                    ),
                ));
            }
            Some(n)
        }
    };
    if let Some(t) = o.get("temperature").filter(|t| !t.is_null()) {
        let t = t
            .as_f64()
            .ok_or_else(|| wrong_type("temperature", "a number"))?;
        if !(0.0..=2.0).contains(&t) {
            return Err(invalid(
                "decimal_above_max_value",
                "Invalid 'temperature': expected a value between 0 and 2.",
            ));
        }
    }
    if let Some(r) = o.get("reasoning").filter(|r| !r.is_null()) {
        let effort = r["effort"].as_str();
        if !r.is_object() || effort.is_some_and(|e| !EFFORTS.contains(&e)) {
            return Err(invalid(
                "invalid_value",
                format!(
                    "Invalid value for 'reasoning.effort': supported values are {}.",
                    EFFORTS.join(", ")
                ),
            ));
        }
    }
    let names = validate_tools(o)?;
    let (input_text, last_user, marker) = validate_input(o.get("input"))?;
    if let Some(choice) = o.get("tool_choice") {
        match choice {
            Value::String(s) if ["auto", "none", "required"].contains(&s.as_str()) => {}
            Value::Object(c) if c.get("type") == Some(&json!("function")) => {
                let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                if !names.iter().any(|n| n == name) {
                    return Err(invalid(
                        "invalid_value",
                        format!("Tool choice '{name}' not found in 'tools' parameter."),
                    ));
                }
            }
            _ => return Err(invalid("invalid_value", "Invalid value for 'tool_choice'.")),
        }
    }
    Ok(Request {
        model: model.to_string(),
        stream,
        input_text,
        last_user,
        marker,
        max_output_tokens,
    })
}

fn validate_tools(o: &Map<String, Value>) -> Result<Vec<String>, AwsError> {
    let Some(tools) = o.get("tools").filter(|t| !t.is_null()) else {
        return Ok(Vec::new());
    };
    let tools = tools
        .as_array()
        .ok_or_else(|| wrong_type("tools", "an array"))?;
    let mut names = Vec::new();
    for (i, t) in tools.iter().enumerate() {
        if t["type"] != "function" {
            return Err(invalid(
                "invalid_value",
                format!(
                    "Invalid value for 'tools[{i}].type': only function tools are served here."
                ),
            ));
        }
        let name = t["name"]
            .as_str()
            .ok_or_else(|| missing(&format!("tools[{i}].name")))?;
        if !t["parameters"].is_object() {
            return Err(missing(&format!("tools[{i}].parameters")));
        }
        // Strict tools need every property required and no additional properties.
        if t["strict"] != json!(false) && t["parameters"]["additionalProperties"] != json!(false) {
            return Err(invalid(
                "invalid_function_parameters",
                format!(
                    "Invalid schema for function '{name}': In context=(), 'additionalProperties' is required to be supplied and to be false."
                ),
            ));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// Checks `input`; returns all its text, the last user text without the marker, and the
/// marker's script.
fn validate_input(input: Option<&Value>) -> Result<(String, String, Option<Script>), AwsError> {
    let input = input.ok_or_else(|| missing("input"))?;
    let items: Vec<Value> = match input {
        Value::String(s) => vec![json!({"type": "message", "role": "user", "content": s})],
        Value::Array(a) => a.clone(),
        _ => return Err(wrong_type("input", "a string or an array")),
    };
    if items.is_empty() {
        return Err(invalid("invalid_value", "'input' must not be empty."));
    }
    let mut all = String::new();
    let mut last_user = String::new();
    let mut last_outputs = String::new();
    let mut calls: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("input[{i}]");
        let kind = item["type"].as_str().unwrap_or("message");
        match kind {
            "message" => {
                let role = item["role"]
                    .as_str()
                    .ok_or_else(|| missing(&format!("{at}.role")))?;
                if !["user", "system", "developer", "assistant"].contains(&role) {
                    return Err(invalid(
                        "invalid_value",
                        format!(
                            "Invalid value: '{role}'. Supported values are: 'assistant', 'system', 'developer', and 'user'."
                        ),
                    ));
                }
                let text = message_text(&item["content"], role, &at)?;
                all.push_str(&text);
                if role == "user" {
                    last_user = text;
                    last_outputs.clear();
                }
            }
            "function_call" => {
                for field in ["call_id", "name", "arguments"] {
                    if !item[field].is_string() {
                        return Err(missing(&format!("{at}.{field}")));
                    }
                }
                calls.push(item["call_id"].as_str().unwrap_or_default().to_string());
                all.push_str(item["arguments"].as_str().unwrap_or_default());
            }
            "function_call_output" => {
                let call_id = item["call_id"]
                    .as_str()
                    .ok_or_else(|| missing(&format!("{at}.call_id")))?;
                if !calls.iter().any(|c| c == call_id) {
                    return Err(invalid(
                        "invalid_value",
                        format!(
                            "No tool call found for function call output with call_id {call_id}."
                        ),
                    ));
                }
                let output = item["output"]
                    .as_str()
                    .ok_or_else(|| missing(&format!("{at}.output")))?;
                all.push_str(output);
                last_outputs.push_str(output);
            }
            other => {
                return Err(invalid(
                    "invalid_value",
                    format!("Invalid value for '{at}.type': '{other}'."),
                ));
            }
        }
    }
    // After tool results only, the marker is looked for in their output.
    let source = if last_outputs.is_empty() {
        last_user
    } else {
        last_outputs
    };
    let (clean, marker) =
        match extract_marker(&source).map_err(|e| invalid("invalid_value", e.message))? {
            Some((clean, script)) => (clean, Some(script)),
            None => (source, None),
        };
    Ok((all, clean, marker))
}

fn message_text(content: &Value, role: &str, at: &str) -> Result<String, AwsError> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let mut text = String::new();
            for (j, p) in parts.iter().enumerate() {
                let kind = p["type"].as_str().unwrap_or_default();
                let allowed: &[&str] = if role == "assistant" {
                    &["output_text", "refusal"]
                } else {
                    &["input_text", "input_image", "input_file"]
                };
                if !allowed.contains(&kind) {
                    return Err(invalid(
                        "invalid_value",
                        format!(
                            "Invalid value: '{kind}' in '{at}.content[{j}].type' for role '{role}'."
                        ),
                    ));
                }
                match kind {
                    "input_image" => {
                        let url = p["image_url"].as_str().unwrap_or_default();
                        let ok = url.starts_with("https://")
                            || url
                                .strip_prefix("data:image/")
                                .and_then(|r| r.split_once(";base64,"))
                                .is_some_and(|(fmt, data)| {
                                    ["png", "jpeg", "gif", "webp"].contains(&fmt)
                                        && !data.is_empty()
                                });
                        if !ok {
                            return Err(invalid(
                                "invalid_image_url",
                                format!(
                                    "Invalid '{at}.content[{j}].image_url': expected a URL or a base64 data URL of a PNG, JPEG, GIF or WebP image."
                                ),
                            ));
                        }
                    }
                    _ => text.push_str(p["text"].as_str().unwrap_or_default()),
                }
            }
            Ok(text)
        }
        _ => Err(wrong_type(&format!("{at}.content"), "a string or an array")),
    }
}

/// What the model answers.
struct Answer {
    id: String,
    model: String,
    reasoning: Option<String>,
    text: Option<String>,
    /// (call id, name, arguments)
    calls: Vec<(String, String, String)>,
    incomplete: Option<&'static str>,
    input_tokens: u32,
    output_tokens: u32,
    cached_tokens: u32,
}

fn answer(req: &Request, script: &Script, seed: u64) -> Answer {
    let mut text = match &script.text {
        Some(t) => Some(t.clone()),
        None if !script.tool_calls.is_empty() => None,
        None => Some(format!("You said: {}", req.last_user)),
    };
    let mut incomplete = match script.stop_reason.as_deref() {
        Some("max_tokens" | "max_output_tokens") => Some("max_output_tokens"),
        Some("content_filtered" | "content_filter") => Some("content_filter"),
        _ => None,
    };
    // Cut the text at max_output_tokens (about 4 characters a token), as Converse does.
    if let (Some(t), Some(max)) = (&mut text, req.max_output_tokens) {
        let limit = (max as usize).saturating_mul(4);
        if t.chars().count() > limit {
            *t = t.chars().take(limit).collect();
            incomplete = Some("max_output_tokens");
        }
    }
    let calls: Vec<(String, String, String)> = script
        .tool_calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let id =
                c.id.clone()
                    .unwrap_or_else(|| format!("call_{:016x}{i}", seed ^ (i as u64 + 1)));
            (id, c.name.clone(), c.input.to_string())
        })
        .collect();
    let usage = script.usage.clone().unwrap_or_default();
    let produced: String = text
        .iter()
        .cloned()
        .chain(calls.iter().map(|c| c.2.clone()))
        .collect();
    Answer {
        id: format!("resp_{seed:016x}"),
        model: req.model.clone(),
        reasoning: script.reasoning.clone(),
        text,
        calls,
        incomplete,
        input_tokens: usage
            .input_tokens
            .unwrap_or_else(|| count_tokens(&req.input_text)),
        output_tokens: usage
            .output_tokens
            .unwrap_or_else(|| count_tokens(&produced)),
        cached_tokens: usage.cache_read_input_tokens.unwrap_or(0),
    }
}

fn reasoning_item(a: &Answer) -> Option<Value> {
    a.reasoning.as_ref().map(|r| {
        json!({"type": "reasoning", "id": format!("rs_{}", &a.id[5..]),
            "summary": [{"type": "summary_text", "text": r}]})
    })
}

fn message_item(a: &Answer, status: &str) -> Option<Value> {
    a.text.as_ref().map(|t| {
        json!({"type": "message", "id": format!("msg_{}", &a.id[5..]), "status": status,
            "role": "assistant",
            "content": [{"type": "output_text", "text": t, "annotations": []}]})
    })
}

fn call_items(a: &Answer, status: &str) -> Vec<Value> {
    a.calls
        .iter()
        .enumerate()
        .map(|(i, (id, name, args))| {
            json!({"type": "function_call", "id": format!("fc_{}{i}", &a.id[5..]),
                "call_id": id, "name": name, "arguments": args, "status": status})
        })
        .collect()
}

/// The response object: what a blocking call returns, and what the final event carries.
fn response_object(a: &Answer) -> Value {
    let mut output: Vec<Value> = Vec::new();
    output.extend(reasoning_item(a));
    output.extend(message_item(a, "completed"));
    output.extend(call_items(a, "completed"));
    json!({
        "id": a.id,
        "object": "response",
        "created_at": 1_800_000_000u64,
        "status": if a.incomplete.is_some() { "incomplete" } else { "completed" },
        "incomplete_details": a.incomplete.map(|r| json!({"reason": r})),
        "error": null,
        "model": a.model,
        "output": output,
        "usage": {
            "input_tokens": a.input_tokens,
            "input_tokens_details": {"cached_tokens": a.cached_tokens},
            "output_tokens": a.output_tokens,
            "output_tokens_details": {"reasoning_tokens": a.reasoning.as_deref().map_or(0, count_tokens)},
            "total_tokens": a.input_tokens + a.output_tokens
        }
    })
}

/// A stream of server-sent events with the script's faults: pauses, an `error` event,
/// a dropped connection, a stall.
struct SsePlan {
    steps: Vec<Step>,
    buf: String,
    events: usize,
    script: Script,
    done: bool,
}

impl SsePlan {
    fn new(script: &Script) -> SsePlan {
        let mut plan = SsePlan {
            steps: Vec::new(),
            buf: String::new(),
            events: 0,
            script: script.clone(),
            done: false,
        };
        plan.faults();
        plan
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            self.steps
                .push(Step::Bytes(Bytes::from(std::mem::take(&mut self.buf))));
        }
    }

    fn write(&mut self, name: &str, data: &Value) {
        self.buf
            .push_str(&format!("event: {name}\ndata: {data}\n\n"));
    }

    /// Faults due once `self.events` events went out.
    fn faults(&mut self) {
        let n = self.events;
        if let Some(e) = self.script.exception.clone().filter(|e| e.after == n) {
            let message = e
                .message
                .unwrap_or_else(|| format!("{} (scripted by bedrock-double)", e.exception_type));
            self.write(
                "error",
                &json!({"type": "error", "code": e.exception_type, "message": message,
                    "param": null, "sequence_number": n}),
            );
            self.done = true;
            return;
        }
        if self.script.drop_after == Some(n) {
            self.flush();
            if n > 0 {
                self.steps.push(Step::Sleep(Duration::from_millis(20)));
            }
            self.steps.push(Step::Drop);
            self.done = true;
            return;
        }
        if let Some(s) = self.script.stall.clone().filter(|s| s.after == n) {
            self.flush();
            self.steps.push(Step::Sleep(Duration::from_millis(s.ms)));
        }
    }

    fn event(&mut self, mut data: Value) {
        if self.done {
            return;
        }
        if self.events > 0
            && let Some(d) = self.script.delay_ms.filter(|d| *d > 0)
        {
            self.flush();
            self.steps.push(Step::Sleep(Duration::from_millis(d)));
        }
        data["sequence_number"] = json!(self.events);
        let name = data["type"].as_str().unwrap_or("message").to_string();
        self.write(&name, &data);
        self.events += 1;
        self.faults();
    }

    fn finish(mut self) -> Vec<Step> {
        self.flush();
        self.steps
    }
}

fn pieces(text: &str, requested: Option<usize>) -> Vec<&str> {
    let n = requested.unwrap_or(3).clamp(1, text.chars().count().max(1));
    if text.is_empty() {
        return Vec::new();
    }
    split_even(text, n)
}

fn render_stream(a: &Answer, script: &Script) -> Vec<Step> {
    let mut plan = SsePlan::new(script);
    let mut started = response_object(a);
    started["status"] = json!("in_progress");
    started["output"] = json!([]);
    started["usage"] = Value::Null;
    plan.event(json!({"type": "response.created", "response": started.clone()}));
    plan.event(json!({"type": "response.in_progress", "response": started}));
    let mut index = 0;
    if let (Some(r), Some(item)) = (&a.reasoning, reasoning_item(a)) {
        let id = item["id"].clone();
        let mut open = item.clone();
        open["summary"] = json!([]);
        plan.event(
            json!({"type": "response.output_item.added", "output_index": index, "item": open}),
        );
        for piece in pieces(r, script.deltas) {
            plan.event(
                json!({"type": "response.reasoning_summary_text.delta", "item_id": id,
                "output_index": index, "summary_index": 0, "delta": piece}),
            );
        }
        plan.event(
            json!({"type": "response.reasoning_summary_text.done", "item_id": id,
            "output_index": index, "summary_index": 0, "text": r}),
        );
        plan.event(
            json!({"type": "response.output_item.done", "output_index": index, "item": item}),
        );
        index += 1;
    }
    if let (Some(t), Some(item)) = (&a.text, message_item(a, "completed")) {
        let id = item["id"].clone();
        let mut open = message_item(a, "in_progress").unwrap_or_default();
        open["content"] = json!([]);
        plan.event(
            json!({"type": "response.output_item.added", "output_index": index, "item": open}),
        );
        plan.event(
            json!({"type": "response.content_part.added", "item_id": id, "output_index": index,
            "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
        );
        for piece in pieces(t, script.deltas) {
            plan.event(json!({"type": "response.output_text.delta", "item_id": id,
                "output_index": index, "content_index": 0, "delta": piece}));
        }
        plan.event(
            json!({"type": "response.output_text.done", "item_id": id, "output_index": index,
            "content_index": 0, "text": t}),
        );
        plan.event(
            json!({"type": "response.content_part.done", "item_id": id, "output_index": index,
            "content_index": 0, "part": {"type": "output_text", "text": t, "annotations": []}}),
        );
        plan.event(
            json!({"type": "response.output_item.done", "output_index": index, "item": item}),
        );
        index += 1;
    }
    for (k, item) in call_items(a, "completed").into_iter().enumerate() {
        let id = item["id"].clone();
        let mut open = item.clone();
        open["arguments"] = json!("");
        open["status"] = json!("in_progress");
        plan.event(
            json!({"type": "response.output_item.added", "output_index": index, "item": open}),
        );
        let args = a.calls[k].2.as_str();
        let chunks = script.tool_calls.get(k).and_then(|c| c.chunks).or(Some(2));
        for piece in pieces(args, chunks) {
            plan.event(
                json!({"type": "response.function_call_arguments.delta", "item_id": id,
                "output_index": index, "delta": piece}),
            );
        }
        plan.event(
            json!({"type": "response.function_call_arguments.done", "item_id": id,
            "output_index": index, "arguments": args}),
        );
        plan.event(
            json!({"type": "response.output_item.done", "output_index": index, "item": item}),
        );
        index += 1;
    }
    let done = response_object(a);
    let kind = if a.incomplete.is_some() {
        "response.incomplete"
    } else {
        "response.completed"
    };
    plan.event(json!({"type": kind, "response": done}));
    plan.finish()
}

/// `POST /openai/v1/responses`.
pub(crate) fn create_response(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let body: Value = serde_json::from_slice(call.body).map_err(|e| {
        invalid(
            "invalid_json",
            format!("We could not parse the JSON body of your request. ({e})"),
        )
    })?;
    let req = validate(&body)?;
    call.resolved = Some(req.model.clone());
    let script = call.script(req.marker.clone());
    if let Some(e) = script.http_error() {
        return Err(e);
    }
    let a = answer(&req, &script, fnv1a64(call.body));
    let reply = if req.stream {
        let mut r = Reply::bytes(200, "text/event-stream", Bytes::new());
        r.body = DoubleBody::stream(render_stream(&a, &script));
        r.delay = script.first_byte_ms.map(Duration::from_millis);
        r
    } else {
        let mut r = Reply::json(&response_object(&a));
        let wait = script.first_byte_ms.unwrap_or(0) + script.stall.as_ref().map_or(0, |s| s.ms);
        r.delay = (wait > 0).then(|| Duration::from_millis(wait));
        r.drop = script.drop_after.is_some();
        r
    };
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_as_the_api_checks_them() {
        let ok = json!({"model": "openai.gpt-5.4", "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        ]});
        assert!(validate(&ok).is_ok());
        let with = |k: &str, v: Value| {
            let mut b = ok.clone();
            b[k] = v;
            validate(&b).err().map(|e| e.code)
        };
        assert_eq!(
            with("top_p", json!(0.5)).as_deref(),
            Some("unsupported_parameter")
        );
        assert_eq!(
            with("topp", json!(0.5)).as_deref(),
            Some("unknown_parameter")
        );
        assert_eq!(
            with("max_output_tokens", json!(1)).as_deref(),
            Some("integer_below_min_value")
        );
        assert_eq!(
            with("model", json!("openai.gpt-9")).as_deref(),
            Some("model_not_found")
        );
        assert_eq!(
            with(
                "tools",
                json!([{"type": "function", "name": "f", "parameters": {"type": "object"}}])
            )
            .as_deref(),
            Some("invalid_function_parameters"),
            "strict is the default"
        );
        assert_eq!(
            with(
                "input",
                json!([{"type": "function_call_output", "call_id": "x", "output": "y"}])
            )
            .as_deref(),
            Some("invalid_value")
        );
    }

    #[test]
    fn a_scripted_stream_ends_with_the_completed_response() {
        let req = validate(&json!({"model": "openai.gpt-5.5", "stream": true,
            "input": "Hi [[double: {\"text\": \"Hello\", \"deltas\": 2, \"tool_calls\": [{\"name\": \"f\", \"input\": {\"a\": 1}}]}]]"}))
        .expect("valid");
        let script = req.marker.clone().expect("marker");
        let a = answer(&req, &script, 7);
        let steps = render_stream(&a, &script);
        let text: String = steps
            .iter()
            .filter_map(|s| match s {
                Step::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .collect();
        assert!(
            text.contains("event: response.output_text.delta\ndata: {"),
            "{text}"
        );
        assert!(text.contains("\"delta\":\"He\""), "{text}");
        assert!(
            text.contains("response.function_call_arguments.delta"),
            "{text}"
        );
        assert!(text.trim_end().ends_with('}') && text.contains("event: response.completed"));
        assert_eq!(response_object(&a)["output"][1]["arguments"], "{\"a\":1}");
    }
}
