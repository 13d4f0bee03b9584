//! `get_ai_model_schemas`: a predefined model's declaration, or a schema built from a
//! customizable model's credentials, or `null` for a model the plugin does not know.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::requests::ModelBase;
use super::{AppState, credential_str};
use crate::declaration::{FetchFrom, I18n, ModelDecl, ModelType, ParameterRule, expand_rule};
use crate::error::PluginError;
use crate::session::SessionSink;

#[derive(Serialize)]
struct Answer<'a> {
    model_schema: Option<&'a ModelDecl>,
}

pub async fn get_ai_model_schemas(
    state: &AppState,
    req: ModelBase,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    let Some(model_type) = ModelType::parse(&req.model_type) else {
        return sink.stream(&Answer { model_schema: None }).await;
    };
    if credential_str(&req.credentials, "inference_profile_id").is_some() {
        let schema = super::resolve_for_call(state, &req, model_type).await?;
        return sink
            .stream(&Answer {
                model_schema: Some(&schema),
            })
            .await;
    }
    sink.stream(&Answer {
        model_schema: state.catalog.model(model_type, &req.model),
    })
    .await
}

/// A credential switch for a feature: Some(true) "support", Some(false) "no_support",
/// None "auto" (as the underlying model).
fn switch(credentials: &Map<String, Value>, key: &str) -> Option<bool> {
    match credential_str(credentials, key).as_deref() {
        Some("support") => Some(true),
        Some("no_support") => Some(false),
        _ => None,
    }
}

/// A whole number from the form; `None` when absent or left at the form's default, so
/// the underlying model's own figure applies.
fn form_number(
    credentials: &Map<String, Value>,
    key: &str,
    form_default: u64,
) -> Result<Option<u64>, PluginError> {
    match credential_str(credentials, key) {
        None => Ok(None),
        Some(text) => {
            let n = text.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                PluginError::bad_request(format!(
                    "{key} must be a whole number of tokens, got {text:?}"
                ))
            })?;
            Ok((n != form_default).then_some(n))
        }
    }
}

fn set_feature(features: &mut Vec<String>, on: bool, names: &[&str]) {
    features.retain(|f| !names.contains(&f.as_str()));
    if on {
        features.extend(names.iter().map(|n| n.to_string()));
    }
}

/// The schema of a customizable model, when the credentials describe one (they carry
/// the model id, inference profile or ARN in `inference_profile_id`): the underlying
/// model's features, limits, parameters and price when it is known, with what the form
/// says on top; the form alone otherwise.
pub fn customizable_model(
    model: &str,
    model_type: ModelType,
    credentials: &Map<String, Value>,
    underlying: Option<&ModelDecl>,
) -> Result<Option<ModelDecl>, PluginError> {
    if credential_str(credentials, "inference_profile_id").is_none() {
        return Ok(None);
    }
    let underlying = underlying.filter(|u| u.model_type == model_type);
    let mut properties = underlying
        .map(|u| u.model_properties.clone())
        .unwrap_or_default();
    let mut features = underlying.map(|u| u.features.clone()).unwrap_or_default();
    let known_context = properties.get("context_size").and_then(Value::as_u64);
    let rules: Vec<ParameterRule> = match model_type {
        ModelType::Llm => {
            let context = form_number(credentials, "context_length", 4096)?
                .or(known_context)
                .unwrap_or(4096);
            properties.insert("mode".into(), json!("chat"));
            properties.insert("context_size".into(), json!(context));
            if let Some(on) = switch(credentials, "vision_support") {
                set_feature(&mut features, on, &["vision"]);
            }
            if let Some(on) = switch(credentials, "document_support") {
                set_feature(&mut features, on, &["document"]);
            }
            if let Some(on) = switch(credentials, "tool_call_support") {
                set_feature(
                    &mut features,
                    false,
                    &[
                        "tool-call",
                        "multi-tool-call",
                        "stream-tool-call",
                        "agent-thought",
                    ],
                );
                if on {
                    // Streaming tool use is not assumed: tool requests then go through Converse.
                    set_feature(
                        &mut features,
                        true,
                        &["tool-call", "multi-tool-call", "agent-thought"],
                    );
                }
            }
            let known_max = underlying
                .and_then(|u| u.parameter_rules.iter().find(|r| r.name == "max_tokens"))
                .and_then(|r| r.max)
                .map(|m| m as u64);
            let max_output = form_number(credentials, "max_tokens", 4096)?
                .or(known_max)
                .unwrap_or(4096);
            let mut rules: Vec<ParameterRule> = match underlying {
                // The id given is already what to call: no cross-region choice applies.
                Some(u) => u
                    .parameter_rules
                    .iter()
                    .filter(|r| r.name != "cross-region")
                    .cloned()
                    .collect(),
                None => [
                    json!({"name": "temperature", "use_template": "temperature"}),
                    json!({"name": "top_p", "use_template": "top_p"}),
                    json!({"name": "max_tokens", "use_template": "max_tokens", "required": true}),
                ]
                .into_iter()
                .map(|r| {
                    serde_json::from_value::<ParameterRule>(r)
                        .map_err(|e| e.to_string())
                        .and_then(expand_rule)
                        .map_err(PluginError::internal)
                })
                .collect::<Result<_, _>>()?,
            };
            for rule in rules
                .iter_mut()
                .filter(|r| r.name == "max_tokens" || r.name == "reasoning_budget")
            {
                rule.max = Some(max_output as f64);
                if rule.name == "max_tokens" {
                    rule.default = Some(json!(max_output.min(4096)));
                }
            }
            rules
        }
        ModelType::TextEmbedding => {
            let context = form_number(credentials, "context_length", 4096)?
                .or(known_context)
                .unwrap_or(8192);
            properties.insert("context_size".into(), json!(context));
            properties.entry("max_chunks").or_insert(json!(1));
            Vec::new()
        }
        ModelType::Rerank => {
            let context = form_number(credentials, "context_length", 4096)?
                .or(known_context)
                .unwrap_or(5120);
            properties.insert("context_size".into(), json!(context));
            Vec::new()
        }
        other => {
            return Err(PluginError::unsupported(format!(
                "{} models are not offered by this provider",
                other.as_str()
            )));
        }
    };
    Ok(Some(ModelDecl {
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
    }))
}
