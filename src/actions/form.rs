//! The credential forms Dify sends with every model action (`credentials`), as typed
//! values: read once, where a request is decoded, with one rule for each field — text
//! is trimmed and a number counts as the text it is written as — and one error per bad
//! field, naming it. The AWS access and the customizable model's settings are kept as
//! results, so each action reports a bad field only when it needs that field.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::bedrock::access::{AssumeRole, Auth, AwsAccess, redact_key_id};
use crate::bedrock::secret::Secret;
use crate::declaration::ModelType;
use crate::declaration::custom::CustomModelSettings;
use crate::error::PluginError;

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

/// The form's text fields: strings trimmed, numbers as written; empty and other JSON
/// types count as absent.
struct Fields(BTreeMap<String, String>);

impl Fields {
    fn of(map: &Map<String, Value>) -> Fields {
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
        )
    }
}

fn text<'a>(creds: &'a Fields, key: &str) -> Option<&'a str> {
    creds.0.get(key).map(String::as_str)
}

pub const DEFAULT_SESSION_NAME: &str = "dify-bedrock";

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
            .finish_non_exhaustive()
    }
}

/// The model form of a customizable model.
#[derive(Debug, Clone)]
pub struct CustomForm {
    /// The model ID, inference profile ID or ARN to call.
    pub target: String,
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
            access: parse_access(&fields),
            custom: CustomForm::parse(&fields),
            model_for_validation: text(&fields, "model_for_validation").map(str::to_string),
            request_metadata: text(&fields, "enable_request_metadata") == Some("enabled"),
            raw,
        }
    }

    /// The AWS access, or the error for the field that makes it unusable.
    pub fn access(&self) -> Result<&AwsAccess, PluginError> {
        self.access.as_ref().map_err(|e| e.clone().into())
    }

    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }
}

fn parse_access(creds: &Fields) -> Result<AwsAccess, FormError> {
    let auth = parse_auth(creds)?;
    let region = text(creds, "aws_region").ok_or_else(|| {
        form_err(
            "aws_region",
            "AWS Region (aws_region) is required: choose the region where you use Bedrock",
        )
    })?;
    if !is_region(region) {
        return Err(form_err(
            "aws_region",
            format!(
                "AWS Region (aws_region) {region:?} is not a region name like us-east-1 or eu-central-1"
            ),
        ));
    }
    let runtime_endpoint = endpoint(
        creds,
        "bedrock_endpoint_url",
        "Bedrock Runtime endpoint URL",
    )?;
    let control_endpoint = endpoint(
        creds,
        "bedrock_control_endpoint_url",
        "Bedrock control-plane endpoint URL",
    )?;
    let proxy = match text(creds, "bedrock_proxy_url") {
        None => None,
        Some(p) => Some(normalise_proxy(p)?),
    };
    let assume_role = parse_assume_role(creds, &auth)?;
    Ok(AwsAccess {
        auth,
        region: region.to_string(),
        runtime_endpoint,
        control_endpoint,
        proxy,
        assume_role,
    })
}

fn parse_auth(creds: &Fields) -> Result<Auth, FormError> {
    let method = match text(creds, "auth_method") {
        Some(m) => m,
        // Older saved settings have no auth_method: infer it from what was filled in.
        None if text(creds, "aws_access_key_id").is_some() => "Access_Secret_Key",
        None if text(creds, "bedrock_api_key").is_some() => "API_Key",
        None => "IAM_Role",
    };
    match method {
        "IAM_Role" => Ok(Auth::IamRole),
        "Access_Secret_Key" => {
            let access_key_id = text(creds, "aws_access_key_id").ok_or_else(|| {
                form_err(
                    "aws_access_key_id",
                    "Access Key ID (aws_access_key_id) is required for Access-Secret Key authentication; or choose IAM Role to use the machine's credentials",
                )
            })?;
            if access_key_id.len() < 16 || !access_key_id.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(form_err(
                    "aws_access_key_id",
                    "Access Key ID (aws_access_key_id) does not look like an AWS access key id (16 or more letters and digits, such as AKIA… or ASIA…); check that it was not pasted into the wrong field",
                ));
            }
            let secret = text(creds, "aws_secret_access_key").ok_or_else(|| {
                form_err(
                    "aws_secret_access_key",
                    "Secret Access Key (aws_secret_access_key) is required for Access-Secret Key authentication",
                )
            })?;
            let session_token = text(creds, "aws_session_token").map(Secret::new);
            // AWS: ASIA… ids are temporary (they need a session token), AKIA… are long-term.
            if access_key_id.starts_with("ASIA") && session_token.is_none() {
                return Err(form_err(
                    "aws_session_token",
                    format!(
                        "Session Token (aws_session_token) is required: {} is a temporary access key, which only works with the session token issued with it",
                        redact_key_id(access_key_id)
                    ),
                ));
            }
            if access_key_id.starts_with("AKIA") && session_token.is_some() {
                return Err(form_err(
                    "aws_session_token",
                    format!(
                        "Session Token (aws_session_token) must be empty: {} is a long-term access key, and AWS rejects a session token with it",
                        redact_key_id(access_key_id)
                    ),
                ));
            }
            Ok(Auth::Keys {
                access_key_id: access_key_id.to_string(),
                secret_access_key: Secret::new(secret),
                session_token,
            })
        }
        "API_Key" => {
            let key = text(creds, "bedrock_api_key").ok_or_else(|| {
                form_err("bedrock_api_key", "Bedrock API Key (bedrock_api_key) is required for Bedrock API Key authentication")
            })?;
            Ok(Auth::ApiKey(Secret::new(key)))
        }
        other => Err(form_err(
            "auth_method",
            format!(
                "Authentication method (auth_method) {other:?} is not one of IAM_Role, Access_Secret_Key, API_Key"
            ),
        )),
    }
}

fn parse_assume_role(creds: &Fields, auth: &Auth) -> Result<Option<AssumeRole>, FormError> {
    let Some(arn) = text(creds, "aws_role_arn") else {
        if text(creds, "aws_external_id").is_some() {
            return Err(form_err(
                "aws_external_id",
                "External ID (aws_external_id) is only used with a Role ARN (aws_role_arn): fill in the role to assume, or clear the External ID",
            ));
        }
        return Ok(None);
    };
    if matches!(auth, Auth::ApiKey(_)) {
        return Err(form_err(
            "aws_role_arn",
            "Role ARN (aws_role_arn) cannot be used with a Bedrock API key: assuming a role needs IAM Role or Access-Secret Key authentication",
        ));
    }
    if !is_role_arn(arn) {
        return Err(form_err(
            "aws_role_arn",
            format!(
                "Role ARN (aws_role_arn) {arn:?} is not an IAM role ARN like arn:aws:iam::123456789012:role/BedrockAccess"
            ),
        ));
    }
    let session_name = text(creds, "aws_role_session_name").unwrap_or(DEFAULT_SESSION_NAME);
    // STS: 2–64 characters of [\w+=,.@-].
    let valid_name = (2..=64).contains(&session_name.len())
        && session_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !valid_name {
        return Err(form_err(
            "aws_role_session_name",
            "Role session name (aws_role_session_name) must be 2 to 64 letters, digits or _+=,.@-",
        ));
    }
    Ok(Some(AssumeRole {
        role_arn: arn.to_string(),
        external_id: text(creds, "aws_external_id").map(Secret::new),
        session_name: session_name.to_string(),
    }))
}

fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > "role/".len()
}

fn endpoint(creds: &Fields, key: &'static str, label: &str) -> Result<Option<String>, FormError> {
    let Some(url) = text(creds, key) else {
        return Ok(None);
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            form_err(
                key,
                format!("{label} ({key}) must start with https:// (or http://), got {url:?}"),
            )
        })?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
        return Err(form_err(
            key,
            format!("{label} ({key}) {url:?} has no host name"),
        ));
    }
    Ok(Some(url.trim_end_matches('/').to_string()))
}

/// Accepts `host:port`, `http://host:port` or `https://host:port` (with optional
/// `user:password@`), as users type proxies.
fn normalise_proxy(p: &str) -> Result<String, FormError> {
    let url = if p.contains("://") {
        p.to_string()
    } else {
        format!("http://{p}")
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            form_err(
                "bedrock_proxy_url",
                format!("Proxy URL (bedrock_proxy_url) {p:?} must be an http:// or https:// proxy"),
            )
        })?;
    let host_port = rest
        .rsplit('@')
        .next()
        .unwrap_or(rest)
        .trim_end_matches('/');
    if host_port.is_empty() || host_port.contains(char::is_whitespace) || host_port.contains('/') {
        return Err(form_err(
            "bedrock_proxy_url",
            format!("Proxy URL (bedrock_proxy_url) {p:?} is not host:port or a proxy URL"),
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<AwsAccess, FormError> {
        Credentials::parse(v.as_object().expect("object").clone()).access
    }

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn each_auth_mode() {
        let a = parse(json!({"auth_method": "IAM_Role", "aws_region": "us-west-2"})).expect("iam");
        assert_eq!(a.auth, Auth::IamRole);
        let a = parse(json!({"auth_method": "Access_Secret_Key", "aws_access_key_id": AK, "aws_secret_access_key": SK, "aws_region": "eu-central-1"}))
            .expect("keys");
        assert!(matches!(a.auth, Auth::Keys { ref session_token, .. } if session_token.is_none()));
        let a = parse(json!({"auth_method": "API_Key", "bedrock_api_key": "ABSK-xyz", "aws_region": "us-east-1"})).expect("api key");
        assert!(matches!(a.auth, Auth::ApiKey(_)));
        // Settings saved without auth_method.
        let a = parse(json!({"aws_access_key_id": AK, "aws_secret_access_key": SK, "aws_region": "us-east-1"})).expect("inferred");
        assert!(matches!(a.auth, Auth::Keys { .. }));
    }

    #[test]
    fn each_missing_or_inconsistent_field_is_named() {
        let cases = [
            (
                json!({"auth_method": "Access_Secret_Key", "aws_region": "us-east-1"}),
                "aws_access_key_id",
            ),
            (
                json!({"auth_method": "Access_Secret_Key", "aws_access_key_id": AK, "aws_region": "us-east-1"}),
                "aws_secret_access_key",
            ),
            (
                json!({"auth_method": "Access_Secret_Key", "aws_access_key_id": "ASIAIOSFODNN7EXAMPLE", "aws_secret_access_key": SK, "aws_region": "us-east-1"}),
                "aws_session_token",
            ),
            (
                json!({"auth_method": "Access_Secret_Key", "aws_access_key_id": AK, "aws_secret_access_key": SK, "aws_session_token": "tok", "aws_region": "us-east-1"}),
                "aws_session_token",
            ),
            (
                json!({"auth_method": "Access_Secret_Key", "aws_access_key_id": "not a key", "aws_secret_access_key": SK, "aws_region": "us-east-1"}),
                "aws_access_key_id",
            ),
            (
                json!({"auth_method": "API_Key", "aws_region": "us-east-1"}),
                "bedrock_api_key",
            ),
            (
                json!({"auth_method": "Kerberos", "aws_region": "us-east-1"}),
                "auth_method",
            ),
            (json!({"auth_method": "IAM_Role"}), "aws_region"),
            (
                json!({"auth_method": "IAM_Role", "aws_region": "Frankfurt"}),
                "aws_region",
            ),
            (
                json!({"auth_method": "IAM_Role", "aws_region": "us-east-1", "bedrock_endpoint_url": "vpce-1.example"}),
                "bedrock_endpoint_url",
            ),
            (
                json!({"auth_method": "IAM_Role", "aws_region": "us-east-1", "bedrock_control_endpoint_url": "https://"}),
                "bedrock_control_endpoint_url",
            ),
            (
                json!({"auth_method": "IAM_Role", "aws_region": "us-east-1", "bedrock_proxy_url": "socks5://p:1080"}),
                "bedrock_proxy_url",
            ),
            (
                json!({"auth_method": "IAM_Role", "aws_region": "us-east-1", "aws_role_arn": "arn:aws:iam::12:role/x"}),
                "aws_role_arn",
            ),
            (
                json!({"auth_method": "API_Key", "bedrock_api_key": "k", "aws_region": "us-east-1", "aws_role_arn": "arn:aws:iam::123456789012:role/x"}),
                "aws_role_arn",
            ),
            (
                json!({"auth_method": "IAM_Role", "aws_region": "us-east-1", "aws_external_id": "e"}),
                "aws_external_id",
            ),
        ];
        for (creds, field) in cases {
            let e = parse(creds.clone()).expect_err(&creds.to_string());
            assert_eq!(e.field, field, "{creds}: {e}");
            assert!(
                e.message.contains(field),
                "{creds}: the message should name {field}: {e}"
            );
            assert!(!e.message.contains(SK), "secret leaked: {e}");
        }
    }

    #[test]
    fn endpoints_proxies_and_roles() {
        let a = parse(json!({"auth_method": "IAM_Role", "aws_region": "us-gov-west-1",
            "bedrock_endpoint_url": "https://vpce-1.bedrock-runtime.us-gov-west-1.vpce.amazonaws.com/",
            "bedrock_proxy_url": "proxy.corp:3128",
            "aws_role_arn": "arn:aws-us-gov:iam::123456789012:role/Bedrock", "aws_external_id": "ext"}))
        .expect("valid");
        assert_eq!(
            a.runtime_endpoint.as_deref(),
            Some("https://vpce-1.bedrock-runtime.us-gov-west-1.vpce.amazonaws.com")
        );
        assert_eq!(a.control_endpoint, None);
        assert_eq!(a.proxy.as_deref(), Some("http://proxy.corp:3128"));
        let role = a.assume_role.expect("role");
        assert_eq!(role.session_name, DEFAULT_SESSION_NAME);
        assert_eq!(role.external_id.as_ref().map(Secret::expose), Some("ext"));
    }

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
