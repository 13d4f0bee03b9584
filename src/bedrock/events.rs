//! What a chat call yields, whichever API served it: Converse and bedrock-mantle's
//! Responses API both turn their answers into these events, so the actions layer emits
//! Dify chunks one way for both.

use aws_sdk_bedrockruntime::types::{PerformanceConfigLatency, ServiceTierType, StopReason};

use std::time::Duration;

use crate::error::{ErrorKind, PluginError};
use crate::prompt::reasoning::ReasoningBlock;

/// The error ending a response stream from `host` that sent nothing for `idle`.
pub fn stalled(host: &str, idle: Duration) -> PluginError {
    PluginError::new(
        ErrorKind::Connection,
        format!(
            "the response stream from {host} stalled: nothing arrived for {} s",
            idle.as_secs()
        ),
    )
}

/// Token counts the API reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens neither read from nor written to the cache.
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    /// Of `cache_write`, the tokens written with the one-hour TTL, when the API broke the
    /// writes down by TTL (Converse's `cacheDetails`).
    pub cache_write_1h: Option<u64>,
}

impl Usage {
    /// Adds another call's counts (a retried answer bills both).
    pub fn add(&mut self, other: Usage) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
        self.cache_write_1h = match (self.cache_write_1h, other.cache_write_1h) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
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
    /// How Bedrock served the request, as its response reports it: the service tier
    /// and the latency mode (either may differ from what was asked).
    Served {
        service_tier: Option<ServiceTierType>,
        latency: Option<PerformanceConfigLatency>,
    },
}
