//! What an `invoke_llm` request becomes before its Converse call, in one place for the
//! action and for `internals` (fuzzing, micro-benchmarks): which id the request targets,
//! then, once routing has named the id to call, the model parameters read, the service
//! tier's advice, Claude 5's refusal fallback, the guardrail (the provider's, or the
//! app's own) and the Converse request built from the prompt, tools and stop sequences.

use std::collections::HashMap;

use aws_sdk_bedrockruntime::types::{CacheTtl, PerformanceConfigLatency, ServiceTierType};
use serde_json::{Map, Value};

use super::super::AppState;
use super::super::form::{Credentials, guardrail};
use super::super::requests::InvokeLlm;
use crate::bedrock::converse::{self, Capabilities, ChatInput, ConverseParts, Params};
use crate::bedrock::guardrail::Guardrail;
use crate::bedrock::routing::{self, CrossRegion, Routed, Target};
use crate::declaration::{ModelDecl, ModelType};
use crate::error::PluginError;

/// What a chat request calls: the customizable model's id, or the catalogue model with
/// the app's Cross-region inference choice.
pub(crate) fn target<'a>(
    decl: &'a ModelDecl,
    credentials: &'a Credentials,
    chosen: &Map<String, Value>,
) -> Target<'a> {
    match &credentials.custom {
        Some(custom) => Target::Custom(&custom.target),
        None => Target::Predefined {
            decl,
            choice: chosen
                .get("cross-region")
                .and_then(Value::as_str)
                .and_then(CrossRegion::parse),
        },
    }
}

/// A Converse call, prepared: everything decided before it is made.
pub(crate) struct ConverseCall<'s> {
    pub parts: ConverseParts,
    /// The id called, with the catalogue's advice for AWS's refusals.
    pub route: Routed,
    /// The guardrail sent, to name in errors about it.
    pub guard: Option<Guardrail>,
    /// The request's cache checkpoints last an hour.
    pub cache_ttl_1h: bool,
    /// The request asks for latency-optimized inference.
    pub optimized_latency: bool,
    /// Claude 5: the model that answers a refusal (its id, called the same way, and its
    /// declaration when the catalogue has it).
    pub fallback: Option<(String, Option<&'s ModelDecl>)>,
}

/// The Converse call for `req` to `decl` (resolved), with the model parameters `chosen`
/// (validated against its rules), at the id `routed` (as routing named it for `region`).
pub(crate) fn converse_call<'s>(
    state: &'s AppState,
    req: &InvokeLlm,
    decl: &ModelDecl,
    chosen: &Map<String, Value>,
    routed: Routed,
    region: &str,
    app_id: Option<&str>,
) -> Result<ConverseCall<'s>, PluginError> {
    let credentials = &req.base.credentials;
    let params = Params::from_model_parameters(chosen)?;
    let route = routed.with_tier(
        decl,
        params.service_tier.as_ref().map(ServiceTierType::as_str),
        region,
    );
    if let Some(advice) = &route.advice {
        tracing::debug!("calling {} although {advice}", route.id);
    }
    let cache_ttl_1h = params.cache_ttl == Some(CacheTtl::OneHour);
    let optimized_latency = params.latency == Some(PerformanceConfigLatency::Optimized);
    let fallback = decl
        .bedrock
        .as_ref()
        .and_then(|f| f.refusal_fallback.as_deref())
        .filter(|_| params.refusal_fallback)
        .and_then(|fallback| {
            let id = routing::same_route(&route.id, fallback)?;
            Some((id, state.catalog.model(ModelType::Llm, fallback)))
        });
    // The provider's guardrail, or the app's own (its model parameters win).
    let app_guardrail = guardrail::from_parameters(chosen)?;
    let guard = guardrail::combine(&credentials.guardrail.clone()?, &app_guardrail)?;
    let parts = converse::build(ChatInput {
        model_id: route.id.clone(),
        caps: Capabilities::of(decl),
        messages: &req.prompt_messages,
        tools: &req.tools,
        tool_choice: req.tool_choice.as_ref(),
        stop: &req.stop,
        params,
        request_metadata: request_metadata(credentials.request_metadata, app_id),
        guardrail: guard.clone(),
    })?;
    Ok(ConverseCall {
        parts,
        route,
        guard,
        cache_ttl_1h,
        optimized_latency,
        fallback,
    })
}

/// The Converse request metadata, when the form asks for it: the source, and the Dify
/// app the call serves.
fn request_metadata(enabled: bool, app_id: Option<&str>) -> Option<HashMap<String, String>> {
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
