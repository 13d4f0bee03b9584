//! What a failed validation says: AWS's refusal (or the network's silence) turned into
//! what is wrong and what to do, naming the key, the model, the region, the guardrail
//! and the IAM action involved. The `models` command words its refusals the same way.

use super::super::AppState;
use crate::bedrock::access::{Auth, AwsAccess, redact_key_id};
use crate::bedrock::errors;
use crate::bedrock::guardrail::Guardrail;
use crate::bedrock::ids::foundation_id;
use crate::bedrock::routing;
use crate::declaration::ModelType;
use crate::error::{AwsCause, PluginError};

/// The message for the user when AWS refuses `subject` (an operation or a model) called
/// with `access`, or cannot be reached: the words validation gives.
pub(crate) fn explain_refusal(
    state: &AppState,
    access: &AwsAccess,
    subject: &str,
    e: &PluginError,
) -> String {
    Context {
        state,
        access,
        id: subject,
        guardrail: None,
    }
    .explain(e)
}

/// What a probe called, and with what: the words of its failures depend on it.
pub(super) struct Context<'a> {
    pub state: &'a AppState,
    pub access: &'a AwsAccess,
    /// The model, or the operation, AWS refused.
    pub id: &'a str,
    /// The guardrail the probe sends, to name in messages about it.
    pub guardrail: Option<&'a Guardrail>,
}

impl Context<'_> {
    /// Which cross-region choices would let `self.id` run from the region.
    fn working_choices(&self) -> Vec<String> {
        let Some(decl) =
            foundation_id(self.id).and_then(|m| self.state.catalog.model(ModelType::Llm, &m))
        else {
            return Vec::new();
        };
        routing::working_choices(decl, &self.access.region)
            .into_iter()
            .map(|(option, id)| format!("\"{option}\" ({id})"))
            .collect()
    }

    fn regions_offered(&self) -> Option<String> {
        let decl = routing::catalogue_entry(&self.state.catalog, self.id)?;
        let facts = decl.bedrock.as_ref()?;
        (!facts.regions.is_empty()).then(|| facts.regions.join(", "))
    }

    fn key_name(&self) -> String {
        match &self.access.auth {
            Auth::Keys { access_key_id, .. } => {
                format!("access key ID {}", redact_key_id(access_key_id))
            }
            Auth::ApiKey(_) => "Bedrock API key".into(),
            Auth::IamRole => "machine's AWS credentials".into(),
        }
    }

    /// The message for the user: what is wrong, and what to do.
    pub(super) fn explain(&self, e: &PluginError) -> String {
        let (id, region) = (self.id, self.access.region.as_str());
        let Some(cause) = e.aws.as_deref() else {
            return e.display_message();
        };
        match cause {
            AwsCause::NoCredentials => "IAM Role is selected, but the machine running the plugin has no AWS credentials: no instance profile, ECS task role, EKS pod identity or IRSA web identity, environment keys or shared profile was found. Attach a role to the machine (or the pod or task), or choose Access-Secret Key or Bedrock API Key.".into(),
            AwsCause::Unreachable { host } => {
                let mut checks = vec!["that this network can reach AWS"];
                if self.access.runtime_endpoint.is_some() || self.access.control_endpoint.is_some() {
                    checks.insert(0, "the endpoint URL");
                }
                if self.access.proxy.is_some() {
                    checks.insert(0, "the proxy URL (bedrock_proxy_url)");
                }
                // What failed, in plain words when the error says (a certificate, a refusal).
                let reason = errors::unreachable_reason(e, host)
                    .map(|why| format!("{why}. "))
                    .unwrap_or_default();
                format!("Could not reach {host}: {reason}Check {}.", checks.join(", "))
            }
            AwsCause::Service { code, message, .. } => self.explain_service(code, message, id, region),
        }
    }

    /// The message for a failed GetGuardrail: whether the guardrail is missing or
    /// malformed, with its ID, version and region.
    pub(super) fn explain_guardrail(&self, e: &PluginError, g: &Guardrail) -> String {
        let region = self.access.region.as_str();
        let Some(AwsCause::Service { code, message, .. }) = e.aws.as_deref() else {
            return self.explain(e);
        };
        let named = g.describe();
        match code.as_str() {
            "ResourceNotFoundException" => format!(
                "The guardrail {named} was not found in {region}: a guardrail belongs to one region and account, so check its ID or ARN (Bedrock console → Guardrails), that the version exists (DRAFT, or a published version number), and that it was created in {region}. Bedrock said: {message}"
            ),
            "ValidationException" => format!(
                "Bedrock does not accept the guardrail {named}: {message} Check the Guardrail ID or ARN and the version (DRAFT or a published version number)."
            ),
            _ => self.explain(e),
        }
    }

    fn explain_service(&self, code: &str, message: &str, id: &str, region: &str) -> String {
        let key = self.key_name();
        match code {
            "ValidationException" if message.to_ascii_lowercase().contains("guardrail") => {
                let named = self
                    .guardrail
                    .map(|g| format!(" {}", g.describe()))
                    .unwrap_or_default();
                format!(
                    "Bedrock refused the guardrail{named} on the test call to {id} in {region}: {message} Check the guardrail's ID or ARN and version, and that it was created in {region}."
                )
            }
            "UnrecognizedClientException" | "InvalidClientTokenId" => match self.access.auth {
                Auth::Keys { .. } => format!(
                    "AWS does not recognise the {key}: check that it was copied whole, that it is still active (IAM → Users → Security credentials), and that it belongs to this AWS partition."
                ),
                _ => format!("AWS did not accept the {key}: {message}"),
            },
            "InvalidSignatureException" | "SignatureDoesNotMatch" | "IncompleteSignatureException" => format!(
                "The secret access key does not match the {key}: paste the secret again (AWS shows it only once, when the key is created)."
            ),
            "ExpiredTokenException" | "ExpiredToken" => "The session token has expired: temporary credentials from SSO, STS or SAML last at most a few hours. Get new ones and save them again, or use IAM Role, whose credentials refresh on their own.".into(),
            "AccessDeniedException" | "AccessDenied" => {
                if let Some((who, action, resource)) = parse_not_authorized(message) {
                    format!(
                        "The credentials work, but the AWS identity {who} may not call {action} on {resource}. Add {action} for that resource to its IAM policy, then save again."
                    )
                } else if message.contains("don't have access to the model") || message.contains("do not have access to the model") {
                    format!(
                        "The credentials work, but model access to {id} is not enabled for this AWS account in {region}. Enable it in the Bedrock console (Model access), then save again."
                    )
                } else if matches!(self.access.auth, Auth::ApiKey(_)) {
                    format!("The Bedrock API key was not accepted: {message} Create a new key in the Bedrock console (API keys) and save it again.")
                } else {
                    format!("AWS denied access to {id}: {message}")
                }
            }
            "ValidationException" if message.contains("on-demand throughput") => {
                let choices = self.working_choices();
                if choices.is_empty() {
                    format!(
                        "{id} can only be called through an inference profile, and none can be called from {region}: type the ID of an inference profile that contains it."
                    )
                } else {
                    format!(
                        "{id} can only be called through an inference profile in {region}: choose Cross-region inference {} for it, or type that profile ID as the model for validation.",
                        choices.join(" or ")
                    )
                }
            }
            "ValidationException" if message.contains("model identifier is invalid") => {
                let mut text = format!("Bedrock does not offer the model {id} in {region}");
                if let Some(regions) = self.regions_offered() {
                    text.push_str(&format!(" (it runs in-region in {regions})"));
                }
                let choices = self.working_choices();
                if !choices.is_empty() {
                    text.push_str(&format!("; from {region} choose Cross-region inference {}", choices.join(" or ")));
                }
                text.push_str(": check the model ID (copy it from the Bedrock console) and the region.");
                text
            }
            "ResourceNotFoundException" => format!("{id} was not found in {region}: {message}"),
            "ThrottlingException" | "ServiceQuotaExceededException" | "TooManyRequestsException" => format!(
                "The credentials work (AWS accepted them), but Bedrock throttled the test call to {id}: try saving again in a minute."
            ),
            other => format!("Bedrock refused the test call to {id}: {other}: {message}"),
        }
    }
}

/// `User: ARN is not authorized to perform: ACTION on resource: RESOURCE because …`.
fn parse_not_authorized(message: &str) -> Option<(String, String, String)> {
    let who = message
        .strip_prefix("User: ")?
        .split(" is not authorized")
        .next()?
        .to_string();
    let rest = message.split("is not authorized to perform: ").nth(1)?;
    let (action, rest) = rest.split_once(" on resource: ")?;
    let resource = rest
        .split(" because")
        .next()?
        .trim_end_matches('.')
        .trim()
        .to_string();
    Some((who, action.trim().to_string(), resource))
}

#[cfg(test)]
mod tests {
    use super::parse_not_authorized;

    #[test]
    fn iam_denials_name_the_action_and_resource() {
        let m = "User: arn:aws:iam::123456789012:user/dify is not authorized to perform: bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0 because no identity-based policy allows the bedrock:InvokeModel action";
        let (who, action, resource) = parse_not_authorized(m).expect("parses");
        assert_eq!(who, "arn:aws:iam::123456789012:user/dify");
        assert_eq!(action, "bedrock:InvokeModel");
        assert_eq!(
            resource,
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"
        );
    }
}
