//! What a chat call yields, whichever API served it: Converse and bedrock-mantle's
//! Responses API both turn their answers into these events, so the actions layer emits
//! Dify chunks one way for both.

use aws_sdk_bedrockruntime::types::StopReason;

/// Token counts the API reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens neither read from nor written to the cache.
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    Text(String),
    Reasoning(String),
    /// The end of a reasoning block.
    ReasoningEnd,
    /// A complete tool call; `arguments` is a JSON object as text.
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
    /// Why the answer ended, in Bedrock's words (`end_turn`, `tool_use`, `max_tokens`, …);
    /// other APIs' reasons are translated into them.
    Stop(StopReason),
    Usage(Usage),
}
