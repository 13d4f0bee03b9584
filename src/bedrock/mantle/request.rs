//! Dify prompt messages → a Responses API request (`POST /openai/v1/responses`):
//! system and developer messages, user text and images (`input_image` with a data URL),
//! assistant text, assistant tool calls as `function_call` items and tool results as
//! `function_call_output` items; tools as function tools with the tool choice; and the
//! model parameters (`max_output_tokens`, `temperature`, `reasoning.effort`). Inputs the
//! model cannot take are refused here, by name, before any call.
//!
//! Shapes: OpenAI's Responses API reference (`input` items, function tools, `tool_choice`),
//! which bedrock-mantle implements (Bedrock user guide, "Responses API").

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::PluginError;
use crate::media::{self, ImageType};
use crate::prompt::{Content, ContentKind, ContentPart, PromptMessage, Role, Tool, ToolChoice};
use crate::prompt::{ToolChoiceMode, think};

/// The model parameters a Responses request carries, already checked against the rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MantleParams {
    pub max_output_tokens: Option<i64>,
    pub temperature: Option<f64>,
    /// `none`, `low`, `medium`, `high`, `xhigh`, `max`: passed as the user chose it.
    pub reasoning_effort: Option<String>,
}

impl MantleParams {
    /// Reads the validated `model_parameters`. `top_p` is not read: bedrock-mantle
    /// rejects it for these reasoning models.
    pub fn from_model_parameters(p: &Map<String, Value>) -> MantleParams {
        MantleParams {
            max_output_tokens: p.get("max_tokens").and_then(Value::as_i64),
            temperature: p.get("temperature").and_then(Value::as_f64),
            reasoning_effort: p
                .get("reasoning_effort")
                .and_then(Value::as_str)
                .filter(|e| !e.is_empty())
                .map(str::to_string),
        }
    }
}

/// What a Responses request is built from.
pub struct MantleInput<'a> {
    pub model_id: String,
    /// The model accepts images (its `vision` feature).
    pub vision: bool,
    /// The model accepts tools (its `tool-call` feature).
    pub tools_allowed: bool,
    pub messages: &'a [PromptMessage],
    pub tools: &'a [Tool],
    pub tool_choice: Option<&'a ToolChoice>,
    pub params: MantleParams,
}

/// A Responses API request body.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResponsesRequest {
    pub model: String,
    pub input: Vec<InputItem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<FunctionTool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    pub stream: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reasoning {
    pub effort: String,
}

/// One item of `input`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputItem {
    Message {
        role: &'static str,
        content: MessageContent,
    },
    FunctionCall {
        call_id: String,
        name: String,
        arguments: String,
    },
    FunctionCallOutput {
        call_id: String,
        output: String,
    },
}

/// A message's content: text alone (system, developer and assistant messages), or parts.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentItem>),
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentItem {
    InputText { text: String },
    InputImage { image_url: String },
}

/// A function tool. `strict` is sent as false: the Responses API defaults it to true,
/// which refuses the JSON schemas Dify's tools carry (optional properties, no
/// `additionalProperties: false`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FunctionTool {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub parameters: Value,
    pub strict: bool,
}

fn bad(message: impl Into<String>) -> PluginError {
    PluginError::bad_request(message)
}

/// The request for `input`; `stream` asks for server-sent events.
pub fn build(input: MantleInput<'_>, stream: bool) -> Result<ResponsesRequest, PluginError> {
    if !input.tools_allowed && !input.tools.is_empty() {
        return Err(bad(
            "this model does not support tool calling; choose a model with the tool-call feature, or remove the tools",
        ));
    }
    let mut items = Vec::new();
    for (i, msg) in input.messages.iter().enumerate() {
        add_message(&mut items, msg, i, input.vision)?;
    }
    if items.is_empty() {
        return Err(bad("the prompt has no message"));
    }
    let (tools, tool_choice) = tools(input.tools, input.tool_choice)?;
    let p = input.params;
    Ok(ResponsesRequest {
        model: input.model_id,
        input: items,
        tools,
        tool_choice,
        max_output_tokens: p.max_output_tokens.map(|m| m.max(1)),
        temperature: p.temperature,
        reasoning: p.reasoning_effort.map(|effort| Reasoning { effort }),
        stream,
    })
}

fn text_message(role: &'static str, text: String) -> InputItem {
    InputItem::Message {
        role,
        content: MessageContent::Text(text),
    }
}

fn add_message(
    items: &mut Vec<InputItem>,
    msg: &PromptMessage,
    i: usize,
    vision: bool,
) -> Result<(), PluginError> {
    match msg.role {
        Role::System | Role::Developer => {
            let text = msg.text();
            if !text.trim().is_empty() {
                let role = if msg.role == Role::System {
                    "system"
                } else {
                    "developer"
                };
                items.push(text_message(role, text));
            }
        }
        Role::User => {
            let parts = user_parts(msg, i, vision)?;
            if !parts.is_empty() {
                items.push(InputItem::Message {
                    role: "user",
                    content: MessageContent::Parts(parts),
                });
            }
        }
        Role::Assistant => {
            // Reasoning shown to Dify in <think> tags is not the model's to read again.
            let text = think::strip(&msg.text());
            if !text.trim().is_empty() {
                items.push(text_message("assistant", text));
            }
            for (j, call) in msg.tool_calls.iter().enumerate() {
                if call.id.is_empty() {
                    return Err(bad(format!(
                        "message {i}, tool call {j}: the tool call has no id, so its result cannot be matched to it"
                    )));
                }
                let arguments = if call.function.arguments.trim().is_empty() {
                    "{}".to_string()
                } else {
                    call.function.arguments.clone()
                };
                items.push(InputItem::FunctionCall {
                    call_id: call.id.clone(),
                    name: call.function.name.clone(),
                    arguments,
                });
            }
        }
        Role::Tool => {
            let call_id = msg.tool_call_id.clone().ok_or_else(|| {
                bad(format!(
                    "message {i}: the tool result names no tool_call_id, so it cannot be matched to its call"
                ))
            })?;
            items.push(InputItem::FunctionCallOutput {
                call_id,
                output: msg.text(),
            });
        }
    }
    Ok(())
}

fn user_parts(
    msg: &PromptMessage,
    i: usize,
    vision: bool,
) -> Result<Vec<ContentItem>, PluginError> {
    let parts = match &msg.content {
        None => return Ok(Vec::new()),
        Some(Content::Text(t)) if t.trim().is_empty() => return Ok(Vec::new()),
        Some(Content::Text(t)) => return Ok(vec![ContentItem::InputText { text: t.clone() }]),
        Some(Content::Parts(parts)) => parts,
    };
    let mut out = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let at = format!("message {i}, part {j}");
        match &part.kind {
            ContentKind::Text => {
                if let Some(t) = part.data.as_ref().filter(|t| !t.trim().is_empty()) {
                    out.push(ContentItem::InputText { text: t.clone() });
                }
            }
            ContentKind::Image => {
                if !vision {
                    return Err(bad(format!(
                        "{at}: this model does not accept images; choose a model with vision"
                    )));
                }
                out.push(ContentItem::InputImage {
                    image_url: image_url(part, &at)?,
                });
            }
            other => {
                return Err(bad(format!(
                    "{at}: {other} content is not supported by bedrock-mantle's Responses API in this plugin; send text and images"
                )));
            }
        }
    }
    Ok(out)
}

/// An image part as the data URL `input_image` takes: decoded, its type named or
/// recognised, and encoded again (so bare base64 and data URLs end up alike).
fn image_url(part: &ContentPart, at: &str) -> Result<String, PluginError> {
    let decoded = part.file().map_err(|e| bad(e.describe(at, &part.kind)))?;
    let named = decoded.declared_mime.as_deref().or(part.format.as_deref());
    let format = match named {
        Some(name) => ImageType::named(name),
        None => ImageType::sniff(&decoded.bytes),
    }
    .ok_or_else(|| {
        bad(format!(
            "{at}: image type {} is not supported; send JPEG, PNG, GIF or WebP",
            named.unwrap_or("unknown")
        ))
    })?;
    Ok(format!(
        "data:image/{};base64,{}",
        format.as_str(),
        media::encode(&decoded.bytes)
    ))
}

/// The function tools offered and the tool choice.
fn tools(
    tools: &[Tool],
    choice: Option<&ToolChoice>,
) -> Result<(Vec<FunctionTool>, Option<Value>), PluginError> {
    if tools.is_empty() {
        return Ok((Vec::new(), None));
    }
    let defined = tools
        .iter()
        .map(|t| {
            let mut schema = Value::Object(t.parameters.clone());
            if schema.as_object().is_some_and(|o| o.is_empty()) {
                schema = json!({"type": "object", "properties": {}});
            }
            FunctionTool {
                kind: "function",
                name: t.name.clone(),
                description: Some(t.description.clone()).filter(|d| !d.trim().is_empty()),
                parameters: schema,
                strict: false,
            }
        })
        .collect();
    let choice = match choice.map(|c| (c.mode, c.name.as_deref())) {
        None => None,
        Some((ToolChoiceMode::Auto, _)) => Some(json!("auto")),
        Some((ToolChoiceMode::None, _)) => Some(json!("none")),
        Some((ToolChoiceMode::Required, _)) => Some(json!("required")),
        Some((ToolChoiceMode::Tool, None)) => {
            return Err(bad("tool_choice \"tool\" names no tool"));
        }
        Some((ToolChoiceMode::Tool, Some(name))) => {
            if !tools.iter().any(|t| t.name == name) {
                return Err(bad(format!(
                    "tool_choice names {name:?}, which is not among the tools offered"
                )));
            }
            Some(json!({"type": "function", "name": name}))
        }
    };
    Ok((defined, choice))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

    fn messages(v: Value) -> Vec<PromptMessage> {
        serde_json::from_value(v).expect("messages")
    }

    fn input<'a>(messages: &'a [PromptMessage], tools: &'a [Tool]) -> MantleInput<'a> {
        MantleInput {
            model_id: "openai.gpt-5.4".into(),
            vision: true,
            tools_allowed: true,
            messages,
            tools,
            tool_choice: None,
            params: MantleParams::default(),
        }
    }

    #[test]
    fn a_conversation_with_tools_becomes_input_items() {
        let m = messages(json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "data": "What is this?"},
                {"type": "image", "base64_data": PNG_1X1, "mime_type": "image/png"}
            ]},
            {"role": "assistant", "content": "<think>\nhmm\n</think>\nLet me look.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"x\"}"}}
            ]},
            {"role": "tool", "content": "found", "tool_call_id": "call_1"}
        ]));
        let tools: Vec<Tool> = serde_json::from_value(json!([
            {"name": "lookup", "description": "Looks up", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}
        ]))
        .expect("tools");
        let mut i = input(&m, &tools);
        i.params = MantleParams::from_model_parameters(
            json!({"max_tokens": 100, "temperature": 0.2, "top_p": 0.5, "reasoning_effort": "high"})
                .as_object()
                .expect("object"),
        );
        let body = serde_json::to_value(build(i, true).expect("built")).expect("json");
        assert_eq!(
            body,
            json!({
                "model": "openai.gpt-5.4",
                "input": [
                    {"type": "message", "role": "system", "content": "Be brief."},
                    {"type": "message", "role": "user", "content": [
                        {"type": "input_text", "text": "What is this?"},
                        {"type": "input_image", "image_url": format!("data:image/png;base64,{PNG_1X1}")}
                    ]},
                    {"type": "message", "role": "assistant", "content": "Let me look."},
                    {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": "{\"q\":\"x\"}"},
                    {"type": "function_call_output", "call_id": "call_1", "output": "found"}
                ],
                "tools": [{"type": "function", "name": "lookup", "description": "Looks up",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}, "strict": false}],
                "max_output_tokens": 100,
                "temperature": 0.2,
                "reasoning": {"effort": "high"},
                "stream": true
            })
        );
    }

    /// Every parameter a mantle model declares is read by [`MantleParams`], so none is
    /// dropped silently.
    #[test]
    fn every_declared_parameter_is_read() {
        use crate::declaration::{Catalog, ChatApi, ModelType};
        const READ: &[&str] = &["max_tokens", "temperature", "reasoning_effort"];
        let catalog = Catalog::embedded().expect("catalog");
        let mantle: Vec<_> = catalog
            .models()
            .iter()
            .filter(|m| m.model_type == ModelType::Llm && m.chat_api() == ChatApi::MantleResponses)
            .collect();
        assert_eq!(mantle.len(), 5, "GPT-5.4, 5.5, 5.6 Sol, Terra, Luna");
        for decl in mantle {
            for rule in &decl.parameter_rules {
                assert!(
                    READ.contains(&rule.name.as_str()),
                    "{}: parameter {} is not sent to bedrock-mantle",
                    decl.model,
                    rule.name
                );
            }
        }
    }

    #[test]
    fn what_cannot_be_sent_is_refused_by_name() {
        let m = messages(json!([{"role": "user", "content": [
            {"type": "document", "base64_data": "JVBERi0=", "mime_type": "application/pdf"}
        ]}]));
        let e = build(input(&m, &[]), false).expect_err("document");
        assert!(e.message.contains("document content"), "{}", e.message);

        let m = messages(json!([{"role": "user", "content": [
            {"type": "image", "base64_data": PNG_1X1}
        ]}]));
        let mut i = input(&m, &[]);
        i.vision = false;
        assert!(build(i, false).is_err());

        let m = messages(json!([{"role": "tool", "content": "x"}]));
        assert!(build(input(&m, &[]), false).is_err());
        assert!(build(input(&[], &[]), false).is_err());

        let tools: Vec<Tool> = serde_json::from_value(json!([{"name": "a"}])).expect("tools");
        let m = messages(json!([{"role": "user", "content": "hi"}]));
        let choice = ToolChoice {
            mode: ToolChoiceMode::Tool,
            name: Some("b".into()),
        };
        let mut i = input(&m, &tools);
        i.tool_choice = Some(&choice);
        assert!(build(i, false).is_err());
        let choice = ToolChoice {
            mode: ToolChoiceMode::Tool,
            name: Some("a".into()),
        };
        let mut i = input(&m, &tools);
        i.tool_choice = Some(&choice);
        let body = serde_json::to_value(build(i, false).expect("built")).expect("json");
        assert_eq!(
            body["tool_choice"],
            json!({"type": "function", "name": "a"})
        );
        assert_eq!(
            body["tools"][0]["parameters"],
            json!({"type": "object", "properties": {}})
        );
    }
}
