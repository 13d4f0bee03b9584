//! What the double remembers about each request, so a test can assert exactly
//! what the client sent (operation, model, body, identity, signing scope,
//! selected headers and the TCP connection it came on).
//!
//! Secrets never enter the record: bearer keys are reduced to their configured
//! name (or a short hash), signatures and session tokens are redacted.

use serde::Serialize;

/// Every operation the double serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Operation {
    Converse,
    ConverseStream,
    InvokeModel,
    InvokeModelWithResponseStream,
    CountTokens,
    Rerank,
    /// bedrock-mantle's Responses API (`POST /openai/v1/responses`).
    CreateResponse,
    GetInferenceProfile,
    ListInferenceProfiles,
    GetGuardrail,
    GetFoundationModel,
    ListFoundationModels,
    GetFoundationModelAvailability,
    AssumeRole,
    AssumeRoleWithWebIdentity,
    GetCallerIdentity,
    ImdsToken,
    ImdsCredentials,
    EcsCredentials,
    /// A path or method the double does not serve.
    Unknown,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Converse => "Converse",
            Operation::ConverseStream => "ConverseStream",
            Operation::InvokeModel => "InvokeModel",
            Operation::InvokeModelWithResponseStream => "InvokeModelWithResponseStream",
            Operation::CountTokens => "CountTokens",
            Operation::Rerank => "Rerank",
            Operation::CreateResponse => "CreateResponse",
            Operation::GetInferenceProfile => "GetInferenceProfile",
            Operation::GetGuardrail => "GetGuardrail",
            Operation::ListInferenceProfiles => "ListInferenceProfiles",
            Operation::GetFoundationModel => "GetFoundationModel",
            Operation::ListFoundationModels => "ListFoundationModels",
            Operation::GetFoundationModelAvailability => "GetFoundationModelAvailability",
            Operation::AssumeRole => "AssumeRole",
            Operation::AssumeRoleWithWebIdentity => "AssumeRoleWithWebIdentity",
            Operation::GetCallerIdentity => "GetCallerIdentity",
            Operation::ImdsToken => "ImdsToken",
            Operation::ImdsCredentials => "ImdsCredentials",
            Operation::EcsCredentials => "EcsCredentials",
            Operation::Unknown => "Unknown",
        }
    }

    /// The IAM action Bedrock checks for this operation, used in
    /// AccessDeniedException messages.
    pub fn iam_action(self) -> &'static str {
        match self {
            Operation::Converse | Operation::InvokeModel | Operation::CountTokens => {
                "bedrock:InvokeModel"
            }
            Operation::ConverseStream | Operation::InvokeModelWithResponseStream => {
                "bedrock:InvokeModelWithResponseStream"
            }
            Operation::Rerank => "bedrock:Rerank",
            // Wording approximated: the action bedrock-mantle names was not confirmed.
            Operation::CreateResponse => "bedrock-mantle:CreateInference",
            Operation::GetInferenceProfile => "bedrock:GetInferenceProfile",
            Operation::GetGuardrail => "bedrock:GetGuardrail",
            Operation::ListInferenceProfiles => "bedrock:ListInferenceProfiles",
            Operation::GetFoundationModel => "bedrock:GetFoundationModel",
            Operation::ListFoundationModels => "bedrock:ListFoundationModels",
            Operation::GetFoundationModelAvailability => "bedrock:GetFoundationModelAvailability",
            Operation::AssumeRole => "sts:AssumeRole",
            Operation::AssumeRoleWithWebIdentity => "sts:AssumeRoleWithWebIdentity",
            Operation::GetCallerIdentity => "sts:GetCallerIdentity",
            Operation::ImdsToken
            | Operation::ImdsCredentials
            | Operation::EcsCredentials
            | Operation::Unknown => "",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One request as the double saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedRequest {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// The TCP connection (1 = first accepted). Equal ids prove reuse.
    pub connection_id: u64,
    pub operation: Operation,
    pub method: String,
    /// Raw request path (still percent-encoded), without the query.
    pub path: String,
    pub query: Option<String>,
    /// The `{modelId}` path segment, percent-decoded (ARNs included), or the
    /// `modelArn` of a Rerank request, the profile identifier of
    /// GetInferenceProfile, or the guardrail identifier of GetGuardrail.
    pub model_id: Option<String>,
    /// The foundation model the id resolved to, when it resolved.
    pub resolved_model: Option<String>,
    /// The decoded body: JSON as sent; STS form fields as a JSON object;
    /// `Null` for an empty body; a string for anything else.
    pub body: serde_json::Value,
    /// `AKIA…` (access key id), `bearer:<name>`, `token:<access key id>` (a bearer token
    /// derived from those credentials) or `anonymous`.
    pub identity: String,
    /// Region and service from the SigV4 credential scope (or the API key's
    /// region for bearer requests).
    pub region: Option<String>,
    pub service: Option<String>,
    /// Selected headers, lower-case names, secrets redacted.
    pub headers: Vec<(String, String)>,
    pub status: u16,
    /// The AWS error code the double answered with, if any.
    pub error_code: Option<String>,
    pub request_id: String,
}

impl RecordedRequest {
    /// The value of a recorded header (lower-case name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Headers worth keeping in the record.
pub const RECORDED_HEADERS: &[&str] = &[
    "accept",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "authorization",
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-user-agent",
    "x-amzn-bedrock-accept",
    "x-amzn-bedrock-guardrailidentifier",
    "x-amzn-bedrock-performanceconfig-latency",
    "x-amzn-bedrock-service-tier",
    "x-amzn-bedrock-trace",
    "x-aws-ec2-metadata-token",
    "x-aws-ec2-metadata-token-ttl-seconds",
];

/// Redacts a header value that could carry a secret.
pub fn redact_header(name: &str, value: &str) -> String {
    match name {
        "authorization" => {
            if let Some(i) = value.find("Signature=") {
                format!("{}Signature=<redacted>", &value[..i])
            } else if value.len() > 7 && value[..7].eq_ignore_ascii_case("bearer ") {
                "Bearer <redacted>".to_string()
            } else {
                "<redacted>".to_string()
            }
        }
        "x-amz-security-token" | "x-aws-ec2-metadata-token" => "<redacted>".to_string(),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        let v = "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=abc";
        assert!(redact_header("authorization", v).ends_with("Signature=<redacted>"));
        assert_eq!(
            redact_header("authorization", "Bearer ABSKxyz"),
            "Bearer <redacted>"
        );
        assert_eq!(
            redact_header("content-type", "application/json"),
            "application/json"
        );
    }
}
