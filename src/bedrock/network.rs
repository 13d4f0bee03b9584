//! How a tenant's connections are made: the network settings every client shares
//! (timeouts, attempts, backoff), the certificate authorities trusted besides the
//! system's (`AWS_CA_BUNDLE`, or the AWS profile's `ca_bundle`), the tenant's proxy, and
//! the HTTP connectors built from them for the AWS clients and for bedrock-mantle.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_runtime::env_config::file::EnvConfigFiles;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder as HttpBuilder, Connector};
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpClient};
use aws_types::os_shim_internal::{Env, Fs};
use base64::Engine as _;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::access::AwsAccess;
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
            // thousand streams that is ~15 MiB of buffers held for nothing. boto3 keeps 10
            // (max_pool_connections).
            pool_max_idle: 10,
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
pub(super) fn http_client(
    access: &AwsAccess,
    net: &NetworkSettings,
) -> Result<SharedHttpClient, PluginError> {
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
pub(super) fn mantle_connector(
    access: &AwsAccess,
    net: &NetworkSettings,
) -> Result<Connector, PluginError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
