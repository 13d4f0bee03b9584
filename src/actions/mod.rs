//! Actions: turns a request's `action` into typed work and its answer into Dify's shapes.
//! The payload and its credential form become typed values once, here at the edge
//! (`requests`, `form`); `model` says which model a request names; then one module per
//! action family, and `account` for the `models` command.

pub(crate) mod account;
mod embedding;
pub(crate) mod form;
pub(crate) mod llm;
pub(crate) mod model;
pub(crate) mod requests;
mod rerank;
mod schema;
mod usage;
pub(crate) mod validate;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bedrock::client::{ClientCache, NetworkSettings};
use crate::declaration::Catalog;
use crate::error::PluginError;
use crate::session::{Handler, SessionSink};
use crate::wire::{Request, de};

/// What every session can reach: the declarations and the per-tenant AWS clients.
pub struct AppState {
    catalog: Catalog,
    clients: ClientCache,
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

impl Handler for AppState {
    async fn handle(&self, request: Request, sink: SessionSink) -> Result<(), PluginError> {
        dispatch(self, request, &sink).await
    }
}

pub(crate) fn parse<T: DeserializeOwned>(action: &str, data: Value) -> Result<T, PluginError> {
    // The fields every model action shares are read through `#[serde(flatten)]`, which
    // loses their path: name the one of the wrong kind first.
    let wrong_base = [
        ("model", Value::is_string as fn(&Value) -> bool),
        ("model_type", Value::is_string),
        ("credentials", |v: &Value| v.is_object() || v.is_null()),
    ]
    .into_iter()
    .find_map(|(field, fits)| {
        let v = data.get(field)?;
        let want = if field == "credentials" {
            "an object"
        } else {
            "a string"
        };
        (!fits(v)).then(|| format!("{field}: must be {want}, got {}", json_kind(v)))
    });
    de::from_value(data).map_err(|e| {
        let e = match wrong_base {
            Some(named) if e.path.is_none() => named,
            _ => e.to_string(),
        };
        PluginError::validation(format!("invalid {action} request: {e}"))
    })
}

/// A JSON value's kind, as a message names it.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Answers one request; `Err` becomes the session's `error` message.
/// Each action's future is boxed: a session then holds only its own action's state, not
/// room for the largest of them (memory per in-flight stream).
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
            Box::pin(schema::get_ai_model_schemas(
                state,
                parse(action, data)?,
                sink,
            ))
            .await
        }
        "invoke_llm" => Box::pin(llm::invoke(state, parse(action, data)?, app_id, sink)).await,
        "get_llm_num_tokens" => Box::pin(llm::num_tokens(state, parse(action, data)?, sink)).await,
        "invoke_text_embedding" => {
            Box::pin(embedding::invoke_text(state, parse(action, data)?, sink)).await
        }
        "invoke_multimodal_embedding" => {
            Box::pin(embedding::invoke_multimodal(
                state,
                parse(action, data)?,
                sink,
            ))
            .await
        }
        "get_text_embedding_num_tokens" => {
            Box::pin(embedding::num_tokens(state, parse(action, data)?, sink)).await
        }
        "invoke_rerank" => Box::pin(rerank::invoke(state, parse(action, data)?, sink)).await,
        "invoke_multimodal_rerank" => {
            Box::pin(rerank::invoke_multimodal(state, parse(action, data)?, sink)).await
        }
        "validate_provider_credentials" => {
            Box::pin(validate::validate_provider(
                state,
                parse(action, data)?,
                sink,
            ))
            .await
        }
        "validate_model_credentials" => {
            Box::pin(validate::validate_model(state, parse(action, data)?, sink)).await
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
