//! The chunk writer: what a chat call's events become on the wire, as Dify's
//! LLMResultChunk lines. Streaming sends one chunk per delta as it arrives; blocking
//! collects the same events into one chunk. The last chunk carries the usage, the
//! finish reason and the answer's signed reasoning.

use std::time::Instant;

use aws_sdk_bedrockruntime::types::{PerformanceConfigLatency, ServiceTierType, StopReason};
use serde::Serialize;
use serde_json::Value;

use super::super::usage::{self, LlmUsage};
use crate::bedrock::converse::{ChatEvent, Usage};
use crate::declaration::Pricing;
use crate::error::PluginError;
use crate::prompt::reasoning::{self, ReasoningBlock};
use crate::prompt::think::ThinkTags;
use crate::session::SessionSink;

#[derive(Serialize, Clone)]
struct ToolCallOut {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionOut,
}

#[derive(Serialize, Clone)]
struct FunctionOut {
    name: String,
    arguments: String,
}

#[derive(Serialize)]
struct Chunk<'a> {
    model: &'a str,
    prompt_messages: [(); 0],
    system_fingerprint: Option<()>,
    delta: Delta<'a>,
}

#[derive(Serialize)]
struct Delta<'a> {
    index: u64,
    message: AssistantMessage<'a>,
    usage: Option<&'a LlmUsage>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize)]
struct AssistantMessage<'a> {
    role: &'static str,
    /// Never null: the daemon rejects a chunk whose content is null.
    content: &'a str,
    name: Option<()>,
    tool_calls: &'a [ToolCallOut],
    /// The answer's signed reasoning, for the next turn (on the last chunk only).
    #[serde(skip_serializing_if = "Option::is_none")]
    opaque_body: Option<Value>,
}

impl<'a> Chunk<'a> {
    /// Chunk `index` of `model`'s answer: an assistant message delta.
    fn new(
        model: &'a str,
        index: u64,
        content: &'a str,
        tool_calls: &'a [ToolCallOut],
        usage: Option<&'a LlmUsage>,
        finish_reason: Option<&'a str>,
        opaque_body: Option<Value>,
    ) -> Chunk<'a> {
        Chunk {
            model,
            prompt_messages: [],
            system_fingerprint: None,
            delta: Delta {
                index,
                message: AssistantMessage {
                    role: "assistant",
                    content,
                    name: None,
                    tool_calls,
                    opaque_body,
                },
                usage,
                finish_reason,
            },
        }
    }
}

/// The chunk a streamed piece of text becomes: chunk `index` of `model`'s answer, as the
/// writer sends it for each text delta (for the micro-benchmarks, through `internals`).
pub(crate) fn text_chunk<'a>(model: &'a str, index: u64, text: &'a str) -> impl Serialize + 'a {
    Chunk::new(model, index, text, &[], None, None, None)
}

/// Bedrock's stop reasons in Dify's words.
fn finish_reason(stop: &StopReason) -> &str {
    match stop {
        StopReason::EndTurn | StopReason::StopSequence => "stop",
        StopReason::MaxTokens | StopReason::ModelContextWindowExceeded => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::ContentFiltered | StopReason::GuardrailIntervened => "content_filter",
        other => other.as_str(),
    }
}

/// Turns chat events into chunks: one per delta when streaming, one in all otherwise.
pub(super) struct ChunkWriter<'a> {
    /// The model named in every chunk: the one that answers.
    model: String,
    sink: &'a SessionSink,
    streaming: bool,
    index: u64,
    think: ThinkTags,
    /// Blocking mode collects here.
    content: String,
    tool_calls: Vec<ToolCallOut>,
    stop: Option<StopReason>,
    usage: Usage,
    /// The request's checkpoints keep the cache for an hour: writes AWS did not break
    /// down by TTL were all one-hour writes.
    cache_ttl_1h: bool,
    /// The request asked for latency-optimized inference.
    optimized_latency: bool,
    /// The tier that served the answer, as Bedrock reports it: its prices apply.
    service_tier: Option<ServiceTierType>,
    /// The answer's reasoning blocks, signed, to carry to the next turn.
    reasoning: Vec<ReasoningBlock>,
}

impl<'a> ChunkWriter<'a> {
    /// A writer of `model`'s answer to `sink`, streamed or collected into one chunk.
    pub(super) fn new(
        model: String,
        sink: &'a SessionSink,
        streaming: bool,
        cache_ttl_1h: bool,
        optimized_latency: bool,
    ) -> ChunkWriter<'a> {
        ChunkWriter {
            model,
            sink,
            streaming,
            index: 0,
            think: ThinkTags::default(),
            content: String::new(),
            tool_calls: Vec::new(),
            stop: None,
            usage: Usage::default(),
            cache_ttl_1h,
            optimized_latency,
            service_tier: None,
            reasoning: Vec::new(),
        }
    }

    async fn emit(
        &mut self,
        content: &str,
        tool_calls: &[ToolCallOut],
        usage: Option<&LlmUsage>,
        finish: Option<&str>,
    ) -> Result<(), PluginError> {
        // The reasoning goes with the message's end, when every block is known.
        let opaque_body = finish.and_then(|_| reasoning::opaque_body(&self.reasoning));
        let chunk = Chunk::new(
            &self.model,
            self.index,
            content,
            tool_calls,
            usage,
            finish,
            opaque_body,
        );
        self.index += 1;
        self.sink.stream(&chunk).await
    }

    async fn text(&mut self, text: &str) -> Result<(), PluginError> {
        if self.streaming {
            self.emit(text, &[], None, None).await
        } else {
            self.content.push_str(text);
            Ok(())
        }
    }

    pub(super) async fn on(&mut self, event: ChatEvent) -> Result<(), PluginError> {
        match event {
            ChatEvent::Reasoning(t) => {
                let text = self.think.reasoning(&t);
                self.text(&text).await
            }
            ChatEvent::ReasoningEnd(block) => {
                self.reasoning.extend(block);
                self.close_reasoning().await
            }
            ChatEvent::Text(t) => {
                self.close_reasoning().await?;
                self.text(&t).await
            }
            ChatEvent::ToolCall {
                id,
                name,
                arguments,
            } => {
                let call = ToolCallOut {
                    id,
                    kind: "function",
                    function: FunctionOut { name, arguments },
                };
                if self.streaming {
                    self.emit("", std::slice::from_ref(&call), None, None).await
                } else {
                    self.tool_calls.push(call);
                    Ok(())
                }
            }
            ChatEvent::Stop(reason) => {
                if reason == StopReason::GuardrailIntervened {
                    // What it found stays at debug level (it may quote the user).
                    tracing::info!("a Bedrock guardrail intervened: the answer is its message");
                }
                self.stop = Some(reason);
                Ok(())
            }
            ChatEvent::Usage(u) => {
                self.usage.add(u);
                Ok(())
            }
            ChatEvent::Served {
                service_tier,
                latency,
            } => {
                if self.optimized_latency && latency == Some(PerformanceConfigLatency::Standard) {
                    tracing::info!(
                        "Bedrock served this request at standard latency: the optimized path is not offered for this model, route and region, or its quota is used up"
                    );
                }
                if service_tier.is_some() {
                    self.service_tier = service_tier;
                }
                Ok(())
            }
        }
    }

    /// Whether any chunk reached Dify (a blocking answer shows nothing until the end).
    pub(super) fn shown_anything(&self) -> bool {
        self.index > 0
    }

    /// Forgets what a refused answer gathered (usage stays: it was billed) and names the
    /// model that answers instead.
    pub(super) fn start_over(&mut self, model: &str) {
        self.model = model.to_string();
        self.think = ThinkTags::default();
        self.content.clear();
        self.tool_calls.clear();
        self.stop = None;
        self.reasoning.clear();
    }

    async fn close_reasoning(&mut self) -> Result<(), PluginError> {
        match self.think.close() {
            Some(tag) => self.text(tag).await,
            None => Ok(()),
        }
    }

    pub(super) async fn finish(
        mut self,
        pricing: Option<&Pricing>,
        started: Instant,
    ) -> Result<(), PluginError> {
        self.close_reasoning().await?;
        if self.cache_ttl_1h && self.usage.cache_write_1h.is_none() {
            self.usage.cache_write_1h = Some(self.usage.cache_write);
        }
        let tiered = pricing.map(|p| usage::for_tier(p, self.service_tier.as_ref()));
        let usage = LlmUsage::new(&self.usage, tiered.as_ref(), started.elapsed());
        let stop = self.stop.take().unwrap_or(StopReason::EndTurn);
        let finish = finish_reason(&stop).to_string();
        let content = std::mem::take(&mut self.content);
        let calls = std::mem::take(&mut self.tool_calls);
        self.emit(&content, &calls, Some(&usage), Some(&finish))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_in_difys_words() {
        assert_eq!(finish_reason(&StopReason::EndTurn), "stop");
        assert_eq!(finish_reason(&StopReason::ToolUse), "tool_calls");
        assert_eq!(finish_reason(&StopReason::MaxTokens), "length");
        assert_eq!(
            finish_reason(&StopReason::GuardrailIntervened),
            "content_filter"
        );
        assert_eq!(
            finish_reason(&StopReason::from("something_new")),
            "something_new"
        );
    }

    #[test]
    fn a_text_chunk_is_an_assistant_delta_with_nothing_else() {
        let chunk = serde_json::to_value(text_chunk("m", 3, "He said \"hi\"\n")).expect("JSON");
        assert_eq!(
            chunk,
            serde_json::json!({
                "model": "m",
                "prompt_messages": [],
                "system_fingerprint": null,
                "delta": {
                    "index": 3,
                    "message": {
                        "role": "assistant",
                        "content": "He said \"hi\"\n",
                        "name": null,
                        "tool_calls": []
                    },
                    "usage": null,
                    "finish_reason": null
                }
            })
        );
    }
}
