//! `validate_provider_credentials` and `validate_model_credentials`: the form is checked,
//! then Bedrock is probed for real with the model the user names (a 1-token Converse, a
//! tiny Responses call on bedrock-mantle for the families it serves, a one-word
//! embedding, a one-document rerank, or GetInferenceProfile for an application profile),
//! and a failure says precisely what is wrong and what to do. A guardrail on the form is
//! looked up first with GetGuardrail (it must exist in the region and be ready; reading it
//! is a permission chat calls do not need, so a refusal to read it is no failure) and then
//! goes with the probe's Converse call, as it goes with every chat call.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use super::AppState;
use super::form::Credentials;
use super::form::guardrail::{self, GuardrailSettings};
use super::requests::{ModelBase, ValidateProvider};
use crate::bedrock::access::{Auth, AwsAccess, redact_key_id};
use crate::bedrock::client::Clients;
use crate::bedrock::converse::{self, Capabilities, ChatEvent, ChatInput, Params};
use crate::bedrock::guardrail::Guardrail;
use crate::bedrock::ids::{IdKind, classify, foundation_id};
use crate::bedrock::mantle::{self, MantleInput, MantleParams};
use crate::bedrock::routing::{self, CrossRegion};
use crate::bedrock::{embedding, errors, rerank};
use crate::declaration::{ChatApi, ModelDecl, ModelType};
use crate::error::{AwsCause, ErrorKind, PluginError};
use crate::prompt::{Content, PromptMessage, Role};
use crate::session::SessionSink;

/// Cheap text models tried, in order, when the user names none: the first that runs in
/// the region (in-region, else through a profile) is probed.
const DEFAULT_PROBES: &[&str] = &[
    "amazon.nova-micro-v1:0",
    "amazon.nova-lite-v1:0",
    "amazon.nova-2-lite-v1:0",
    "meta.llama3-1-8b-instruct-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
];

#[derive(Serialize)]
struct Valid<'a> {
    result: bool,
    credentials: &'a Map<String, Value>,
}

fn failed(message: impl Into<String>) -> PluginError {
    PluginError::new(ErrorKind::CredentialsValidateFailed, message)
}

pub async fn validate_provider(
    state: &AppState,
    req: ValidateProvider,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    let creds = &req.credentials;
    probe(state, creds, creds.model_for_validation.as_deref(), None)
        .await
        .map_err(failed)?;
    sink.stream(&Valid {
        result: true,
        credentials: creds.raw(),
    })
    .await
}

pub async fn validate_model(
    state: &AppState,
    req: ModelBase,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    let model_type = req.model_type.map_err(|sent| {
        failed(format!(
            "model type {sent:?} is not one of llm, text-embedding, rerank"
        ))
    })?;
    let creds = &req.credentials;
    let custom = creds.custom.as_ref().ok_or_else(|| {
        failed("Model ID, inference profile ID or ARN (inference_profile_id) is required: enter the Bedrock model to use")
    })?;
    probe(state, creds, Some(&custom.target), Some(model_type))
        .await
        .map_err(failed)?;
    sink.stream(&Valid {
        result: true,
        credentials: creds.raw(),
    })
    .await
}

/// `dify-bedrock check`: the credential form its options make, checked as Dify's are.
pub async fn check(
    state: &AppState,
    form: &Map<String, Value>,
    model: Option<&str>,
    model_type: Option<ModelType>,
) -> Result<String, String> {
    probe(state, &Credentials::parse(form.clone()), model, model_type).await
}

fn is_access_denied(e: &PluginError) -> bool {
    matches!(
        e.aws.as_deref(),
        Some(AwsCause::Service { code, .. }) if code == "AccessDeniedException"
    )
}

/// Checks the form, then probes Bedrock; `Ok` with what was probed, or the message for
/// the user. `model_type` is known for customizable models; otherwise it is looked up.
async fn probe(
    state: &AppState,
    credentials: &Credentials,
    model: Option<&str>,
    model_type: Option<ModelType>,
) -> Result<String, String> {
    let access = credentials.access.as_ref().map_err(|e| e.message.clone())?;
    let clients = state
        .clients
        .get(access)
        .await
        .map_err(|e| e.display_message())?;
    let (id, explicit) = match model {
        Some(m) => (m.to_string(), true),
        None => (default_probe(state, &access.region)?, false),
    };
    // The form's guardrail serves every chat model: checked whenever the form is the
    // provider's or a chat model's, whichever model is probed.
    let guard = if model_type.is_none_or(|t| t == ModelType::Llm) {
        let form = credentials
            .guardrail
            .as_ref()
            .map_err(|e| e.message.clone())?;
        guardrail::combine(form, &GuardrailSettings::default()).map_err(|e| e.message)?
    } else {
        None
    };
    let ctx = Context {
        state,
        access,
        id: &id,
        guardrail: guard.as_ref(),
    };
    if let Some(g) = &guard {
        let info = match clients.guardrail(g).await {
            Ok(info) => Some(info),
            // Reading a guardrail (GetGuardrail) is a separate permission from applying it
            // (ApplyGuardrail), which is all chat calls need: the test call below, which
            // applies it, is the judge.
            Err(e) if is_access_denied(&e) => {
                tracing::info!(
                    "may not read the guardrail {} with GetGuardrail; the test call applies it instead",
                    g.describe()
                );
                None
            }
            Err(e) => return Err(ctx.explain_guardrail(&e, g)),
        };
        if let Some(info) = info.filter(|i| !i.is_ready()) {
            return Err(format!(
                "The guardrail {} ({}) is {} in {}, not READY: Bedrock applies only a ready guardrail. Wait until the Bedrock console shows it ready (or fix it if it FAILED), then save again.",
                info.name,
                g.describe(),
                info.status,
                access.region
            ));
        }
    }
    let kind = classify(&id);
    if kind == IdKind::ApplicationProfile {
        let info = clients
            .inference_profile(&id)
            .await
            .map_err(|e| ctx.explain(&e))?;
        return Ok(format!("inference profile {}", info.arn));
    }
    let foundation = match &kind {
        IdKind::Foundation(m) => Some(m.as_str()),
        _ => None,
    };
    let known = |t: ModelType| foundation.and_then(|m| state.catalog.model(t, m));
    let model_type = model_type
        .or_else(|| {
            [ModelType::TextEmbedding, ModelType::Rerank]
                .into_iter()
                .find(|t| known(*t).is_some())
        })
        .unwrap_or(ModelType::Llm);
    let result = match model_type {
        ModelType::TextEmbedding => probe_embedding(clients.clone(), &id).await,
        ModelType::Rerank => probe_rerank(clients.clone(), &id, known(model_type)).await,
        _ if known(ModelType::Llm).is_some_and(|d| d.chat_api() == ChatApi::MantleResponses) => {
            // bedrock-mantle takes no guardrail; the one above was checked all the same.
            probe_mantle(&clients, &id, state.clients.network().stream_idle_timeout).await
        }
        _ => {
            probe_chat(
                &clients,
                &id,
                known(ModelType::Llm),
                guard.clone(),
                state.clients.network().stream_idle_timeout,
            )
            .await
        }
    };
    result.map_err(|e| ctx.explain(&e))?;
    Ok(if explicit {
        format!("model {id}")
    } else {
        format!("model {id} (no model for validation was given)")
    })
}

/// The first default probe model that can be called from `region`.
fn default_probe(state: &AppState, region: &str) -> Result<String, String> {
    for name in DEFAULT_PROBES {
        let Some(decl) = state.catalog.model(ModelType::Llm, name) else {
            continue;
        };
        for choice in [
            CrossRegion::Disabled,
            CrossRegion::Geographic,
            CrossRegion::Profile("global"),
        ] {
            let route = routing::chat_route(decl, Some(choice), region);
            if route.advice.is_none() {
                return Ok(route.id);
            }
        }
    }
    Err(format!(
        "no Bedrock text model this plugin knows is offered in {region}: check the region, or type a model available there in Model for validation"
    ))
}

/// A 1-token Converse, with the guardrail every chat call sends.
async fn probe_chat(
    clients: &Clients,
    id: &str,
    decl: Option<&ModelDecl>,
    guardrail: Option<Guardrail>,
    idle: std::time::Duration,
) -> Result<(), PluginError> {
    let caps = decl.map_or_else(Capabilities::generic, Capabilities::of);
    let messages = [hi()];
    let parts = converse::build(ChatInput {
        model_id: id.to_string(),
        caps,
        messages: &messages,
        tools: &[],
        tool_choice: None,
        stop: &[],
        params: Params {
            max_tokens: Some(1),
            ..Params::default()
        },
        request_metadata: None,
        guardrail,
    })?;
    let mut events = converse::start(clients, parts, false, idle).await?;
    while let Some(event) = events.next().await {
        if let ChatEvent::Stop(_) = event? {
            break;
        }
    }
    Ok(())
}

/// The probe's prompt: one word.
fn hi() -> PromptMessage {
    PromptMessage {
        role: Role::User,
        content: Some(Content::Text("Hi".into())),
        tool_calls: Vec::new(),
        tool_call_id: None,
        reasoning: Vec::new(),
    }
}

/// A tiny Responses call on bedrock-mantle, through the same code as `invoke_llm`.
async fn probe_mantle(
    clients: &Clients,
    id: &str,
    idle: std::time::Duration,
) -> Result<(), PluginError> {
    let messages = [hi()];
    let request = mantle::build(
        MantleInput {
            model_id: id.to_string(),
            vision: false,
            tools_allowed: false,
            messages: &messages,
            tools: &[],
            tool_choice: None,
            // The Responses API's smallest max_output_tokens.
            params: MantleParams {
                max_output_tokens: Some(16),
                ..MantleParams::default()
            },
        },
        false,
    )?;
    let mut events = mantle::start(clients.mantle().await?, &request, idle).await?;
    while let Some(event) = events.next().await {
        if let ChatEvent::Stop(_) = event? {
            break;
        }
    }
    Ok(())
}

/// A one-word embedding, through the same code as `invoke_text_embedding`.
async fn probe_embedding(clients: Arc<Clients>, id: &str) -> Result<(), PluginError> {
    let dialect = foundation_id(id)
        .as_deref()
        .and_then(embedding::Dialect::of)
        .ok_or_else(|| {
            PluginError::bad_request(format!(
                "{id} is not an embedding model this plugin knows, so it cannot be probed"
            ))
        })?;
    let plan = embedding::Plan {
        dialect,
        purpose: embedding::Purpose::Query,
        dimensions: None,
    };
    let inputs = [embedding::Input::Text("hi".into())];
    embedding::embed(
        clients,
        id,
        dialect,
        embedding::batches(&plan, &inputs),
        inputs.len(),
    )
    .await?;
    Ok(())
}

/// A one-document rerank, through the same code as `invoke_rerank`.
async fn probe_rerank(
    clients: Arc<Clients>,
    id: &str,
    decl: Option<&ModelDecl>,
) -> Result<(), PluginError> {
    let dialect = decl
        .and_then(|d| d.bedrock.as_ref())
        .and_then(|f| rerank::RerankDialect::of_family(f.family))
        .ok_or_else(|| {
            PluginError::bad_request(format!(
                "{id} is not a rerank model this plugin knows, so it cannot be probed"
            ))
        })?;
    rerank::rerank(clients, id, dialect, "hi", &["hi"], None).await?;
    Ok(())
}

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

struct Context<'a> {
    state: &'a AppState,
    access: &'a AwsAccess,
    id: &'a str,
    /// The guardrail the probe sends, to name in messages about it.
    guardrail: Option<&'a Guardrail>,
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
    fn explain(&self, e: &PluginError) -> String {
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
    fn explain_guardrail(&self, e: &PluginError, g: &Guardrail) -> String {
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
