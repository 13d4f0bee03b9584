//! Dify's prompt model: messages with text, images and documents, tool calls and tool
//! results, and the tools offered — as the daemon sends them in `invoke_llm`.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::wire::de::{empty_string_none, null_default};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    /// Newer OpenAI-style system prompt; treated as `system`.
    Developer,
    User,
    Assistant,
    Tool,
}

/// A message's content: plain text, or a list of typed parts.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default, deserialize_with = "empty_string_none")]
    pub data: Option<String>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub base64_data: Option<String>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub mime_type: Option<String>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub format: Option<String>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub filename: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToolCall {
    #[serde(default)]
    pub id: String,
    pub function: ToolCallFunction,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToolCallFunction {
    pub name: String,
    /// A JSON document as a string.
    #[serde(default)]
    pub arguments: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PromptMessage {
    pub role: Role,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tool {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, deserialize_with = "null_default")]
    pub parameters: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToolChoice {
    pub mode: String,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub name: Option<String>,
}
