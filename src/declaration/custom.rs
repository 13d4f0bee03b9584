//! The schema of a customizable model: the catalogue model it runs on (when that can be
//! known) with what the model form says on top, or the form alone. Dify shows it, and the
//! plugin calls the model by it, exactly like a predefined model's declaration.

use serde_json::{Value, json};

use super::model::{FetchFrom, I18n, ModelDecl, ModelFeature, ModelType, ParameterRule};
use super::templates::expand_rule;
use crate::error::PluginError;

/// What the model form says, already checked; `None` leaves the underlying model's value
/// (or, for a model nothing is known about, the plugin's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomModelSettings {
    pub context_size: Option<u64>,
    /// Chat models: the most tokens an answer may have.
    pub max_output: Option<u64>,
    pub vision: Option<bool>,
    pub documents: Option<bool>,
    pub tools: Option<bool>,
}

/// Context sizes assumed when neither the form nor the catalogue knows one.
const DEFAULT_LLM_CONTEXT: u64 = 4096;
const DEFAULT_EMBEDDING_CONTEXT: u64 = 8192;
const DEFAULT_RERANK_CONTEXT: u64 = 5120;
const DEFAULT_MAX_OUTPUT: u64 = 4096;

fn set_feature(features: &mut Vec<ModelFeature>, on: bool, names: &[ModelFeature]) {
    features.retain(|f| !names.contains(f));
    if on {
        features.extend_from_slice(names);
    }
}

/// The parameters of a chat model nothing is known about.
fn generic_llm_rules() -> Result<Vec<ParameterRule>, PluginError> {
    [
        json!({"name": "temperature", "use_template": "temperature"}),
        json!({"name": "top_p", "use_template": "top_p"}),
        json!({"name": "max_tokens", "use_template": "max_tokens", "required": true}),
    ]
    .into_iter()
    .map(|r| {
        let rule: ParameterRule =
            serde_json::from_value(r).map_err(|e| PluginError::internal(e.to_string()))?;
        expand_rule(rule).map_err(|e| PluginError::internal(e.to_string()))
    })
    .collect()
}

/// The schema Dify sees for the customizable model `model`.
pub fn customizable_model(
    model: &str,
    model_type: ModelType,
    settings: &CustomModelSettings,
    underlying: Option<&ModelDecl>,
) -> Result<ModelDecl, PluginError> {
    let underlying = underlying.filter(|u| u.model_type == model_type);
    let mut properties = underlying
        .map(|u| u.model_properties.clone())
        .unwrap_or_default();
    let mut features = underlying.map(|u| u.features.clone()).unwrap_or_default();
    let known_context = properties.get("context_size").and_then(Value::as_u64);
    let context = |default: u64| settings.context_size.or(known_context).unwrap_or(default);
    let rules: Vec<ParameterRule> = match model_type {
        ModelType::Llm => {
            properties.insert("mode".into(), json!("chat"));
            properties.insert("context_size".into(), json!(context(DEFAULT_LLM_CONTEXT)));
            if let Some(on) = settings.vision {
                set_feature(&mut features, on, &[ModelFeature::Vision]);
            }
            if let Some(on) = settings.documents {
                set_feature(&mut features, on, &[ModelFeature::Document]);
            }
            if let Some(on) = settings.tools {
                set_feature(
                    &mut features,
                    false,
                    &[
                        ModelFeature::ToolCall,
                        ModelFeature::MultiToolCall,
                        ModelFeature::StreamToolCall,
                        ModelFeature::AgentThought,
                    ],
                );
                if on {
                    // Streaming tool use is not assumed: tool requests then go through Converse.
                    set_feature(
                        &mut features,
                        true,
                        &[
                            ModelFeature::ToolCall,
                            ModelFeature::MultiToolCall,
                            ModelFeature::AgentThought,
                        ],
                    );
                }
            }
            let known_max = underlying
                .and_then(|u| u.parameter_rules.iter().find(|r| r.name == "max_tokens"))
                .and_then(|r| r.max)
                .map(|m| m as u64);
            let max_output = settings
                .max_output
                .or(known_max)
                .unwrap_or(DEFAULT_MAX_OUTPUT);
            let mut rules: Vec<ParameterRule> = match underlying {
                // The id given is already what to call: no cross-region choice applies.
                Some(u) => u
                    .parameter_rules
                    .iter()
                    .filter(|r| r.name != "cross-region")
                    .cloned()
                    .collect(),
                None => generic_llm_rules()?,
            };
            for rule in rules
                .iter_mut()
                .filter(|r| r.name == "max_tokens" || r.name == "reasoning_budget")
            {
                rule.max = Some(max_output as f64);
                if rule.name == "max_tokens" {
                    rule.default = Some(json!(max_output.min(DEFAULT_MAX_OUTPUT)));
                }
            }
            rules
        }
        ModelType::TextEmbedding => {
            properties.insert(
                "context_size".into(),
                json!(context(DEFAULT_EMBEDDING_CONTEXT)),
            );
            properties.entry("max_chunks").or_insert(json!(1));
            Vec::new()
        }
        ModelType::Rerank => {
            properties.insert(
                "context_size".into(),
                json!(context(DEFAULT_RERANK_CONTEXT)),
            );
            Vec::new()
        }
        other => {
            return Err(PluginError::unsupported(format!(
                "{} models are not offered by this provider",
                other.as_str()
            )));
        }
    };
    Ok(ModelDecl {
        model: model.to_string(),
        label: Some(I18n::en(model)),
        model_type,
        features,
        fetch_from: FetchFrom::CustomizableModel,
        model_properties: properties,
        deprecated: false,
        parameter_rules: rules,
        pricing: underlying.and_then(|u| u.pricing.clone()),
        bedrock: underlying.and_then(|u| u.bedrock.clone()),
    })
}
