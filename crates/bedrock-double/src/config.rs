//! Configuration of a double: who may call it (key pairs, session tokens,
//! API keys, instance/container/STS credentials), what they may not do, which
//! models and profiles exist, and where to log.
//!
//! `DoubleConfig::default()` is what tests rely on: every constant below is
//! accepted (or, for the expired pair, rejected as expired) out of the box.

use crate::catalog::{ApplicationProfile, ModelSpec, builtin_models};
use crate::guardrail::GuardrailSpec;
use crate::record::Operation;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// The account every ARN of the double belongs to.
pub const TEST_ACCOUNT_ID: &str = "123456789012";
/// The region tests use unless they mean another.
pub const TEST_REGION: &str = "us-east-1";

/// A long-term IAM user key pair (AWS's documentation example values).
pub const TEST_ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
pub const TEST_SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub const TEST_USER_ARN: &str = "arn:aws:iam::123456789012:user/double-user";

/// Temporary credentials with a session token, valid.
pub const TEST_SESSION_ACCESS_KEY: &str = "ASIAIOSFODNN7SESSION";
pub const TEST_SESSION_SECRET_KEY: &str = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbSESSIONKEY";
pub const TEST_SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEDoubleSessionToken//valid";
pub const TEST_SESSION_ARN: &str =
    "arn:aws:sts::123456789012:assumed-role/double-session-role/double-session";

/// Temporary credentials whose session token has expired: every request
/// signed with them gets ExpiredTokenException.
pub const TEST_EXPIRED_ACCESS_KEY: &str = "ASIAIOSFODNN7EXPIRED";
pub const TEST_EXPIRED_SECRET_KEY: &str = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXPIREDKEY";
pub const TEST_EXPIRED_SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEDoubleSessionToken//expired";

/// A long-term Bedrock API key (`ABSK` + base64, the shape AWS issues).
pub const TEST_API_KEY: &str =
    "ABSKQmVkcm9ja0FQSUtleS1kb3VibGUtYXQtMTIzNDU2Nzg5MDEyOmRvdWJsZUFwaUtleVNlY3JldDAwMDE=";
/// The name recorded for [`TEST_API_KEY`] (`bearer:double-api-key`).
pub const TEST_API_KEY_NAME: &str = "double-api-key";

/// The role an EC2 instance of the double has, and the credentials IMDS hands out.
pub const TEST_IMDS_ROLE: &str = "double-instance-role";
pub const TEST_IMDS_ACCESS_KEY: &str = "ASIAIOSFODNN7IMDSKEY";
pub const TEST_IMDS_SECRET_KEY: &str = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbIMDSSECRET";
pub const TEST_IMDS_SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEDoubleImdsToken";

/// The ECS container credentials endpoint path and the credentials it serves.
pub const TEST_ECS_PATH: &str = "/ecs/credentials";
pub const TEST_ECS_ACCESS_KEY: &str = "ASIAIOSFODNN7ECSCRED";
pub const TEST_ECS_SECRET_KEY: &str = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbECSSECRETS";
pub const TEST_ECS_SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEDoubleEcsToken";
pub const TEST_ECS_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/double-task-role";

/// A role STS lets the default identities assume, and the web identity token
/// AssumeRoleWithWebIdentity accepts.
pub const TEST_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/double-role";
pub const TEST_WEB_IDENTITY_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.double-web-identity.token";

/// A default application inference profile (Claude Sonnet 4.5 through the US
/// system profile, in us-east-1).
pub const TEST_APP_PROFILE_ID: &str = "dbl0app0prof";
pub const TEST_APP_PROFILE_ARN: &str =
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/dbl0app0prof";

/// A default guardrail: ready in us-east-1, with the working draft and published version 1.
pub const TEST_GUARDRAIL_ID: &str = "dbl0guardrail";
pub const TEST_GUARDRAIL_ARN: &str =
    "arn:aws:bedrock:us-east-1:123456789012:guardrail/dbl0guardrail";
/// Its blocked messages (prompt, answer), which become the answer when it intervenes.
pub const TEST_GUARDRAIL_BLOCKED_INPUT: &str =
    "Sorry, this request goes against the double's guardrail.";
pub const TEST_GUARDRAIL_BLOCKED_OUTPUT: &str =
    "Sorry, the answer was withheld by the double's guardrail.";

/// A SigV4 key pair the double accepts (or rejects as expired).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPair {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Requests must carry exactly this `x-amz-security-token`.
    pub session_token: Option<String>,
    /// The IAM principal, used in AccessDenied messages and GetCallerIdentity.
    pub principal_arn: String,
    /// For assumed-role credentials: the role's ARN (denials can name it).
    pub role_arn: Option<String>,
    /// After this instant the token is expired.
    pub expires_at: Option<SystemTime>,
    /// Always expired.
    pub expired: bool,
}

impl KeyPair {
    /// A long-term key pair of an IAM user.
    pub fn new(access_key_id: &str, secret_access_key: &str) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
            principal_arn: TEST_USER_ARN.into(),
            role_arn: None,
            expires_at: None,
            expired: false,
        }
    }

    /// Temporary credentials with a session token.
    pub fn with_session_token(mut self, token: &str) -> Self {
        self.session_token = Some(token.into());
        self
    }

    pub fn with_principal(mut self, arn: &str) -> Self {
        self.principal_arn = arn.into();
        self
    }

    pub fn expired(mut self) -> Self {
        self.expired = true;
        self
    }

    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expired || self.expires_at.is_some_and(|t| t <= now)
    }
}

/// A Bedrock API key (bearer token).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub key: String,
    /// Recorded as `bearer:<name>`; never the key itself.
    pub name: String,
    /// API keys belong to a region; bearer requests are served as that region.
    pub region: String,
    pub principal_arn: String,
}

impl ApiKey {
    pub fn new(name: &str, key: &str) -> Self {
        Self {
            key: key.into(),
            name: name.into(),
            region: TEST_REGION.into(),
            principal_arn: format!("arn:aws:iam::{TEST_ACCOUNT_ID}:user/BedrockAPIKey-{name}"),
        }
    }

    pub fn in_region(mut self, region: &str) -> Self {
        self.region = region.into();
        self
    }
}

/// The ECS container credentials endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct EcsConfig {
    pub path: String,
    /// When set, the `Authorization` header must equal it.
    pub auth_token: Option<String>,
    pub credentials: KeyPair,
    pub role_arn: String,
}

/// The whole configuration. Build with [`DoubleConfig::default`] and the
/// chainable methods.
#[derive(Debug, Clone)]
pub struct DoubleConfig {
    /// 0 = any free port.
    pub port: u16,
    pub account_id: String,
    pub key_pairs: Vec<KeyPair>,
    pub api_keys: Vec<ApiKey>,
    /// (identity, model): the identity gets AccessDeniedException for the model.
    pub denied_models: Vec<(String, String)>,
    /// (identity, operation): AccessDeniedException for the whole operation.
    pub denied_operations: Vec<(String, Operation)>,
    /// (identity, guardrail id): Converse calls applying that guardrail are refused
    /// (`bedrock:ApplyGuardrail` not allowed).
    pub denied_guardrails: Vec<(String, String)>,
    /// Foundation models the account has no access to (the Anthropic use-case form not
    /// submitted, the Marketplace agreement missing): every identity's invocation is
    /// refused, and GetFoundationModelAvailability says NOT_AUTHORIZED.
    pub models_without_access: Vec<String>,
    pub models: Vec<ModelSpec>,
    pub app_profiles: Vec<ApplicationProfile>,
    /// The account's guardrails (Converse `guardrailConfig`, GetGuardrail).
    pub guardrails: Vec<GuardrailSpec>,
    /// The instance role IMDS reports; `None` is an instance without a role
    /// (the role listing answers 404, as on EC2).
    pub imds_role: Option<(String, KeyPair)>,
    pub ecs: Option<EcsConfig>,
    /// Roles STS lets any known identity assume.
    pub sts_roles: Vec<String>,
    pub web_identity_tokens: Vec<String>,
    /// Lifetime of credentials STS issues when the request names none.
    pub sts_default_duration: Duration,
    /// When set, IMDS hands out fresh credentials for the instance role on every fetch,
    /// each expiring this long after it is issued (then refused with
    /// `ExpiredTokenException`), as the instance's rotating role credentials do; `None`
    /// (the default) serves the role's fixed key pair with an expiry 6 h ahead.
    pub imds_credential_lifetime: Option<Duration>,
    /// The most items a list page holds, whatever `maxResults` asks (AWS may return fewer
    /// than asked, with a `nextToken`); `None` = as many as asked.
    pub page_limit: Option<usize>,
    /// One JSON line per request is appended here.
    pub log_path: Option<PathBuf>,
    /// Requests signed further than this from the double's clock are rejected
    /// as AWS does (5 minutes).
    pub clock_skew: Duration,
}

impl Default for DoubleConfig {
    fn default() -> Self {
        let imds = KeyPair::new(TEST_IMDS_ACCESS_KEY, TEST_IMDS_SECRET_KEY)
            .with_session_token(TEST_IMDS_SESSION_TOKEN)
            .with_principal(&format!(
                "arn:aws:sts::{TEST_ACCOUNT_ID}:assumed-role/{TEST_IMDS_ROLE}/i-0double0000000001"
            ));
        let ecs = KeyPair::new(TEST_ECS_ACCESS_KEY, TEST_ECS_SECRET_KEY)
            .with_session_token(TEST_ECS_SESSION_TOKEN)
            .with_principal(&format!(
                "arn:aws:sts::{TEST_ACCOUNT_ID}:assumed-role/double-task-role/double-task"
            ));
        Self {
            port: 0,
            account_id: TEST_ACCOUNT_ID.into(),
            key_pairs: vec![
                KeyPair::new(TEST_ACCESS_KEY, TEST_SECRET_KEY),
                KeyPair::new(TEST_SESSION_ACCESS_KEY, TEST_SESSION_SECRET_KEY)
                    .with_session_token(TEST_SESSION_TOKEN)
                    .with_principal(TEST_SESSION_ARN),
                KeyPair::new(TEST_EXPIRED_ACCESS_KEY, TEST_EXPIRED_SECRET_KEY)
                    .with_session_token(TEST_EXPIRED_SESSION_TOKEN)
                    .with_principal(TEST_SESSION_ARN)
                    .expired(),
            ],
            api_keys: vec![ApiKey::new(TEST_API_KEY_NAME, TEST_API_KEY)],
            denied_models: Vec::new(),
            denied_operations: Vec::new(),
            denied_guardrails: Vec::new(),
            models_without_access: Vec::new(),
            models: builtin_models(),
            app_profiles: vec![ApplicationProfile::new(
                TEST_APP_PROFILE_ID,
                "double-app-profile",
                TEST_REGION,
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            )],
            guardrails: vec![GuardrailSpec {
                blocked_input_messaging: TEST_GUARDRAIL_BLOCKED_INPUT.into(),
                blocked_outputs_messaging: TEST_GUARDRAIL_BLOCKED_OUTPUT.into(),
                ..GuardrailSpec::new(TEST_GUARDRAIL_ID, "double-guardrail", TEST_REGION)
            }],
            imds_role: Some((TEST_IMDS_ROLE.into(), imds)),
            ecs: Some(EcsConfig {
                path: TEST_ECS_PATH.into(),
                auth_token: None,
                credentials: ecs,
                role_arn: TEST_ECS_ROLE_ARN.into(),
            }),
            sts_roles: vec![TEST_ROLE_ARN.into()],
            web_identity_tokens: vec![TEST_WEB_IDENTITY_TOKEN.into()],
            sts_default_duration: Duration::from_secs(3600),
            imds_credential_lifetime: None,
            page_limit: None,
            log_path: None,
            clock_skew: Duration::from_secs(300),
        }
    }
}

impl DoubleConfig {
    /// The defaults (same as `Default::default()`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Listen on a fixed port instead of a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Accept another long-term key pair.
    pub fn key_pair(mut self, access_key_id: &str, secret_access_key: &str) -> Self {
        self.key_pairs
            .push(KeyPair::new(access_key_id, secret_access_key));
        self
    }

    /// Accept temporary credentials with a session token.
    pub fn session_key_pair(mut self, access_key_id: &str, secret: &str, token: &str) -> Self {
        self.key_pairs
            .push(KeyPair::new(access_key_id, secret).with_session_token(token));
        self
    }

    /// Know temporary credentials that are expired.
    pub fn expired_key_pair(mut self, access_key_id: &str, secret: &str, token: &str) -> Self {
        self.key_pairs.push(
            KeyPair::new(access_key_id, secret)
                .with_session_token(token)
                .expired(),
        );
        self
    }

    /// Accept any fully described key pair.
    pub fn with_key_pair(mut self, pair: KeyPair) -> Self {
        self.key_pairs.push(pair);
        self
    }

    /// Accept a Bedrock API key; it is recorded as `bearer:<name>`.
    pub fn api_key(mut self, name: &str, key: &str) -> Self {
        self.api_keys.push(ApiKey::new(name, key));
        self
    }

    pub fn with_api_key(mut self, key: ApiKey) -> Self {
        self.api_keys.push(key);
        self
    }

    /// `identity` (access key id, API key name, principal ARN or role ARN)
    /// gets AccessDeniedException when invoking `model` (a model id, profile
    /// id or ARN; a foundation model id also denies it through profiles).
    pub fn deny_model(mut self, identity: &str, model: &str) -> Self {
        self.denied_models.push((identity.into(), model.into()));
        self
    }

    /// `identity` may not apply the guardrail `id` (`bedrock:ApplyGuardrail`): a
    /// Converse call carrying it gets AccessDeniedException. GetGuardrail is unaffected.
    pub fn deny_guardrail(mut self, identity: &str, id: &str) -> Self {
        self.denied_guardrails.push((identity.into(), id.into()));
        self
    }

    /// `identity` gets AccessDeniedException for every call of `operation`.
    pub fn deny_operation(mut self, identity: &str, operation: Operation) -> Self {
        self.denied_operations.push((identity.into(), operation));
        self
    }

    /// The account has no access to the foundation model `model_id`: every invocation
    /// of it (directly or through a profile) gets AccessDeniedException ("You don't have
    /// access to the model with the specified model ID."), and
    /// GetFoundationModelAvailability answers NOT_AUTHORIZED, NOT_AVAILABLE.
    pub fn without_model_access(mut self, model_id: &str) -> Self {
        self.models_without_access.push(model_id.into());
        self
    }

    /// Add (or replace, by id) a foundation model.
    pub fn model(mut self, spec: ModelSpec) -> Self {
        self.models.retain(|m| m.id != spec.id);
        self.models.push(spec);
        self
    }

    /// Remove a foundation model from the catalogue.
    pub fn without_model(mut self, id: &str) -> Self {
        self.models.retain(|m| m.id != id);
        self
    }

    /// Add an application inference profile resolving to `model_id`
    /// (a foundation model id or a system profile id).
    pub fn application_profile(
        mut self,
        id: &str,
        name: &str,
        region: &str,
        model_id: &str,
    ) -> Self {
        self.app_profiles
            .push(ApplicationProfile::new(id, name, region, model_id));
        self
    }

    /// Add (or replace, by id and region) a guardrail.
    pub fn guardrail(mut self, spec: GuardrailSpec) -> Self {
        self.guardrails
            .retain(|g| !(g.id == spec.id && g.region == spec.region));
        self.guardrails.push(spec);
        self
    }

    /// An account without guardrails.
    pub fn without_guardrails(mut self) -> Self {
        self.guardrails.clear();
        self
    }

    /// Give the "instance" this IMDS role (default [`TEST_IMDS_ROLE`]).
    pub fn imds_role(mut self, name: &str, credentials: KeyPair) -> Self {
        self.imds_role = Some((name.into(), credentials));
        self
    }

    /// An instance without a role: the role listing answers 404.
    pub fn no_imds_role(mut self) -> Self {
        self.imds_role = None;
        self
    }

    /// IMDS issues new instance-role credentials on every fetch, each valid for
    /// `lifetime` (rotation, as on EC2, compressed for tests of expiry and refresh).
    pub fn imds_credential_lifetime(mut self, lifetime: Duration) -> Self {
        self.imds_credential_lifetime = Some(lifetime);
        self
    }

    /// Credentials STS issues live this long when the request names no
    /// `DurationSeconds` (AWS: one hour); a few seconds tests expiry and refresh.
    pub fn sts_default_duration(mut self, lifetime: Duration) -> Self {
        self.sts_default_duration = lifetime;
        self
    }

    /// Require `Authorization: <token>` on the ECS credentials endpoint.
    pub fn ecs_auth_token(mut self, token: &str) -> Self {
        if let Some(ecs) = self.ecs.as_mut() {
            ecs.auth_token = Some(token.into());
        }
        self
    }

    /// Disable the ECS endpoint.
    pub fn no_ecs(mut self) -> Self {
        self.ecs = None;
        self
    }

    /// Let known identities assume `role_arn`.
    pub fn sts_role(mut self, role_arn: &str) -> Self {
        self.sts_roles.push(role_arn.into());
        self
    }

    /// Accept `token` in AssumeRoleWithWebIdentity.
    pub fn web_identity_token(mut self, token: &str) -> Self {
        self.web_identity_tokens.push(token.into());
        self
    }

    /// List pages hold at most `n` items, whatever `maxResults` asks, so a client must
    /// follow `nextToken`.
    pub fn page_limit(mut self, n: usize) -> Self {
        self.page_limit = Some(n.max(1));
        self
    }

    /// Append one JSON line per request to `path`.
    pub fn log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.log_path = Some(path.into());
        self
    }
}
