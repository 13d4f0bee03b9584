//! `invoke_rerank` and `invoke_multimodal_rerank` (not built yet).

use super::requests::{MultimodalRerank, Rerank};
use super::{AppState, not_yet, resolve};
use crate::declaration::ModelType;
use crate::error::PluginError;
use crate::runtime::SessionSink;

pub async fn invoke(state: &AppState, req: Rerank, _sink: &SessionSink) -> Result<(), PluginError> {
    resolve(state, &req.base, ModelType::Rerank)?;
    Err(not_yet("invoke_rerank"))
}

pub async fn invoke_multimodal(
    state: &AppState,
    req: MultimodalRerank,
    _sink: &SessionSink,
) -> Result<(), PluginError> {
    resolve(state, &req.base, ModelType::Rerank)?;
    Err(not_yet("invoke_multimodal_rerank"))
}
