//! TLS for tests: a certificate authority made at test time (as a TLS-inspecting proxy's
//! would be) and a TLS-terminating reverse proxy on 127.0.0.1 that presents one of its
//! certificates and forwards the decrypted bytes to the Bedrock double's plain-HTTP port,
//! so the plugin's real TLS stack is exercised end to end.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority that exists only for one test.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
    /// The CA certificate, as a bundle file holds it.
    pub pem: String,
}

/// A server certificate with its chain and key.
pub struct ServerCert {
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Authority {
    pub fn new(name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        Authority {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate for `names`, valid now.
    pub fn issue(&self, names: &[&str]) -> ServerCert {
        self.issue_with(names, |_| {})
    }

    /// A certificate for `names` that expired in 2001.
    pub fn issue_expired(&self, names: &[&str]) -> ServerCert {
        self.issue_with(names, |p| {
            p.not_before = rcgen::date_time_ymd(2000, 1, 1);
            p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        })
    }

    fn issue_with(
        &self,
        names: &[&str],
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> ServerCert {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, names[0].as_str());
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        adjust(&mut params);
        let key = KeyPair::generate().expect("server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        ServerCert {
            chain: vec![cert.der().clone(), self.der.clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }

    /// Writes the CA certificate into `dir` as a PEM bundle; returns its path.
    pub fn write_bundle(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca-bundle.pem");
        std::fs::write(&path, &self.pem).expect("write the CA bundle");
        path
    }
}

/// A TLS-terminating reverse proxy in front of a plain-HTTP server.
pub struct TlsProxy {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
}

impl TlsProxy {
    /// Listens on 127.0.0.1 with `cert` and forwards each connection to `upstream`.
    pub fn start(cert: ServerCert, upstream: SocketAddr) -> TlsProxy {
        let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(cert.chain, PrivateKeyDer::Pkcs8(cert.key))
            .expect("server TLS config");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind TLS proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        // Its own runtime on its own thread, so that tests stay synchronous; it lives as
        // long as the test process, as the forward proxy's threads do.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("TLS proxy runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                while let Ok((client, _)) = listener.accept().await {
                    let acceptor = acceptor.clone();
                    let count = count.clone();
                    tokio::spawn(async move {
                        // A refused handshake is the client's to report; nothing to do here.
                        let Ok(mut tls) = acceptor.accept(client).await else {
                            return;
                        };
                        count.fetch_add(1, Ordering::SeqCst);
                        let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    });
                }
            });
        });
        TlsProxy { port, accepted }
    }

    /// The URL the plugin is given: by name, since certificates name hosts.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// TLS handshakes that succeeded.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}
