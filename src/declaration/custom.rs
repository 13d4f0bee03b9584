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

/// The guardrail parameters every Converse chat model declares (a test holds the YAMLs
/// to these), so that an app can choose its own guardrail on any model called that way.
const GUARDRAIL_RULES: &str = r#"
  - name: guardrail_identifier
    type: string
    label:
      en_US: Guardrail ID or ARN
      zh_Hans: 护栏 ID 或 ARN
    help:
      en_US: "An Amazon Bedrock guardrail for this app instead of the provider's: its ID (such as abc123def456) or ARN, in the provider's region"
      zh_Hans: "此应用使用的 Amazon Bedrock 护栏（替代提供商设置中的护栏）：其 ID（如 abc123def456）或 ARN，须位于提供商设置的地区"
    required: false
  - name: guardrail_version
    type: string
    label:
      en_US: Guardrail version
      zh_Hans: 护栏版本
    help:
      en_US: "DRAFT or a published version number. Empty: DRAFT for this app's own guardrail, the provider's version for the provider's guardrail"
      zh_Hans: "DRAFT 或已发布的版本号。留空：此应用自己的护栏使用 DRAFT，提供商的护栏使用提供商设置的版本"
    required: false
  - name: guardrail_trace
    type: string
    label:
      en_US: Guardrail trace
      zh_Hans: 护栏追踪
    help:
      en_US: "Whether Bedrock returns the guardrail's assessments (logged by the plugin at debug level)"
      zh_Hans: "Bedrock 是否返回护栏的评估结果（插件以 debug 级别记录）"
    required: false
    default: disabled
    options:
      - disabled
      - enabled
      - enabled_full
  - name: guardrail_stream_processing_mode
    type: string
    label:
      en_US: Guardrail stream processing
      zh_Hans: 护栏流式处理模式
    help:
      en_US: "Streaming answers: sync holds each chunk until the guardrail has scanned it; async sends chunks at once and scans them in the background (no masking of sensitive information)"
      zh_Hans: "流式回答：sync 在护栏扫描完每个分块后再发送；async 立即发送分块并在后台扫描（不支持敏感信息遮蔽）"
    required: false
    default: sync
    options:
      - sync
      - async
"#;

/// The guardrail parameters, as rules.
fn guardrail_rules() -> Result<Vec<ParameterRule>, PluginError> {
    serde_yaml::from_str(GUARDRAIL_RULES)
        .map_err(|e| PluginError::internal(format!("the guardrail parameters do not load: {e}")))
}

/// The parameters of a chat model nothing is known about: it is called through Converse,
/// so it takes the guardrail parameters too.
fn generic_llm_rules() -> Result<Vec<ParameterRule>, PluginError> {
    let mut rules = [
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
    .collect::<Result<Vec<_>, _>>()?;
    rules.extend(guardrail_rules()?);
    Ok(rules)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declaration::{Catalog, ChatApi};

    #[test]
    fn every_converse_chat_model_declares_the_same_guardrail_parameters() {
        let expected = guardrail_rules().expect("the rules load");
        assert_eq!(expected.len(), 4);
        let catalog = Catalog::embedded().expect("catalog");
        for decl in catalog
            .models()
            .iter()
            .filter(|m| m.model_type == ModelType::Llm)
        {
            let declared: Vec<&ParameterRule> = decl
                .parameter_rules
                .iter()
                .filter(|r| r.name.starts_with("guardrail_"))
                .collect();
            if decl.chat_api() == ChatApi::Converse {
                assert_eq!(
                    declared,
                    expected.iter().collect::<Vec<_>>(),
                    "{}: its guardrail parameters differ from GUARDRAIL_RULES",
                    decl.model
                );
            } else {
                assert!(declared.is_empty(), "{} takes no guardrail", decl.model);
            }
        }
        // A model nothing is known about takes them too.
        let generic =
            customizable_model("x", ModelType::Llm, &CustomModelSettings::default(), None)
                .expect("schema");
        assert!(
            generic
                .parameter_rules
                .iter()
                .any(|r| r.name == "guardrail_identifier")
        );
    }
}
