//! `invoke_llm` and `get_llm_num_tokens`: a Dify chat request → the API its model's
//! family is called through (Converse, or bedrock-mantle's Responses API for the
//! families Converse does not serve) → one stream of chat events → LLMResultChunk lines.
//! Streaming sends each delta as it arrives; blocking sends the same events collected
//! into one chunk.

use std::collections::HashMap;
use std::time::Instant;

use aws_sdk_bedrockruntime::types::{
    CacheTtl, PerformanceConfigLatency, ServiceTierType, StopReason,
};
use serde::Serialize;
use serde_json::Value;

use super::AppState;
use super::form::guardrail;
use super::model::{resolve, resolve_for_call};
use super::requests::{InvokeLlm, LlmNumTokens};
use super::usage::{self, LlmUsage};
use crate::bedrock::converse::{
    self, Capabilities, ChatEvent, ChatInput, ConverseParts, Params, Usage,
};
use crate::bedrock::guardrail::Guardrail;
use crate::bedrock::mantle::{self, MantleInput, MantleParams};
use crate::bedrock::routing::{self, CrossRegion, Target};
use crate::declaration::{ChatApi, ModelDecl, ModelFeature, ModelType, Pricing, params};
use crate::error::{AwsCause, ErrorKind, PluginError};
use crate::prompt::reasoning::{self, ReasoningBlock};
use crate::prompt::think::ThinkTags;
use crate::prompt::{PromptMessage, Tool};
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
struct ChunkWriter<'a> {
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
    async fn emit(
        &mut self,
        content: &str,
        tool_calls: &[ToolCallOut],
        usage: Option<&LlmUsage>,
        finish: Option<&str>,
    ) -> Result<(), PluginError> {
        // The reasoning goes with the message's end, when every block is known.
        let opaque_body = finish.and_then(|_| reasoning::opaque_body(&self.reasoning));
        let chunk = Chunk {
            model: &self.model,
            prompt_messages: [],
            system_fingerprint: None,
            delta: Delta {
                index: self.index,
                message: AssistantMessage {
                    role: "assistant",
                    content,
                    name: None,
                    tool_calls,
                    opaque_body,
                },
                usage,
                finish_reason: finish,
            },
        };
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

    async fn on(&mut self, event: ChatEvent) -> Result<(), PluginError> {
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
    fn shown_anything(&self) -> bool {
        self.index > 0
    }

    /// Forgets what a refused answer gathered (usage stays: it was billed) and names the
    /// model that answers instead.
    fn start_over(&mut self, model: &str) {
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

    async fn finish(
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

pub(crate) fn request_metadata(
    enabled: bool,
    app_id: Option<&str>,
) -> Option<HashMap<String, String>> {
    if !enabled {
        return None;
    }
    // Bedrock accepts [a-zA-Z0-9\s:_@$#=/+,\-.] in metadata values, at most 256 characters.
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || " :_@$#=/+,-.".contains(*c))
            .take(256)
            .collect()
    };
    let mut m = HashMap::from([("dify_source".to_string(), "dify".to_string())]);
    if let Some(app) = app_id.map(clean).filter(|a| !a.is_empty()) {
        m.insert("dify_app_id".into(), app);
    }
    Some(m)
}

pub async fn invoke(
    state: &AppState,
    req: InvokeLlm,
    app_id: Option<&str>,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    let started = Instant::now();
    let decl = resolve_for_call(state, &req.base, ModelType::Llm).await?;
    let chosen = params::validate(&decl.parameter_rules, &req.model_parameters)?;
    let credentials = &req.base.credentials;
    let access = credentials.access()?;
    let target = match &credentials.custom {
        Some(custom) => Target::Custom(&custom.target),
        None => Target::Predefined {
            decl: &decl,
            choice: chosen
                .get("cross-region")
                .and_then(Value::as_str)
                .and_then(CrossRegion::parse),
        },
    };
    let clients = state.clients.get(access).await?;
    // Models without streaming tool use answer tool requests unstreamed, streamed to
    // Dify all the same.
    let stream_call =
        req.stream && (req.tools.is_empty() || decl.has_feature(ModelFeature::StreamToolCall));
    let idle = state.clients.network().stream_idle_timeout;
    // Claude 5 (Converse): a refusal before anything was shown is answered by the
    // documented fallback model, called the same way (same profile prefix).
    let mut fallback: Option<(String, Option<&ModelDecl>)> = None;
    let mut retry: Option<ConverseParts> = None;
    let mut cache_ttl_1h = false;
    let mut optimized_latency = false;
    let called: String;
    let mut events = match decl.chat_api() {
        ChatApi::Converse => {
            let params = Params::from_model_parameters(&chosen)?;
            let route = routing::id_to_call(&clients, target, &access.region)
                .await
                .with_tier(
                    &decl,
                    params.service_tier.as_ref().map(ServiceTierType::as_str),
                    &access.region,
                );
            if let Some(advice) = &route.advice {
                tracing::debug!("calling {} although {advice}", route.id);
            }
            let model_id = route.id.clone();
            cache_ttl_1h = params.cache_ttl == Some(CacheTtl::OneHour);
            optimized_latency = params.latency == Some(PerformanceConfigLatency::Optimized);
            fallback = decl
                .bedrock
                .as_ref()
                .and_then(|f| f.refusal_fallback.as_deref())
                .filter(|_| params.refusal_fallback)
                .and_then(|fallback| {
                    let id = routing::same_route(&model_id, fallback)?;
                    Some((id, state.catalog.model(ModelType::Llm, fallback)))
                });
            // The provider's guardrail, or the app's own (its model parameters win).
            let app_guardrail = guardrail::from_parameters(&chosen)?;
            let guard = guardrail::combine(&credentials.guardrail.clone()?, &app_guardrail)?;
            let parts = converse::build(ChatInput {
                model_id: model_id.clone(),
                caps: Capabilities::of(&decl),
                messages: &req.prompt_messages,
                tools: &req.tools,
                tool_choice: req.tool_choice.as_ref(),
                stop: &req.stop,
                params,
                request_metadata: request_metadata(credentials.request_metadata, app_id),
                guardrail: guard.clone(),
            })?;
            retry = fallback.as_ref().map(|(id, _)| ConverseParts {
                model_id: id.clone(),
                ..parts.clone()
            });
            called = model_id;
            Events::Converse(
                converse::start(&clients, parts, stream_call, idle)
                    .await
                    .map_err(|e| {
                        name_guardrail(route.explain(e), guard.as_ref(), &access.region)
                    })?,
            )
        }
        ChatApi::MantleResponses => {
            refuse_guardrail(&req, credentials)?;
            if req.stop.iter().any(|s| !s.is_empty()) {
                tracing::debug!("stop sequences are not sent: the Responses API has none");
            }
            // Mantle ids carry no profile prefix: the model, or the customizable model's id.
            let model_id = match target {
                Target::Custom(id) => id.to_string(),
                Target::Predefined { decl, .. } => decl.model.clone(),
            };
            called = model_id.clone();
            let request = mantle::build(mantle_input(&decl, model_id, &req, &chosen), stream_call)?;
            Events::Mantle(mantle::start(clients.mantle().await?, &request, idle).await?)
        }
    };
    let mut writer = ChunkWriter {
        model: req.base.model.clone(),
        sink,
        streaming: req.stream,
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
    };
    // Priced as the model Dify shows (a customizable model may carry its own pricing).
    let mut pricing = decl.pricing.as_ref();
    loop {
        let mut refused = false;
        while let Some(event) = events.next().await {
            match event? {
                ChatEvent::Stop(reason) if is_refusal(&reason) && fallback.is_some() => {
                    refused = true;
                }
                event => writer.on(event).await?,
            }
        }
        if !refused {
            break;
        }
        let Some(parts) = retry.take().filter(|_| !writer.shown_anything()) else {
            return Err(PluginError::new(
                ErrorKind::Invoke,
                format!(
                    "{} refused this request (its safety classifiers stopped the answer){}",
                    called,
                    if writer.shown_anything() {
                        "; part of the answer was already shown, so it could not be retried on the fallback model"
                    } else {
                        ""
                    }
                ),
            ));
        };
        let (fallback_id, fallback_decl) = fallback
            .as_ref()
            .map_or(("", None), |(id, d)| (id.as_str(), *d));
        tracing::warn!("{called} refused before answering; answering with {fallback_id}");
        // What the refused call produced is never shown; its tokens are still billed.
        writer.start_over(fallback_id);
        pricing = fallback_decl.and_then(|d| d.pricing.as_ref()).or(pricing);
        events = Events::Converse(converse::start(&clients, parts, stream_call, idle).await?);
    }
    writer.finish(pricing, started).await
}

/// bedrock-mantle does not take Bedrock Guardrails (AWS: "The bedrock-mantle endpoint
/// doesn't support Amazon Bedrock Guardrails"). An app that asks for one is told so; the
/// provider's guardrail, which applies to every model, is skipped for these models rather
/// than failing them all.
fn refuse_guardrail(
    req: &InvokeLlm,
    credentials: &super::form::Credentials,
) -> Result<(), PluginError> {
    let named = guardrail::named_in(&req.model_parameters);
    // A trace or stream mode alone names no guardrail (a stale parameter, say): only an
    // identifier or a version asks for one.
    if named
        .iter()
        .any(|k| *k == guardrail::IDENTIFIER || *k == guardrail::VERSION)
    {
        return Err(PluginError::bad_request(format!(
            "{} runs on bedrock-mantle, which does not take Amazon Bedrock Guardrails: remove {} from this app's model parameters, or choose a model served through Converse",
            req.base.model,
            named.join(", ")
        )));
    }
    if let Ok(form) = &credentials.guardrail
        && let Some(id) = &form.identifier
    {
        tracing::debug!(
            "the provider's guardrail {id} is not applied to {}: bedrock-mantle does not take Bedrock Guardrails",
            req.base.model
        );
    }
    Ok(())
}

/// A Converse error about the guardrail names which one, and where: guardrails belong to
/// one region, and AWS's message names neither.
fn name_guardrail(mut e: PluginError, guard: Option<&Guardrail>, region: &str) -> PluginError {
    let about_guardrail = matches!(
        e.aws.as_deref(),
        Some(AwsCause::Service { message, .. }) if message.to_ascii_lowercase().contains("guardrail")
    );
    if let Some(g) = guard.filter(|_| about_guardrail) {
        e.message = format!("{} (guardrail {} in {region})", e.message, g.describe());
    }
    e
}

/// Claude's safety classifiers stop an answer with `refusal` (or `content_filtered`,
/// as Converse may report it).
fn is_refusal(reason: &StopReason) -> bool {
    matches!(reason, StopReason::ContentFiltered) || reason.as_str() == "refusal"
}

/// The events of one call, from whichever API served it.
enum Events {
    Converse(converse::ChatStream),
    Mantle(mantle::ResponseStream),
}

impl Events {
    async fn next(&mut self) -> Option<Result<ChatEvent, PluginError>> {
        match self {
            Events::Converse(s) => s.next().await,
            Events::Mantle(s) => s.next().await,
        }
    }
}

/// A bedrock-mantle request's input: the prompt, the tools and what the model takes.
fn mantle_input<'a>(
    decl: &ModelDecl,
    model_id: String,
    req: &'a InvokeLlm,
    chosen: &serde_json::Map<String, Value>,
) -> MantleInput<'a> {
    MantleInput {
        model_id,
        vision: decl.has_feature(ModelFeature::Vision),
        tools_allowed: decl.has_feature(ModelFeature::ToolCall),
        messages: &req.prompt_messages,
        tools: &req.tools,
        tool_choice: req.tool_choice.as_ref(),
        params: MantleParams::from_model_parameters(chosen),
    }
}

#[derive(Serialize)]
struct NumTokens {
    num_tokens: u64,
}

/// Counts the text of every message, tool call and tool definition with the cl100k BPE
/// (shipped inside the tokenizer crate: no download, no network): an honest estimate
/// for every family, since Bedrock models do not share one tokenizer.
pub fn count_tokens(messages: &[PromptMessage], tools: &[Tool]) -> u64 {
    let bpe = tiktoken_rs::cl100k_base_singleton();
    let mut text = String::new();
    for m in messages {
        text.push_str(&m.text());
        for call in &m.tool_calls {
            text.push_str(&call.function.name);
            text.push_str(&call.function.arguments);
        }
        text.push('\n');
    }
    for t in tools {
        text.push_str(&t.name);
        text.push_str(&t.description);
        text.push_str(&Value::Object(t.parameters.clone()).to_string());
    }
    bpe.encode_ordinary(&text).len() as u64
}

pub async fn num_tokens(
    state: &AppState,
    req: LlmNumTokens,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    let decl = resolve(state, &req.base, ModelType::Llm)?;
    // Bedrock's count costs a call, and Dify counts often: only when the form asks for
    // it, for the families CountTokens serves; any failure falls back to the estimate.
    let counted = match bedrock_counts_for(state, &req, &decl) {
        Some(model_id) => match count_with_bedrock(state, &req, &decl, model_id).await {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::debug!("CountTokens failed, so the count is an estimate: {e}");
                None
            }
        },
        None => None,
    };
    let num_tokens = counted.unwrap_or_else(|| count_tokens(&req.prompt_messages, &req.tools));
    sink.stream(&NumTokens { num_tokens }).await
}

/// The foundation model to count with, when the form asks for Bedrock's counts and the
/// model's family has them.
fn bedrock_counts_for(state: &AppState, req: &LlmNumTokens, decl: &ModelDecl) -> Option<String> {
    if !req.base.credentials.count_tokens || decl.chat_api() != ChatApi::Converse {
        return None;
    }
    let caps = Capabilities::of(decl);
    if !caps.family.count_tokens {
        return None;
    }
    // CountTokens names a foundation model: a customizable model's when its id tells.
    match &req.base.credentials.custom {
        None => Some(decl.model.clone()),
        Some(custom) => routing::known_from_text(&state.catalog, ModelType::Llm, &custom.target)
            .map(|m| m.model.clone()),
    }
}

async fn count_with_bedrock(
    state: &AppState,
    req: &LlmNumTokens,
    decl: &ModelDecl,
    model_id: String,
) -> Result<u64, PluginError> {
    let access = req.base.credentials.access()?;
    let clients = state.clients.get(access).await?;
    let parts = converse::build(ChatInput {
        model_id,
        caps: Capabilities::of(decl),
        messages: &req.prompt_messages,
        tools: &req.tools,
        tool_choice: None,
        stop: &[],
        params: Params::default(),
        request_metadata: None,
        // CountTokens takes no guardrail.
        guardrail: None,
    })?;
    converse::count(&clients, parts).await
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
    fn tokens_are_counted_with_a_real_bpe() {
        let messages: Vec<PromptMessage> = serde_json::from_value(
            serde_json::json!([{"role": "user", "content": "Hello, world!"}]),
        )
        .expect("messages");
        // cl100k: "Hello", ",", " world", "!\n".
        assert_eq!(count_tokens(&messages, &[]), 4);
    }
}
