//! Tools → Converse: the tool definitions offered, the tool choice as the family allows
//! it, and the ids and arguments of tool calls replayed from history.

use aws_sdk_bedrockruntime::types::{
    AnyToolChoice, AutoToolChoice, CachePointBlock, SpecificToolChoice, Tool as ConverseTool,
    ToolChoice as ConverseToolChoice, ToolConfiguration, ToolInputSchema, ToolSpecification,
};
use serde_json::{Value, json};

use super::{bad, built};
use crate::bedrock::families::Family;
use crate::bedrock::json::to_document;
use crate::error::PluginError;
use crate::prompt::{Tool, ToolChoice, ToolChoiceMode};

/// The name of the tool offered when history holds tool use but no tool is offered now:
/// Bedrock requires a toolConfig whenever messages contain toolUse or toolResult blocks.
pub const PLACEHOLDER_TOOL: &str = "dify_no_tools_available";

/// Tool use ids must match `[a-zA-Z0-9_-]+`; Dify's ids usually do, but keep them valid.
pub fn tool_use_id(id: &str, index: usize) -> String {
    let clean: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(64)
        .collect();
    if clean.is_empty() {
        format!("tooluse_{index}")
    } else {
        clean
    }
}

/// A tool call's arguments as the JSON object Converse needs; empty means no arguments.
pub fn parse_arguments(arguments: &str) -> Option<Value> {
    if arguments.trim().is_empty() {
        return Some(json!({}));
    }
    match serde_json::from_str::<Value>(arguments).ok()? {
        v @ Value::Object(_) => Some(v),
        _ => None,
    }
}

fn placeholder_config() -> Result<ToolConfiguration, PluginError> {
    let spec = built(
        ToolSpecification::builder()
            .name(PLACEHOLDER_TOOL)
            .description(
                "No tools are available now. Do not call this tool; answer the user directly.",
            )
            .input_schema(ToolInputSchema::Json(to_document(
                &json!({"type": "object", "properties": {}}),
            )))
            .build(),
    )?;
    built(
        ToolConfiguration::builder()
            .tools(ConverseTool::ToolSpec(spec))
            .build(),
    )
}

/// The `toolConfig` of a request: the tools offered (followed by `cache`, a checkpoint
/// after their definitions) and the choice, or the placeholder when only the history
/// holds tool use, or none.
pub fn tool_config(
    tools: &[Tool],
    choice: Option<&ToolChoice>,
    history_has_tools: bool,
    family: &Family,
    cache: Option<CachePointBlock>,
) -> Result<Option<ToolConfiguration>, PluginError> {
    let mode = choice.map_or(ToolChoiceMode::Auto, |c| c.mode);
    let offered: &[Tool] = if mode == ToolChoiceMode::None {
        &[]
    } else {
        tools
    };
    if offered.is_empty() {
        return if history_has_tools {
            placeholder_config().map(Some)
        } else {
            Ok(None)
        };
    }
    let mut builder = ToolConfiguration::builder();
    for tool in offered {
        let mut schema = Value::Object(tool.parameters.clone());
        if schema.as_object().is_some_and(|o| o.is_empty()) {
            schema = json!({"type": "object", "properties": {}});
        }
        let mut spec = ToolSpecification::builder()
            .name(&tool.name)
            .input_schema(ToolInputSchema::Json(to_document(&schema)));
        if !tool.description.trim().is_empty() {
            spec = spec.description(&tool.description);
        }
        builder = builder.tools(ConverseTool::ToolSpec(built(spec.build())?));
    }
    if let Some(cache) = cache {
        builder = builder.tools(ConverseTool::CachePoint(cache));
    }
    // Families without forced choices get `auto`: the model still sees the tools.
    let converse_choice = match (mode, family.forced_tool_choice) {
        (ToolChoiceMode::Required, true) => {
            ConverseToolChoice::Any(AnyToolChoice::builder().build())
        }
        (ToolChoiceMode::Tool, true) => {
            let name = choice
                .and_then(|c| c.name.as_deref())
                .ok_or_else(|| bad("tool_choice \"tool\" names no tool"))?;
            if !tools.iter().any(|t| t.name == name) {
                return Err(bad(format!(
                    "tool_choice names {name:?}, which is not among the tools offered"
                )));
            }
            ConverseToolChoice::Tool(built(SpecificToolChoice::builder().name(name).build())?)
        }
        _ => ConverseToolChoice::Auto(AutoToolChoice::builder().build()),
    };
    Ok(Some(built(
        builder.set_tool_choice(Some(converse_choice)).build(),
    )?))
}
