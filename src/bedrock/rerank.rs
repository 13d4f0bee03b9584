//! Bedrock rerank models through InvokeModel on bedrock-runtime, not the Rerank API of
//! bedrock-agent-runtime: that API rejects inference-profile ARNs ("The provided model
//! ARN for reranking is invalid", dify-aws-tool PR #159) and does not take Bedrock API
//! keys, while InvokeModel takes both.
//!
//! Bodies: <https://docs.aws.amazon.com/bedrock/latest/userguide/rerank-use.html> and
//! <https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-cohere-rerank.html>:
//! `{query, documents, top_n?}`, Cohere adding `api_version: 2`. Answers are
//! `{results: [{index, relevance_score}]}`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use tokio::task::JoinSet;

use super::client::Clients;
use super::invoke::invoke;
use crate::declaration::ModelFamily;
use crate::error::{ErrorKind, PluginError};

/// Documents one call takes (AWS documents at most 1,000 per request); longer lists
/// are ranked in parts, each document still sent once. Scores are absolute relevance,
/// so parts merge by score.
const DOCUMENTS_PER_CALL: usize = 1000;

/// How a rerank family takes its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RerankDialect {
    Amazon,
    Cohere,
}

impl RerankDialect {
    /// The dialect of a YAML family (`bedrock.family`).
    pub fn of_family(family: ModelFamily) -> Option<RerankDialect> {
        match family {
            ModelFamily::AmazonRerank => Some(RerankDialect::Amazon),
            ModelFamily::CohereRerank => Some(RerankDialect::Cohere),
            _ => None,
        }
    }
}

/// A request body.
pub fn body(
    dialect: RerankDialect,
    query: &str,
    documents: &[&str],
    top_n: Option<usize>,
) -> Vec<u8> {
    let mut body = json!({ "query": query, "documents": documents });
    // Asking for more results than documents is an error on Bedrock (dify#12640).
    if let Some(n) = top_n.map(|n| n.min(documents.len())).filter(|n| *n > 0) {
        body["top_n"] = json!(n);
    }
    if dialect == RerankDialect::Cohere {
        body["api_version"] = json!(2);
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

#[derive(Deserialize)]
struct RankedDoc {
    index: usize,
    relevance_score: f64,
}

#[derive(Deserialize)]
struct Answer {
    results: Vec<RankedDoc>,
}

/// `(index in the part, score)` of an answer.
pub(crate) fn parse(bytes: &[u8], documents: usize) -> Result<Vec<(usize, f64)>, PluginError> {
    let answer: Answer = serde_json::from_slice(bytes).map_err(|e| {
        PluginError::new(
            ErrorKind::ServerUnavailable,
            format!("Bedrock's rerank answer could not be read: {e}"),
        )
    })?;
    answer
        .results
        .into_iter()
        .map(|r| {
            if r.index < documents {
                Ok((r.index, r.relevance_score))
            } else {
                Err(PluginError::new(
                    ErrorKind::ServerUnavailable,
                    format!("Bedrock ranked document {} of {documents}", r.index),
                ))
            }
        })
        .collect()
}

/// Ranks `documents` against `query`: `(original index, score)`, best first (ties in
/// input order), at most `top_n` when set.
pub async fn rerank(
    clients: Arc<Clients>,
    model_id: &str,
    dialect: RerankDialect,
    query: &str,
    documents: &[&str],
    top_n: Option<usize>,
) -> Result<Vec<(usize, f64)>, PluginError> {
    let model_id: Arc<str> = Arc::from(model_id);
    let mut running = JoinSet::new();
    for (part, docs) in documents.chunks(DOCUMENTS_PER_CALL).enumerate() {
        let start = part * DOCUMENTS_PER_CALL;
        let len = docs.len();
        let request = body(dialect, query, docs, top_n);
        let clients = clients.clone();
        let model_id = model_id.clone();
        running.spawn(async move {
            let (bytes, _) = invoke(&clients, &model_id, request).await?;
            parse(&bytes, len).map(|ranked| {
                ranked
                    .into_iter()
                    .map(|(i, s)| (start + i, s))
                    .collect::<Vec<_>>()
            })
        });
    }
    let mut ranked = Vec::with_capacity(documents.len());
    while let Some(joined) = running.join_next().await {
        let part =
            joined.map_err(|e| PluginError::internal(format!("a rerank call failed: {e}")))?;
        ranked.extend(part?);
    }
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if let Some(n) = top_n.filter(|n| *n > 0) {
        ranked.truncate(n);
    }
    Ok(ranked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn json_of(b: Vec<u8>) -> Value {
        serde_json::from_slice(&b).expect("json")
    }

    #[test]
    fn bodies_per_family() {
        assert_eq!(
            json_of(body(RerankDialect::Amazon, "q", &["a", "b"], None)),
            json!({"query": "q", "documents": ["a", "b"]})
        );
        assert_eq!(
            json_of(body(RerankDialect::Cohere, "q", &["a", "b"], Some(5))),
            json!({"query": "q", "documents": ["a", "b"], "top_n": 2, "api_version": 2})
        );
        assert_eq!(
            RerankDialect::of_family(ModelFamily::CohereRerank),
            Some(RerankDialect::Cohere)
        );
        assert_eq!(RerankDialect::of_family(ModelFamily::CohereEmbed), None);
    }

    #[test]
    fn answers_are_checked() {
        assert_eq!(
            parse(br#"{"results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.1}]}"#, 2)
                .expect("answer"),
            vec![(1, 0.9), (0, 0.1)]
        );
        let e = parse(br#"{"results":[{"index":5,"relevance_score":0.9}]}"#, 2)
            .expect_err("out of range");
        assert!(e.message.contains("document 5 of 2"), "{e}");
    }
}
