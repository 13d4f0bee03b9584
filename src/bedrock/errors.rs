//! AWS errors → Dify errors: every SDK failure becomes the Dify error kind Dify
//! understands, with the AWS code and message, or the host that could not be reached.

use aws_sdk_bedrockruntime::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;

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
    aws_sdk_bedrock::operation::get_inference_profile::GetInferenceProfileError
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
    R: RawStatus + std::fmt::Debug,
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
            let detail = DisplayErrorContext(&err).to_string();
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
            PluginError::new(
                ErrorKind::Connection,
                format!("could not reach {host}: {why} ({})", last_cause(&detail)),
            )
            .with_cause(AwsCause::Unreachable {
                host: host.to_string(),
            })
        }
        SdkError::ResponseError(_) => PluginError::new(
            ErrorKind::ServerUnavailable,
            format!(
                "{host} sent a response that could not be read ({})",
                last_cause(&DisplayErrorContext(&err).to_string())
            ),
        ),
        _ => {
            let detail = DisplayErrorContext(&err).to_string();
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

/// The innermost cause of a `DisplayErrorContext` chain, which is the informative part.
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
}
