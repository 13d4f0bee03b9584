//! `validate_provider_credentials` and `validate_model_credentials`: the form is checked,
//! then Bedrock is probed for real with the model the user names (a 1-token Converse, a
//! tiny Responses call on bedrock-mantle for the families it serves, a one-word
//! embedding, a one-document rerank, or GetInferenceProfile for an application profile),
//! and a failure says precisely what is wrong and what to do. A guardrail on the form is
//! looked up first with GetGuardrail (it must exist in the region and be ready; reading it
//! is a permission chat calls do not need, so a refusal to read it is no failure) and then
//! goes with the probe's Converse call, as it goes with every chat call. The probes are
//! `probes`', the messages `explain`'s.

mod explain;
mod probes;

use serde::Serialize;
use serde_json::{Map, Value};

use super::AppState;
use super::form::Credentials;
use super::form::guardrail::{self, GuardrailSettings};
use super::requests::{ModelBase, ValidateProvider};
use crate::bedrock::ids::{IdKind, classify};
use crate::bedrock::routing::{self, CrossRegion};
use crate::declaration::{ChatApi, ModelType};
use crate::error::{AwsCause, ErrorKind, PluginError};
use crate::session::SessionSink;
use explain::Context;
use probes::{probe_chat, probe_embedding, probe_mantle, probe_rerank};

pub(crate) use explain::explain_refusal;

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
    probe_and_answer(
        state,
        creds,
        creds.model_for_validation.as_deref(),
        None,
        sink,
    )
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
    // Before the model is looked for: an ID sent as a list is not a missing one.
    creds.wrong_type().map_err(|e| failed(e.message))?;
    let custom = creds.custom.as_ref().ok_or_else(|| {
        failed("Model ID, inference profile ID or ARN (inference_profile_id) is required: enter the Bedrock model to use")
    })?;
    probe_and_answer(state, creds, Some(&custom.target), Some(model_type), sink).await
}

/// Probes, then tells Dify the form is valid, answering with the form as sent.
async fn probe_and_answer(
    state: &AppState,
    creds: &Credentials,
    model: Option<&str>,
    model_type: Option<ModelType>,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    probe(state, creds, model, model_type)
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
