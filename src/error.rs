//! Errors as data: one type carrying the Dify error kind and a message written for the
//! user, made where the cause is known and serialised once, at the protocol edge.

use std::fmt;

use serde_json::{Value, json};

/// The provider name Dify shows in front of model errors, as the SDK does.
pub const PROVIDER_PREFIX: &str = "[bedrock]";

/// The Dify error kinds; `error_type` is the name Dify's API dispatches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request cannot work as sent (bad input, unknown model, unsupported option).
    BadRequest,
    /// AWS refused the credentials or the permission.
    Authorization,
    RateLimit,
    ServerUnavailable,
    Connection,
    /// A model-call failure none of the above describes.
    Invoke,
    /// `validate_*_credentials` found a problem.
    CredentialsValidateFailed,
    /// The daemon's payload did not have the expected shape.
    Validation,
    /// A request this plugin does not serve (an action or model type it lacks).
    Unsupported,
    /// A bug: a panic or a broken invariant inside the plugin.
    Internal,
}

impl ErrorKind {
    pub fn error_type(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "InvokeBadRequestError",
            ErrorKind::Authorization => "InvokeAuthorizationError",
            ErrorKind::RateLimit => "InvokeRateLimitError",
            ErrorKind::ServerUnavailable => "InvokeServerUnavailableError",
            ErrorKind::Connection => "InvokeConnectionError",
            ErrorKind::Invoke => "InvokeError",
            ErrorKind::CredentialsValidateFailed => "CredentialsValidateFailedError",
            ErrorKind::Validation => "ValidationError",
            ErrorKind::Unsupported => "NotImplementedError",
            ErrorKind::Internal => "InternalError",
        }
    }

    /// Model errors carry the provider prefix and `args.description`, which newer Dify
    /// versions read instead of `message`.
    fn is_invoke(self) -> bool {
        matches!(
            self,
            ErrorKind::BadRequest
                | ErrorKind::Authorization
                | ErrorKind::RateLimit
                | ErrorKind::ServerUnavailable
                | ErrorKind::Connection
                | ErrorKind::Invoke
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PluginError {
    pub kind: ErrorKind,
    pub message: String,
    /// What AWS answered, when the error came from AWS: lets credential validation tell
    /// the user precisely what is wrong.
    pub aws: Option<Box<AwsCause>>,
}

/// The cause of a failed AWS call, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsCause {
    /// AWS answered with an error code and message.
    Service {
        code: String,
        message: String,
        status: Option<u16>,
    },
    /// The credential chain found no credentials (IAM Role on a machine without any).
    NoCredentials,
    /// The host could not be reached (refused, unresolvable, timed out, proxy failure).
    Unreachable { host: String },
}

impl PluginError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> PluginError {
        PluginError {
            kind,
            message: message.into(),
            aws: None,
        }
    }

    pub fn with_cause(mut self, cause: AwsCause) -> PluginError {
        self.aws = Some(Box::new(cause));
        self
    }

    pub fn bad_request(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::BadRequest, message)
    }

    pub fn validation(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::Validation, message)
    }

    pub fn unsupported(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::Unsupported, message)
    }

    pub fn internal(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::Internal, message)
    }

    /// The text Dify shows.
    pub fn display_message(&self) -> String {
        if self.kind.is_invoke() && !self.message.starts_with(PROVIDER_PREFIX) {
            format!("{PROVIDER_PREFIX} {}", self.message)
        } else {
            self.message.clone()
        }
    }

    /// The `data` of a session `error` message: `{error_type, message, args}`.
    pub fn payload(&self) -> Value {
        let message = self.display_message();
        let args = if self.kind.is_invoke() {
            json!({ "description": message })
        } else {
            json!({})
        };
        json!({ "error_type": self.kind.error_type(), "message": message, "args": args })
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.error_type(), self.display_message())
    }
}

impl std::error::Error for PluginError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_errors_carry_prefix_and_description() {
        let p = PluginError::bad_request("image/tiff is not supported").payload();
        assert_eq!(p["error_type"], "InvokeBadRequestError");
        assert_eq!(p["message"], "[bedrock] image/tiff is not supported");
        assert_eq!(p["args"]["description"], p["message"]);
    }

    #[test]
    fn validation_failures_have_empty_args() {
        let p = PluginError::new(ErrorKind::CredentialsValidateFailed, "wrong key").payload();
        assert_eq!(
            p,
            json!({"error_type": "CredentialsValidateFailedError", "message": "wrong key", "args": {}})
        );
    }
}
