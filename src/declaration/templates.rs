//! `use_template` expansion: the parameter-rule templates with the SDK's defaults
//! (`dify_plugin/entities/model/__init__.py::PARAMETER_RULE_TEMPLATE`; the daemon's
//! table in `model_declaration.go` has the same numbers), filled into rules and models
//! the way the SDK serves them.

use std::fmt;

use serde_json::{Value, json};

use super::model::{I18n, ModelDecl, ParamType, ParameterRule};

/// A parameter rule that cannot be completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    UnknownTemplate { parameter: String, template: String },
    NoType { parameter: String },
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::UnknownTemplate {
                parameter,
                template,
            } => write!(
                f,
                "parameter {parameter}: unknown use_template {template:?}"
            ),
            RuleError::NoType { parameter } => {
                write!(f, "parameter {parameter}: no type and no use_template")
            }
        }
    }
}

impl std::error::Error for RuleError {}

/// The declaration with templates filled in and the label defaulted, as the SDK serves it.
pub fn expand_model(mut decl: ModelDecl) -> Result<ModelDecl, RuleError> {
    if decl.label.is_none() {
        decl.label = Some(I18n::en(decl.model.clone()));
    }
    decl.parameter_rules = decl
        .parameter_rules
        .into_iter()
        .map(expand_rule)
        .collect::<Result<_, _>>()?;
    Ok(decl)
}

/// Fills a rule's missing fields from its `use_template`, the SDK's way: the template's
/// label, type, help, default, range, precision and options, overridden by what the
/// rule states. A rule without a template must state its type.
pub fn expand_rule(mut rule: ParameterRule) -> Result<ParameterRule, RuleError> {
    if let Some(name) = rule.use_template.as_deref().filter(|n| !n.is_empty()) {
        let t = template(name).ok_or_else(|| RuleError::UnknownTemplate {
            parameter: rule.name.clone(),
            template: name.to_string(),
        })?;
        rule.label = rule.label.or(t.label);
        rule.kind = rule.kind.or(t.kind);
        rule.help = rule.help.or(t.help);
        rule.default = rule.default.or(t.default);
        rule.min = rule.min.or(t.min);
        rule.max = rule.max.or(t.max);
        rule.precision = rule.precision.or(t.precision);
        if rule.options.is_empty() {
            rule.options = t.options;
        }
    }
    if rule.kind.is_none() {
        return Err(RuleError::NoType {
            parameter: rule.name.clone(),
        });
    }
    if rule.label.is_none() {
        rule.label = Some(I18n::en(rule.name.clone()));
    }
    Ok(rule)
}

fn i18n(en: &str, zh: &str) -> I18n {
    I18n {
        en_us: en.into(),
        zh_hans: Some(zh.into()),
        ..I18n::default()
    }
}

fn rule(
    name: &str,
    label: I18n,
    kind: ParamType,
    help: I18n,
    default: Option<Value>,
    range: Option<(f64, f64)>,
    precision: Option<u32>,
) -> ParameterRule {
    ParameterRule {
        name: name.into(),
        use_template: None,
        label: Some(label),
        kind: Some(kind),
        help: Some(help),
        required: false,
        default,
        min: range.map(|r| r.0),
        max: range.map(|r| r.1),
        precision,
        options: Vec::new(),
    }
}

/// The template named `name`, or None for a name neither the daemon nor the SDK knows.
pub fn template(name: &str) -> Option<ParameterRule> {
    use ParamType::*;
    Some(match name {
        "temperature" => rule(
            name,
            i18n("Temperature", "温度"),
            Float,
            i18n(
                "Controls randomness. Lower temperature results in less random completions. As the temperature approaches zero, the model will become deterministic and repetitive. Higher temperature results in more random completions.",
                "温度控制随机性。较低的温度会导致较少的随机完成。随着温度接近零，模型将变得确定性和重复性。较高的温度会导致更多的随机完成。",
            ),
            Some(json!(0.0)),
            Some((0.0, 1.0)),
            Some(2),
        ),
        "top_p" => rule(
            name,
            i18n("Top P", "Top P"),
            Float,
            i18n(
                "Controls diversity via nucleus sampling: 0.5 means half of all likelihood-weighted options are considered.",
                "通过核心采样控制多样性：0.5表示考虑了一半的所有可能性加权选项。",
            ),
            Some(json!(1.0)),
            Some((0.0, 1.0)),
            Some(2),
        ),
        "top_k" => rule(
            name,
            i18n("Top K", "Top K"),
            Int,
            i18n(
                "Limits the number of tokens to consider for each step by keeping only the k most likely tokens.",
                "通过只保留每一步中最可能的 k 个标记来限制要考虑的标记数量。",
            ),
            Some(json!(50)),
            Some((1.0, 100.0)),
            Some(0),
        ),
        "presence_penalty" => rule(
            name,
            i18n("Presence Penalty", "存在惩罚"),
            Float,
            i18n(
                "Applies a penalty to the log-probability of tokens already in the text.",
                "对文本中已有的标记的对数概率施加惩罚。",
            ),
            Some(json!(0.0)),
            Some((0.0, 1.0)),
            Some(2),
        ),
        "frequency_penalty" => rule(
            name,
            i18n("Frequency Penalty", "频率惩罚"),
            Float,
            i18n(
                "Applies a penalty to the log-probability of tokens that appear in the text.",
                "对文本中出现的标记的对数概率施加惩罚。",
            ),
            Some(json!(0.0)),
            Some((0.0, 1.0)),
            Some(2),
        ),
        "max_tokens" => rule(
            name,
            i18n("Max Tokens", "最大标记"),
            Int,
            i18n(
                "Specifies the upper limit on the length of generated results. If the generated results are truncated, you can increase this parameter.",
                "指定生成结果长度的上限。如果生成结果截断，可以调大该参数。",
            ),
            Some(json!(64)),
            Some((1.0, 2048.0)),
            Some(0),
        ),
        "response_format" => ParameterRule {
            options: vec!["JSON".into(), "XML".into()],
            ..rule(
                name,
                i18n("Response Format", "回复格式"),
                String,
                i18n(
                    "Set a response format, ensure the output from llm is a valid code block as possible, such as JSON, XML, etc.",
                    "设置一个返回格式，确保llm的输出尽可能是有效的代码块，如JSON、XML等",
                ),
                None,
                None,
                None,
            )
        },
        // The SDK types this template `text`, the daemon `string`; both carry a string.
        "json_schema" => rule(
            name,
            I18n::en("JSON Schema"),
            Text,
            i18n(
                "Set a response json schema will ensure LLM to adhere it.",
                "设置返回的json schema，llm将按照它返回",
            ),
            None,
            None,
            None,
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn every_template_the_daemon_knows_exists() {
        for name in [
            "temperature",
            "top_p",
            "top_k",
            "presence_penalty",
            "frequency_penalty",
            "max_tokens",
            "response_format",
            "json_schema",
        ] {
            assert!(template(name).is_some(), "{name}");
        }
        assert!(template("max_new_tokens").is_none());
        let mt = template("max_tokens").expect("exists");
        assert_eq!(
            (mt.min, mt.max, mt.default),
            (Some(1.0), Some(2048.0), Some(serde_json::json!(64)))
        );
    }
}
