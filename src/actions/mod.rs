//! Actions: turns a request's `action` into typed work and its answer into Dify's shapes.
//! The payload and its credential form become typed values once, here at the edge
//! (`requests`, `form`); `model` says which model a request names; then one file per
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
    de::from_value(data)
        .map_err(|e| PluginError::validation(format!("invalid {action} request: {e}")))
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
