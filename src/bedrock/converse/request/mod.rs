//! Dify prompt messages → a Converse request. The pieces, by what they convert: `turns`
//! (roles, merging, tool history), `content` (text, images, documents), `documents`
//! (formats and names), `tools` (definitions and choice), `params` (inference settings
//! and the family's additional fields). A [`Builder`] carries what they share. Every
//! input the model cannot take is refused here, by name, before any call to AWS.

mod content;
mod documents;
mod params;
mod tools;
mod turns;

use std::collections::HashMap;

use aws_sdk_bedrockruntime::types::{
    CachePointBlock, CachePointType, CacheTtl, ContentBlock, ConversationRole,
    InferenceConfiguration, Message, OutputConfig, PerformanceConfiguration, ServiceTier,
    SystemContentBlock, ToolConfiguration,
};
use aws_smithy_types::Document;

use crate::bedrock::families::{Family, GENERIC, converse_family};
use crate::bedrock::guardrail::Guardrail;
use crate::bedrock::json::to_document;
use crate::declaration::{ModelDecl, ModelFeature};
use crate::error::PluginError;
use crate::prompt::{PromptMessage, Tool, ToolChoice};

pub use params::Params;
pub use tools::PLACEHOLDER_TOOL;
use turns::{Turn, merge_turns};

/// What the model accepts, from its YAML features and its family.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    pub family: &'static Family,
    pub system_prompts: bool,
    pub vision: bool,
    pub documents: bool,
    pub video: bool,
    pub tools: bool,
}

impl Capabilities {
    /// A catalogue model's (or a customizable model's, from its schema).
    pub fn of(decl: &ModelDecl) -> Capabilities {
        let family = decl
            .bedrock
            .as_ref()
            .and_then(|f| converse_family(f.family))
            .unwrap_or(&GENERIC);
        Capabilities {
            family,
            system_prompts: decl
                .bedrock
                .as_ref()
                .and_then(|f| f.system_prompts)
                .unwrap_or(family.system_prompts),
            vision: decl.has_feature(ModelFeature::Vision),
            documents: decl.has_feature(ModelFeature::Document),
            video: decl.has_feature(ModelFeature::Video),
            tools: decl.has_feature(ModelFeature::ToolCall),
        }
    }

    /// A model nothing is known about: plain text through Converse.
    pub fn generic() -> Capabilities {
        Capabilities {
            family: &GENERIC,
            system_prompts: true,
            vision: false,
            documents: false,
            video: false,
            tools: false,
        }
    }
}

/// A Converse request, ready for either `converse` or `converse_stream`.
#[derive(Debug, Clone)]
pub struct ConverseParts {
    pub model_id: String,
    pub system: Vec<SystemContentBlock>,
    pub messages: Vec<Message>,
    pub inference: Option<InferenceConfiguration>,
    pub tool_config: Option<ToolConfiguration>,
    pub additional_fields: Option<Document>,
    pub request_metadata: Option<HashMap<String, String>>,
    pub output_config: Option<OutputConfig>,
    pub service_tier: Option<ServiceTier>,
    pub performance_config: Option<PerformanceConfiguration>,
    /// Sent as Converse's `GuardrailConfiguration` or ConverseStream's
    /// `GuardrailStreamConfiguration`, whichever is called.
    pub guardrail: Option<Guardrail>,
}

pub struct ChatInput<'a> {
    pub model_id: String,
    pub caps: Capabilities,
    pub messages: &'a [PromptMessage],
    pub tools: &'a [Tool],
    pub tool_choice: Option<&'a ToolChoice>,
    pub stop: &'a [String],
    pub params: Params,
    pub request_metadata: Option<HashMap<String, String>>,
    pub guardrail: Option<Guardrail>,
}

fn bad(message: impl Into<String>) -> PluginError {
    PluginError::bad_request(message)
}

fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, PluginError> {
    r.map_err(|e| PluginError::internal(format!("building the Converse request failed: {e}")))
}

/// What the conversion of one request has gathered so far.
struct Builder {
    caps: Capabilities,
    system_texts: Vec<String>,
    turns: Vec<Turn>,
    /// Whether some message holds a tool call or result (Converse then needs a toolConfig).
    history_has_tools: bool,
    /// Documents so far: their names must be unique within the request.
    documents: usize,
}

pub fn build(input: ChatInput<'_>) -> Result<ConverseParts, PluginError> {
    let caps = input.caps;
    let mut b = Builder {
        caps,
        system_texts: Vec::new(),
        turns: Vec::new(),
        history_has_tools: false,
        documents: 0,
    };
    for (i, msg) in input.messages.iter().enumerate() {
        b.add_message(msg, i)?;
    }
    if !caps.tools && !input.tools.is_empty() {
        return Err(bad(
            "this model does not support tool calling; choose a model with the tool-call feature, or remove the tools",
        ));
    }
    if !caps.tools && b.history_has_tools {
        b.tools_as_text();
    }
    // A schema is enforced by Bedrock itself; the prompt instruction is for answers in a
    // format without one.
    if let Some(format) = input
        .params
        .response_format
        .as_ref()
        .filter(|_| input.params.json_schema.is_none())
    {
        b.system_texts.push(format!(
            "Answer with one valid {format} document and nothing else: no explanation before or after it, and no code fences."
        ));
    }
    // Models without system prompts get them at the start of the first user turn.
    if !caps.system_prompts && !b.system_texts.is_empty() {
        let preamble = ContentBlock::Text(b.system_texts.join("\n\n"));
        match b
            .turns
            .iter_mut()
            .find(|(r, _)| *r == ConversationRole::User)
        {
            Some((_, blocks)) => blocks.insert(0, preamble),
            None => b.turns.insert(0, (ConversationRole::User, vec![preamble])),
        }
        b.system_texts.clear();
    }

    let mut messages = merge_turns(b.turns);
    match messages.first() {
        None => return Err(bad("the prompt has no user message")),
        Some((role, _)) if *role != ConversationRole::User => {
            return Err(bad(
                "the conversation must start with a user message, not an assistant message",
            ));
        }
        Some(_) => {}
    }
    let family = caps.family;
    // At most four checkpoints (system, tools, the last two user turns): Bedrock's limit
    // per request.
    let ttl = input.params.cache_ttl.clone();
    if input.params.cache_latest_messages {
        if !family.prompt_caching {
            return Err(bad("prompt caching is not available for this model"));
        }
        let users: Vec<usize> = messages
            .iter()
            .enumerate()
            .filter(|(_, (r, _))| *r == ConversationRole::User)
            .map(|(i, _)| i)
            .collect();
        for &i in users.iter().rev().take(2) {
            messages[i]
                .1
                .push(ContentBlock::CachePoint(cache_point(&ttl)?));
        }
    }
    let mut system: Vec<SystemContentBlock> = b
        .system_texts
        .into_iter()
        .map(SystemContentBlock::Text)
        .collect();
    if input.params.cache_system && !system.is_empty() {
        if !family.prompt_caching {
            return Err(bad("prompt caching is not available for this model"));
        }
        system.push(SystemContentBlock::CachePoint(cache_point(&ttl)?));
    }

    let tools_cache = if input.params.cache_tools {
        if !family.tools_caching {
            return Err(bad(
                "caching the tool definitions is not available for this model",
            ));
        }
        Some(cache_point(&ttl)?)
    } else {
        None
    };
    let tool_config = tools::tool_config(
        input.tools,
        input.tool_choice,
        b.history_has_tools,
        family,
        tools_cache,
    )?;
    let mut params = input.params;
    if params.reasoning_budget.is_some() && continues_tool_call(&messages) {
        tracing::info!(
            "extended thinking is off for this step: it continues a tool call made without a signed thinking block"
        );
        params.reasoning_budget = None;
    }
    let (inference, additional) = params::to_converse(&params, input.stop, family)?;
    let output_config = params
        .json_schema
        .as_ref()
        .map(params::JsonSchema::to_output_config)
        .transpose()?;
    let service_tier = params.service_tier_config()?;
    let performance_config = params.performance_config();

    let messages = messages
        .into_iter()
        .map(|(role, content)| {
            built(
                Message::builder()
                    .role(role)
                    .set_content(Some(content))
                    .build(),
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(ConverseParts {
        model_id: input.model_id,
        system,
        messages,
        inference,
        tool_config,
        additional_fields: additional.map(|v| to_document(&v)),
        request_metadata: input.request_metadata,
        output_config,
        service_tier,
        performance_config,
        guardrail: input.guardrail,
    })
}

/// With thinking on, Anthropic requires the final assistant turn, when it called tools,
/// to start with its signed thinking block. Where Dify carried the block back (in the
/// message's `opaque_body`) it is there; where it did not, such a turn (the middle of an
/// agent's tool loop) is continued without thinking, and the first step of each answer
/// still thinks.
fn continues_tool_call(messages: &[Turn]) -> bool {
    messages
        .iter()
        .rev()
        .find(|(role, _)| *role == ConversationRole::Assistant)
        .is_some_and(|(_, content)| {
            let signed = matches!(content.first(), Some(ContentBlock::ReasoningContent(_)));
            !signed
                && content
                    .iter()
                    .any(|b| matches!(b, ContentBlock::ToolUse(_)))
        })
}

/// A checkpoint; with a TTL when the user chose one (all checkpoints of a request share
/// it, so Anthropic's rule that longer TTLs come first always holds).
fn cache_point(ttl: &Option<CacheTtl>) -> Result<CachePointBlock, PluginError> {
    built(
        CachePointBlock::builder()
            .r#type(CachePointType::Default)
            .set_ttl(ttl.clone())
            .build(),
    )
}
