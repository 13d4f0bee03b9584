//! Bedrock embedding models through InvokeModel: the request body of each model
//! generation and batching (`request`), the answers (`answer`), and the calls of one
//! request run concurrently with a bound, each reporting the tokens Bedrock billed.
//!
//! Bodies follow the AWS parameter pages:
//! - Titan: <https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html>
//! - Cohere Embed v3: <https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v3.html>
//! - Cohere Embed v4: <https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v4.html>
//! - Nova Multimodal Embeddings: <https://docs.aws.amazon.com/nova/latest/userguide/embeddings-schema.html>
//!
//! Knows nothing of Dify: callers hand in inputs and get vectors back in input order.

pub(crate) mod answer;
mod request;

use std::sync::Arc;

use tokio::task::JoinSet;

use super::client::Clients;
use super::invoke::invoke;
use crate::error::PluginError;

pub use request::{Batch, Dialect, Input, Plan, Purpose, batches};

/// Calls of one request in flight at once: enough to hide Bedrock's latency for
/// one-text-per-call models, few enough not to trip a tenant's throttling quota.
pub const CONCURRENT_CALLS: usize = 8;

/// The inputs one call covered and the tokens Bedrock reported for it (`None` where
/// it reported nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported {
    pub start: usize,
    pub len: usize,
    pub tokens: Option<u64>,
}

/// The vectors of every input, in input order, and what each call reported.
pub struct Embedded {
    pub vectors: Vec<Vec<f32>>,
    pub calls: Vec<Reported>,
}

/// Runs every batch, at most [`CONCURRENT_CALLS`] at once; the first failure fails the
/// whole request (the calls still running are dropped with it).
pub async fn embed(
    clients: Arc<Clients>,
    model_id: &str,
    dialect: Dialect,
    batches: Vec<Batch>,
    total: usize,
) -> Result<Embedded, PluginError> {
    let model_id: Arc<str> = Arc::from(model_id);
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; total];
    let mut calls = Vec::with_capacity(batches.len());
    let mut running = JoinSet::new();
    let mut pending = batches.into_iter();
    loop {
        while running.len() < CONCURRENT_CALLS {
            let Some(Batch { start, len, body }) = pending.next() else {
                break;
            };
            let clients = clients.clone();
            let model_id = model_id.clone();
            // Spawned, so that answers are parsed on every core while others are awaited.
            running.spawn(async move {
                let parsed = match invoke(&clients, &model_id, body).await {
                    Ok((bytes, header)) => answer::parse(dialect, &bytes, len)
                        .map(|(v, counted)| (v, header.or(counted))),
                    Err(e) => Err(e),
                };
                (start, len, parsed)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (start, len, parsed) =
            joined.map_err(|e| PluginError::internal(format!("an embedding call failed: {e}")))?;
        let (vectors, tokens) = parsed?;
        for (i, v) in vectors.into_iter().enumerate() {
            if let Some(slot) = slots.get_mut(start + i) {
                *slot = Some(v);
            }
        }
        calls.push(Reported { start, len, tokens });
    }
    let vectors = slots
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| PluginError::internal("an input was left without an embedding"))?;
    calls.sort_by_key(|c| c.start);
    Ok(Embedded { vectors, calls })
}
