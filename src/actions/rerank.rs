//! `invoke_rerank` and `invoke_multimodal_rerank`: a query and documents → one Bedrock
//! rerank ranking (`bedrock::rerank`) → a RerankResult with each document's original
//! index, text and score, best first, cut by `top_n` and `score_threshold`.

use serde::Serialize;

use super::AppState;
use super::model::{resolve, underlying};
use super::requests::{ModelBase, MultimodalDocument, MultimodalRerank, Rerank};
use crate::bedrock::client::Clients;
use crate::bedrock::rerank::{self, RerankDialect};
use crate::bedrock::routing::{self, Target};
use crate::declaration::{ModelDecl, ModelType};
use crate::error::{ErrorKind, PluginError};
use crate::prompt::ContentKind;
use crate::session::SessionSink;

#[derive(Serialize)]
struct RankedDoc<'a> {
    index: usize,
    text: &'a str,
    score: f64,
}

#[derive(Serialize)]
struct RerankResult<'a> {
    model: &'a str,
    docs: Vec<RankedDoc<'a>>,
}

/// The rerank models of the catalogue and where each runs, for messages.
fn offered(state: &AppState) -> String {
    state
        .catalog
        .models()
        .iter()
        .filter(|m| m.model_type == ModelType::Rerank)
        .map(|m| {
            let regions = m.bedrock.as_ref().map(|f| f.regions.join(", "));
            match regions.filter(|r| !r.is_empty()) {
                Some(r) => format!("{} ({r})", m.model),
                None => m.model.clone(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The catalogue's advice for a model used outside the regions it knows the model in:
/// "Amazon Rerank 1.0 is not offered in us-east-1 as far as …; AWS documents it in …".
/// Advice, not a gate: the call is made, and this explains AWS's refusal.
fn region_advice(decl: &ModelDecl, region: &str) -> Option<String> {
    let facts = decl.bedrock.as_ref()?;
    if facts.regions.is_empty() || facts.regions.iter().any(|r| r == region) {
        return None;
    }
    Some(format!(
        "as far as this plugin's catalogue knows, {} is not offered in {region}: AWS documents it in {}; choose one of those regions in the provider's credentials",
        decl.label(),
        facts.regions.join(", ")
    ))
}

/// The id to invoke, the catalogue declaration of the model behind it, and its dialect.
async fn target<'a>(
    state: &'a AppState,
    decl: &'a ModelDecl,
    base: &ModelBase,
    clients: &Clients,
    region: &str,
) -> Result<(String, &'a ModelDecl, RerankDialect), PluginError> {
    let dialect_of = |d: &ModelDecl| {
        d.bedrock
            .as_ref()
            .and_then(|f| RerankDialect::of_family(f.family))
    };
    let Some(custom) = &base.credentials.custom else {
        let dialect = dialect_of(decl).ok_or_else(|| {
            PluginError::internal(format!("{} has no rerank family in its YAML", decl.model))
        })?;
        let target = Target::Predefined { decl, choice: None };
        let id = routing::id_to_call(clients, target, region).await.id;
        return Ok((id, decl, dialect));
    };
    let id = routing::id_to_call(clients, Target::Custom(&custom.target), region)
        .await
        .id;
    let underlying = underlying(state, clients, base, ModelType::Rerank).await?;
    let unknown = || {
        PluginError::bad_request(format!(
            "{id} is not a rerank model Bedrock offers, or it cannot be told which one it runs; Bedrock's rerank models are {}",
            offered(state)
        ))
    };
    let underlying = underlying.ok_or_else(unknown)?;
    let dialect = dialect_of(underlying).ok_or_else(unknown)?;
    Ok((id, underlying, dialect))
}

/// Ranks `docs` for `query` and answers; `top_n` 0 and `score_threshold` 0 mean unset,
/// as the daemon sends Go's zero values for absent fields.
async fn answer(
    state: &AppState,
    base: &ModelBase,
    query: &str,
    docs: &[&str],
    top_n: u64,
    score_threshold: f64,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    let decl = resolve(state, base, ModelType::Rerank)?;
    if docs.is_empty() {
        return sink
            .stream(&RerankResult {
                model: &base.model,
                docs: Vec::new(),
            })
            .await;
    }
    let access = base.credentials.access()?;
    let clients = state.clients.get(access).await?;
    let (model_id, underlying, dialect) =
        target(state, &decl, base, &clients, &access.region).await?;
    let top_n = usize::try_from(top_n).ok().filter(|n| *n > 0);
    let ranked = rerank::rerank(clients.clone(), &model_id, dialect, query, docs, top_n)
        .await
        .map_err(|e| match region_advice(underlying, &access.region) {
            // Outside the regions the catalogue knows: say where AWS documents it.
            Some(advice) if matches!(e.kind, ErrorKind::BadRequest | ErrorKind::Authorization) => {
                PluginError {
                    message: format!("{} ({advice})", e.message),
                    ..e
                }
            }
            _ => e,
        })?;
    let threshold = (score_threshold > 0.0).then_some(score_threshold);
    let docs = ranked
        .into_iter()
        .filter(|(_, score)| threshold.is_none_or(|t| *score >= t))
        .map(|(index, score)| RankedDoc {
            index,
            text: docs[index],
            score,
        })
        .collect();
    sink.stream(&RerankResult {
        model: &base.model,
        docs,
    })
    .await
}

pub async fn invoke(state: &AppState, req: Rerank, sink: &SessionSink) -> Result<(), PluginError> {
    let docs: Vec<&str> = req.docs.iter().map(String::as_str).collect();
    answer(
        state,
        &req.base,
        &req.query,
        &docs,
        req.top_n,
        req.score_threshold,
        sink,
    )
    .await
}

/// The text of a multimodal query or document; Bedrock's rerank models rank text only.
fn text_of<'a>(what: &str, doc: &'a MultimodalDocument) -> Result<&'a str, PluginError> {
    match &doc.content_type {
        ContentKind::Text => Ok(&doc.content),
        other => Err(PluginError::bad_request(format!(
            "{what} is {other} content; Bedrock's rerank models (Amazon Rerank 1.0, Cohere Rerank 3.5) rank text only"
        ))),
    }
}

pub async fn invoke_multimodal(
    state: &AppState,
    mut req: MultimodalRerank,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    req.base
        .accept_multimodal_type("multimodal-rerank", ModelType::Rerank);
    let query = text_of("the query", &req.query)?;
    let docs = req
        .docs
        .iter()
        .enumerate()
        .map(|(i, d)| text_of(&format!("document {i}"), d))
        .collect::<Result<Vec<_>, _>>()?;
    answer(
        state,
        &req.base,
        query,
        &docs,
        req.top_n,
        req.score_threshold,
        sink,
    )
    .await
}
