//! Checks `model_parameters` against a model's parameter rules with the SDK's semantics
//! (`LargeLanguageModel._validate_and_filter_model_parameters`): keys no rule declares are
//! dropped, a rule's `use_template` name is accepted as an alias, a required parameter
//! that is missing takes its default, and values are checked for type, range, precision
//! and options. Differences from the SDK, on purpose: an integral float such as `512.0`
//! counts as an int (JSON has one number type), and a boolean is never an int.

use std::fmt;

use serde_json::{Map, Number, Value};

use super::model::{ParamType, ParameterRule};
use crate::error::PluginError;

/// A model parameter that breaks its rule, in the SDK's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError(String);

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ParamError> for PluginError {
    fn from(e: ParamError) -> PluginError {
        PluginError::bad_request(e.0)
    }
}

/// Returns the parameters to use, or an error naming the parameter that is wrong.
pub fn validate(
    rules: &[ParameterRule],
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, ParamError> {
    let mut out = Map::new();
    for rule in rules {
        let name = rule.name.as_str();
        let value = given.get(name).filter(|v| !v.is_null()).or_else(|| {
            rule.use_template
                .as_deref()
                .and_then(|t| given.get(t))
                .filter(|v| !v.is_null())
        });
        let Some(value) = value else {
            if rule.required {
                match &rule.default {
                    Some(d) if !d.is_null() => {
                        out.insert(name.to_string(), d.clone());
                    }
                    _ => return Err(ParamError(format!("Model parameter {name} is required."))),
                }
            }
            continue;
        };
        out.insert(name.to_string(), check(rule, value)?);
    }
    Ok(out)
}

fn check(rule: &ParameterRule, value: &Value) -> Result<Value, ParamError> {
    check_value(rule, value).map_err(ParamError)
}

fn check_value(rule: &ParameterRule, value: &Value) -> Result<Value, String> {
    let name = &rule.name;
    match rule.kind.unwrap_or(ParamType::String) {
        ParamType::Int => {
            let n = match value {
                Value::Number(n) => n.as_i64().or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                }),
                _ => None,
            }
            .ok_or_else(|| format!("Model parameter {name} should be int, got {value}."))?;
            check_range(rule, n as f64)?;
            Ok(Value::from(n))
        }
        ParamType::Float => {
            let f = value
                .as_f64()
                .filter(|_| value.is_number())
                .ok_or_else(|| format!("Model parameter {name} should be float, got {value}."))?;
            if let Some(p) = rule.precision {
                let scale = 10f64.powi(p as i32);
                if ((f * scale).round() / scale - f).abs() > 1e-9 {
                    return Err(if p == 0 {
                        format!("Model parameter {name} should be int.")
                    } else {
                        format!("Model parameter {name} should be rounded to {p} decimal places.")
                    });
                }
            }
            check_range(rule, f)?;
            // Keep integers integral so they reach AWS as the number the user typed.
            Ok(match value {
                Value::Number(n) if n.is_i64() || n.is_u64() => value.clone(),
                _ => Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
            })
        }
        ParamType::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => Err(format!(
                "Model parameter {name} should be bool, got {value}."
            )),
        },
        ParamType::String => {
            let s = value
                .as_str()
                .ok_or_else(|| format!("Model parameter {name} should be string, got {value}."))?;
            if !rule.options.is_empty() && !rule.options.iter().any(|o| o == s) {
                return Err(format!(
                    "Model parameter {name} should be one of {}, got {s:?}.",
                    rule.options.join(", ")
                ));
            }
            Ok(value.clone())
        }
        ParamType::Text => match value {
            Value::String(_) => Ok(value.clone()),
            _ => Err(format!(
                "Model parameter {name} should be string, got {value}."
            )),
        },
    }
}

fn check_range(rule: &ParameterRule, v: f64) -> Result<(), String> {
    let name = &rule.name;
    if let Some(min) = rule.min.filter(|m| v < *m) {
        return Err(format!(
            "Model parameter {name} should be greater than or equal to {min}."
        ));
    }
    if let Some(max) = rule.max.filter(|m| v > *m) {
        return Err(format!(
            "Model parameter {name} should be less than or equal to {max}."
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declaration::expand_rule;
    use serde_json::json;

    fn rules() -> Vec<ParameterRule> {
        let raw: Vec<ParameterRule> = serde_json::from_value(json!([
            {"name": "temperature", "use_template": "temperature"},
            {"name": "max_tokens", "use_template": "max_tokens", "required": true, "default": 512, "max": 4096},
            {"name": "mode", "type": "string", "options": ["a", "b"]},
            {"name": "thinking", "type": "boolean"},
            {"name": "schema", "use_template": "json_schema"}
        ]))
        .expect("rules");
        raw.into_iter()
            .map(|r| expand_rule(r).expect("expands"))
            .collect()
    }

    fn run(given: serde_json::Value) -> Result<Map<String, Value>, String> {
        validate(&rules(), given.as_object().expect("object")).map_err(|e| e.to_string())
    }

    #[test]
    fn unknown_keys_are_dropped_and_required_defaults_filled() {
        let out = run(json!({"temperature": 0.5, "nope": 1})).expect("valid");
        assert_eq!(
            Value::Object(out),
            json!({"temperature": 0.5, "max_tokens": 512})
        );
    }

    #[test]
    fn template_name_is_an_alias() {
        let rules: Vec<ParameterRule> = serde_json::from_value::<Vec<ParameterRule>>(json!([
            {"name": "max_new_tokens", "use_template": "max_tokens"}
        ]))
        .expect("rules")
        .into_iter()
        .map(|r| expand_rule(r).expect("expands"))
        .collect();
        let out =
            validate(&rules, json!({"max_tokens": 100}).as_object().expect("obj")).expect("valid");
        assert_eq!(out.get("max_new_tokens"), Some(&json!(100)));
    }

    #[test]
    fn types_ranges_precision_and_options_are_checked() {
        for (given, needle) in [
            (
                json!({"temperature": 1.5}),
                "temperature should be less than or equal to 1",
            ),
            (json!({"temperature": -0.1}), "greater than or equal to 0"),
            (json!({"temperature": 0.123}), "rounded to 2 decimal places"),
            (json!({"temperature": "hot"}), "temperature should be float"),
            (
                json!({"max_tokens": 5000}),
                "max_tokens should be less than or equal to 4096",
            ),
            (json!({"max_tokens": 1.5}), "max_tokens should be int"),
            (json!({"max_tokens": true}), "max_tokens should be int"),
            (json!({"mode": "c"}), "mode should be one of a, b"),
            (json!({"thinking": "yes"}), "thinking should be bool"),
            (json!({"schema": {"a": 1}}), "schema should be string"),
        ] {
            let e = run(given.clone()).expect_err(&given.to_string());
            assert!(e.contains(needle), "{given}: {e}");
        }
        let ok =
            run(json!({"max_tokens": 100.0, "temperature": 1, "thinking": false})).expect("valid");
        assert_eq!(ok.get("max_tokens"), Some(&json!(100)));
        assert_eq!(ok.get("temperature"), Some(&json!(1)));
    }

    #[test]
    fn a_required_rule_without_default_is_an_error() {
        let rules = vec![
            expand_rule(
                serde_json::from_value(json!({"name": "x", "type": "int", "required": true}))
                    .expect("rule"),
            )
            .expect("expands"),
        ];
        let e = validate(&rules, &Map::new()).expect_err("missing");
        assert_eq!(e.to_string(), "Model parameter x is required.");
    }
}
