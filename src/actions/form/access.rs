//! The AWS access fields of the credential form (auth method, keys, API key, region,
//! endpoints, proxy, role to assume) → an [`AwsAccess`], or the first field that is
//! missing or inconsistent, with what to do about it.

use super::{Fields, FormError, form_err, text};
use crate::bedrock::access::{AssumeRole, Auth, AwsAccess, redact_key_id};
use crate::bedrock::secret::Secret;

/// The role session name when the form names none.
pub const DEFAULT_SESSION_NAME: &str = "dify-bedrock";

pub fn parse(creds: &Fields) -> Result<AwsAccess, FormError> {
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
    let mantle_endpoint = endpoint(
        creds,
        "bedrock_mantle_endpoint_url",
        "bedrock-mantle endpoint URL",
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
        mantle_endpoint,
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

    fn parse(v: serde_json::Value) -> Result<AwsAccess, FormError> {
        super::super::Credentials::parse(v.as_object().expect("object").clone()).access
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
}
