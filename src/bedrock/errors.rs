//! AWS errors → Dify errors: every SDK failure becomes the Dify error kind Dify
//! understands, with the AWS code and message, or the host that could not be reached and
//! why, in plain words (an untrusted certificate, a refused connection, a failing proxy).

use std::error::Error;
use std::io;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use rustls::CertificateError;

use crate::error::{AwsCause, ErrorKind, PluginError};

/// An error's AWS code. Errors inside an event stream carry no code (`code()` is None),
/// so those are named by their variant.
pub trait AwsCode {
    fn aws_code(&self) -> Option<String>;
}

macro_rules! code_from_metadata {
    ($($t:ty),*) => {$(
        impl AwsCode for $t {
            fn aws_code(&self) -> Option<String> {
                self.code().map(str::to_string)
            }
        }
    )*};
}

code_from_metadata!(
    aws_sdk_bedrockruntime::operation::converse::ConverseError,
    aws_sdk_bedrockruntime::operation::converse_stream::ConverseStreamError,
    aws_sdk_bedrockruntime::operation::invoke_model::InvokeModelError,
    aws_sdk_bedrockruntime::operation::count_tokens::CountTokensError,
    aws_sdk_bedrock::operation::get_inference_profile::GetInferenceProfileError,
    aws_sdk_bedrock::operation::get_guardrail::GetGuardrailError,
    aws_sdk_bedrock::operation::list_foundation_models::ListFoundationModelsError,
    aws_sdk_bedrock::operation::list_inference_profiles::ListInferenceProfilesError,
    aws_sdk_bedrock::operation::get_foundation_model_availability::GetFoundationModelAvailabilityError
);

impl AwsCode for ConverseStreamOutputError {
    fn aws_code(&self) -> Option<String> {
        let code = match self {
            ConverseStreamOutputError::InternalServerException(_) => "InternalServerException",
            ConverseStreamOutputError::ModelStreamErrorException(_) => "ModelStreamErrorException",
            ConverseStreamOutputError::ServiceUnavailableException(_) => {
                "ServiceUnavailableException"
            }
            ConverseStreamOutputError::ThrottlingException(_) => "ThrottlingException",
            ConverseStreamOutputError::ValidationException(_) => "ValidationException",
            _ => return self.code().map(str::to_string),
        };
        Some(code.to_string())
    }
}

/// The Dify kind for an AWS error code (HTTP status as the fallback).
pub fn kind_for(code: &str, status: Option<u16>) -> ErrorKind {
    match code {
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignatureException"
        | "MissingAuthenticationTokenException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "UnauthorizedException" => ErrorKind::Authorization,
        "ThrottlingException" | "ServiceQuotaExceededException" | "TooManyRequestsException" => {
            ErrorKind::RateLimit
        }
        "ModelTimeoutException"
        | "ModelErrorException"
        | "ModelNotReadyException"
        | "InternalServerException"
        | "InternalFailure"
        | "ServiceUnavailableException" => ErrorKind::ServerUnavailable,
        "ModelStreamErrorException" => ErrorKind::Connection,
        "ValidationException" | "ResourceNotFoundException" | "ConflictException" => {
            ErrorKind::BadRequest
        }
        _ => match status {
            Some(401 | 403) => ErrorKind::Authorization,
            Some(429) => ErrorKind::RateLimit,
            Some(s) if s >= 500 => ErrorKind::ServerUnavailable,
            Some(s) if s >= 400 => ErrorKind::BadRequest,
            _ => ErrorKind::Invoke,
        },
    }
}

/// Converts an SDK error; `host` is where the call went, named when it cannot be reached.
pub fn from_sdk<E, R>(err: SdkError<E, R>, host: &str) -> PluginError
where
    E: AwsCode + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: RawStatus + std::fmt::Debug + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.aws_code().unwrap_or_else(|| "UnknownError".into());
            let message = e.message().unwrap_or("(no message)");
            let status = service.raw().status_code();
            PluginError::new(kind_for(&code, status), format!("{code}: {message}")).with_cause(
                AwsCause::Service {
                    code: code.clone(),
                    message: message.to_string(),
                    status,
                },
            )
        }
        SdkError::TimeoutError(_) => PluginError::new(
            ErrorKind::Connection,
            format!(
                "the call to {host} timed out; check the network path to Bedrock and try again"
            ),
        )
        .with_cause(AwsCause::Unreachable {
            host: host.to_string(),
        }),
        SdkError::DispatchFailure(failure) => {
            let detail = chain_text(&err);
            let found = failure
                .as_connector_error()
                .and_then(|e| connect_failure(e as &(dyn Error + 'static)));
            let (host, why) = match found {
                // Loading credentials (STS, a credential endpoint) failed, not the call itself.
                Some((failure, true)) => (CREDENTIAL_SERVICE, failure.explain()),
                Some((failure, false)) => (host, failure.explain_at(host)),
                None => {
                    if let Some(message) = credential_problem(&detail) {
                        return PluginError::new(ErrorKind::Authorization, message)
                            .with_cause(AwsCause::NoCredentials);
                    }
                    let why = if failure.is_timeout() {
                        "the connection timed out"
                    } else if failure.is_io() {
                        "the connection failed"
                    } else {
                        "the request could not be sent"
                    };
                    (host, format!("{why} ({})", last_cause(&detail)))
                }
            };
            PluginError::new(ErrorKind::Connection, format!("{UNREACHABLE}{host}: {why}"))
                .with_cause(AwsCause::Unreachable {
                    host: host.to_string(),
                })
        }
        SdkError::ResponseError(_) => PluginError::new(
            ErrorKind::ServerUnavailable,
            format!(
                "{host} sent a response that could not be read ({})",
                last_cause(&chain_text(&err))
            ),
        ),
        _ => {
            let detail = chain_text(&err);
            if let Some(message) = credential_problem(&detail) {
                return PluginError::new(ErrorKind::Authorization, message)
                    .with_cause(AwsCause::NoCredentials);
            }
            PluginError::new(
                ErrorKind::BadRequest,
                format!("the request could not be built: {}", last_cause(&detail)),
            )
        }
    }
}

/// A connection failure of a call made without the SDK (bedrock-mantle), told as
/// [`from_sdk`] tells the SDK's: the host, and why it could not be reached.
pub fn from_connector(
    err: &aws_smithy_runtime_api::client::result::ConnectorError,
    host: &str,
) -> PluginError {
    let error = err as &(dyn Error + 'static);
    let why = match connect_failure(error) {
        Some((failure, _)) => failure.explain_at(host),
        None => {
            let why = if err.is_timeout() {
                "the connection timed out"
            } else if err.is_io() {
                "the connection failed"
            } else {
                "the request could not be sent"
            };
            format!("{why} ({})", last_cause(&chain_text(error)))
        }
    };
    PluginError::new(ErrorKind::Connection, format!("{UNREACHABLE}{host}: {why}")).with_cause(
        AwsCause::Unreachable {
            host: host.to_string(),
        },
    )
}

/// The HTTP status of a raw response, where there is one (event-stream messages have none).
pub trait RawStatus {
    fn status_code(&self) -> Option<u16>;
}

impl RawStatus for aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    fn status_code(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
}

impl RawStatus for aws_smithy_types::event_stream::RawMessage {
    fn status_code(&self) -> Option<u16> {
        None
    }
}

/// A failure to find or load credentials, told in the user's terms.
fn credential_problem(detail: &str) -> Option<String> {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("no credentials")
        || lower.contains("credentials not loaded")
        || lower.contains("provider chain")
    {
        return Some(format!(
            "no AWS credentials were found for IAM Role authentication: the machine running the plugin has no instance profile, task role, pod identity, web identity, environment keys or shared profile ({}). Attach a role to it, or choose Access-Secret Key or Bedrock API Key",
            last_cause(detail)
        ));
    }
    if lower.contains("failed to load credentials") || lower.contains("could not load credentials")
    {
        return Some(format!(
            "the AWS credentials could not be loaded: {}",
            last_cause(detail)
        ));
    }
    None
}

/// How the message of an unreachable host begins; the host and the reason follow.
const UNREACHABLE: &str = "could not reach ";

/// Where the connection went when loading credentials failed: the error does not say
/// which service it was.
const CREDENTIAL_SERVICE: &str =
    "the AWS credential service (STS, or this machine's credential endpoint)";

/// The reason [`from_sdk`] gave for not reaching `host` ("the connection was refused …"),
/// for messages that add their own advice.
pub(crate) fn unreachable_reason<'a>(error: &'a PluginError, host: &str) -> Option<&'a str> {
    error
        .message
        .strip_prefix(UNREACHABLE)?
        .strip_prefix(host)?
        .strip_prefix(": ")
}

/// Why a connection could not be made, read from an error's causes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ConnectFailure {
    /// The certificate chains to no authority this process trusts.
    Untrusted,
    /// The certificate is not for the name connected to; the names it is for, when known.
    WrongName {
        expected: Option<String>,
        presented: Vec<String>,
    },
    Expired,
    NotYetValid,
    /// Another certificate problem, as rustls words it.
    Certificate(String),
    /// The TLS handshake failed for another reason, as rustls words it.
    Handshake(String),
    Refused,
    TimedOut,
    /// The connection was made and the request sent, but no answer came within the read
    /// timeout.
    NoAnswer,
    NotResolved,
    /// The peer closed or reset the connection (often a proxy or firewall in between).
    Closed,
    /// The proxy wants credentials.
    ProxyAuth,
    /// The proxy would not open a tunnel to the host.
    ProxyTunnel,
    /// The proxy itself could not be reached, and why when known.
    ProxyUnreachable(Option<Box<ConnectFailure>>),
}

impl ConnectFailure {
    /// As [`ConnectFailure::explain`], for a call to `host`: AWS's own endpoint of a
    /// region that does not exist has no address either, so the region is named too.
    fn explain_at(&self, host: &str) -> String {
        let why = self.explain();
        let region = host
            .strip_suffix(".amazonaws.com")
            .and_then(|rest| rest.split_once('.'))
            .map(|(_, region)| region)
            .filter(|region| !region.contains('.'));
        match (self, region) {
            (ConnectFailure::NotResolved | ConnectFailure::ProxyTunnel, Some(region)) => format!(
                "{why}; AWS has no endpoint of that name if {region} is not an AWS Region where Bedrock is offered (check aws_region)"
            ),
            _ => why,
        }
    }

    /// The reason, for a message that begins "could not reach HOST: ".
    fn explain(&self) -> String {
        match self {
            ConnectFailure::Untrusted => "its TLS certificate is not trusted (it is signed by an unknown certificate authority). If a proxy on this network inspects TLS, set AWS_CA_BUNDLE (or ca_bundle in the AWS profile) to a PEM file with the proxy's CA certificate".into(),
            ConnectFailure::WrongName { expected, presented } => {
                let mut text = String::from("its TLS certificate is not valid for ");
                text.push_str(expected.as_deref().unwrap_or("that host name"));
                if !presented.is_empty() {
                    text.push_str(&format!(" (it is for {})", presented.join(", ")));
                }
                text
            }
            ConnectFailure::Expired => "its TLS certificate has expired (check this machine's clock, and the certificate of any proxy in between)".into(),
            ConnectFailure::NotYetValid => "its TLS certificate is not valid yet (check this machine's clock)".into(),
            ConnectFailure::Certificate(why) => format!("its TLS certificate was rejected ({why})"),
            ConnectFailure::Handshake(why) => format!("the TLS handshake failed ({why})"),
            ConnectFailure::Refused => "the connection was refused (nothing accepts connections at that address and port)".into(),
            ConnectFailure::TimedOut => "the connection timed out".into(),
            ConnectFailure::NoAnswer => "it took the request but sent no answer within the read timeout (DIFY_BEDROCK_READ_TIMEOUT_SECS; a long answer that is not streamed needs more)".into(),
            ConnectFailure::NotResolved => "its host name could not be resolved (check this machine's DNS)".into(),
            ConnectFailure::Closed => "the connection was closed before an answer (a proxy or firewall in between may be dropping it)".into(),
            ConnectFailure::ProxyAuth => "the proxy asks for credentials; put them in the proxy URL (http://user:password@host:port)".into(),
            ConnectFailure::ProxyTunnel => "the proxy refused to open a connection to it".into(),
            ConnectFailure::ProxyUnreachable(why) => {
                let why = match why.as_deref() {
                    Some(ConnectFailure::Refused) => "refused the connection",
                    Some(ConnectFailure::TimedOut) => "did not answer in time",
                    Some(ConnectFailure::NotResolved) => "has a host name that could not be resolved",
                    _ => "could not be reached",
                };
                format!("the proxy {why} (check bedrock_proxy_url or HTTPS_PROXY)")
            }
        }
    }

    fn from_rustls(e: &rustls::Error) -> ConnectFailure {
        let rustls::Error::InvalidCertificate(certificate) = e else {
            return ConnectFailure::Handshake(e.to_string());
        };
        match certificate {
            CertificateError::UnknownIssuer => ConnectFailure::Untrusted,
            CertificateError::NotValidForName => ConnectFailure::WrongName {
                expected: None,
                presented: Vec::new(),
            },
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => ConnectFailure::WrongName {
                expected: Some(expected.to_str().into_owned()),
                presented: presented.iter().map(|p| san_text(p)).collect(),
            },
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                ConnectFailure::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                ConnectFailure::NotYetValid
            }
            other => ConnectFailure::Certificate(other.to_string()),
        }
    }
}

/// A subject-alternative name as webpki reports it (`DnsName("host")`), as a user reads it.
fn san_text(presented: &str) -> String {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|s| s.strip_suffix("\")"))
        .unwrap_or(presented)
        .to_string()
}

/// `error` and its causes. An `io::Error`'s own `source()` skips the error it wraps, so
/// after one the next cause is that wrapped error (hyper-rustls nests the rustls error
/// two `io::Error`s deep).
fn causes<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&e| match e.downcast_ref::<io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
        None => e.source(),
    })
}

/// The error's message and its causes' (`source()`), joined by ": " as the SDK's
/// `DisplayErrorContext` does, without the debug dump it appends.
fn chain_text(error: &(dyn Error + 'static)) -> String {
    std::iter::successors(Some(error), |&e| e.source())
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

/// What stopped the connection, if its causes say, and whether it happened while loading
/// credentials. rustls, I/O and credential errors are read by type; hyper-util's DNS and
/// proxy-tunnel errors (a crate this one does not use directly) by their fixed texts.
fn connect_failure(error: &(dyn Error + 'static)) -> Option<(ConnectFailure, bool)> {
    let mut credentials = false;
    let mut tunnel: Option<String> = None;
    let mut found = None;
    for e in causes(error) {
        credentials |= e.is::<CredentialsError>();
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some((ConnectFailure::from_rustls(tls), credentials));
        }
        let text = e.to_string();
        if tunnel.is_none() && text.starts_with("tunnel error") {
            tunnel = Some(text.clone());
        }
        if found.is_some() {
            continue;
        }
        if text == "dns error" {
            found = Some(ConnectFailure::NotResolved);
        } else if text.starts_with("HTTP connect timeout occurred") {
            // The SDK's HTTP client's own timeouts, told apart by their texts.
            found = Some(ConnectFailure::TimedOut);
        } else if text.starts_with("HTTP read timeout occurred") {
            found = Some(ConnectFailure::NoAnswer);
        } else if text == "connection closed before message completed" {
            // hyper's words when the peer closes the connection instead of answering.
            found = Some(ConnectFailure::Closed);
        } else if let Some(io) = e.downcast_ref::<io::Error>() {
            found = match io.kind() {
                io::ErrorKind::ConnectionRefused => Some(ConnectFailure::Refused),
                io::ErrorKind::TimedOut => Some(ConnectFailure::TimedOut),
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => Some(ConnectFailure::Closed),
                _ => None,
            };
        }
    }
    let failure = match tunnel.as_deref() {
        Some(t) if t.contains("authorization required") => Some(ConnectFailure::ProxyAuth),
        Some(t) if t.contains("unsuccessful") => Some(ConnectFailure::ProxyTunnel),
        Some(t) if t.contains("failed to create underlying connection") => {
            Some(ConnectFailure::ProxyUnreachable(found.map(Box::new)))
        }
        Some(t) if t.contains("unexpected end of file") => Some(ConnectFailure::Closed),
        _ => found,
    };
    failure.map(|f| (f, credentials))
}

/// The innermost cause in an error chain's text, which is the informative part.
fn last_cause(detail: &str) -> String {
    detail
        .rsplit(": ")
        .next()
        .unwrap_or(detail)
        .trim()
        .trim_end_matches(')')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_dify_kinds() {
        assert_eq!(
            kind_for("ExpiredTokenException", Some(403)),
            ErrorKind::Authorization
        );
        assert_eq!(
            kind_for("UnrecognizedClientException", Some(403)),
            ErrorKind::Authorization
        );
        assert_eq!(
            kind_for("ThrottlingException", Some(429)),
            ErrorKind::RateLimit
        );
        assert_eq!(
            kind_for("ModelNotReadyException", Some(429)),
            ErrorKind::ServerUnavailable
        );
        assert_eq!(
            kind_for("ValidationException", Some(400)),
            ErrorKind::BadRequest
        );
        assert_eq!(
            kind_for("SomethingNew", Some(503)),
            ErrorKind::ServerUnavailable
        );
        assert_eq!(kind_for("SomethingNew", Some(418)), ErrorKind::BadRequest);
        assert_eq!(kind_for("SomethingNew", None), ErrorKind::Invoke);
    }

    /// An error with a fixed text and an optional cause, standing in for the HTTP stack's
    /// wrappers.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<dyn Error + Send + Sync>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    fn layer(text: &'static str, cause: impl Into<Box<dyn Error + Send + Sync>>) -> Layer {
        Layer(text, Some(cause.into()))
    }

    /// A rustls error as hyper-rustls hands it over: two `io::Error`s deep.
    fn tls(e: rustls::Error) -> Layer {
        layer(
            "TLS handshake failed",
            io::Error::other(io::Error::new(io::ErrorKind::InvalidData, e)),
        )
    }

    fn found(e: &Layer) -> Option<ConnectFailure> {
        connect_failure(e).map(|(f, _)| f)
    }

    #[test]
    fn certificate_problems_are_named() {
        let untrusted = tls(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert_eq!(found(&untrusted), Some(ConnectFailure::Untrusted));
        assert!(
            ConnectFailure::Untrusted
                .explain()
                .contains("AWS_CA_BUNDLE")
        );

        let wrong = tls(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForNameContext {
                expected: rustls::pki_types::ServerName::try_from("bedrock.example")
                    .expect("name")
                    .to_owned(),
                presented: vec!["DnsName(\"proxy.corp\")".into(), "10.0.0.1".into()],
            },
        ));
        let failure = found(&wrong).expect("found");
        assert_eq!(
            failure.explain(),
            "its TLS certificate is not valid for bedrock.example (it is for proxy.corp, 10.0.0.1)"
        );

        let expired = tls(rustls::Error::InvalidCertificate(CertificateError::Expired));
        assert_eq!(found(&expired), Some(ConnectFailure::Expired));
        let alert = tls(rustls::Error::AlertReceived(
            rustls::AlertDescription::HandshakeFailure,
        ));
        assert!(matches!(found(&alert), Some(ConnectFailure::Handshake(_))));
    }

    #[test]
    fn a_name_that_does_not_resolve_at_aws_names_the_region() {
        let why =
            ConnectFailure::NotResolved.explain_at("bedrock-runtime.xx-nowhere-9.amazonaws.com");
        assert!(why.contains("could not be resolved"), "{why}");
        assert!(why.contains("xx-nowhere-9 is not an AWS Region"), "{why}");
        // A VPC endpoint's name says nothing of the region; other failures are not DNS.
        let vpce = ConnectFailure::NotResolved.explain_at("vpce-1.bedrock.example.com");
        assert_eq!(vpce, ConnectFailure::NotResolved.explain());
        let refused = ConnectFailure::Refused.explain_at("bedrock-runtime.us-east-1.amazonaws.com");
        assert_eq!(refused, ConnectFailure::Refused.explain());
    }

    #[test]
    fn network_and_proxy_problems_are_named() {
        let refused = layer(
            "tcp connect error",
            io::Error::from(io::ErrorKind::ConnectionRefused),
        );
        assert_eq!(found(&refused), Some(ConnectFailure::Refused));
        let timed_out = layer("io error", io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(found(&timed_out), Some(ConnectFailure::TimedOut));
        let dns = layer(
            "client error (Connect)",
            layer("dns error", io::Error::other("failed to lookup address")),
        );
        assert_eq!(found(&dns), Some(ConnectFailure::NotResolved));
        let closed = layer(
            "io error",
            Layer("connection closed before message completed", None),
        );
        assert_eq!(found(&closed), Some(ConnectFailure::Closed));
        let read = layer(
            "timeout",
            layer(
                "HTTP read timeout occurred after 1s",
                Layer("timed out", None),
            ),
        );
        assert_eq!(found(&read), Some(ConnectFailure::NoAnswer));
        let connect = Layer("HTTP connect timeout occurred after 1s", None);
        assert_eq!(found(&connect), Some(ConnectFailure::TimedOut));

        let proxy_refused = layer(
            "tunnel error: failed to create underlying connection",
            layer(
                "tcp connect error",
                io::Error::from(io::ErrorKind::ConnectionRefused),
            ),
        );
        let failure = found(&proxy_refused).expect("found");
        assert!(
            failure
                .explain()
                .contains("the proxy refused the connection"),
            "{failure:?}"
        );
        let tunnel = Layer("tunnel error: unsuccessful", None);
        assert_eq!(found(&tunnel), Some(ConnectFailure::ProxyTunnel));
        let auth = Layer("tunnel error: proxy authorization required", None);
        assert_eq!(found(&auth), Some(ConnectFailure::ProxyAuth));
        assert_eq!(found(&Layer("something else", None)), None);
    }

    #[test]
    fn failures_while_loading_credentials_are_told_apart() {
        let inner = tls(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        let loading = layer(
            "other",
            CredentialsError::provider_error(layer("dispatch failure", inner)),
        );
        assert_eq!(
            connect_failure(&loading),
            Some((ConnectFailure::Untrusted, true))
        );
    }

    #[test]
    fn the_reason_is_found_again_for_validation_messages() {
        let e = PluginError::new(
            ErrorKind::Connection,
            format!("{UNREACHABLE}example.com:443: the connection was refused"),
        );
        assert_eq!(
            unreachable_reason(&e, "example.com:443"),
            Some("the connection was refused")
        );
        assert_eq!(unreachable_reason(&e, "other:443"), None);
        let text = chain_text(&layer("dispatch failure", Layer("io error", None)));
        assert_eq!(text, "dispatch failure: io error");
    }
}
