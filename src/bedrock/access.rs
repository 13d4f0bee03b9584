//! The AWS access a request carries: which credentials, which region, which endpoints and
//! proxy — parsed from the credentials Dify sends, with one clear message per missing or
//! inconsistent field. Nothing here touches the process environment.

use std::fmt;

use serde_json::{Map, Value};

use super::secret::Secret;

/// How requests are authenticated.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// The AWS credential chain of the machine the plugin runs on.
    IamRole,
    /// Access keys, with a session token for temporary ones.
    Keys {
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
    },
    /// A Bedrock API key, sent as `Authorization: Bearer` with each request.
    ApiKey(Secret),
}

impl Auth {
    pub fn label(&self) -> &'static str {
        match self {
            Auth::IamRole => "IAM Role",
            Auth::Keys { .. } => "Access-Secret Key",
            Auth::ApiKey(_) => "Bedrock API Key",
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::IamRole => f.write_str("IamRole"),
            Auth::Keys {
                access_key_id,
                session_token,
                ..
            } => f
                .debug_struct("Keys")
                .field("access_key_id", &redact_key_id(access_key_id))
                .field("secret_access_key", &"***")
                .field("session_token", &session_token.as_ref().map(|_| "***"))
                .finish(),
            Auth::ApiKey(_) => f.write_str("ApiKey(***)"),
        }
    }
}

/// An access key id shown as `AKIA…WXYZ`: enough for a user to recognise, never the whole.
pub fn redact_key_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 8 {
        return "****".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// A role assumed on top of SigV4 credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<Secret>,
    pub session_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsAccess {
    pub auth: Auth,
    pub region: String,
    /// bedrock-runtime endpoint override (`bedrock_endpoint_url`).
    pub runtime_endpoint: Option<String>,
    /// Bedrock control-plane endpoint override (`bedrock_control_endpoint_url`).
    pub control_endpoint: Option<String>,
    /// HTTP(S) proxy for every AWS call, normalised to a URL with a scheme.
    pub proxy: Option<String>,
    pub assume_role: Option<AssumeRole>,
}

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

fn form_err(field: &'static str, message: impl Into<String>) -> FormError {
    FormError {
        field,
        message: message.into(),
    }
}

/// A credential value as trimmed text; empty counts as absent.
fn text<'a>(creds: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    creds
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

pub const DEFAULT_SESSION_NAME: &str = "dify-bedrock";

impl AwsAccess {
    /// Reads the provider or model credentials Dify sends.
    pub fn from_credentials(creds: &Map<String, Value>) -> Result<AwsAccess, FormError> {
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

    /// A digest of everything that distinguishes one tenant's access from another's: the
    /// key of the client cache. Secrets go in hashed, never as themselves.
    pub fn fingerprint(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut field = |name: &str, value: Option<&str>| {
            h.update(name.as_bytes());
            match value {
                Some(v) => {
                    h.update([1]);
                    h.update((v.len() as u64).to_le_bytes());
                    h.update(v.as_bytes());
                }
                None => h.update([0]),
            }
        };
        match &self.auth {
            Auth::IamRole => field("auth", Some("iam")),
            Auth::Keys {
                access_key_id,
                secret_access_key,
                session_token,
            } => {
                field("auth", Some("keys"));
                field("ak", Some(access_key_id));
                field("sk", Some(secret_access_key.expose()));
                field("st", session_token.as_ref().map(Secret::expose));
            }
            Auth::ApiKey(key) => {
                field("auth", Some("api-key"));
                field("key", Some(key.expose()));
            }
        }
        field("region", Some(&self.region));
        field("runtime", self.runtime_endpoint.as_deref());
        field("control", self.control_endpoint.as_deref());
        field("proxy", self.proxy.as_deref());
        if let Some(role) = &self.assume_role {
            field("role", Some(&role.role_arn));
            field("external", role.external_id.as_ref().map(Secret::expose));
            field("session", Some(&role.session_name));
        }
        h.finalize().into()
    }
}

fn parse_auth(creds: &Map<String, Value>) -> Result<Auth, FormError> {
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

fn parse_assume_role(
    creds: &Map<String, Value>,
    auth: &Auth,
) -> Result<Option<AssumeRole>, FormError> {
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

fn endpoint(
    creds: &Map<String, Value>,
    key: &'static str,
    label: &str,
) -> Result<Option<String>, FormError> {
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
        AwsAccess::from_credentials(v.as_object().expect("object"))
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
    fn fingerprints_differ_per_tenant_and_hide_secrets() {
        let base = json!({"auth_method": "Access_Secret_Key", "aws_access_key_id": AK, "aws_secret_access_key": SK, "aws_region": "us-east-1"});
        let a = parse(base.clone()).expect("a");
        let mut other = base.clone();
        other["aws_secret_access_key"] = json!("another-secret");
        let b = parse(other).expect("b");
        let mut region = base.clone();
        region["aws_region"] = json!("us-west-2");
        let c = parse(region).expect("c");
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.fingerprint(), parse(base).expect("again").fingerprint());
        let debug = format!("{a:?}");
        assert!(!debug.contains(SK) && !debug.contains(AK), "{debug}");
        assert!(debug.contains("AKIA…MPLE"), "{debug}");
    }
}
