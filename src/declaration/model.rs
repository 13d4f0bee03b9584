//! Model declarations (`models/<type>/*.yaml`): the shape the daemon and the SDK share.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Text in several languages; `en_US` is the one every reader requires.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct I18n {
    #[serde(rename = "en_US")]
    pub en_us: String,
    #[serde(rename = "zh_Hans", default, skip_serializing_if = "Option::is_none")]
    pub zh_hans: Option<String>,
    #[serde(rename = "ja_JP", default, skip_serializing_if = "Option::is_none")]
    pub ja_jp: Option<String>,
    #[serde(rename = "pt_BR", default, skip_serializing_if = "Option::is_none")]
    pub pt_br: Option<String>,
}

impl I18n {
    pub fn en(text: impl Into<String>) -> I18n {
        I18n {
            en_us: text.into(),
            ..I18n::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModelType {
    #[serde(rename = "llm")]
    Llm,
    #[serde(rename = "text-embedding")]
    TextEmbedding,
    #[serde(rename = "rerank")]
    Rerank,
    #[serde(rename = "speech2text")]
    Speech2Text,
    #[serde(rename = "moderation")]
    Moderation,
    #[serde(rename = "tts")]
    Tts,
}

impl ModelType {
    /// The name used in requests and model YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelType::Llm => "llm",
            ModelType::TextEmbedding => "text-embedding",
            ModelType::Rerank => "rerank",
            ModelType::Speech2Text => "speech2text",
            ModelType::Moderation => "moderation",
            ModelType::Tts => "tts",
        }
    }

    /// The key of the provider YAML's `models` map (underscores, not dashes).
    pub fn provider_key(self) -> &'static str {
        match self {
            ModelType::TextEmbedding => "text_embedding",
            other => other.as_str(),
        }
    }

    pub fn parse(s: &str) -> Option<ModelType> {
        Some(match s {
            "llm" => ModelType::Llm,
            "text-embedding" | "text_embedding" => ModelType::TextEmbedding,
            "rerank" => ModelType::Rerank,
            "speech2text" => ModelType::Speech2Text,
            "moderation" => ModelType::Moderation,
            "tts" => ModelType::Tts,
            _ => return None,
        })
    }
}

/// What a model can do, as Dify names it (the SDK's `ModelFeature`); a YAML naming
/// anything else does not load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelFeature {
    #[serde(rename = "tool-call")]
    ToolCall,
    #[serde(rename = "multi-tool-call")]
    MultiToolCall,
    #[serde(rename = "agent-thought")]
    AgentThought,
    #[serde(rename = "stream-tool-call")]
    StreamToolCall,
    #[serde(rename = "vision")]
    Vision,
    #[serde(rename = "document")]
    Document,
    #[serde(rename = "video")]
    Video,
    #[serde(rename = "audio")]
    Audio,
    #[serde(rename = "structured-output")]
    StructuredOutput,
}

/// How Bedrock calls a model: one row of the Converse family table (`bedrock::families`)
/// for chat models, one request format for embedding and rerank models. A YAML naming
/// an unknown family does not load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum ModelFamily {
    #[serde(rename = "anthropic-claude")]
    AnthropicClaude,
    #[serde(rename = "amazon-nova")]
    AmazonNova,
    #[serde(rename = "meta-llama")]
    MetaLlama,
    #[serde(rename = "mistral")]
    Mistral,
    #[serde(rename = "ai21-jamba")]
    Ai21Jamba,
    #[serde(rename = "deepseek")]
    Deepseek,
    #[serde(rename = "qwen")]
    Qwen,
    #[serde(rename = "openai-gpt-oss")]
    OpenaiGptOss,
    /// OpenAI's GPT-5.x, served by bedrock-mantle's Responses API rather than Converse.
    #[serde(rename = "openai-mantle")]
    OpenaiMantle,
    #[serde(rename = "writer-palmyra")]
    WriterPalmyra,
    #[serde(rename = "moonshot-kimi")]
    MoonshotKimi,
    #[serde(rename = "amazon-titan-embed")]
    AmazonTitanEmbed,
    #[serde(rename = "cohere-embed")]
    CohereEmbed,
    #[serde(rename = "amazon-nova-embed")]
    AmazonNovaEmbed,
    #[serde(rename = "amazon-rerank")]
    AmazonRerank,
    #[serde(rename = "cohere-rerank")]
    CohereRerank,
}

impl ModelFamily {
    /// The name YAML files use.
    pub const fn as_str(self) -> &'static str {
        match self {
            ModelFamily::AnthropicClaude => "anthropic-claude",
            ModelFamily::AmazonNova => "amazon-nova",
            ModelFamily::MetaLlama => "meta-llama",
            ModelFamily::Mistral => "mistral",
            ModelFamily::Ai21Jamba => "ai21-jamba",
            ModelFamily::Deepseek => "deepseek",
            ModelFamily::Qwen => "qwen",
            ModelFamily::OpenaiGptOss => "openai-gpt-oss",
            ModelFamily::OpenaiMantle => "openai-mantle",
            ModelFamily::WriterPalmyra => "writer-palmyra",
            ModelFamily::MoonshotKimi => "moonshot-kimi",
            ModelFamily::AmazonTitanEmbed => "amazon-titan-embed",
            ModelFamily::CohereEmbed => "cohere-embed",
            ModelFamily::AmazonNovaEmbed => "amazon-nova-embed",
            ModelFamily::AmazonRerank => "amazon-rerank",
            ModelFamily::CohereRerank => "cohere-rerank",
        }
    }

    /// The kind of model every member of the family is.
    pub fn model_type(self) -> ModelType {
        match self {
            ModelFamily::AmazonTitanEmbed
            | ModelFamily::CohereEmbed
            | ModelFamily::AmazonNovaEmbed => ModelType::TextEmbedding,
            ModelFamily::AmazonRerank | ModelFamily::CohereRerank => ModelType::Rerank,
            _ => ModelType::Llm,
        }
    }

    /// The API a chat family is called through. Only bedrock-mantle's OpenAI family
    /// leaves Converse; embedding and rerank families answer Converse here too, unused.
    pub fn chat_api(self) -> ChatApi {
        match self {
            ModelFamily::OpenaiMantle => ChatApi::MantleResponses,
            _ => ChatApi::Converse,
        }
    }
}

/// Which Bedrock API a chat model is called through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatApi {
    /// Converse and ConverseStream on bedrock-runtime.
    Converse,
    /// The OpenAI-compatible Responses API on bedrock-mantle (`/openai/v1/responses`).
    MantleResponses,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FetchFrom {
    #[default]
    #[serde(rename = "predefined-model")]
    PredefinedModel,
    #[serde(rename = "customizable-model")]
    CustomizableModel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Float,
    Int,
    String,
    Boolean,
    Text,
}

/// One model parameter Dify shows and sends; see reference §5.4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterRule {
    pub name: String,
    #[serde(default)]
    pub use_template: Option<String>,
    #[serde(default)]
    pub label: Option<I18n>,
    #[serde(rename = "type", default)]
    pub kind: Option<ParamType>,
    #[serde(default)]
    pub help: Option<I18n>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub precision: Option<u32>,
    #[serde(default)]
    pub options: Vec<String>,
}

/// Prices as decimal strings, `price = tokens × unit price × unit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    pub input: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Price of input tokens read from the prompt cache (a key the daemon and SDK ignore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<String>,
    /// Price of input tokens written to the prompt cache (the default 5-minute TTL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<String>,
    /// Price of input tokens written to the prompt cache with the one-hour TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<String>,
    pub unit: String,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelDecl {
    pub model: String,
    #[serde(default)]
    pub label: Option<I18n>,
    pub model_type: ModelType,
    #[serde(default)]
    pub features: Vec<ModelFeature>,
    #[serde(default)]
    pub fetch_from: FetchFrom,
    #[serde(default)]
    pub model_properties: Map<String, Value>,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(default)]
    pub parameter_rules: Vec<ParameterRule>,
    #[serde(default)]
    pub pricing: Option<Pricing>,
    /// Bedrock facts about the model, read by this plugin only (the daemon and the SDK
    /// ignore the key); never sent to Dify.
    #[serde(default, skip_serializing)]
    pub bedrock: Option<BedrockFacts>,
}

/// What Bedrock documents about a model: its API family, limits, where it runs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BedrockFacts {
    pub family: ModelFamily,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    /// False when AWS offers the model only through inference profiles.
    #[serde(default = "yes")]
    pub on_demand: bool,
    /// Regions where the model runs in-region on demand; empty when not recorded.
    #[serde(default)]
    pub regions: Vec<String>,
    /// System inference profiles: prefix (`us`, `eu`, `apac`, `jp`, `global`, …) → the
    /// regions the profile can be called from.
    #[serde(default)]
    pub profiles: std::collections::BTreeMap<String, Vec<String>>,
    /// Overrides the family's rule for system prompts (some members lack them).
    #[serde(default)]
    pub system_prompts: Option<bool>,
    /// Embedding output sizes the model accepts, and its default.
    #[serde(default)]
    pub dimensions: Vec<u32>,
    #[serde(default)]
    pub default_dimensions: Option<u32>,
    #[serde(default)]
    pub max_input_tokens: Option<u64>,
    #[serde(default)]
    pub multimodal: bool,
    /// The model that answers in its place after a refusal (Claude 5's cards).
    #[serde(default)]
    pub refusal_fallback: Option<String>,
    /// Prompt-cache checkpoints may keep their prefix for an hour (`ttl: 1h`).
    #[serde(default)]
    pub cache_ttl_1h: bool,
    /// Service tiers beyond the standard one (`priority`, `flex`) → the regions AWS
    /// documents them in. Advice: the request is sent wherever the user asks.
    #[serde(default)]
    pub service_tiers: std::collections::BTreeMap<String, Vec<String>>,
    /// Regions where AWS documents latency-optimized inference for the model.
    #[serde(default)]
    pub latency_optimized: Vec<String>,
}

fn yes() -> bool {
    true
}

impl ModelDecl {
    /// The API a chat model is called through; Converse when nothing is known about it.
    pub fn chat_api(&self) -> ChatApi {
        self.bedrock
            .as_ref()
            .map_or(ChatApi::Converse, |f| f.family.chat_api())
    }

    pub fn has_feature(&self, feature: ModelFeature) -> bool {
        self.features.contains(&feature)
    }

    /// The name Dify shows, for messages.
    pub fn label(&self) -> &str {
        self.label
            .as_ref()
            .map_or(self.model.as_str(), |l| l.en_us.as_str())
    }
}
