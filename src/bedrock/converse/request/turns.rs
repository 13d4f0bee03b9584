//! Dify's messages → Converse turns: system prompts collected apart, user content,
//! assistant text and tool calls, tool results as user turns; consecutive turns of one
//! role merged (Converse needs alternating roles), and tool use kept as text for models
//! without tools.

use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ReasoningContentBlock, ReasoningTextBlock, ToolResultBlock,
    ToolResultContentBlock, ToolUseBlock,
};
use serde_json::Value;

use super::tools::{parse_arguments, tool_use_id};
use super::{Builder, bad, built};
use crate::bedrock::families::Reasoning;
use crate::bedrock::json::{to_document, to_json};
use crate::error::PluginError;
use crate::media;
use crate::prompt::reasoning::ReasoningBlock;
use crate::prompt::{Content, ContentKind, PromptMessage, Role, think};

pub type Turn = (ConversationRole, Vec<ContentBlock>);

impl Builder {
    /// Adds message `i` of the prompt.
    pub(super) fn add_message(&mut self, msg: &PromptMessage, i: usize) -> Result<(), PluginError> {
        match msg.role {
            Role::System | Role::Developer => {
                // Files in a system message have nowhere to go.
                if let Some(Content::Parts(parts)) = &msg.content
                    && let Some(p) = parts.iter().find(|p| p.kind != ContentKind::Text)
                {
                    return Err(bad(format!(
                        "message {i}: a system message cannot carry {} content",
                        p.kind
                    )));
                }
                let text = msg.text();
                if !text.trim().is_empty() {
                    self.system_texts.push(text);
                }
            }
            Role::User => {
                let blocks = self.user_blocks(msg, i)?;
                self.turns.push((ConversationRole::User, blocks));
            }
            Role::Assistant => {
                let blocks = self.assistant_blocks(msg, i)?;
                if !blocks.is_empty() {
                    self.turns.push((ConversationRole::Assistant, blocks));
                }
            }
            Role::Tool => {
                let block = self.tool_result(msg, i)?;
                self.turns.push((
                    ConversationRole::User,
                    vec![ContentBlock::ToolResult(block)],
                ));
            }
        }
        Ok(())
    }

    fn assistant_blocks(
        &mut self,
        msg: &PromptMessage,
        i: usize,
    ) -> Result<Vec<ContentBlock>, PluginError> {
        let mut blocks = Vec::new();
        // Signed reasoning goes back first, as the model wrote it: Claude needs it to
        // keep thinking through a tool loop. Other families cannot read Claude's.
        if self.caps.family.reasoning == Reasoning::AnthropicBudget {
            for block in &msg.reasoning {
                blocks.push(ContentBlock::ReasoningContent(reasoning_block(block)?));
            }
        }
        let text = think::strip(&msg.text());
        if !text.trim().is_empty() {
            blocks.push(ContentBlock::Text(text));
        }
        for call in &msg.tool_calls {
            self.history_has_tools = true;
            let input = parse_arguments(&call.function.arguments).ok_or_else(|| {
                bad(format!(
                    "message {i}: the arguments of tool call {:?} ({}) are not a JSON object",
                    call.id, call.function.name
                ))
            })?;
            blocks.push(ContentBlock::ToolUse(built(
                ToolUseBlock::builder()
                    .tool_use_id(tool_use_id(&call.id, i))
                    .name(&call.function.name)
                    .input(to_document(&input))
                    .build(),
            )?));
        }
        Ok(blocks)
    }

    fn tool_result(
        &mut self,
        msg: &PromptMessage,
        i: usize,
    ) -> Result<ToolResultBlock, PluginError> {
        self.history_has_tools = true;
        let id = msg
            .tool_call_id
            .as_deref()
            .ok_or_else(|| bad(format!("message {i}: a tool result without tool_call_id")))?;
        let text = msg.text();
        // A JSON object goes as JSON, so the model reads its structure.
        let content = match serde_json::from_str::<Value>(&text) {
            Ok(v @ Value::Object(_)) => ToolResultContentBlock::Json(to_document(&v)),
            _ => ToolResultContentBlock::Text(if text.is_empty() {
                "(empty result)".into()
            } else {
                text
            }),
        };
        built(
            ToolResultBlock::builder()
                .tool_use_id(tool_use_id(id, i))
                .content(content)
                .build(),
        )
    }

    /// A model without tools cannot read toolUse blocks: the history keeps them as text.
    pub(super) fn tools_as_text(&mut self) {
        for (_, blocks) in &mut self.turns {
            for block in blocks.iter_mut() {
                let text = match block {
                    ContentBlock::ToolUse(t) => {
                        format!("[called tool {} with {}]", t.name(), to_json(t.input()))
                    }
                    ContentBlock::ToolResult(r) => {
                        let text: Vec<String> = r
                            .content()
                            .iter()
                            .map(|c| match c {
                                ToolResultContentBlock::Text(t) => t.clone(),
                                ToolResultContentBlock::Json(d) => to_json(d).to_string(),
                                _ => String::new(),
                            })
                            .collect();
                        format!("[tool result] {}", text.join("\n"))
                    }
                    _ => continue,
                };
                *block = ContentBlock::Text(text);
            }
        }
        self.history_has_tools = false;
    }
}

fn reasoning_block(block: &ReasoningBlock) -> Result<ReasoningContentBlock, PluginError> {
    Ok(match block {
        ReasoningBlock::Text { text, signature } => ReasoningContentBlock::ReasoningText(built(
            ReasoningTextBlock::builder()
                .text(text)
                .set_signature(signature.clone())
                .build(),
        )?),
        ReasoningBlock::Redacted { redacted } => {
            let bytes = media::decode(redacted).map_err(|e| {
                bad(format!(
                    "an earlier answer's redacted reasoning cannot be replayed: {}",
                    e.describe("it")
                ))
            })?;
            ReasoningContentBlock::RedactedContent(Blob::new(bytes.bytes))
        }
    })
}

/// Converse needs alternating roles: consecutive turns of one role become one.
pub fn merge_turns(turns: Vec<Turn>) -> Vec<Turn> {
    let mut out: Vec<Turn> = Vec::new();
    for (role, blocks) in turns {
        if blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            _ => out.push((role, blocks)),
        }
    }
    out
}
