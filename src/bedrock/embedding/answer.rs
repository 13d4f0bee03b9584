//! Embedding answers: the vectors each model generation returns (and the token count
//! Titan's body reports), checked against the number of inputs sent.

use serde::Deserialize;

use super::request::Dialect;
use crate::error::{ErrorKind, PluginError};

/// Cohere's `embeddings`: a list (`embeddings_floats`) or, with `embedding_types`, a
/// map of type → list (`embeddings_by_type`).
#[derive(Deserialize)]
#[serde(untagged)]
enum CohereEmbeddings {
    Floats(Vec<Vec<f32>>),
    ByType { float: Vec<Vec<f32>> },
}

#[derive(Deserialize)]
struct CohereAnswer {
    embeddings: CohereEmbeddings,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanAnswer {
    embedding: Vec<f32>,
    #[serde(default)]
    input_text_token_count: Option<u64>,
}

#[derive(Deserialize)]
struct NovaEmbedding {
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct NovaAnswer {
    embeddings: Vec<NovaEmbedding>,
}

/// The vectors of one answer (f32: what the models compute, at half the memory and
/// a shorter JSON line than f64), and the token count its body reports, if any.
pub fn parse(
    dialect: Dialect,
    body: &[u8],
    expected: usize,
) -> Result<(Vec<Vec<f32>>, Option<u64>), PluginError> {
    let unreadable = |e: serde_json::Error| {
        PluginError::new(
            ErrorKind::ServerUnavailable,
            format!("Bedrock's embedding answer could not be read: {e}"),
        )
    };
    let (vectors, tokens) = match dialect {
        Dialect::TitanV1 | Dialect::TitanV2 => {
            let a: TitanAnswer = serde_json::from_slice(body).map_err(unreadable)?;
            (vec![a.embedding], a.input_text_token_count)
        }
        Dialect::CohereV3 | Dialect::CohereV4 => {
            let a: CohereAnswer = serde_json::from_slice(body).map_err(unreadable)?;
            let v = match a.embeddings {
                CohereEmbeddings::Floats(v) | CohereEmbeddings::ByType { float: v } => v,
            };
            (v, None)
        }
        Dialect::NovaMultimodal => {
            let a: NovaAnswer = serde_json::from_slice(body).map_err(unreadable)?;
            (
                a.embeddings.into_iter().map(|e| e.embedding).collect(),
                None,
            )
        }
    };
    if vectors.len() != expected {
        return Err(PluginError::new(
            ErrorKind::ServerUnavailable,
            format!(
                "Bedrock returned {} embeddings for {expected} inputs",
                vectors.len()
            ),
        ));
    }
    Ok((vectors, tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_of_each_generation() {
        let (v, t) = parse(
            Dialect::TitanV2,
            br#"{"embedding":[0.5,-0.25],"inputTextTokenCount":3,"embeddingsByType":{"float":[0.5,-0.25]}}"#,
            1,
        )
        .expect("titan");
        assert_eq!((v, t), (vec![vec![0.5, -0.25]], Some(3)));
        let (v, _) = parse(
            Dialect::CohereV3,
            br#"{"id":"x","embeddings":[[1.0],[2.0]],"response_type":"embeddings_floats","texts":["a","b"]}"#,
            2,
        )
        .expect("floats");
        assert_eq!(v, vec![vec![1.0], vec![2.0]]);
        let (v, _) = parse(
            Dialect::CohereV4,
            br#"{"id":"x","embeddings":{"float":[[1.0],[2.0]]},"response_type":"embeddings_by_type"}"#,
            2,
        )
        .expect("by type");
        assert_eq!(v, vec![vec![1.0], vec![2.0]]);
        let (v, _) = parse(
            Dialect::NovaMultimodal,
            br#"{"embeddings":[{"embeddingType":"TEXT","embedding":[0.1]}]}"#,
            1,
        )
        .expect("nova");
        assert_eq!(v, vec![vec![0.1]]);
        let e = parse(Dialect::CohereV3, br#"{"embeddings":[[1.0]]}"#, 2).expect_err("short");
        assert!(e.message.contains("1 embeddings for 2 inputs"), "{e}");
    }
}
