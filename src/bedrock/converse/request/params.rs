//! Model parameters → Converse: `inferenceConfig` (max tokens, temperature, top p, stop
//! sequences) and the family's `additionalModelRequestFields` (top k, extended
//! thinking), each placed where the family table says it goes.

use aws_sdk_bedrockruntime::types::InferenceConfiguration;
use serde_json::{Map, Value, json};

use super::bad;
use crate::bedrock::families::{Family, Reasoning, TopK};
use crate::error::PluginError;

/// The model parameters a Converse request carries, already checked against the rules.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub max_tokens: Option<i64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<i64>,
    /// Anthropic extended thinking with this token budget.
    pub reasoning_budget: Option<i64>,
    pub cache_system: bool,
    pub cache_latest_messages: bool,
    /// Dify's `response_format` (JSON or XML): the answer must be one such document.
    pub response_format: Option<String>,
}

impl Params {
    /// Reads the validated `model_parameters`.
    pub fn from_model_parameters(p: &Map<String, Value>) -> Params {
        let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
        Params {
            max_tokens: p.get("max_tokens").and_then(Value::as_i64),
            temperature: p.get("temperature").and_then(Value::as_f64),
            top_p: p.get("top_p").and_then(Value::as_f64),
            top_k: p.get("top_k").and_then(Value::as_i64),
            reasoning_budget: if flag("reasoning_type") {
                Some(
                    p.get("reasoning_budget")
                        .and_then(Value::as_i64)
                        .unwrap_or(1024),
                )
            } else {
                None
            },
            cache_system: flag("system_cache_checkpoint"),
            cache_latest_messages: flag("latest_two_messages_cache_checkpoint"),
            response_format: p
                .get("response_format")
                .and_then(Value::as_str)
                .map(str::to_string),
        }
    }
}

/// The inference configuration and the family's additional fields for `params`.
pub fn to_converse(
    params: &Params,
    stop: &[String],
    family: &Family,
) -> Result<(Option<InferenceConfiguration>, Option<Value>), PluginError> {
    let mut additional = Map::new();
    let mut temperature = params.temperature;
    let mut top_p = params.top_p;
    let mut top_k = params.top_k;
    if let Some(budget) = params.reasoning_budget {
        if family.reasoning != Reasoning::AnthropicBudget {
            return Err(bad(
                "extended thinking cannot be switched on for this model",
            ));
        }
        if temperature.is_some_and(|t| t != 1.0)
            || top_k.is_some()
            || top_p.is_some_and(|p| p < 0.95)
        {
            return Err(bad(
                "extended thinking needs temperature 1 and no Top K, and Top P of at least 0.95: clear those parameters, or turn extended thinking off",
            ));
        }
        if let Some(max) = params.max_tokens.filter(|m| budget >= *m) {
            return Err(bad(format!(
                "the thinking budget ({budget} tokens) must be smaller than Max Tokens ({max}): raise Max Tokens or lower the budget"
            )));
        }
        additional.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
        temperature = None;
        top_p = None;
        top_k = None;
    }
    if let Some(k) = top_k {
        match family.top_k {
            TopK::Field(name) => {
                additional.insert(name.into(), json!(k));
            }
            TopK::NovaInferenceConfig => {
                additional.insert("inferenceConfig".into(), json!({"topK": k}));
            }
            TopK::Unsupported => return Err(bad("Top K is not supported by this model")),
        }
    }
    let stop: Vec<String> = stop.iter().filter(|s| !s.is_empty()).cloned().collect();
    let any =
        params.max_tokens.is_some() || temperature.is_some() || top_p.is_some() || !stop.is_empty();
    let inference = any.then(|| {
        InferenceConfiguration::builder()
            .set_max_tokens(
                params
                    .max_tokens
                    .map(|m| m.clamp(1, i32::MAX as i64) as i32),
            )
            .set_temperature(temperature.map(|t| t as f32))
            .set_top_p(top_p.map(|p| p as f32))
            .set_stop_sequences((!stop.is_empty()).then_some(stop))
            .build()
    });
    Ok((
        inference,
        (!additional.is_empty()).then_some(Value::Object(additional)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bedrock::families::converse_family;
    use crate::declaration::{Catalog, ChatApi, ModelType};

    /// Every model parameter a YAML may declare; each is read by [`Params::from_model_parameters`]
    /// or by the routing (`cross-region`), so none is dropped silently.
    const IMPLEMENTED_PARAMETERS: &[&str] = &[
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "cross-region",
        "reasoning_type",
        "reasoning_budget",
        "system_cache_checkpoint",
        "latest_two_messages_cache_checkpoint",
        "response_format",
    ];

    /// No declared parameter is silently dropped: each is implemented, and the model's
    /// family takes it.
    #[test]
    fn every_declared_parameter_is_implemented_for_its_family() {
        let catalog = Catalog::embedded().expect("catalog");
        for decl in catalog
            .models()
            .iter()
            .filter(|m| m.model_type == ModelType::Llm && m.chat_api() == ChatApi::Converse)
        {
            let facts = decl
                .bedrock
                .as_ref()
                .unwrap_or_else(|| panic!("{} has no bedrock block", decl.model));
            let family = converse_family(facts.family).unwrap_or_else(|| {
                panic!(
                    "{}: no Converse row for {}",
                    decl.model,
                    facts.family.as_str()
                )
            });
            for rule in &decl.parameter_rules {
                let name = rule.name.as_str();
                assert!(
                    IMPLEMENTED_PARAMETERS.contains(&name),
                    "{}: parameter {name} is not implemented",
                    decl.model
                );
                let ok = match name {
                    "top_k" => family.top_k != TopK::Unsupported,
                    "reasoning_type" | "reasoning_budget" => {
                        family.reasoning == Reasoning::AnthropicBudget
                    }
                    "system_cache_checkpoint" | "latest_two_messages_cache_checkpoint" => {
                        family.prompt_caching
                    }
                    _ => true,
                };
                assert!(
                    ok,
                    "{}: family {} cannot take {name}",
                    decl.model, family.name
                );
            }
        }
    }
}
