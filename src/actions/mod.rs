//! Actions: turns a request's `action` into typed work and its answer into Dify's shapes.
//! One file per action family; this module routes and resolves models.

mod embedding;
mod llm;
pub mod requests;
mod rerank;
mod schema;
mod usage;
pub mod validate;

use std::borrow::Cow;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::bedrock::access::AwsAccess;
use crate::bedrock::client::{ClientCache, Clients, NetworkSettings};
use crate::bedrock::{models, profiles};
use crate::declaration::{Catalog, ModelDecl, ModelType};
use crate::error::PluginError;
use crate::session::{Handler, SessionSink};
use crate::wire::{Request, de};

/// What every session can reach: the declarations and the per-tenant AWS clients.
pub struct AppState {
    pub catalog: Catalog,
    pub clients: ClientCache,
}

impl AppState {
    pub fn new(catalog: Catalog, network: NetworkSettings) -> AppState {
        // 256 tenants, each dropped after 15 idle minutes: bounded memory, warm pools.
        AppState {
            catalog,
            clients: ClientCache::new(256, Duration::from_secs(15 * 60), network),
        }
    }
}

fn parse<T: DeserializeOwned>(action: &str, data: Value) -> Result<T, PluginError> {
    de::from_value(data)
        .map_err(|e| PluginError::validation(format!("invalid {action} request: {e}")))
}

impl Handler for AppState {
    async fn handle(&self, request: Request, sink: SessionSink) -> Result<(), PluginError> {
        dispatch(self, request, &sink).await
    }
}

/// Answers one request; `Err` becomes the session's `error` message.
async fn dispatch(
    state: &AppState,
    request: Request,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    let action = request.action.as_str();
    let app_id = request.app_id.as_deref();
    let data = request.data;
    match action {
        "get_ai_model_schemas" => {
            schema::get_ai_model_schemas(state, parse(action, data)?, sink).await
        }
        "invoke_llm" => llm::invoke(state, parse(action, data)?, app_id, sink).await,
        "get_llm_num_tokens" => llm::num_tokens(state, parse(action, data)?, sink).await,
        "invoke_text_embedding" => embedding::invoke_text(state, parse(action, data)?, sink).await,
        "invoke_multimodal_embedding" => {
            embedding::invoke_multimodal(state, parse(action, data)?, sink).await
        }
        "get_text_embedding_num_tokens" => {
            embedding::num_tokens(state, parse(action, data)?, sink).await
        }
        "invoke_rerank" => rerank::invoke(state, parse(action, data)?, sink).await,
        "invoke_multimodal_rerank" => {
            rerank::invoke_multimodal(state, parse(action, data)?, sink).await
        }
        "validate_provider_credentials" => {
            validate::validate_provider(state, parse(action, data)?, sink).await
        }
        "validate_model_credentials" => {
            validate::validate_model(state, parse(action, data)?, sink).await
        }
        "invoke_tts"
        | "get_tts_model_voices"
        | "invoke_speech2text"
        | "invoke_moderation"
        | "start_polling"
        | "check_polling" => Err(PluginError::unsupported(format!(
            "{action} is not offered by the Amazon Bedrock provider (it serves llm, text-embedding and rerank models)"
        ))),
        other => Err(PluginError::validation(format!("unknown action {other:?}"))),
    }
}

/// The model a request names: a predefined model, or a customizable one described by
/// its credentials. An unknown model is the caller's mistake, named in the error.
pub fn resolve<'a>(
    state: &'a AppState,
    base: &requests::ModelBase,
    expected: ModelType,
) -> Result<Cow<'a, ModelDecl>, PluginError> {
    let model_type = ModelType::parse(&base.model_type).ok_or_else(|| {
        PluginError::validation(format!(
            "model_type {:?} is not one of llm, text-embedding, rerank",
            base.model_type
        ))
    })?;
    if model_type != expected {
        return Err(PluginError::validation(format!(
            "model_type is {:?}, but this action needs a {} model",
            base.model_type,
            expected.as_str()
        )));
    }
    if let Some(id) = models::custom_id(&base.credentials) {
        let underlying = match profiles::classify(&id) {
            profiles::IdKind::Foundation(m) => state.catalog.model(model_type, &m),
            _ => None,
        };
        if let Some(custom) =
            schema::customizable_model(&base.model, model_type, &base.credentials, underlying)?
        {
            return Ok(Cow::Owned(custom));
        }
    }
    state.catalog.model(model_type, &base.model).map(Cow::Borrowed).ok_or_else(|| {
        PluginError::bad_request(format!(
            "{} is not a {} model this plugin knows; add it as a customizable model with its model ID or inference profile",
            base.model,
            model_type.as_str()
        ))
    })
}

/// As [`resolve`], and for a customizable model named by an application inference
/// profile, the profile's foundation model is looked up (GetInferenceProfile, cached per
/// tenant) so the model gets its features, limits and price. A failed lookup is not fatal:
/// the form's values apply, and the call itself will say what is wrong.
pub async fn resolve_for_call(
    state: &AppState,
    base: &requests::ModelBase,
    expected: ModelType,
) -> Result<ModelDecl, PluginError> {
    let decl = resolve(state, base, expected)?;
    let Some(id) = models::custom_id(&base.credentials) else {
        return Ok(decl.into_owned());
    };
    if profiles::classify(&id) != profiles::IdKind::ApplicationProfile {
        return Ok(decl.into_owned());
    }
    let Ok(access) = AwsAccess::from_credentials(&base.credentials) else {
        return Ok(decl.into_owned());
    };
    let clients = state.clients.get(&access).await?;
    match profiles::underlying_model(&clients, &access, &id).await {
        Ok(Some(model)) => match state.catalog.model(expected, &model) {
            Some(underlying) => Ok(schema::customizable_model(
                &base.model,
                expected,
                &base.credentials,
                Some(underlying),
            )?
            .unwrap_or_else(|| decl.into_owned())),
            None => Ok(decl.into_owned()),
        },
        Ok(None) => Ok(decl.into_owned()),
        Err(e) => {
            tracing::warn!("inference profile lookup failed; using the model form's values: {e}");
            Ok(decl.into_owned())
        }
    }
}

/// A customizable model's id, profile or ARN, and the predefined model it runs when that
/// can be known (application profiles are looked up, cached per tenant).
pub(crate) async fn custom_target<'a>(
    state: &'a AppState,
    clients: &Clients,
    access: &AwsAccess,
    base: &requests::ModelBase,
    model_type: ModelType,
) -> Result<(String, Option<&'a ModelDecl>), PluginError> {
    let id = models::custom_id(&base.credentials).ok_or_else(|| {
        PluginError::bad_request(
            "the customizable model has no model ID or inference profile (inference_profile_id)",
        )
    })?;
    let underlying = profiles::underlying_model(clients, access, &id)
        .await?
        .and_then(|m| state.catalog.model(model_type, &m));
    Ok((id, underlying))
}

/// A credential value as text: strings as they are, numbers as written, empty as absent.
pub fn credential_str<'a>(credentials: &'a Map<String, Value>, key: &str) -> Option<Cow<'a, str>> {
    match credentials.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(Cow::Borrowed(s.trim())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}
