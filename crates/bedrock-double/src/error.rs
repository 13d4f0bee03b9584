//! AWS errors as values, and their two wire forms.
//!
//! Bedrock (restJson1) answers an error with a status code, an
//! `x-amzn-errortype` header and a JSON body `{"message": …}`; the Rust SDK
//! reads the error code from the header (it strips the `:namespace` suffix)
//! and the message from the body. STS (awsQuery) answers with an XML
//! `<ErrorResponse>`. Every rejection the double makes is built here, so the
//! texts live in one place.

use serde_json::json;

/// Which wire form an error takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Bedrock runtime, agent runtime and control plane (restJson1).
    RestJson,
    /// STS (awsQuery: form-encoded request, XML response).
    Query,
    /// bedrock-mantle's OpenAI-compatible APIs: `{"error": {"message", "type", "code"}}`.
    OpenAi,
}

/// One AWS error: HTTP status, error code (the `__type`) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// API-Gateway-style authorizer rejections (Bedrock API keys) spell the
    /// body field `Message`, not `message`.
    pub capital_message: bool,
}

impl AwsError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            capital_message: false,
        }
    }

    /// 400 ValidationException.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationException", message)
    }

    /// The schema-validation wording Bedrock uses for InvokeModel bodies and
    /// Converse fields it checks against a JSON schema, e.g.
    /// "Malformed input request: #: required key [inputText] not found, please
    /// reformat your input and try again."
    pub fn malformed(detail: impl AsRef<str>) -> Self {
        Self::validation(format!(
            "Malformed input request: {}, please reformat your input and try again.",
            detail.as_ref()
        ))
    }

    /// The answer Bedrock gives for an unknown model id, or a model that is
    /// not offered in the request's region.
    pub fn invalid_model() -> Self {
        Self::validation("The provided model identifier is invalid.")
    }

    /// Direct call of a model that is only served through inference profiles.
    /// Bedrock's text uses a typographic apostrophe ("isn’t").
    pub fn on_demand_unsupported(model_id: &str) -> Self {
        Self::validation(format!(
            "Invocation of model ID {model_id} with on-demand throughput isn\u{2019}t supported. \
             Retry your request with the ID or ARN of an inference profile that contains this model."
        ))
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(403, "AccessDeniedException", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "ResourceNotFoundException", message)
    }

    pub fn unknown_operation() -> Self {
        Self::new(404, "UnknownOperationException", "")
    }

    /// The JSON body of a restJson1 error.
    pub fn json_body(&self) -> Vec<u8> {
        let key = if self.capital_message {
            "Message"
        } else {
            "message"
        };
        // serde_json cannot fail on a map of strings; fall back to an empty
        // object rather than panic if it ever did.
        serde_json::to_vec(&json!({ key: self.message })).unwrap_or_else(|_| b"{}".to_vec())
    }

    /// The OpenAI-style error body of bedrock-mantle's Responses API: `code` is the error
    /// code, `type` the OpenAI error class its status belongs to.
    pub fn openai_body(&self) -> Vec<u8> {
        let kind = match self.status {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            s if s >= 500 => "server_error",
            _ => "invalid_request_error",
        };
        serde_json::to_vec(&json!({"error": {
            "message": self.message, "type": kind, "code": self.code, "param": null
        }}))
        .unwrap_or_else(|_| b"{}".to_vec())
    }

    /// The header value Bedrock sends, e.g.
    /// `ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/`.
    pub fn error_type_header(&self) -> String {
        format!(
            "{}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            self.code
        )
    }

    /// The awsQuery XML error document STS sends.
    /// Shape: https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
    pub fn xml_body(&self, request_id: &str) -> Vec<u8> {
        let kind = if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        };
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    \
             <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  \
             <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
            xml_escape(&self.code),
            xml_escape(&self.message)
        )
        .into_bytes()
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

/// Escapes text for an XML element body.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_xml_forms() {
        let e = AwsError::validation("bad <input>");
        assert_eq!(e.json_body(), br#"{"message":"bad <input>"}"#.to_vec());
        let xml = String::from_utf8(e.xml_body("rid")).unwrap_or_default();
        assert!(xml.contains("<Code>ValidationException</Code>"));
        assert!(xml.contains("bad &lt;input&gt;"));
        let mut c = AwsError::access_denied("x");
        c.capital_message = true;
        assert_eq!(c.json_body(), br#"{"Message":"x"}"#.to_vec());
    }
}
