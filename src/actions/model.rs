//! Which model a request names, as Dify sees it: a predefined model's declaration, or a
//! customizable model's schema built from its form and the catalogue model behind its
//! id (`bedrock::routing` says which). An unknown model is the caller's mistake, named.

use std::borrow::Cow;

use super::AppState;
use super::requests::ModelBase;
use crate::bedrock::client::Clients;
use crate::bedrock::ids::{IdKind, classify};
use crate::bedrock::routing;
use crate::declaration::custom::customizable_model;
use crate::declaration::{ModelDecl, ModelType};
use crate::error::PluginError;

/// The request's model type, which must be the one the action serves.
pub fn requested_type(base: &ModelBase, expected: ModelType) -> Result<ModelType, PluginError> {
    let model_type = match &base.model_type {
        Ok(t) => *t,
        Err(sent) => {
            return Err(PluginError::validation(format!(
                "model_type {sent:?} is not one of llm, text-embedding, rerank"
            )));
        }
    };
    if model_type != expected {
        return Err(PluginError::validation(format!(
            "model_type is {:?}, but this action needs a {} model",
            model_type.as_str(),
            expected.as_str()
        )));
    }
    Ok(model_type)
}

/// The declaration of the model a request names, from what the request itself says
/// (an application inference profile is not looked up: see [`resolve_for_call`]).
pub fn resolve<'a>(
    state: &'a AppState,
    base: &ModelBase,
    expected: ModelType,
) -> Result<Cow<'a, ModelDecl>, PluginError> {
    let model_type = requested_type(base, expected)?;
    if let Some(custom) = &base.credentials.custom {
        let underlying = routing::known_from_text(&state.catalog, model_type, &custom.target);
        let settings = custom.settings(model_type)?;
        return Ok(Cow::Owned(customizable_model(
            &base.model,
            model_type,
            &settings,
            underlying,
        )?));
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
/// A catalogue model is borrowed, not copied: a session holds it for its whole life.
pub async fn resolve_for_call<'a>(
    state: &'a AppState,
    base: &ModelBase,
    expected: ModelType,
) -> Result<Cow<'a, ModelDecl>, PluginError> {
    let decl = resolve(state, base, expected)?;
    let Some(custom) = &base.credentials.custom else {
        return Ok(decl);
    };
    if classify(&custom.target) != IdKind::ApplicationProfile {
        return Ok(decl);
    }
    let Ok(access) = base.credentials.access() else {
        return Ok(decl);
    };
    let clients = state.clients.get(access).await?;
    match underlying(state, &clients, base, expected).await {
        Ok(Some(model)) => Ok(Cow::Owned(customizable_model(
            &base.model,
            expected,
            &custom.settings(expected)?,
            Some(model),
        )?)),
        Ok(None) => Ok(decl),
        Err(e) => {
            tracing::warn!("inference profile lookup failed; using the model form's values: {e}");
            Ok(decl)
        }
    }
}

/// The catalogue model a customizable model runs, looking application profiles up;
/// `None` for a predefined model or when it cannot be known.
pub async fn underlying<'a>(
    state: &'a AppState,
    clients: &Clients,
    base: &ModelBase,
    model_type: ModelType,
) -> Result<Option<&'a ModelDecl>, PluginError> {
    match &base.credentials.custom {
        Some(custom) => {
            routing::underlying(&state.catalog, clients, model_type, &custom.target).await
        }
        None => Ok(None),
    }
}
