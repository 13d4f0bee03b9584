//! Bedrock clients per tenant: built once per distinct AWS access (credentials, region,
//! endpoints, proxy) and reused, so connections are pooled; held in a bounded cache keyed
//! by a digest of the access, never by raw secrets, and dropped when unused. Each entry
//! has its own HTTP client (and a connector for bedrock-mantle, which the SDK does not
//! call), so two tenants never share a connection or a credential.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::identity::IdentityCache;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_sdk_bedrockruntime::config::retry::{RetryPartition, TokenBucket};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder as HttpBuilder, Connector};
use aws_smithy_runtime_api::client::auth::http::HTTP_BEARER_AUTH_SCHEME_ID;
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpClient};
use aws_smithy_runtime_api::client::identity::SharedIdentityCache;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::os_shim_internal::{Env, Fs};
use aws_types::region::Region;
use base64::Engine as _;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::sync::OnceCell;

use super::access::{Auth, AwsAccess};
use super::guardrail::{self, Guardrail, GuardrailInfo};
use super::listing::{self, Availability, FoundationModel, SystemProfile};
use super::mantle::{Limits, MantleAuth, MantleClient, TokenSource};
use super::profiles::{ProfileCache, ProfileInfo};
use crate::error::{ErrorKind, PluginError};

/// Network behaviour shared by every client.
#[derive(Debug, Clone)]
pub struct NetworkSettings {
    pub connect_timeout: Duration,
    /// Longest wait for a response to start (a blocking Converse waits for the whole answer).
    pub read_timeout: Duration,
    /// Longest silence inside a response stream before it is ended with an error.
    pub stream_idle_timeout: Duration,
    /// Attempts per call, retries included (throttling, 5xx and transient I/O are retried).
    pub max_attempts: u32,
    /// First retry delay; later ones back off exponentially with jitter.
    pub initial_backoff: Duration,
    /// Certificate authorities trusted besides the system's (AWS_CA_BUNDLE).
    pub ca_bundle: Option<CaBundle>,
    /// Idle connections a tenant's pool keeps per host after a burst; the rest close.
    pub pool_max_idle: usize,
    /// How long an idle pooled connection is kept for reuse.
    pub pool_idle_timeout: Duration,
}

impl Default for NetworkSettings {
    fn default() -> NetworkSettings {
        NetworkSettings {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(300),
            stream_idle_timeout: Duration::from_secs(60),
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            ca_bundle: None,
            // hyper keeps every idle connection for 90 s by default: after a burst of a
            // thousand streams that is ~15 MiB of buffers held for nothing.
            pool_max_idle: 32,
            pool_idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Where a CA bundle was named.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CaOrigin {
    /// The `AWS_CA_BUNDLE` environment variable.
    Variable,
    /// The `ca_bundle` setting of this AWS shared-config profile.
    Profile(String),
}

/// Certificate authorities trusted besides the system's: the PEM bundle AWS users name in
/// `AWS_CA_BUNDLE`, or in the `ca_bundle` setting of their AWS profile, when a proxy on
/// their network inspects TLS. Process configuration, read once at start-up like
/// HTTPS_PROXY. A bundle that cannot be used does not stop the process: each call that
/// needs a client fails instead, saying what is wrong with it.
#[derive(Clone)]
pub(crate) struct CaBundle {
    origin: CaOrigin,
    path: String,
    /// The bundle's usable certificates as PEM, or what is wrong with the file.
    pem: Result<Arc<[u8]>, String>,
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("origin", &self.origin)
            .field("path", &self.path)
            .field("usable", &self.pem.as_ref().map(|p| p.len()))
            .finish()
    }
}

impl CaBundle {
    /// The bundle the environment names: `AWS_CA_BUNDLE`, else the `ca_bundle` setting of
    /// the active AWS profile (`AWS_PROFILE`, or `default`), as boto3 chooses it. `vars` is
    /// the process environment (with `.env`); `None` when neither names a bundle.
    pub(crate) fn from_vars(vars: &HashMap<String, String>) -> Option<CaBundle> {
        let variable = vars
            .get("AWS_CA_BUNDLE")
            .map(|v| v.trim())
            .filter(|v| !v.is_empty());
        let (origin, path) = match variable {
            Some(path) => (CaOrigin::Variable, path.to_string()),
            None => {
                let (profile, path) = profile_ca_bundle(vars)?;
                (CaOrigin::Profile(profile), path)
            }
        };
        let pem = std::fs::read(&path)
            .map_err(|e| format!("the file cannot be read ({e})"))
            .and_then(|bytes| usable_certificates(&bytes));
        Some(CaBundle { origin, path, pem })
    }

    /// The system's roots plus the bundle's certificates, or why the bundle is unusable.
    fn tls_context(&self) -> Result<TlsContext, PluginError> {
        let pem = self.pem.as_ref().map_err(|problem| {
            let (setting, fix) = match &self.origin {
                CaOrigin::Variable => ("AWS_CA_BUNDLE".to_string(), "unset it"),
                CaOrigin::Profile(profile) => (
                    format!("the ca_bundle setting of AWS profile \"{profile}\""),
                    "remove the setting",
                ),
            };
            PluginError::new(
                ErrorKind::Connection,
                format!(
                    "{setting} names the CA bundle {}, which cannot be used: {problem}. Point it at a PEM file with your proxy's CA certificate, or {fix}",
                    self.path
                ),
            )
        })?;
        TlsContext::builder()
            .with_trust_store(TrustStore::default().with_pem_certificate(pem.to_vec()))
            .build()
            .map_err(|e| PluginError::internal(format!("the TLS settings do not build: {e}")))
    }
}

/// The `ca_bundle` setting of the active AWS profile, with the profile's name. The config
/// files are read as the SDK reads them (AWS_CONFIG_FILE, AWS_PROFILE); a file that is
/// missing or does not parse names no bundle (the credential chain reports it, if used).
fn profile_ca_bundle(vars: &HashMap<String, String>) -> Option<(String, String)> {
    let env = Env::from(vars.clone());
    // The loader is async but reads files with std::fs; a small runtime on a thread of its
    // own runs it whether or not the caller is inside a runtime.
    let profiles = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().build().ok()?;
                runtime
                    .block_on(aws_config::profile::load(
                        &Fs::real(),
                        &env,
                        &EnvConfigFiles::default(),
                        None,
                    ))
                    .ok()
            })
            .join()
            .ok()
            .flatten()
    })?;
    let path = profiles.get("ca_bundle")?.trim();
    (!path.is_empty()).then(|| (profiles.selected_profile().to_string(), path.to_string()))
}

/// The certificates of a PEM bundle that can serve as trust anchors, as PEM again.
fn usable_certificates(bytes: &[u8]) -> Result<Arc<[u8]>, String> {
    let mut pem = Vec::new();
    for item in CertificateDer::pem_slice_iter(bytes) {
        let der = item.map_err(|e| format!("it is not a valid PEM file ({e})"))?;
        // The HTTP client panics on a certificate it cannot add to its trust store, so
        // only those rustls accepts are passed on; the others are left out, as the
        // system store's loader leaves them out.
        if RootCertStore::empty().add(der.clone()).is_err() {
            continue;
        }
        let text = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in text.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    if pem.is_empty() {
        return Err("it contains no usable PEM certificate".into());
    }
    Ok(pem.into())
}

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

/// The TLS settings and proxy of one tenant's connections: rustls's system roots plus the
/// CA bundle, and the tenant's proxy (or the environment's HTTPS_PROXY/NO_PROXY).
fn tls_and_proxy(
    access: &AwsAccess,
    net: &NetworkSettings,
) -> Result<(TlsContext, ProxyConfig), PluginError> {
    let tls = match &net.ca_bundle {
        Some(bundle) => bundle.tls_context()?,
        None => TlsContext::default(),
    };
    let proxy = match &access.proxy {
        Some(url) => {
            let mut config = ProxyConfig::all(url.as_str()).map_err(|e| {
                PluginError::bad_request(format!(
                    "Proxy URL (bedrock_proxy_url) is not usable: {e}"
                ))
            })?;
            // The instance-metadata and container-credential endpoints are never proxied.
            let mut rules = String::from("169.254.169.254,169.254.170.2,169.254.170.23");
            for key in ["NO_PROXY", "no_proxy"] {
                if let Ok(v) = std::env::var(key) {
                    rules.push(',');
                    rules.push_str(&v);
                }
            }
            config = config.no_proxy(rules);
            config
        }
        None => ProxyConfig::from_env(),
    };
    Ok((tls, proxy))
}

/// Builds the HTTP client of one tenant: rustls with ring, the system's roots and the CA
/// bundle, the tenant's proxy, its own connection pool. Every AWS client of the tenant
/// uses it: Bedrock, STS, and the credential chain's metadata and SSO calls.
fn http_client(access: &AwsAccess, net: &NetworkSettings) -> Result<SharedHttpClient, PluginError> {
    let (tls, proxy) = tls_and_proxy(access, net)?;
    let (max_idle, idle_timeout) = (net.pool_max_idle, net.pool_idle_timeout);
    Ok(
        HttpBuilder::new().build_with_connector_fn(move |settings, components| {
            let mut builder = Connector::builder();
            builder.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                builder.set_sleep_impl(components.sleep_impl());
            }
            builder
                .proxy_config(proxy.clone())
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .tls_context(tls.clone())
                .pool_max_idle_per_host(max_idle)
                .pool_idle_timeout(idle_timeout)
                .build()
        }),
    )
}

/// The connector of the tenant's bedrock-mantle calls, which the SDK does not make: the
/// same TLS, proxy and connect and read timeouts as its AWS clients, a pool of its own.
fn mantle_connector(access: &AwsAccess, net: &NetworkSettings) -> Result<Connector, PluginError> {
    let (tls, proxy) = tls_and_proxy(access, net)?;
    let settings = HttpConnectorSettings::builder()
        .connect_timeout(net.connect_timeout)
        .read_timeout(net.read_timeout)
        .build();
    Ok(Connector::builder()
        .connector_settings(settings)
        .proxy_config(proxy)
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .pool_max_idle_per_host(net.pool_max_idle)
        .pool_idle_timeout(net.pool_idle_timeout)
        .build())
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

    /// A scratch directory for one test's files.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("dify-bedrock-ca-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn certificate() -> rcgen::Certificate {
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
            .expect("certificate")
            .cert
    }

    #[test]
    fn a_bundle_keeps_its_certificates_and_nothing_else() {
        let (a, b) = (certificate(), certificate());
        let bundle = format!(
            "# comment\n{}\nsubject=whatever\n{}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            a.pem(),
            b.pem()
        );
        let pem = usable_certificates(bundle.as_bytes()).expect("usable");
        let ders: Vec<_> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .expect("PEM again");
        assert_eq!(ders, vec![a.der().clone(), b.der().clone()]);

        assert_eq!(
            usable_certificates(b"no certificate here\n").expect_err("empty"),
            "it contains no usable PEM certificate"
        );
        // A block that is not a certificate rustls can use is left out, not a panic later.
        let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(usable_certificates(junk.as_bytes()).is_err());
        let broken = "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n";
        assert!(
            usable_certificates(broken.as_bytes())
                .expect_err("broken")
                .contains("not a valid PEM file")
        );
    }

    #[test]
    fn aws_ca_bundle_wins_over_the_profile_which_follows_aws_profile() {
        let dir = scratch("origin");
        let bundle = dir.join("bundle.pem");
        std::fs::write(&bundle, certificate().pem()).expect("bundle");
        let missing = dir.join("missing.pem");
        let config = dir.join("config");
        std::fs::write(
            &config,
            format!(
                "[default]\nca_bundle = {}\n[profile team]\nca_bundle = {}\n",
                bundle.display(),
                missing.display()
            ),
        )
        .expect("config");
        let (config, bundle, missing) = (
            config.to_string_lossy().to_string(),
            bundle.to_string_lossy().to_string(),
            missing.to_string_lossy().to_string(),
        );

        assert!(CaBundle::from_vars(&vars(&[])).is_none());
        let from_profile = CaBundle::from_vars(&vars(&[
            ("AWS_CONFIG_FILE", &config),
            ("AWS_CA_BUNDLE", " "),
        ]))
        .expect("the default profile's bundle");
        assert_eq!(from_profile.origin, CaOrigin::Profile("default".into()));
        assert_eq!(from_profile.path, bundle);
        assert!(from_profile.tls_context().is_ok());

        let team = CaBundle::from_vars(&vars(&[
            ("AWS_CONFIG_FILE", &config),
            ("AWS_PROFILE", "team"),
        ]))
        .expect("team's bundle");
        let e = team.tls_context().expect_err("missing file");
        assert_eq!(e.kind, ErrorKind::Connection);
        assert!(
            e.message
                .starts_with("the ca_bundle setting of AWS profile \"team\" names the CA bundle"),
            "{}",
            e.message
        );
        assert!(e.message.contains(&missing), "{}", e.message);

        let variable = CaBundle::from_vars(&vars(&[
            ("AWS_CONFIG_FILE", &config),
            ("AWS_CA_BUNDLE", &missing),
        ]))
        .expect("the variable's bundle");
        assert_eq!(variable.origin, CaOrigin::Variable);
        let e = variable.tls_context().expect_err("missing file");
        assert!(
            e.message.starts_with(&format!(
                "AWS_CA_BUNDLE names the CA bundle {missing}, which cannot be used: the file cannot be read"
            )),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn an_unusable_bundle_fails_the_clients_not_the_cache() {
        let dir = scratch("unusable");
        let net = NetworkSettings {
            ca_bundle: CaBundle::from_vars(&vars(&[(
                "AWS_CA_BUNDLE",
                &dir.join("nope.pem").to_string_lossy(),
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
