//! Bedrock clients per tenant: built once per distinct AWS access (credentials, region,
//! endpoints, proxy) and reused, so connections are pooled; held in a bounded cache keyed
//! by a digest of the access, never by raw secrets, and dropped when unused. Each entry
//! has its own HTTP client (and a connector for bedrock-mantle, which the SDK does not
//! call), so two tenants never share a connection or a credential; how those connections
//! are made (TLS trust, proxy, timeouts) is `network`'s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::identity::IdentityCache;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_bedrockruntime::config::retry::{RetryPartition, TokenBucket};
use aws_smithy_runtime_api::client::auth::http::HTTP_BEARER_AUTH_SCHEME_ID;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::identity::SharedIdentityCache;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::region::Region;
use tokio::sync::OnceCell;

use super::access::{Auth, AwsAccess};
use super::guardrail::{self, Guardrail, GuardrailInfo};
use super::listing::{self, Availability, FoundationModel, SystemProfile};
use super::mantle::{Limits, MantleAuth, MantleClient, TokenSource};
use super::network::{http_client, mantle_connector};
use super::profiles::{ProfileCache, ProfileInfo};
use crate::error::PluginError;

// Defined in `network`; named here too, beside the clients they configure (settings.rs and
// the actions reach them through this path).
pub(crate) use super::network::CaBundle;
pub use super::network::NetworkSettings;

/// The clients one tenant's requests use.
pub struct Clients {
    pub runtime: aws_sdk_bedrockruntime::Client,
    /// bedrock-mantle's Responses API, for the families Converse does not serve; built
    /// on first use, since most tenants never call it.
    mantle: OnceCell<MantleClient>,
    mantle_setup: MantleSetup,
    control: aws_sdk_bedrock::Client,
    /// Where runtime calls go, for messages that name the host tried.
    pub runtime_host: String,
    control_host: String,
    /// This tenant's inference-profile answers.
    profiles: ProfileCache,
}

/// What a tenant's bedrock-mantle client is built from.
struct MantleSetup {
    access: AwsAccess,
    net: NetworkSettings,
    /// The SigV4 credentials tokens are derived from; `None` for an API key.
    credentials: Option<SharedCredentialsProvider>,
}

impl MantleSetup {
    fn build(&self) -> Result<MantleClient, PluginError> {
        let access = &self.access;
        let auth = match (&access.auth, &self.credentials) {
            (Auth::ApiKey(key), _) => MantleAuth::ApiKey(key.clone()),
            (_, Some(provider)) => {
                MantleAuth::Derived(TokenSource::new(provider.clone(), access.region.clone()))
            }
            (_, None) => {
                return Err(PluginError::internal(
                    "no credentials for a SigV4 authentication mode",
                ));
            }
        };
        let endpoint = access
            .mantle_endpoint
            .clone()
            .unwrap_or_else(|| MantleClient::default_endpoint(&access.region));
        Ok(MantleClient::new(
            mantle_connector(access, &self.net)?,
            &endpoint,
            auth,
            Limits {
                max_attempts: self.net.max_attempts,
                initial_backoff: self.net.initial_backoff,
                read_timeout: self.net.read_timeout,
            },
        ))
    }
}

impl Clients {
    /// The tenant's bedrock-mantle client, built on first use.
    pub async fn mantle(&self) -> Result<&MantleClient, PluginError> {
        self.mantle
            .get_or_try_init(|| async { self.mantle_setup.build() })
            .await
    }

    /// What GetInferenceProfile says about an application inference profile (cached).
    pub async fn inference_profile(&self, id: &str) -> Result<ProfileInfo, PluginError> {
        self.profiles
            .get(&self.control, &self.control_host, id)
            .await
    }

    /// What GetGuardrail says about a guardrail version (not cached: validation asks once).
    pub(crate) async fn guardrail(
        &self,
        guardrail: &Guardrail,
    ) -> Result<GuardrailInfo, PluginError> {
        guardrail::get(&self.control, &self.control_host, guardrail).await
    }

    /// The foundation models the control plane lists in the tenant's region.
    pub(crate) async fn foundation_models(&self) -> Result<Vec<FoundationModel>, PluginError> {
        listing::foundation_models(&self.control, &self.control_host).await
    }

    /// The system inference profiles callable from the tenant's region.
    pub(crate) async fn system_profiles(&self) -> Result<Vec<SystemProfile>, PluginError> {
        listing::system_profiles(&self.control, &self.control_host).await
    }

    /// The account's access to a foundation model in the tenant's region.
    pub(crate) async fn model_availability(
        &self,
        model: &str,
    ) -> Result<Availability, PluginError> {
        listing::availability(&self.control, &self.control_host, model).await
    }
}

/// The credentials for SigV4 modes: static keys, or the machine's credential chain; with
/// an assumed role on top when one is configured. `None` for a bearer API key.
async fn credentials_provider(
    access: &AwsAccess,
    http: &SharedHttpClient,
) -> Result<Option<SharedCredentialsProvider>, PluginError> {
    let region = Region::new(access.region.clone());
    let base = match &access.auth {
        Auth::ApiKey(_) => return Ok(None),
        Auth::Keys {
            access_key_id,
            secret_access_key,
            session_token,
        } => SharedCredentialsProvider::new(Credentials::new(
            access_key_id.clone(),
            secret_access_key.expose().to_string(),
            session_token.as_ref().map(|t| t.expose().to_string()),
            None,
            "dify-credentials",
        )),
        Auth::IamRole => {
            let config = ProviderConfig::default()
                .with_http_client(http.clone())
                .with_region(Some(region.clone()));
            let chain =
                aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                    .region(region.clone())
                    .configure(config)
                    .build()
                    .await;
            SharedCredentialsProvider::new(chain)
        }
    };
    let Some(role) = &access.assume_role else {
        return Ok(Some(base));
    };
    // Loaded the standard way so that AWS_ENDPOINT_URL_STS (an STS VPC endpoint) applies.
    let sts_config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http.clone())
        .region(region.clone())
        .credentials_provider(base.clone())
        .load()
        .await;
    let mut builder = aws_config::sts::AssumeRoleProvider::builder(role.role_arn.clone())
        .session_name(role.session_name.clone())
        .region(region)
        .configure(&sts_config);
    if let Some(external_id) = &role.external_id {
        builder = builder.external_id(external_id.expose());
    }
    Ok(Some(SharedCredentialsProvider::new(
        builder.build_from_provider(base).await,
    )))
}

fn host_of(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split('/').next().unwrap_or(rest).to_string()
}

async fn build(access: &AwsAccess, net: &NetworkSettings) -> Result<Clients, PluginError> {
    let http = http_client(access, net)?;
    let credentials = credentials_provider(access, &http).await?;
    let identity_cache: SharedIdentityCache = IdentityCache::lazy().build();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(net.connect_timeout)
        .read_timeout(net.read_timeout)
        .build();
    let retry = RetryConfig::standard()
        .with_max_attempts(net.max_attempts)
        .with_initial_backoff(net.initial_backoff);
    // The SDK's retry quota (a token bucket of 500, 5 spent per throttled retry) is shared
    // by every client of a service and region unless the client has a partition of its
    // own: one tenant throttled without end would spend the retries of all the others.
    // Each tenant's clients get their own, dropped with them.
    let quota = || {
        RetryPartition::custom("dify-bedrock-tenant")
            .token_bucket(TokenBucket::default())
            .build()
    };
    let region = Region::new(access.region.clone());

    let mut rt = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http.clone())
        .region(region.clone())
        .identity_cache(identity_cache.clone())
        .timeout_config(timeouts.clone())
        .retry_config(retry.clone())
        .retry_partition(quota());
    let mut cp = aws_sdk_bedrock::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http)
        .region(region)
        .identity_cache(identity_cache)
        .timeout_config(timeouts)
        .retry_config(retry)
        .retry_partition(quota());
    let mantle_setup = MantleSetup {
        access: access.clone(),
        net: net.clone(),
        credentials: credentials.clone(),
    };
    match (&access.auth, credentials) {
        (Auth::ApiKey(key), _) => {
            let token = aws_sdk_bedrockruntime::config::Token::new(key.expose(), None);
            rt = rt
                .bearer_token(token.clone())
                .auth_scheme_preference([HTTP_BEARER_AUTH_SCHEME_ID]);
            cp = cp
                .bearer_token(token)
                .auth_scheme_preference([HTTP_BEARER_AUTH_SCHEME_ID]);
        }
        (_, Some(provider)) => {
            rt = rt.credentials_provider(provider.clone());
            cp = cp.credentials_provider(provider);
        }
        (_, None) => {
            return Err(PluginError::internal(
                "no credentials for a SigV4 authentication mode",
            ));
        }
    }
    if let Some(url) = &access.runtime_endpoint {
        rt = rt.endpoint_url(url);
    }
    if let Some(url) = &access.control_endpoint {
        cp = cp.endpoint_url(url);
    }
    let runtime_host = access
        .runtime_endpoint
        .as_deref()
        .map(host_of)
        .unwrap_or_else(|| format!("bedrock-runtime.{}.amazonaws.com", access.region));
    let control_host = access
        .control_endpoint
        .as_deref()
        .map(host_of)
        .unwrap_or_else(|| format!("bedrock.{}.amazonaws.com", access.region));
    Ok(Clients {
        runtime: aws_sdk_bedrockruntime::Client::from_conf(rt.build()),
        mantle: OnceCell::new(),
        mantle_setup,
        control: aws_sdk_bedrock::Client::from_conf(cp.build()),
        runtime_host,
        control_host,
        profiles: Default::default(),
    })
}

struct Entry {
    clients: Arc<OnceCell<Arc<Clients>>>,
    /// Milliseconds since the cache was made, at the last use.
    last_used: AtomicU64,
}

/// A bounded cache of clients keyed by [`AwsAccess::fingerprint`].
pub struct ClientCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    capacity: usize,
    idle_ttl: Duration,
    epoch: Instant,
    net: NetworkSettings,
}

impl ClientCache {
    pub fn new(capacity: usize, idle_ttl: Duration, net: NetworkSettings) -> ClientCache {
        ClientCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            idle_ttl,
            epoch: Instant::now(),
            net,
        }
    }

    pub fn network(&self) -> &NetworkSettings {
        &self.net
    }

    /// The clients for `access`, built on first use; concurrent first uses build once.
    pub async fn get(&self, access: &AwsAccess) -> Result<Arc<Clients>, PluginError> {
        let key = access.fingerprint();
        let now = self.epoch.elapsed().as_millis() as u64;
        let cell = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let idle_ms = self.idle_ttl.as_millis() as u64;
            entries.retain(|k, e| {
                *k == key || now.saturating_sub(e.last_used.load(Ordering::Relaxed)) < idle_ms
            });
            if !entries.contains_key(&key) && entries.len() >= self.capacity {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
                    .map(|(k, _)| *k);
                if let Some(k) = oldest {
                    entries.remove(&k);
                }
            }
            let entry = entries.entry(key).or_insert_with(|| Entry {
                clients: Arc::new(OnceCell::new()),
                last_used: AtomicU64::new(now),
            });
            entry.last_used.store(now, Ordering::Relaxed);
            entry.clients.clone()
        };
        let clients = cell
            // Boxed: building a tenant's clients (the credential chain, STS) takes a large
            // future, which every session would otherwise keep room for while it streams.
            .get_or_try_init(|| async { Box::pin(build(access, &self.net)).await.map(Arc::new) })
            .await?;
        Ok(clients.clone())
    }

    /// How many tenants' clients are cached.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bedrock::secret::Secret;

    fn access(secret: &str) -> AwsAccess {
        AwsAccess {
            auth: Auth::Keys {
                access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
                secret_access_key: Secret::new(secret),
                session_token: None,
            },
            region: "us-east-1".into(),
            runtime_endpoint: Some("http://127.0.0.1:9".into()),
            control_endpoint: None,
            mantle_endpoint: None,
            proxy: None,
            assume_role: None,
        }
    }

    #[tokio::test]
    async fn one_client_per_access_reused_and_bounded() {
        let cache = ClientCache::new(2, Duration::from_secs(600), NetworkSettings::default());
        let a1 = cache.get(&access("a")).await.expect("a");
        let a2 = cache.get(&access("a")).await.expect("a again");
        assert!(
            Arc::ptr_eq(&a1, &a2),
            "the same access must reuse its clients"
        );
        let b = cache.get(&access("b")).await.expect("b");
        assert!(
            !Arc::ptr_eq(&a1, &b),
            "different secrets must never share clients"
        );
        cache.get(&access("c")).await.expect("c");
        assert_eq!(cache.len(), 2, "the cache stays within its capacity");
        assert_eq!(a1.runtime_host, "127.0.0.1:9");
        assert_eq!(a1.control_host, "bedrock.us-east-1.amazonaws.com");
        assert_eq!(
            a1.mantle().await.expect("mantle").host,
            "bedrock-mantle.us-east-1.api.aws"
        );
    }

    #[tokio::test]
    async fn idle_entries_are_dropped() {
        let cache = ClientCache::new(10, Duration::from_millis(20), NetworkSettings::default());
        cache.get(&access("a")).await.expect("a");
        tokio::time::sleep(Duration::from_millis(40)).await;
        cache.get(&access("b")).await.expect("b");
        assert_eq!(cache.len(), 1);
    }

    #[tokio::test]
    async fn an_unusable_bundle_fails_the_clients_not_the_cache() {
        let missing = std::env::temp_dir().join(format!(
            "dify-bedrock-ca-unusable-{}/nope.pem",
            std::process::id()
        ));
        let net = NetworkSettings {
            ca_bundle: CaBundle::from_vars(&HashMap::from([(
                "AWS_CA_BUNDLE".to_string(),
                missing.to_string_lossy().to_string(),
            )])),
            ..NetworkSettings::default()
        };
        let cache = ClientCache::new(2, Duration::from_secs(600), net);
        for _ in 0..2 {
            let e = cache.get(&access("a")).await.err().expect("no clients");
            assert!(e.message.contains("AWS_CA_BUNDLE"), "{}", e.message);
        }
    }
}
