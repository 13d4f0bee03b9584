//! The one table that says how each Bedrock model family is called through Converse:
//! where each parameter goes and which request features it accepts. Per-model facts
//! (vision, documents, tools, limits, regions) live in the model YAML; a new model of a
//! known family is a new YAML file, a new family a new row here. Families called through
//! another API (bedrock-mantle's Responses API, see `ModelFamily::chat_api`) have no row.

use crate::declaration::ModelFamily;

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

/// How a family takes a reasoning effort (`effort` or `reasoning_effort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// Anthropic adaptive thinking: `thinking = {type: adaptive}`, `output_config.effort`.
    AnthropicAdaptive,
    /// `additionalModelRequestFields.reasoning_effort` (OpenAI gpt-oss).
    ReasoningEffortField,
    /// Nova 2: `additionalModelRequestFields.reasoningConfig = {type: enabled, maxReasoningEffort}`.
    NovaReasoningConfig,
    Unsupported,
}

#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// `None` for [`GENERIC`], the family of models nothing is known about.
    pub(crate) id: Option<ModelFamily>,
    /// The name YAML files use.
    pub name: &'static str,
    pub system_prompts: bool,
    /// Converse `toolChoice` `any` and `tool` (all tool-using families accept `auto`).
    pub forced_tool_choice: bool,
    pub top_k: TopK,
    pub reasoning: Reasoning,
    /// Accepts `cachePoint` blocks in the system prompt and messages (prompt caching).
    pub prompt_caching: bool,
    /// Accepts a `cachePoint` after the tool definitions too.
    pub tools_caching: bool,
    pub effort: Effort,
    /// Takes Anthropic's beta flags (`additionalModelRequestFields.anthropic_beta`).
    pub anthropic_beta: bool,
    /// Bedrock's CountTokens API counts for it (AWS documents it for Claude).
    pub count_tokens: bool,
}

const fn family(id: ModelFamily) -> Family {
    Family {
        id: Some(id),
        name: id.as_str(),
        system_prompts: true,
        forced_tool_choice: false,
        top_k: TopK::Unsupported,
        reasoning: Reasoning::Fixed,
        prompt_caching: false,
        tools_caching: false,
        effort: Effort::Unsupported,
        anthropic_beta: false,
        count_tokens: false,
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
        tools_caching: true,
        effort: Effort::AnthropicAdaptive,
        anthropic_beta: true,
        count_tokens: true,
        ..family(ModelFamily::AnthropicClaude)
    },
    Family {
        forced_tool_choice: true,
        top_k: TopK::NovaInferenceConfig,
        prompt_caching: true,
        effort: Effort::NovaReasoningConfig,
        ..family(ModelFamily::AmazonNova)
    },
    family(ModelFamily::MetaLlama),
    Family {
        forced_tool_choice: true,
        ..family(ModelFamily::Mistral)
    },
    family(ModelFamily::Ai21Jamba),
    family(ModelFamily::Deepseek),
    family(ModelFamily::Qwen),
    Family {
        effort: Effort::ReasoningEffortField,
        ..family(ModelFamily::OpenaiGptOss)
    },
    family(ModelFamily::WriterPalmyra),
    family(ModelFamily::MoonshotKimi),
];

/// The Converse row of a chat family; `None` for embedding and rerank families.
pub(crate) fn converse_family(id: ModelFamily) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.id == Some(id))
}

/// The family used when nothing is known about a model (a custom id or ARN): plain
/// Converse with the features every chat family shares.
pub const GENERIC: Family = Family {
    id: None,
    name: "generic",
    system_prompts: true,
    forced_tool_choice: false,
    top_k: TopK::Unsupported,
    reasoning: Reasoning::Fixed,
    prompt_caching: false,
    tools_caching: false,
    effort: Effort::Unsupported,
    anthropic_beta: false,
    count_tokens: false,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declaration::{Catalog, ChatApi, ModelType};

    /// Every Converse chat model of the catalogue has a row, and every row a model.
    #[test]
    fn chat_families_and_rows_match() {
        let catalog = Catalog::embedded().expect("catalog");
        let llm_families: Vec<ModelFamily> = catalog
            .models()
            .iter()
            .filter(|m| m.model_type == ModelType::Llm)
            .filter_map(|m| m.bedrock.as_ref().map(|f| f.family))
            .filter(|f| f.chat_api() == ChatApi::Converse)
            .collect();
        for id in &llm_families {
            assert!(converse_family(*id).is_some(), "{} has no row", id.as_str());
        }
        for row in FAMILIES {
            assert!(
                row.id.is_some_and(|id| llm_families.contains(&id)),
                "row {} has no model",
                row.name
            );
        }
    }
}
