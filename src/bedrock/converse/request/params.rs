//! Model parameters → Converse: `inferenceConfig` (max tokens, temperature, top p, stop
//! sequences) and the family's `additionalModelRequestFields` (top k, extended
//! thinking), each placed where the family table says it goes.

use aws_sdk_bedrockruntime::types::{
    CacheTtl, InferenceConfiguration, JsonSchemaDefinition, OutputConfig, OutputFormat,
    OutputFormatStructure, OutputFormatType, PerformanceConfigLatency, PerformanceConfiguration,
    ServiceTier, ServiceTierType,
};
use serde_json::{Map, Value, json};

use super::{bad, built};
use crate::bedrock::families::{Effort, Family, Reasoning, TopK};
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
    /// A checkpoint after the tool definitions (`tools_cache_checkpoint`).
    pub cache_tools: bool,
    /// How long checkpoints keep the prefix (`cache_ttl`); AWS's default (5 minutes)
    /// when unset.
    pub cache_ttl: Option<CacheTtl>,
    /// Bedrock's service tier (`service_tier`): default, priority or flex.
    pub service_tier: Option<ServiceTierType>,
    /// Latency-optimized inference (`performance_latency`): standard or optimized.
    pub latency: Option<PerformanceConfigLatency>,
    /// Dify's `response_format` (JSON or XML): the answer must be one such document.
    pub response_format: Option<String>,
    /// Dify's structured output (`json_schema`): the answer must match the schema.
    pub json_schema: Option<JsonSchema>,
    /// Anthropic beta flags (`anthropic_beta`, comma-separated in Dify).
    pub anthropic_beta: Vec<String>,
    /// How hard the model thinks (`effort` for Claude, `reasoning_effort` elsewhere).
    pub effort: Option<String>,
    /// Claude 5: answer a refusal with the documented fallback model (`refusal_fallback`);
    /// only models whose facts name one have a fallback.
    pub refusal_fallback: bool,
}

/// A schema the answer must match (Converse `outputConfig.textFormat`).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonSchema {
    /// The schema as JSON text, as Converse takes it.
    pub schema: String,
    pub name: String,
    pub description: Option<String>,
}

impl JsonSchema {
    /// Dify sends `{"schema": {…}, "name": "…"}` as JSON text (its structured-output
    /// helper); a bare schema object is taken as well.
    fn parse(text: &str) -> Result<JsonSchema, PluginError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "the structured output schema (json_schema) is not valid JSON: {e}"
            ))
        })?;
        let Value::Object(mut object) = value else {
            return Err(bad(
                "the structured output schema (json_schema) must be a JSON object",
            ));
        };
        let wrapped = matches!(object.get("schema"), Some(Value::Object(_)));
        let text_of = |o: &mut Map<String, Value>, key: &str| match o.remove(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
            _ => None,
        };
        let (schema, name, description) = if wrapped {
            let name = text_of(&mut object, "name");
            let description = text_of(&mut object, "description");
            (
                object.remove("schema").unwrap_or_default(),
                name,
                description,
            )
        } else {
            (Value::Object(object), None, None)
        };
        Ok(JsonSchema {
            schema: schema.to_string(),
            name: name.unwrap_or_else(|| "response".into()),
            description,
        })
    }

    /// Converse's `outputConfig` for this schema.
    pub fn to_output_config(&self) -> Result<OutputConfig, PluginError> {
        let definition = built(
            JsonSchemaDefinition::builder()
                .schema(&self.schema)
                .name(&self.name)
                .set_description(self.description.clone())
                .build(),
        )?;
        let format = built(
            OutputFormat::builder()
                .r#type(OutputFormatType::JsonSchema)
                .structure(OutputFormatStructure::JsonSchema(definition))
                .build(),
        )?;
        Ok(OutputConfig::builder().text_format(format).build())
    }
}

impl Params {
    /// Reads the validated `model_parameters`; a structured output schema that is not
    /// JSON is the caller's mistake.
    pub fn from_model_parameters(p: &Map<String, Value>) -> Result<Params, PluginError> {
        let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
        let text = |k: &str| {
            p.get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let json_schema = match p.get("json_schema").and_then(Value::as_str) {
            Some(text) if !text.trim().is_empty() => Some(JsonSchema::parse(text)?),
            _ => None,
        };
        Ok(Params {
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
            cache_tools: flag("tools_cache_checkpoint"),
            // Values outside the rule's options were refused by the rule check; AWS
            // judges the rest (a value it adds later passes through as it is).
            cache_ttl: text("cache_ttl").map(CacheTtl::from),
            service_tier: text("service_tier").map(ServiceTierType::from),
            latency: text("performance_latency").map(PerformanceConfigLatency::from),
            response_format: p
                .get("response_format")
                .and_then(Value::as_str)
                .map(str::to_string),
            json_schema,
            anthropic_beta: p
                .get("anthropic_beta")
                .and_then(Value::as_str)
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|b| !b.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            effort: ["effort", "reasoning_effort"]
                .iter()
                .find_map(|k| p.get(*k).and_then(Value::as_str))
                .filter(|e| !e.is_empty())
                .map(str::to_string),
            // On unless switched off, as its rule's default says (an unset optional
            // parameter is not sent).
            refusal_fallback: p
                .get("refusal_fallback")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        })
    }
}

impl Params {
    /// Converse's `serviceTier`, when one was chosen.
    pub fn service_tier_config(&self) -> Result<Option<ServiceTier>, PluginError> {
        self.service_tier
            .clone()
            .map(|tier| built(ServiceTier::builder().r#type(tier).build()))
            .transpose()
    }

    /// Converse's `performanceConfig`, when a latency was chosen.
    pub fn performance_config(&self) -> Option<PerformanceConfiguration> {
        self.latency
            .clone()
            .map(|latency| PerformanceConfiguration::builder().latency(latency).build())
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
    if let Some(effort) = &params.effort {
        match family.effort {
            Effort::AnthropicAdaptive => {
                // Adaptive thinking sets its own sampling; the models that take it
                // reject temperature, top_p and top_k alongside it.
                additional.insert("thinking".into(), json!({"type": "adaptive"}));
                additional.insert("output_config".into(), json!({"effort": effort}));
                temperature = None;
                top_p = None;
                top_k = None;
            }
            Effort::ReasoningEffortField => {
                additional.insert("reasoning_effort".into(), json!(effort));
            }
            Effort::NovaReasoningConfig => {
                additional.insert(
                    "reasoningConfig".into(),
                    json!({"type": "enabled", "maxReasoningEffort": effort}),
                );
            }
            Effort::Unsupported => {
                return Err(bad("a reasoning effort cannot be set for this model"));
            }
        }
    }
    if !params.anthropic_beta.is_empty() {
        if !family.anthropic_beta {
            return Err(bad("anthropic_beta applies to Claude models only"));
        }
        additional.insert("anthropic_beta".into(), json!(params.anthropic_beta));
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
    use crate::declaration::{Catalog, ChatApi, ModelFeature, ModelType};

    /// Every model parameter a YAML may declare; each is read by [`Params::from_model_parameters`],
    /// by the routing (`cross-region`) or by the guardrail's form (`guardrail_*`, in
    /// `actions::form::guardrail`), so none is dropped silently.
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
        "tools_cache_checkpoint",
        "cache_ttl",
        "service_tier",
        "performance_latency",
        "response_format",
        "json_schema",
        "anthropic_beta",
        "effort",
        "reasoning_effort",
        "refusal_fallback",
        "guardrail_identifier",
        "guardrail_version",
        "guardrail_trace",
        "guardrail_stream_processing_mode",
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
                    "tools_cache_checkpoint" => family.tools_caching,
                    "cache_ttl" => facts.cache_ttl_1h && family.prompt_caching,
                    "service_tier" => !facts.service_tiers.is_empty(),
                    "performance_latency" => !facts.latency_optimized.is_empty(),
                    // Native structured output, where the model says it has it.
                    "json_schema" => decl.has_feature(ModelFeature::StructuredOutput),
                    "anthropic_beta" => family.anthropic_beta,
                    "effort" => family.effort == Effort::AnthropicAdaptive,
                    "reasoning_effort" => matches!(
                        family.effort,
                        Effort::ReasoningEffortField | Effort::NovaReasoningConfig
                    ),
                    "refusal_fallback" => facts.refusal_fallback.is_some(),
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

#[cfg(test)]
mod schema_tests {
    use super::*;

    #[test]
    fn difys_wrapped_schema_and_a_bare_one() {
        let s = JsonSchema::parse(
            r#"{"schema": {"type": "object", "properties": {"a": {"type": "string"}}}, "name": "llm_response"}"#,
        )
        .expect("wrapped");
        assert_eq!(s.name, "llm_response");
        assert_eq!(
            serde_json::from_str::<Value>(&s.schema).expect("json"),
            json!({"type": "object", "properties": {"a": {"type": "string"}}})
        );
        let s = JsonSchema::parse(r#"{"type": "object"}"#).expect("bare");
        assert_eq!(
            (s.name.as_str(), s.schema.as_str()),
            ("response", r#"{"type":"object"}"#)
        );
        let e = JsonSchema::parse("{not json").expect_err("invalid");
        assert!(e.message.contains("json_schema) is not valid JSON"), "{e}");
        assert!(JsonSchema::parse("[1]").is_err());
    }
}
