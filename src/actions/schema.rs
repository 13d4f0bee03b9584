//! `get_ai_model_schemas`: a predefined model's declaration, or a schema built from a
//! customizable model's credentials, or `null` for a model the plugin does not know.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::requests::ModelBase;
use super::{AppState, credential_str};
use crate::declaration::{FetchFrom, I18n, ModelDecl, ModelType, ParameterRule, expand_rule};
use crate::error::PluginError;
use crate::runtime::SessionSink;

#[derive(Serialize)]
struct Answer<'a> {
    model_schema: Option<&'a ModelDecl>,
}

pub async fn get_ai_model_schemas(
    state: &AppState,
    req: ModelBase,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    let custom = match ModelType::parse(&req.model_type) {
        Some(t) => customizable_model(&req.model, t, &req.credentials)?,
        None => None,
    };
    let schema = match &custom {
        Some(m) => Some(m),
        None => ModelType::parse(&req.model_type).and_then(|t| state.catalog.model(t, &req.model)),
    };
    sink.stream(&Answer {
        model_schema: schema,
    })
    .await
}

/// The schema of a customizable model, when the credentials describe one (they carry
/// the model or inference profile id in `inference_profile_id`).
pub fn customizable_model(
    model: &str,
    model_type: ModelType,
    credentials: &Map<String, Value>,
) -> Result<Option<ModelDecl>, PluginError> {
    if credential_str(credentials, "inference_profile_id").is_none() {
        return Ok(None);
    }
    let mut properties = Map::new();
    let rules: Vec<Value> = match model_type {
        ModelType::Llm => {
            let context = match credential_str(credentials, "context_length") {
                None => 4096,
                Some(text) => text.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    PluginError::bad_request(format!(
                        "context_length must be a whole number of tokens, got {text:?}"
                    ))
                })?,
            };
            properties.insert("mode".into(), json!("chat"));
            properties.insert("context_size".into(), json!(context));
            vec![
                json!({"name": "temperature", "use_template": "temperature"}),
                json!({"name": "top_p", "use_template": "top_p"}),
                json!({"name": "max_tokens", "use_template": "max_tokens", "required": true, "default": 4096, "max": 8192}),
            ]
        }
        ModelType::TextEmbedding => {
            properties.insert("context_size".into(), json!(8192));
            properties.insert("max_chunks".into(), json!(1));
            Vec::new()
        }
        ModelType::Rerank => {
            properties.insert("context_size".into(), json!(5120));
            Vec::new()
        }
        other => {
            return Err(PluginError::unsupported(format!(
                "{} models are not offered by this provider",
                other.as_str()
            )));
        }
    };
    let parameter_rules = rules
        .into_iter()
        .map(|r| {
            serde_json::from_value::<ParameterRule>(r)
                .map_err(|e| e.to_string())
                .and_then(expand_rule)
                .map_err(PluginError::internal)
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(ModelDecl {
        model: model.to_string(),
        label: Some(I18n::en(model)),
        model_type,
        features: Vec::new(),
        fetch_from: FetchFrom::CustomizableModel,
        model_properties: properties,
        deprecated: false,
        parameter_rules,
        pricing: None,
        bedrock: None,
    }))
}
