//! The AWS access a request carries: which credentials, which region, which endpoints and
//! proxy (read from Dify's credential form in `actions::form`). Secrets are typed so they
//! never print, and the access has a digest that keys the per-tenant client cache.

use std::fmt;

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
    /// bedrock-mantle endpoint override (`bedrock_mantle_endpoint_url`), without the API
    /// path: a VPC endpoint or gateway in front of the Responses API.
    pub mantle_endpoint: Option<String>,
    /// HTTP(S) proxy for every AWS call, normalised to a URL with a scheme.
    pub proxy: Option<String>,
    pub assume_role: Option<AssumeRole>,
}

impl AwsAccess {
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
        field("mantle", self.mantle_endpoint.as_deref());
        field("proxy", self.proxy.as_deref());
        if let Some(role) = &self.assume_role {
            field("role", Some(&role.role_arn));
            field("external", role.external_id.as_ref().map(Secret::expose));
            field("session", Some(&role.session_name));
        }
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str, region: &str) -> AwsAccess {
        AwsAccess {
            auth: Auth::Keys {
                access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
                secret_access_key: Secret::new(secret),
                session_token: None,
            },
            region: region.into(),
            runtime_endpoint: None,
            control_endpoint: None,
            mantle_endpoint: None,
            proxy: None,
            assume_role: None,
        }
    }

    #[test]
    fn fingerprints_differ_per_tenant_and_hide_secrets() {
        const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let a = keys(SK, "us-east-1");
        assert_ne!(
            a.fingerprint(),
            keys("another-secret", "us-east-1").fingerprint()
        );
        assert_ne!(a.fingerprint(), keys(SK, "us-west-2").fingerprint());
        assert_eq!(a.fingerprint(), keys(SK, "us-east-1").fingerprint());
        let debug = format!("{a:?}");
        assert!(
            !debug.contains(SK) && !debug.contains("AKIAIOSFODNN7EXAMPLE"),
            "{debug}"
        );
        assert!(debug.contains("AKIA…MPLE"), "{debug}");
    }
}
