//! `invoke_text_embedding`, `invoke_multimodal_embedding` and
//! `get_text_embedding_num_tokens` (not built yet).

use super::requests::{EmbeddingNumTokens, MultimodalEmbedding, TextEmbedding};
use super::{AppState, not_yet, resolve};
use crate::declaration::ModelType;
use crate::error::PluginError;
use crate::runtime::SessionSink;

pub async fn invoke_text(
    state: &AppState,
    req: TextEmbedding,
    _sink: &SessionSink,
) -> Result<(), PluginError> {
    resolve(state, &req.base, ModelType::TextEmbedding)?;
    Err(not_yet("invoke_text_embedding"))
}

pub async fn invoke_multimodal(
    state: &AppState,
    req: MultimodalEmbedding,
    _sink: &SessionSink,
) -> Result<(), PluginError> {
    resolve(state, &req.base, ModelType::TextEmbedding)?;
    Err(not_yet("invoke_multimodal_embedding"))
}

pub async fn num_tokens(
    state: &AppState,
    req: EmbeddingNumTokens,
    _sink: &SessionSink,
) -> Result<(), PluginError> {
    resolve(state, &req.base, ModelType::TextEmbedding)?;
    Err(not_yet("get_text_embedding_num_tokens"))
}
