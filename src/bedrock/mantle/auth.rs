//! The bearer token bedrock-mantle takes: a Bedrock API key as it is, or, for AWS
//! credentials (IAM role, access keys, an assumed role), a short-term token derived as
//! AWS's `aws-bedrock-token-generator` libraries derive it — a SigV4-presigned URL for
//! `bedrock:CallWithBearerToken`, base64-encoded behind the `bedrock-api-key-` prefix.
//! A derived token is cached per tenant and made again shortly before it expires.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use tokio::sync::Mutex;

use crate::bedrock::secret::Secret;
use crate::error::{AwsCause, ErrorKind, PluginError};

/// The host and action the presigned URL names (the token generators' constants).
const TOKEN_HOST: &str = "bedrock.amazonaws.com";
const TOKEN_URL: &str = "https://bedrock.amazonaws.com/?Action=CallWithBearerToken";
/// What a token starts with, and what its URL ends with.
pub(crate) const TOKEN_PREFIX: &str = "bedrock-api-key-";
const TOKEN_VERSION: &str = "&Version=1";
/// The generators' default (and longest) lifetime: 12 hours.
const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// A cached token is made again this long before it expires (the JS generator's default).
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// How one tenant authenticates to bedrock-mantle.
pub enum MantleAuth {
    /// A Bedrock API key, sent as it is.
    ApiKey(Secret),
    /// Tokens derived from the tenant's AWS credentials.
    Derived(TokenSource),
}

impl std::fmt::Debug for MantleAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MantleAuth::ApiKey(_) => f.write_str("ApiKey(***)"),
            MantleAuth::Derived(_) => f.write_str("Derived"),
        }
    }
}

impl MantleAuth {
    /// The token for the next request.
    pub(crate) async fn token(&self) -> Result<Secret, PluginError> {
        match self {
            MantleAuth::ApiKey(key) => Ok(key.clone()),
            MantleAuth::Derived(source) => source.token().await,
        }
    }

    /// Forgets a cached token (the server refused it), so the next call makes a new one.
    pub(crate) async fn forget(&self) {
        if let MantleAuth::Derived(source) = self {
            *source.cached.lock().await = None;
        }
    }
}

struct Cached {
    token: Secret,
    refresh_at: SystemTime,
}

/// Derives tokens from AWS credentials and keeps the current one.
pub struct TokenSource {
    credentials: SharedCredentialsProvider,
    region: String,
    cached: Mutex<Option<Cached>>,
}

impl TokenSource {
    pub fn new(credentials: SharedCredentialsProvider, region: String) -> TokenSource {
        TokenSource {
            credentials,
            region,
            cached: Mutex::new(None),
        }
    }

    async fn token(&self) -> Result<Secret, PluginError> {
        // One lock for the check and the refresh: concurrent first calls derive once.
        let mut cached = self.cached.lock().await;
        let now = SystemTime::now();
        if let Some(c) = cached.as_ref().filter(|c| c.refresh_at > now) {
            return Ok(c.token.clone());
        }
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(credentials_error)?;
        let token = derive(&credentials, &self.region, now)?;
        // A token lives as long as its URL says, and no longer than the credentials
        // that signed it.
        let expires = credentials
            .expiry()
            .map_or(now + TOKEN_LIFETIME, |e| e.min(now + TOKEN_LIFETIME));
        let refresh_at = expires.checked_sub(REFRESH_BEFORE).unwrap_or(now);
        *cached = Some(Cached {
            token: token.clone(),
            refresh_at,
        });
        Ok(token)
    }
}

fn credentials_error(e: aws_credential_types::provider::error::CredentialsError) -> PluginError {
    let detail = std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
    .map(|e| e.to_string())
    .collect::<Vec<_>>()
    .join(": ");
    PluginError::new(
        ErrorKind::Authorization,
        format!("the AWS credentials for bedrock-mantle could not be loaded: {detail}"),
    )
    .with_cause(AwsCause::NoCredentials)
}

/// A token for `credentials` in `region`, signed at `time`: the presigned URL without
/// its scheme, with `&Version=1`, base64-encoded behind `bedrock-api-key-`.
pub(crate) fn derive(
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<Secret, PluginError> {
    let failed =
        |e: &dyn std::fmt::Display| PluginError::internal(format!("signing the token failed: {e}"));
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("bedrock")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| failed(&e))?;
    // A presigned URL knows nothing of a payload: botocore's query signer (the Python
    // generator's) hashes none.
    let signable = SignableRequest::new(
        "POST",
        TOKEN_URL,
        [("host", TOKEN_HOST)].into_iter(),
        SignableBody::UnsignedPayload,
    )
    .map_err(|e| failed(&e))?;
    let (instructions, _) = sign(signable, &params.into())
        .map_err(|e| failed(&e))?
        .into_parts();
    let mut request = http::Request::builder()
        .method("POST")
        .uri(TOKEN_URL)
        .body(())
        .map_err(|e| failed(&e))?;
    instructions.apply_to_request_http1x(&mut request);
    let url = request.uri().to_string();
    let bare = url.strip_prefix("https://").unwrap_or(&url);
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{bare}{TOKEN_VERSION}"));
    Ok(Secret::new(format!("{TOKEN_PREFIX}{encoded}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(token: &Secret) -> String {
        let body = token
            .expose()
            .strip_prefix(TOKEN_PREFIX)
            .expect("the prefix");
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .expect("base64"),
        )
        .expect("utf-8")
    }

    #[test]
    fn a_token_is_the_presigned_url_as_the_generators_make_it() {
        let credentials = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            Some("session".into()),
            None,
            "test",
        );
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let token = derive(&credentials, "us-east-2", time).expect("token");
        let url = decoded(&token);
        assert!(
            url.starts_with("bedrock.amazonaws.com/?Action=CallWithBearerToken&"),
            "{url}"
        );
        assert!(url.ends_with("&Version=1"), "{url}");
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20270115%2Fus-east-2%2Fbedrock%2Faws4_request",
            "X-Amz-Date=20270115T080000Z",
            "X-Amz-Expires=43200",
            "X-Amz-SignedHeaders=host",
            "X-Amz-Security-Token=session",
            "X-Amz-Signature=",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
        // Signing is deterministic: the same inputs give the same token.
        assert_eq!(
            derive(&credentials, "us-east-2", time)
                .expect("again")
                .expose(),
            token.expose()
        );
        assert_eq!(format!("{token:?}"), "Secret(***)");
    }

    #[tokio::test]
    async fn tokens_are_cached_until_shortly_before_the_credentials_expire() {
        let soon = SystemTime::now() + Duration::from_secs(60);
        let provider = SharedCredentialsProvider::new(Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "secret",
            None,
            Some(soon),
            "test",
        ));
        let source = TokenSource::new(provider, "us-east-1".into());
        source.token().await.expect("first");
        // Credentials expiring within the refresh margin make every call derive anew.
        let refresh_at = source.cached.lock().await.as_ref().map(|c| c.refresh_at);
        assert!(refresh_at.is_some_and(|r| r <= SystemTime::now()));

        let lasting = SharedCredentialsProvider::new(Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "secret",
            None,
            None,
            "test",
        ));
        let source = TokenSource::new(lasting, "us-east-1".into());
        let a = source.token().await.expect("first");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let b = source.token().await.expect("cached");
        assert_eq!(a.expose(), b.expose(), "a fresh token is reused");
        MantleAuth::Derived(source).forget().await;
    }
}
