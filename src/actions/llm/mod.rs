//! `invoke_llm` and `get_llm_num_tokens`: a Dify chat request → the API its model's
//! family is called through (Converse, or bedrock-mantle's Responses API for the
//! families Converse does not serve) → one stream of chat events → LLMResultChunk lines.
//! Here: the call, and Claude 5's refusal answered by its fallback model. What the
//! request becomes before a Converse call is `prepare`'s; what the events become on the
//! wire is `chunks`'; token counts are `tokens`'.

pub(crate) mod chunks;
pub(crate) mod prepare;
mod tokens;

use std::time::Instant;

use aws_sdk_bedrockruntime::types::StopReason;
use serde_json::Value;

use super::AppState;
use super::form::guardrail;
use super::model::resolve_for_call;
use super::requests::InvokeLlm;
use crate::bedrock::converse::{self, ChatEvent, ConverseParts};
use crate::bedrock::guardrail::Guardrail;
use crate::bedrock::mantle::{self, MantleInput, MantleParams};
use crate::bedrock::routing::{self, Target};
use crate::declaration::{ChatApi, ModelDecl, ModelFeature, ModelType, params};
use crate::error::{AwsCause, ErrorKind, PluginError};
use crate::session::SessionSink;
use chunks::ChunkWriter;

pub use tokens::num_tokens;

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
    let target = prepare::target(&decl, credentials, &chosen);
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
            let routed = routing::id_to_call(&clients, target, &access.region).await;
            let call = prepare::converse_call(
                state,
                &req,
                &decl,
                &chosen,
                routed,
                &access.region,
                app_id,
            )?;
            cache_ttl_1h = call.cache_ttl_1h;
            optimized_latency = call.optimized_latency;
            fallback = call.fallback;
            retry = fallback.as_ref().map(|(id, _)| ConverseParts {
                model_id: id.clone(),
                ..call.parts.clone()
            });
            called = call.route.id.clone();
            let (route, guard) = (call.route, call.guard);
            Events::Converse(
                converse::start(&clients, call.parts, stream_call, idle)
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
    let mut writer = ChunkWriter::new(
        req.base.model.clone(),
        sink,
        req.stream,
        cache_ttl_1h,
        optimized_latency,
    );
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
