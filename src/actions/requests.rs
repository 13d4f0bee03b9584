//! The action payloads the daemon sends (`data` of a request), as typed structs
//! (reference dify-protocol.md §4). Unknown fields are ignored: the daemon adds fields
//! over time. Lists and maps accept `null`, strings accept `""`, as Go marshals them.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::prompt::{PromptMessage, Tool, ToolChoice};
use crate::wire::de::{empty_string_none, null_default};

/// Fields every model action carries.
#[derive(Deserialize)]
pub struct ModelBase {
    #[serde(default)]
    pub provider: String,
    pub model: String,
    pub model_type: String,
    #[serde(default, deserialize_with = "null_default")]
    pub credentials: Map<String, Value>,
}

#[derive(Deserialize)]
pub struct InvokeLlm {
    #[serde(flatten)]
    pub base: ModelBase,
    #[serde(default, deserialize_with = "null_default")]
    pub model_parameters: Map<String, Value>,
    pub prompt_messages: Vec<PromptMessage>,
    #[serde(default, deserialize_with = "null_default")]
    pub tools: Vec<Tool>,
    #[serde(default)]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, deserialize_with = "null_default")]
    pub stop: Vec<String>,
    #[serde(default)]
    pub json_schema: Option<Value>,
    #[serde(default = "yes")]
    pub stream: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
pub struct LlmNumTokens {
    #[serde(flatten)]
    pub base: ModelBase,
    #[serde(default, deserialize_with = "null_default")]
    pub prompt_messages: Vec<PromptMessage>,
    #[serde(default, deserialize_with = "null_default")]
    pub tools: Vec<Tool>,
}

#[derive(Deserialize)]
pub struct TextEmbedding {
    #[serde(flatten)]
    pub base: ModelBase,
    #[serde(default, deserialize_with = "null_default")]
    pub texts: Vec<String>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub input_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MultimodalDocument {
    pub content: String,
    pub content_type: String,
}

#[derive(Deserialize)]
pub struct MultimodalEmbedding {
    #[serde(flatten)]
    pub base: ModelBase,
    #[serde(default, deserialize_with = "null_default")]
    pub documents: Vec<MultimodalDocument>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub input_type: Option<String>,
}

#[derive(Deserialize)]
pub struct EmbeddingNumTokens {
    #[serde(flatten)]
    pub base: ModelBase,
    #[serde(default, deserialize_with = "null_default")]
    pub texts: Vec<String>,
}

#[derive(Deserialize)]
pub struct Rerank {
    #[serde(flatten)]
    pub base: ModelBase,
    pub query: String,
    #[serde(default, deserialize_with = "null_default")]
    pub docs: Vec<String>,
    /// 0 when unset: the daemon sends Go's zero value.
    #[serde(default, deserialize_with = "null_default")]
    pub score_threshold: f64,
    #[serde(default, deserialize_with = "null_default")]
    pub top_n: u64,
}

#[derive(Deserialize)]
pub struct MultimodalRerank {
    #[serde(flatten)]
    pub base: ModelBase,
    pub query: MultimodalDocument,
    #[serde(default, deserialize_with = "null_default")]
    pub docs: Vec<MultimodalDocument>,
    #[serde(default, deserialize_with = "null_default")]
    pub score_threshold: f64,
    #[serde(default, deserialize_with = "null_default")]
    pub top_n: u64,
}

#[derive(Deserialize)]
pub struct ValidateProvider {
    #[serde(default)]
    pub provider: String,
    #[serde(default, deserialize_with = "null_default")]
    pub credentials: Map<String, Value>,
}
