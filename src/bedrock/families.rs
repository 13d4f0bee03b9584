//! The one table that says how each Bedrock model family is called through Converse:
//! where each parameter goes and which request features it accepts. Per-model facts
//! (vision, documents, tools, limits, regions) live in the model YAML; a new model of a
//! known family is a new YAML file, a new family a new row here.

/// Where a family takes `top_k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopK {
    /// `additionalModelRequestFields.<name>`.
    Field(&'static str),
    /// Nova: `additionalModelRequestFields.inferenceConfig.topK`.
    NovaInferenceConfig,
    Unsupported,
}

/// How a family takes extended thinking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reasoning {
    /// Anthropic: `additionalModelRequestFields.thinking = {type: enabled, budget_tokens}`.
    AnthropicBudget,
    /// Not switchable (a model either reasons on its own or not at all).
    Fixed,
}

#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub name: &'static str,
    pub system_prompts: bool,
    /// Converse `toolChoice` `any` and `tool` (all tool-using families accept `auto`).
    pub forced_tool_choice: bool,
    pub top_k: TopK,
    pub reasoning: Reasoning,
    /// Accepts `cachePoint` blocks (prompt caching).
    pub prompt_caching: bool,
}

const fn family(name: &'static str) -> Family {
    Family {
        name,
        system_prompts: true,
        forced_tool_choice: false,
        top_k: TopK::Unsupported,
        reasoning: Reasoning::Fixed,
        prompt_caching: false,
    }
}

/// Sources: the Converse "supported models and model features" table and each family's
/// inference-parameter page in the Bedrock user guide.
pub const FAMILIES: &[Family] = &[
    Family {
        forced_tool_choice: true,
        top_k: TopK::Field("top_k"),
        reasoning: Reasoning::AnthropicBudget,
        prompt_caching: true,
        ..family("anthropic-claude")
    },
    Family {
        forced_tool_choice: true,
        top_k: TopK::NovaInferenceConfig,
        prompt_caching: true,
        ..family("amazon-nova")
    },
    family("meta-llama"),
    Family {
        forced_tool_choice: true,
        ..family("mistral")
    },
    family("ai21-jamba"),
    family("deepseek"),
    family("qwen"),
    family("openai-gpt-oss"),
    family("writer-palmyra"),
    family("moonshot-kimi"),
];

pub fn family_named(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

/// The family used when nothing is known about a model (a custom id or ARN): plain
/// Converse with the features every chat family shares.
pub const GENERIC: Family = family("generic");
