//! The action payloads the daemon sends (`data` of a request), as typed structs
//! (reference dify-protocol.md §4). Unknown fields are ignored: the daemon adds fields
//! over time. Lists and maps accept `null`, strings accept `""`, as Go marshals them.
//! The credential form becomes typed values here too (`form`).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::form::Credentials;
use crate::declaration::ModelType;
use crate::prompt::{ContentKind, PromptMessage, Tool, ToolChoice};
use crate::wire::de::{empty_string_none, null_default};

/// Fields every model action carries.
#[derive(Deserialize)]
#[serde(from = "RawModelBase")]
pub struct ModelBase {
    pub model: String,
    /// The model type, or the name sent when it is none this plugin knows.
    pub model_type: Result<ModelType, String>,
    pub credentials: Credentials,
}

#[derive(Deserialize)]
struct RawModelBase {
    model: String,
    model_type: String,
    #[serde(default, deserialize_with = "null_default")]
    credentials: Map<String, Value>,
}

impl From<RawModelBase> for ModelBase {
    fn from(raw: RawModelBase) -> ModelBase {
        ModelBase {
            model: raw.model,
            model_type: ModelType::parse(&raw.model_type).ok_or(raw.model_type),
            credentials: Credentials::parse(raw.credentials),
        }
    }
}

impl ModelBase {
    /// Multimodal actions may name their model type on their own
    /// (`multimodal-embedding`, daemon `model_entities/llm.go`); it is `base`'s.
    pub fn accept_multimodal_type(&mut self, name: &str, base: ModelType) {
        if matches!(&self.model_type, Err(sent) if sent == name) {
            self.model_type = Ok(base);
        }
    }
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
    pub content_type: ContentKind,
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
    #[serde(default, deserialize_with = "provider_credentials")]
    pub credentials: Credentials,
}

fn provider_credentials<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Credentials, D::Error> {
    null_default::<D, Map<String, Value>>(d).map(Credentials::parse)
}
