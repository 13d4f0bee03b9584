//! Embedding request bodies: how each model generation takes its input (the dialect),
//! and how a request's inputs are split into calls (Cohere takes up to 96 inputs a call,
//! Titan and Nova one).

use serde_json::{Map, Value, json};

use crate::declaration::ModelFamily;
use crate::media::ImageType;

/// Cohere Embed v3 refuses texts over 2,048 characters outright ("expected maxLength:
/// 2048", dify#3942); `truncate` only acts on the 512-token limit, which 2,048
/// characters already exceed in most languages, so clipping loses nothing the model
/// would have read.
const COHERE_V3_MAX_CHARS: usize = 2048;

/// Inputs per Cohere call (AWS: at most 96 texts, images or inputs).
const COHERE_BATCH: usize = 96;

/// Image bytes (as base64) per Cohere call: a batch of large images is split so that
/// one request body, and one retry of it, stays small.
const COHERE_IMAGE_BUDGET: usize = 16 * 1024 * 1024;

/// How a model generation takes its request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `{inputText}`.
    TitanV1,
    /// `{inputText, dimensions, normalize}`.
    TitanV2,
    /// `{texts, input_type, truncate: START|END|NONE, embedding_types}`.
    CohereV3,
    /// `{texts|inputs, input_type, truncate: LEFT|RIGHT|NONE, embedding_types, output_dimension}`.
    CohereV4,
    /// `{schemaVersion, taskType, singleEmbeddingParams}`.
    NovaMultimodal,
}

/// Model ids (without version suffix) → dialect. The YAML `bedrock.family` names the
/// vendor family; within a family the generation decides the body, so this small table
/// keyed by model id is the one place that knows it (a unit test checks every catalogue
/// embedding model has a row that agrees with its family).
const DIALECTS: &[(&str, Dialect, ModelFamily)] = &[
    (
        "amazon.titan-embed-text-v1",
        Dialect::TitanV1,
        ModelFamily::AmazonTitanEmbed,
    ),
    (
        "amazon.titan-embed-g1-text-02",
        Dialect::TitanV1,
        ModelFamily::AmazonTitanEmbed,
    ),
    (
        "amazon.titan-embed-text-v2",
        Dialect::TitanV2,
        ModelFamily::AmazonTitanEmbed,
    ),
    (
        "cohere.embed-english-v3",
        Dialect::CohereV3,
        ModelFamily::CohereEmbed,
    ),
    (
        "cohere.embed-multilingual-v3",
        Dialect::CohereV3,
        ModelFamily::CohereEmbed,
    ),
    (
        "cohere.embed-v4",
        Dialect::CohereV4,
        ModelFamily::CohereEmbed,
    ),
    (
        "amazon.nova-2-multimodal-embeddings-v1",
        Dialect::NovaMultimodal,
        ModelFamily::AmazonNovaEmbed,
    ),
];

impl Dialect {
    /// The dialect of a foundation model id (`vendor.model[:version]`).
    pub fn of(model_id: &str) -> Option<Dialect> {
        DIALECTS
            .iter()
            .find(|(prefix, _, _)| {
                model_id
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
            })
            .map(|(_, d, _)| *d)
    }

    /// The YAML family a dialect belongs to.
    #[cfg(test)]
    fn family(self) -> Option<ModelFamily> {
        DIALECTS
            .iter()
            .find(|(_, d, _)| *d == self)
            .map(|(_, _, f)| *f)
    }

    /// Inputs one call takes.
    pub fn batch_size(self) -> usize {
        match self {
            Dialect::CohereV3 | Dialect::CohereV4 => COHERE_BATCH,
            _ => 1,
        }
    }

    /// Whether the body takes an output size.
    pub fn takes_dimensions(self) -> bool {
        matches!(
            self,
            Dialect::TitanV2 | Dialect::CohereV4 | Dialect::NovaMultimodal
        )
    }

    pub fn takes_images(self) -> bool {
        matches!(self, Dialect::CohereV4 | Dialect::NovaMultimodal)
    }
}

/// What the embeddings are for (Dify's `input_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Passages stored in a knowledge base.
    Document,
    /// A search query run against them.
    Query,
}

impl Purpose {
    /// Dify sends `query` or `document`; anything else is indexing.
    pub fn from_input_type(input_type: Option<&str>) -> Purpose {
        match input_type {
            Some("query") => Purpose::Query,
            _ => Purpose::Document,
        }
    }

    fn cohere(self) -> &'static str {
        match self {
            Purpose::Document => "search_document",
            Purpose::Query => "search_query",
        }
    }

    fn nova(self) -> &'static str {
        match self {
            Purpose::Document => "GENERIC_INDEX",
            Purpose::Query => "GENERIC_RETRIEVAL",
        }
    }
}

/// One thing to embed.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Text(String),
    /// An image: its format (from its bytes) and its base64 text.
    Image {
        format: ImageType,
        base64: String,
    },
}

impl Input {
    fn image_bytes(&self) -> usize {
        match self {
            Input::Image { base64, .. } => base64.len(),
            Input::Text(_) => 0,
        }
    }
}

/// One InvokeModel call: which inputs it covers and its body.
#[derive(Debug)]
pub struct Batch {
    pub start: usize,
    pub len: usize,
    pub body: Vec<u8>,
}

/// How one model is called.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub dialect: Dialect,
    pub purpose: Purpose,
    /// The output size to ask for, for dialects that take one.
    pub dimensions: Option<u32>,
}

fn clip(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// Titan and Nova refuse empty text; a single space still gives the one vector per
/// input Dify counts on, instead of failing a whole knowledge-base import.
fn non_empty(text: &str) -> &str {
    if text.is_empty() { " " } else { text }
}

fn data_uri(format: ImageType, base64: &str) -> String {
    format!("data:image/{};base64,{base64}", format.as_str())
}

fn body_of(plan: &Plan, inputs: &[Input]) -> Value {
    let first = inputs.first();
    let first_text = match first {
        Some(Input::Text(t)) => t.as_str(),
        _ => "",
    };
    match plan.dialect {
        Dialect::TitanV1 => json!({ "inputText": non_empty(first_text) }),
        Dialect::TitanV2 => {
            let mut body = json!({ "inputText": non_empty(first_text), "normalize": true });
            if let Some(d) = plan.dimensions {
                body["dimensions"] = json!(d);
            }
            body
        }
        Dialect::CohereV3 => {
            let texts: Vec<&str> = inputs
                .iter()
                .map(|i| match i {
                    Input::Text(t) => clip(t, COHERE_V3_MAX_CHARS),
                    Input::Image { .. } => "",
                })
                .collect();
            json!({
                "texts": texts,
                "input_type": plan.purpose.cohere(),
                "truncate": "END",
                "embedding_types": ["float"],
            })
        }
        Dialect::CohereV4 => {
            let mut body = Map::new();
            body.insert("input_type".into(), json!(plan.purpose.cohere()));
            if inputs.iter().all(|i| matches!(i, Input::Text(_))) {
                let texts: Vec<&str> = inputs
                    .iter()
                    .map(|i| match i {
                        Input::Text(t) => t.as_str(),
                        Input::Image { .. } => "",
                    })
                    .collect();
                body.insert("texts".into(), json!(texts));
            } else {
                // Mixed batches use `inputs`, one content part per Dify document.
                let parts: Vec<Value> = inputs
                    .iter()
                    .map(|i| match i {
                        Input::Text(t) => json!({"content": [{"type": "text", "text": t}]}),
                        Input::Image { format, base64 } => json!({"content": [
                            {"type": "image_url", "image_url": data_uri(*format, base64)}
                        ]}),
                    })
                    .collect();
                body.insert("inputs".into(), Value::Array(parts));
            }
            // RIGHT drops the end of an over-long input instead of failing the call.
            body.insert("truncate".into(), json!("RIGHT"));
            body.insert("embedding_types".into(), json!(["float"]));
            if let Some(d) = plan.dimensions {
                body.insert("output_dimension".into(), json!(d));
            }
            Value::Object(body)
        }
        Dialect::NovaMultimodal => {
            let mut params = Map::new();
            params.insert("embeddingPurpose".into(), json!(plan.purpose.nova()));
            if let Some(d) = plan.dimensions {
                params.insert("embeddingDimension".into(), json!(d));
            }
            match first {
                Some(Input::Image { format, base64 }) => {
                    params.insert(
                        "image".into(),
                        json!({"format": format.as_str(), "source": {"bytes": base64}}),
                    );
                }
                _ => {
                    params.insert(
                        "text".into(),
                        json!({"truncationMode": "END", "value": non_empty(first_text)}),
                    );
                }
            }
            json!({
                "schemaVersion": "nova-multimodal-embed-v1",
                "taskType": "SINGLE_EMBEDDING",
                "singleEmbeddingParams": params,
            })
        }
    }
}

/// Splits `inputs` into calls, in order.
pub fn batches(plan: &Plan, inputs: &[Input]) -> Vec<Batch> {
    let size = plan.dialect.batch_size();
    let mut out = Vec::with_capacity(inputs.len().div_ceil(size));
    let mut start = 0;
    while start < inputs.len() {
        let mut end = start + 1;
        let mut image_bytes = inputs[start].image_bytes();
        while end < inputs.len() && end - start < size {
            let next = inputs[end].image_bytes();
            if image_bytes + next > COHERE_IMAGE_BUDGET {
                break;
            }
            image_bytes += next;
            end += 1;
        }
        let body = serde_json::to_vec(&body_of(plan, &inputs[start..end])).unwrap_or_default();
        out.push(Batch {
            start,
            len: end - start,
            body,
        });
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declaration::{Catalog, ModelType};

    fn body(plan: Plan, inputs: &[Input]) -> Value {
        let b = batches(&plan, inputs);
        serde_json::from_slice(&b[0].body).expect("json body")
    }

    fn texts(n: usize) -> Vec<Input> {
        (0..n).map(|i| Input::Text(format!("text {i}"))).collect()
    }

    #[test]
    fn every_catalogue_embedding_model_has_a_dialect_of_its_family() {
        let catalog = Catalog::embedded().expect("catalog");
        for decl in catalog
            .models()
            .iter()
            .filter(|m| m.model_type == ModelType::TextEmbedding)
        {
            let dialect = Dialect::of(&decl.model)
                .unwrap_or_else(|| panic!("{} has no embedding dialect", decl.model));
            let facts = decl.bedrock.as_ref().expect("bedrock block");
            assert_eq!(dialect.family(), Some(facts.family), "{}", decl.model);
            assert_eq!(
                dialect.takes_dimensions(),
                facts.dimensions.len() > 1,
                "{}: a choice of sizes needs a body that takes one",
                decl.model
            );
            assert_eq!(dialect.takes_images(), facts.multimodal, "{}", decl.model);
        }
        assert_eq!(Dialect::of("cohere.embed-v4"), Some(Dialect::CohereV4));
        assert_eq!(Dialect::of("cohere.embed-v40:0"), None);
    }

    #[test]
    fn bodies_per_generation() {
        let one = [Input::Text("hello".into())];
        let plan = |dialect, dimensions| Plan {
            dialect,
            purpose: Purpose::Query,
            dimensions,
        };
        assert_eq!(
            body(plan(Dialect::TitanV1, None), &one),
            json!({"inputText": "hello"})
        );
        assert_eq!(
            body(plan(Dialect::TitanV2, Some(512)), &one),
            json!({"inputText": "hello", "dimensions": 512, "normalize": true})
        );
        assert_eq!(
            body(plan(Dialect::CohereV3, None), &one),
            json!({"texts": ["hello"], "input_type": "search_query", "truncate": "END", "embedding_types": ["float"]})
        );
        assert_eq!(
            body(plan(Dialect::CohereV4, Some(1024)), &one),
            json!({"texts": ["hello"], "input_type": "search_query", "truncate": "RIGHT", "embedding_types": ["float"], "output_dimension": 1024})
        );
        assert_eq!(
            body(plan(Dialect::NovaMultimodal, Some(3072)), &one),
            json!({"schemaVersion": "nova-multimodal-embed-v1", "taskType": "SINGLE_EMBEDDING",
                   "singleEmbeddingParams": {"embeddingPurpose": "GENERIC_RETRIEVAL", "embeddingDimension": 3072,
                                             "text": {"truncationMode": "END", "value": "hello"}}})
        );
        let image = [Input::Image {
            format: ImageType::Png,
            base64: "iVBORw0KGgo=".into(),
        }];
        let nova = body(
            Plan {
                purpose: Purpose::Document,
                ..plan(Dialect::NovaMultimodal, None)
            },
            &image,
        );
        assert_eq!(
            nova["singleEmbeddingParams"],
            json!({"embeddingPurpose": "GENERIC_INDEX", "image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}})
        );
        let cohere = body(
            plan(Dialect::CohereV4, None),
            &[one[0].clone(), image[0].clone()],
        );
        assert_eq!(
            cohere["inputs"],
            json!([{"content": [{"type": "text", "text": "hello"}]},
                   {"content": [{"type": "image_url", "image_url": "data:image/png;base64,iVBORw0KGgo="}]}])
        );
    }

    #[test]
    fn cohere_batches_96_and_clips_v3_texts() {
        let plan = Plan {
            dialect: Dialect::CohereV3,
            purpose: Purpose::Document,
            dimensions: None,
        };
        let b = batches(&plan, &texts(200));
        assert_eq!(
            b.iter().map(|b| (b.start, b.len)).collect::<Vec<_>>(),
            vec![(0, 96), (96, 96), (192, 8)]
        );
        let long = [Input::Text("é".repeat(3000))];
        let v = body(plan, &long);
        assert_eq!(
            v["texts"][0].as_str().map(|s| s.chars().count()),
            Some(2048)
        );
        let titan = Plan {
            dialect: Dialect::TitanV2,
            ..plan
        };
        assert_eq!(batches(&titan, &texts(3)).len(), 3);
        assert_eq!(body(titan, &[Input::Text(String::new())])["inputText"], " ");
    }

    #[test]
    fn large_images_split_a_cohere_batch() {
        let big = Input::Image {
            format: ImageType::Jpeg,
            base64: "A".repeat(COHERE_IMAGE_BUDGET / 2 + 1),
        };
        let plan = Plan {
            dialect: Dialect::CohereV4,
            purpose: Purpose::Document,
            dimensions: None,
        };
        let b = batches(&plan, &[big.clone(), big.clone(), Input::Text("x".into())]);
        assert_eq!(
            b.iter().map(|b| (b.start, b.len)).collect::<Vec<_>>(),
            vec![(0, 1), (1, 2)]
        );
    }
}
