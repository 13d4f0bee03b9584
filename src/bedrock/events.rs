//! What a chat call yields, whichever API served it: Converse and bedrock-mantle's
//! Responses API both turn their answers into these events, so the actions layer emits
//! Dify chunks one way for both.

use aws_sdk_bedrockruntime::types::StopReason;

use crate::prompt::reasoning::ReasoningBlock;

/// Token counts the API reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens neither read from nor written to the cache.
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Usage {
    /// Adds another call's counts (a retried answer bills both).
    pub fn add(&mut self, other: Usage) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    Text(String),
    Reasoning(String),
    /// The end of a reasoning block, with the block whole when it can be replayed (its
    /// signature, or its redacted content), to be carried to the next turn.
    ReasoningEnd(Option<ReasoningBlock>),
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
