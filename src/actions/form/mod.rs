//! The credential forms Dify sends with every model action (`credentials`), as typed
//! values: read once, where a request is decoded, with one rule for each field — text
//! is trimmed and a number counts as the text it is written as — and one error per bad
//! field, naming it. The AWS access, the customizable model's settings and the guardrail
//! (`guardrail`, which an app's model parameters can override) are kept as results, so
//! each action reports a bad field only when it needs that field.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

mod access;
pub(crate) mod guardrail;

use crate::bedrock::access::AwsAccess;
use crate::declaration::ModelType;
use crate::declaration::custom::CustomModelSettings;
use crate::error::PluginError;
use guardrail::GuardrailSettings;

/// A credential field that is missing or wrong, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<FormError> for PluginError {
    fn from(e: FormError) -> PluginError {
        PluginError::bad_request(e.message)
    }
}

fn form_err(field: &'static str, message: impl Into<String>) -> FormError {
    FormError {
        field,
        message: message.into(),
    }
}

/// The form's text fields: strings trimmed, numbers as written; empty and null count as
/// absent. A field of the provider's forms of another type (a boolean, a list, an
/// object) is remembered: read as absent, it would silently send calls to another
/// endpoint, without the guardrail, or to a model with other limits.
struct Fields(BTreeMap<String, String>, Option<FormError>);

/// The fields of the provider and model forms (`provider/bedrock.yaml`), all text.
const FORM_FIELDS: &[&str] = &[
    "auth_method",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "bedrock_api_key",
    "aws_region",
    "bedrock_endpoint_url",
    "bedrock_control_endpoint_url",
    "bedrock_mantle_endpoint_url",
    "bedrock_proxy_url",
    "aws_role_arn",
    "aws_external_id",
    "aws_role_session_name",
    "guardrail_identifier",
    "guardrail_version",
    "guardrail_trace",
    "guardrail_stream_processing_mode",
    "model_for_validation",
    "enable_request_metadata",
    "count_tokens_with_bedrock",
    "inference_profile_id",
    "context_length",
    "max_tokens",
    "vision_support",
    "document_support",
    "tool_call_support",
    "dimensions",
];

impl Fields {
    fn of(map: &Map<String, Value>) -> Fields {
        let wrong_type = FORM_FIELDS.iter().find_map(|&field| {
            let kind = match map.get(field)? {
                Value::Bool(_) => "a boolean",
                Value::Array(_) => "a list",
                Value::Object(_) => "an object",
                _ => return None,
            };
            Some(form_err(
                field,
                format!("{field} must be text, got {kind}: Dify's form sends every field as text"),
            ))
        });
        Fields(
            map.iter()
                .filter_map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.trim().to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => return None,
                    };
                    (!text.is_empty()).then(|| (k.clone(), text))
                })
                .collect(),
            wrong_type,
        )
    }

    /// A form field of a type no form sends.
    fn wrong_type(&self) -> Result<(), FormError> {
        self.1.clone().map_or(Ok(()), Err)
    }
}

fn text<'a>(creds: &'a Fields, key: &str) -> Option<&'a str> {
    creds.0.get(key).map(String::as_str)
}

/// Everything a model action's `credentials` say.
pub struct Credentials {
    /// The AWS access, or the first field that makes it unusable.
    pub access: Result<AwsAccess, FormError>,
    /// Present when the form names a model to call (`inference_profile_id`): a
    /// customizable model.
    pub custom: Option<CustomForm>,
    pub model_for_validation: Option<String>,
    /// `enable_request_metadata`: tag Converse calls with the Dify app.
    pub request_metadata: bool,
    /// `count_tokens_with_bedrock`: ask Bedrock's CountTokens (a call each time).
    pub count_tokens: bool,
    /// The provider's guardrail for every Converse chat model, or its first bad field.
    pub guardrail: Result<GuardrailSettings, FormError>,
    /// The first form field of a type no form sends.
    wrong_type: Result<(), FormError>,
    /// The form as sent: validation answers with it.
    raw: Map<String, Value>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The raw form holds secrets: only the parsed, redacting values are shown.
        f.debug_struct("Credentials")
            .field("access", &self.access)
            .field("custom", &self.custom)
            .field("model_for_validation", &self.model_for_validation)
            .field("request_metadata", &self.request_metadata)
            .field("count_tokens", &self.count_tokens)
            .field("guardrail", &self.guardrail)
            .finish_non_exhaustive()
    }
}

/// The model form of a customizable model.
#[derive(Debug, Clone)]
pub struct CustomForm {
    /// The model ID, inference profile ID or ARN to call.
    pub target: String,
    /// A form field of a type no form sends.
    wrong_type: Result<(), FormError>,
    context_length: Result<Option<u64>, FormError>,
    max_tokens: Result<Option<u64>, FormError>,
    vision: Option<bool>,
    documents: Option<bool>,
    tools: Option<bool>,
    /// An embedding model's output size, checked against the sizes the model offers.
    pub dimensions: Option<Dimensions>,
}

/// The `dimensions` field as typed, and as a number when it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimensions {
    pub text: String,
    pub size: Option<u32>,
}

impl CustomForm {
    fn parse(fields: &Fields) -> Option<CustomForm> {
        let target = text(fields, "inference_profile_id")?.to_string();
        Some(CustomForm {
            target,
            wrong_type: fields.wrong_type(),
            context_length: form_number(fields, "context_length", FORM_DEFAULT_TOKENS),
            max_tokens: form_number(fields, "max_tokens", FORM_DEFAULT_TOKENS),
            vision: switch(fields, "vision_support"),
            documents: switch(fields, "document_support"),
            tools: switch(fields, "tool_call_support"),
            dimensions: text(fields, "dimensions").map(|t| Dimensions {
                text: t.to_string(),
                size: t.parse().ok(),
            }),
        })
    }

    /// The settings a model of `model_type` reads from the form (the form shows the
    /// others only for other types).
    pub fn settings(&self, model_type: ModelType) -> Result<CustomModelSettings, FormError> {
        self.wrong_type.clone()?;
        let context_size = self.context_length.clone()?;
        if model_type != ModelType::Llm {
            return Ok(CustomModelSettings {
                context_size,
                ..CustomModelSettings::default()
            });
        }
        Ok(CustomModelSettings {
            context_size,
            max_output: self.max_tokens.clone()?,
            vision: self.vision,
            documents: self.documents,
            tools: self.tools,
        })
    }
}

/// The model form's default for token counts: a value left at it means "as the
/// underlying model".
const FORM_DEFAULT_TOKENS: u64 = 4096;

/// A whole number of tokens; `None` when absent or left at the form's default.
fn form_number(
    fields: &Fields,
    key: &'static str,
    form_default: u64,
) -> Result<Option<u64>, FormError> {
    let Some(text) = text(fields, key) else {
        return Ok(None);
    };
    let n = text.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        form_err(
            key,
            format!("{key} must be a whole number of tokens, got {text:?}"),
        )
    })?;
    Ok((n != form_default).then_some(n))
}

/// A feature switch: "support", "no_support", or "auto" (as the underlying model).
fn switch(fields: &Fields, key: &str) -> Option<bool> {
    match text(fields, key) {
        Some("support") => Some(true),
        Some("no_support") => Some(false),
        _ => None,
    }
}

impl Default for Credentials {
    fn default() -> Credentials {
        Credentials::parse(Map::new())
    }
}

impl Credentials {
    pub fn parse(raw: Map<String, Value>) -> Credentials {
        let fields = Fields::of(&raw);
        Credentials {
            access: fields.wrong_type().and_then(|()| access::parse(&fields)),
            custom: CustomForm::parse(&fields),
            model_for_validation: text(&fields, "model_for_validation").map(str::to_string),
            request_metadata: text(&fields, "enable_request_metadata") == Some("enabled"),
            count_tokens: text(&fields, "count_tokens_with_bedrock") == Some("enabled"),
            guardrail: fields
                .wrong_type()
                .and_then(|()| guardrail::parse_form(&fields)),
            wrong_type: fields.wrong_type(),
            raw,
        }
    }

    /// The first form field of a type no form sends.
    pub fn wrong_type(&self) -> Result<(), FormError> {
        self.wrong_type.clone()
    }

    /// The AWS access, or the error for the field that makes it unusable.
    pub fn access(&self) -> Result<&AwsAccess, PluginError> {
        self.access.as_ref().map_err(|e| e.clone().into())
    }

    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn custom_model_fields_each_have_one_rule() {
        let creds = Credentials::parse(
            json!({"inference_profile_id": " us.amazon.nova-lite-v1:0 ", "context_length": 32000,
                   "max_tokens": "4096", "vision_support": "no_support", "tool_call_support": "support",
                   "dimensions": "512", "enable_request_metadata": "enabled", "aws_region": "us-east-1"})
            .as_object()
            .expect("object")
            .clone(),
        );
        let custom = creds.custom.as_ref().expect("custom");
        assert_eq!(custom.target, "us.amazon.nova-lite-v1:0");
        let s = custom.settings(ModelType::Llm).expect("settings");
        // 4096 is the form's default: the underlying model's own figure applies.
        assert_eq!((s.context_size, s.max_output), (Some(32000), None));
        assert_eq!(
            (s.vision, s.documents, s.tools),
            (Some(false), None, Some(true))
        );
        assert_eq!(custom.dimensions.as_ref().and_then(|d| d.size), Some(512));
        assert!(creds.request_metadata);
        let bad = Credentials::parse(
            json!({"inference_profile_id": "x", "context_length": "lots", "max_tokens": -1})
                .as_object()
                .expect("object")
                .clone(),
        );
        let custom = bad.custom.as_ref().expect("custom");
        let e = custom.settings(ModelType::Llm).expect_err("bad context");
        assert!(e.message.contains("context_length"), "{e}");
        // Each model type reads only its own fields.
        let creds = Credentials::parse(
            json!({"inference_profile_id": "x", "max_tokens": "many"})
                .as_object()
                .expect("object")
                .clone(),
        );
        let custom = creds.custom.as_ref().expect("custom");
        assert!(custom.settings(ModelType::Rerank).is_ok());
        assert!(custom.settings(ModelType::Llm).is_err());
    }

    #[test]
    fn secrets_never_print() {
        let creds = Credentials::parse(
            json!({"auth_method": "Access_Secret_Key", "aws_access_key_id": AK, "aws_secret_access_key": SK, "aws_region": "us-east-1"})
                .as_object()
                .expect("object")
                .clone(),
        );
        let debug = format!("{creds:?}");
        assert!(!debug.contains(SK) && !debug.contains(AK), "{debug}");
    }
}
