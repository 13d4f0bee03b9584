//! Converse and ConverseStream answers as one sequence of chat events, so streaming and
//! blocking invocations share everything after the call.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_sdk_bedrockruntime::types::{
    CacheTtl, ContentBlock, ContentBlockDelta, ContentBlockStart, ConverseOutput as Output,
    ConverseStreamOutput, PerformanceConfiguration, ReasoningContentBlock,
    ReasoningContentBlockDelta, ServiceTier, TokenUsage,
};

use super::request::{ConverseParts, PLACEHOLDER_TOOL};
use crate::bedrock::client::Clients;
use crate::bedrock::errors::from_sdk;
use crate::bedrock::events;
pub use crate::bedrock::events::{ChatEvent, Usage};
use crate::bedrock::guardrail;
use crate::bedrock::json::to_json;
use crate::error::PluginError;
use crate::media;
use crate::prompt::reasoning::ReasoningBlock;

fn usage_from_sdk(u: &TokenUsage) -> Usage {
    let n = |v: i32| v.max(0) as u64;
    Usage {
        input: n(u.input_tokens()),
        output: n(u.output_tokens()),
        cache_read: u.cache_read_input_tokens().map(n).unwrap_or(0),
        cache_write: u.cache_write_input_tokens().map(n).unwrap_or(0),
        cache_write_1h: u.cache_details.as_ref().map(|details| {
            details
                .iter()
                .filter(|d| d.ttl == CacheTtl::OneHour)
                .map(|d| n(d.input_tokens))
                .sum()
        }),
    }
}

/// A reasoning block being streamed.
#[derive(Default)]
struct PendingReasoning {
    text: String,
    signature: Option<String>,
    redacted: Option<Vec<u8>>,
}

impl PendingReasoning {
    fn finish(self) -> Option<ReasoningBlock> {
        match self.redacted {
            Some(bytes) => Some(ReasoningBlock::Redacted {
                redacted: media::encode(&bytes),
            }),
            None if self.signature.is_some() => Some(ReasoningBlock::Text {
                text: self.text,
                signature: self.signature,
            }),
            // Unsigned reasoning cannot be replayed: the model would refuse it.
            None => None,
        }
    }
}

/// A tool-use block being streamed.
struct PendingTool {
    id: String,
    name: String,
    input: String,
}

type Receiver = EventReceiver<ConverseStreamOutput, ConverseStreamOutputError>;

/// The events of one call, from either API.
pub struct ChatStream {
    /// The open stream; None once it ended or for a blocking call.
    source: Option<Receiver>,
    queue: VecDeque<ChatEvent>,
    tools: HashMap<i32, PendingTool>,
    reasoning_blocks: HashMap<i32, PendingReasoning>,
    idle_timeout: Duration,
    host: String,
}

/// Calls Converse (`stream` false) or ConverseStream and returns the events.
pub async fn start(
    clients: &Clients,
    parts: ConverseParts,
    stream: bool,
    idle_timeout: Duration,
) -> Result<ChatStream, PluginError> {
    macro_rules! with_parts {
        ($builder:expr) => {
            $builder
                .model_id(parts.model_id)
                .set_system((!parts.system.is_empty()).then_some(parts.system))
                .set_messages(Some(parts.messages))
                .set_inference_config(parts.inference)
                .set_tool_config(parts.tool_config)
                .set_additional_model_request_fields(parts.additional_fields)
                .set_request_metadata(parts.request_metadata)
                .set_output_config(parts.output_config)
                .set_service_tier(parts.service_tier)
                .set_performance_config(parts.performance_config)
        };
    }
    let host = clients.runtime_host.clone();
    let mut out = ChatStream {
        source: None,
        queue: VecDeque::new(),
        tools: HashMap::new(),
        reasoning_blocks: HashMap::new(),
        idle_timeout,
        host: host.clone(),
    };
    let guard = parts.guardrail.clone();
    if stream {
        // The SDK's send future is large and lives only until the answer starts; boxed,
        // it does not stay in every streaming session's state (memory per stream).
        let response = Box::pin(
            with_parts!(clients.runtime.converse_stream())
                .set_guardrail_config(guard.as_ref().map(|g| g.stream()))
                .send(),
        )
        .await
        .map_err(|e| from_sdk(e, &host))?;
        out.source = Some(response.stream);
    } else {
        let response = Box::pin(
            with_parts!(clients.runtime.converse())
                .set_guardrail_config(guard.as_ref().map(|g| g.converse()))
                .send(),
        )
        .await
        .map_err(|e| from_sdk(e, &host))?;
        out.queue = blocking_events(&response);
    }
    Ok(out)
}

fn blocking_events(response: &ConverseOutput) -> VecDeque<ChatEvent> {
    let mut events = VecDeque::new();
    if let Some(Output::Message(message)) = response.output() {
        for block in message.content() {
            match block {
                ContentBlock::Text(t) => events.push_back(ChatEvent::Text(t.clone())),
                ContentBlock::ReasoningContent(ReasoningContentBlock::ReasoningText(r)) => {
                    events.push_back(ChatEvent::Reasoning(r.text().to_string()));
                    let block = PendingReasoning {
                        text: r.text().to_string(),
                        signature: r.signature().map(str::to_string),
                        redacted: None,
                    };
                    events.push_back(ChatEvent::ReasoningEnd(block.finish()));
                }
                ContentBlock::ReasoningContent(ReasoningContentBlock::RedactedContent(b)) => {
                    let block = PendingReasoning {
                        redacted: Some(b.as_ref().to_vec()),
                        ..PendingReasoning::default()
                    };
                    events.push_back(ChatEvent::ReasoningEnd(block.finish()));
                }
                ContentBlock::ToolUse(t) if t.name() != PLACEHOLDER_TOOL => {
                    events.push_back(ChatEvent::ToolCall {
                        id: t.tool_use_id().to_string(),
                        name: t.name().to_string(),
                        arguments: to_json(t.input()).to_string(),
                    })
                }
                _ => {}
            }
        }
    }
    events.push_back(ChatEvent::Stop(response.stop_reason().clone()));
    if let Some(trace) = response.trace().and_then(|t| t.guardrail()) {
        guardrail::log_trace(trace);
    }
    if let Some(u) = response.usage() {
        events.push_back(ChatEvent::Usage(usage_from_sdk(u)));
    }
    events.extend(served(
        response.service_tier(),
        response.performance_config(),
    ));
    events
}

/// The tier and latency the response reports, when it reports either.
fn served(
    tier: Option<&ServiceTier>,
    performance: Option<&PerformanceConfiguration>,
) -> Option<ChatEvent> {
    (tier.is_some() || performance.is_some()).then(|| ChatEvent::Served {
        service_tier: tier.map(|t| t.r#type().clone()),
        latency: performance.map(|p| p.latency().clone()),
    })
}

impl ChatStream {
    /// The next event; `None` at the end. An error ends the stream.
    pub async fn next(&mut self) -> Option<Result<ChatEvent, PluginError>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            let receiver = self.source.as_mut()?;
            let received = match tokio::time::timeout(self.idle_timeout, receiver.recv()).await {
                Err(_) => {
                    self.source = None;
                    return Some(Err(events::stalled(&self.host, self.idle_timeout)));
                }
                Ok(received) => received,
            };
            match received {
                Ok(Some(event)) => self.on_stream_event(event),
                Ok(None) => {
                    self.source = None;
                    return None;
                }
                Err(e) => {
                    self.source = None;
                    let host = self.host.clone();
                    return Some(Err(stream_error(from_sdk(e, &host))));
                }
            }
        }
    }

    fn on_stream_event(&mut self, event: ConverseStreamOutput) {
        match event {
            ConverseStreamOutput::ContentBlockStart(start) => {
                if let Some(ContentBlockStart::ToolUse(t)) = start.start() {
                    self.tools.insert(
                        start.content_block_index(),
                        PendingTool {
                            id: t.tool_use_id().to_string(),
                            name: t.name().to_string(),
                            input: String::new(),
                        },
                    );
                }
            }
            ConverseStreamOutput::ContentBlockDelta(delta) => {
                let index = delta.content_block_index();
                match delta.delta() {
                    Some(ContentBlockDelta::Text(t)) if !t.is_empty() => {
                        self.queue.push_back(ChatEvent::Text(t.clone()))
                    }
                    Some(ContentBlockDelta::ToolUse(t)) => {
                        if let Some(tool) = self.tools.get_mut(&index) {
                            tool.input.push_str(t.input());
                        }
                    }
                    Some(ContentBlockDelta::ReasoningContent(r)) => {
                        let block = self.reasoning_blocks.entry(index).or_default();
                        match r {
                            ReasoningContentBlockDelta::Text(t) if !t.is_empty() => {
                                block.text.push_str(t);
                                self.queue.push_back(ChatEvent::Reasoning(t.clone()));
                            }
                            ReasoningContentBlockDelta::Signature(s) => {
                                block.signature.get_or_insert_with(String::new).push_str(s);
                            }
                            ReasoningContentBlockDelta::RedactedContent(b) => {
                                block
                                    .redacted
                                    .get_or_insert_with(Vec::new)
                                    .extend_from_slice(b.as_ref());
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            ConverseStreamOutput::ContentBlockStop(stop) => {
                let index = stop.content_block_index();
                if let Some(tool) = self.tools.remove(&index)
                    && tool.name != PLACEHOLDER_TOOL
                {
                    let arguments = if tool.input.trim().is_empty() {
                        "{}".to_string()
                    } else {
                        tool.input
                    };
                    self.queue.push_back(ChatEvent::ToolCall {
                        id: tool.id,
                        name: tool.name,
                        arguments,
                    });
                }
                if let Some(block) = self.reasoning_blocks.remove(&index) {
                    self.queue
                        .push_back(ChatEvent::ReasoningEnd(block.finish()));
                }
            }
            ConverseStreamOutput::MessageStop(stop) => {
                self.queue
                    .push_back(ChatEvent::Stop(stop.stop_reason().clone()));
            }
            ConverseStreamOutput::Metadata(meta) => {
                if let Some(trace) = meta.trace().and_then(|t| t.guardrail()) {
                    guardrail::log_trace(trace);
                }
                if let Some(u) = meta.usage() {
                    self.queue.push_back(ChatEvent::Usage(usage_from_sdk(u)));
                }
                if let Some(served) = served(meta.service_tier(), meta.performance_config()) {
                    self.queue.push_back(served);
                }
            }
            _ => {}
        }
    }
}

/// A failure after the stream began says so: the user may have seen part of the answer.
fn stream_error(mut e: PluginError) -> PluginError {
    e.message = format!("the response stream broke off: {}", e.message);
    e
}
