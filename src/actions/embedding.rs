//! `invoke_text_embedding`, `invoke_multimodal_embedding` and
//! `get_text_embedding_num_tokens`: Dify's texts and documents → Bedrock embedding calls
//! (bodies and batching in `bedrock::embedding`) → one TextEmbeddingResult line with one
//! vector per input, in input order, and the tokens Bedrock billed, priced from the YAML.

use std::borrow::Cow;
use std::time::Instant;

use serde::Serialize;

use super::AppState;
use super::form::Dimensions;
use super::model::{resolve, underlying};
use super::requests::{
    EmbeddingNumTokens, ModelBase, MultimodalDocument, MultimodalEmbedding, TextEmbedding,
};
use super::usage::EmbeddingUsage;
use crate::bedrock::client::Clients;
use crate::bedrock::embedding::{self, Dialect, Input, Plan, Purpose};
use crate::bedrock::routing::{self, Target};
use crate::declaration::{BedrockFacts, ModelDecl, ModelType};
use crate::error::{ErrorKind, PluginError};
use crate::media::{self, ImageType};
use crate::prompt::ContentKind;
use crate::session::SessionSink;

/// A float is at most ~15 bytes of JSON with its comma; 20 leaves room for the envelope.
const BYTES_PER_FLOAT: u64 = 20;

#[derive(Serialize)]
struct EmbeddingResult<'a> {
    model: &'a str,
    embeddings: &'a [Vec<f32>],
    usage: &'a EmbeddingUsage,
}

/// The call a request makes and the declaration that describes the model behind it.
struct Call<'a> {
    model_id: String,
    /// The predefined declaration, or the catalogue's entry for a customizable model's
    /// underlying model.
    facts_decl: Cow<'a, ModelDecl>,
    dialect: Dialect,
    /// The output size sent (dialects that take one).
    dimensions: Option<u32>,
    /// The size of each vector, for the line budget.
    vector_size: u32,
}

impl Call<'_> {
    fn label(&self) -> &str {
        self.facts_decl.label()
    }

    fn facts(&self) -> Option<&BedrockFacts> {
        self.facts_decl.bedrock.as_ref()
    }
}

/// The embedding models of the catalogue, for messages that list what works.
fn known_models(state: &AppState) -> String {
    state
        .catalog
        .models()
        .iter()
        .filter(|m| m.model_type == ModelType::TextEmbedding)
        .map(|m| m.model.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The output size of a customizable model: its form's `dimensions`, checked against
/// the sizes the underlying model offers, or that model's default.
fn custom_dimensions(
    wanted: Option<&Dimensions>,
    facts: &BedrockFacts,
    label: &str,
) -> Result<Option<u32>, PluginError> {
    let Some(wanted) = wanted else {
        return Ok(facts.default_dimensions);
    };
    let sizes = facts
        .dimensions
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let size = wanted.size.filter(|d| facts.dimensions.contains(d));
    size.map(Some).ok_or_else(|| {
        PluginError::bad_request(format!(
            "Embedding dimensions {:?} is not an output size of {label}; it offers {sizes}",
            wanted.text
        ))
    })
}

async fn call<'a>(
    state: &'a AppState,
    decl: &'a ModelDecl,
    base: &ModelBase,
    clients: &Clients,
    region: &str,
) -> Result<Call<'a>, PluginError> {
    let Some(custom) = &base.credentials.custom else {
        let facts = decl.bedrock.as_ref().ok_or_else(|| {
            PluginError::internal(format!("{} has no bedrock block in its YAML", decl.model))
        })?;
        let dialect = Dialect::of(&decl.model).ok_or_else(|| {
            PluginError::internal(format!("{} has no embedding request format", decl.model))
        })?;
        let target = Target::Predefined { decl, choice: None };
        return Ok(Call {
            model_id: routing::id_to_call(clients, target, region).await.id,
            dialect,
            dimensions: facts
                .default_dimensions
                .filter(|_| dialect.takes_dimensions()),
            vector_size: facts.default_dimensions.unwrap_or(0),
            facts_decl: Cow::Borrowed(decl),
        });
    };
    let id = &custom.target;
    let underlying = underlying(state, clients, base, ModelType::TextEmbedding).await?;
    let unknown = || {
        PluginError::bad_request(format!(
            "cannot tell which embedding model {id} runs, so its request format is unknown; give the model ID, a cross-region profile ID or an inference profile ARN of one of: {}",
            known_models(state)
        ))
    };
    let underlying = underlying.ok_or_else(unknown)?;
    let dialect = Dialect::of(&underlying.model).ok_or_else(unknown)?;
    let facts = underlying.bedrock.as_ref().ok_or_else(unknown)?;
    let size = custom_dimensions(custom.dimensions.as_ref(), facts, underlying.label())?;
    Ok(Call {
        model_id: routing::id_to_call(clients, Target::Custom(id), region)
            .await
            .id,
        dialect,
        dimensions: size.filter(|_| dialect.takes_dimensions()),
        vector_size: size.unwrap_or(0),
        facts_decl: Cow::Borrowed(underlying),
    })
}

/// Refuses a request whose answer could not fit in one line of at most `max_line`
/// bytes, before any call is paid for.
fn check_line_budget(target: &Call, count: usize, max_line: usize) -> Result<(), PluginError> {
    let size = u64::from(target.vector_size.max(1));
    // The vectors may take about 95% of the line (5,000,000 of the default 5 MiB): the
    // rest is the envelope and the usage object.
    let budget = max_line as u64 * 5_000_000 / 5_242_880;
    let most = budget / (size * BYTES_PER_FLOAT);
    if count as u64 > most {
        let limit = if max_line.is_multiple_of(1 << 20) {
            format!("{} MiB", max_line >> 20)
        } else {
            format!("{max_line} byte")
        };
        return Err(PluginError::bad_request(format!(
            "{count} vectors of {size} numbers do not fit in one answer (the plugin daemon's {limit} line limit); send at most {most} inputs per request to {}",
            target.label()
        )));
    }
    Ok(())
}

/// Adds where AWS offers the model to a refusal from a region that is not among them.
fn hint_region(e: PluginError, target: &Call, region: &str) -> PluginError {
    let elsewhere = target
        .facts()
        .is_some_and(|f| !f.regions.is_empty() && !f.regions.iter().any(|r| r == region));
    match target
        .facts()
        .and_then(|f| where_offered(target.label(), f))
    {
        Some(offered)
            if elsewhere && matches!(e.kind, ErrorKind::BadRequest | ErrorKind::Authorization) =>
        {
            PluginError::new(
                e.kind,
                format!("{} ({offered}; this request used {region})", e.message),
            )
        }
        _ => e,
    }
}

/// "… is offered in …", for errors about a model that may not exist in the region used.
fn where_offered(label: &str, facts: &BedrockFacts) -> Option<String> {
    if facts.regions.is_empty() {
        return None;
    }
    Some(format!(
        "AWS documents {label} in {}",
        facts.regions.join(", ")
    ))
}

fn estimate_tokens(inputs: &[Input]) -> u64 {
    let bpe = tiktoken_rs::cl100k_base_singleton();
    inputs
        .iter()
        .map(|i| match i {
            Input::Text(t) => bpe.encode_ordinary(t).len() as u64,
            Input::Image { .. } => 0,
        })
        .sum()
}

/// Embeds `inputs` with the model a request names and answers with one result line.
async fn answer(
    state: &AppState,
    base: &ModelBase,
    inputs: Vec<Input>,
    purpose: Purpose,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    let started = Instant::now();
    let decl = resolve(state, base, ModelType::TextEmbedding)?;
    let access = base.credentials.access()?;
    let clients = state.clients.get(access).await?;
    let target = call(state, &decl, base, &clients, &access.region).await?;
    if !target.dialect.takes_images()
        && let Some(i) = inputs.iter().position(|i| matches!(i, Input::Image { .. }))
    {
        return Err(PluginError::bad_request(format!(
            "{} embeds text only, and document {i} is an image; use a multimodal embedding model (Cohere Embed v4 or Nova Multimodal Embeddings) for images",
            target.label()
        )));
    }
    check_line_budget(&target, inputs.len(), sink.max_line())?;
    let pricing = decl.pricing.as_ref().or(target.facts_decl.pricing.as_ref());
    if inputs.is_empty() {
        let usage = EmbeddingUsage::new(0, pricing, started.elapsed());
        return sink
            .stream(&EmbeddingResult {
                model: &base.model,
                embeddings: &[],
                usage: &usage,
            })
            .await;
    }
    let plan = Plan {
        dialect: target.dialect,
        purpose,
        dimensions: target.dimensions,
    };
    let batches = embedding::batches(&plan, &inputs);
    let embedded = embedding::embed(
        clients.clone(),
        &target.model_id,
        target.dialect,
        batches,
        inputs.len(),
    )
    .await
    .map_err(|e| hint_region(e, &target, &access.region))?;
    // Bedrock's count where it gave one; a tokenizer estimate only where it gave none.
    let tokens: u64 = embedded
        .calls
        .iter()
        .map(|c| {
            c.tokens
                .unwrap_or_else(|| estimate_tokens(&inputs[c.start..c.start + c.len]))
        })
        .sum();
    drop(inputs);
    let usage = EmbeddingUsage::new(tokens, pricing, started.elapsed());
    sink.stream(&EmbeddingResult {
        model: &base.model,
        embeddings: &embedded.vectors,
        usage: &usage,
    })
    .await
}

pub async fn invoke_text(
    state: &AppState,
    req: TextEmbedding,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    let purpose = Purpose::from_input_type(req.input_type.as_deref());
    let inputs = req.texts.into_iter().map(Input::Text).collect();
    answer(state, &req.base, inputs, purpose, sink).await
}

/// An image document's base64 (bare, or a `data:` URI), checked and typed by its bytes.
fn image_input(index: usize, content: &str) -> Result<Input, PluginError> {
    let decoded = media::decode(content).map_err(|e| {
        PluginError::bad_request(format!(
            "document {index}: {}",
            e.describe("the image content")
        ))
    })?;
    let format = ImageType::sniff(&decoded.bytes).ok_or_else(|| {
        PluginError::bad_request(format!(
            "document {index}: the image is not PNG, JPEG, GIF or WebP, the formats Bedrock embedding models take"
        ))
    })?;
    Ok(Input::Image {
        format,
        base64: media::encode(&decoded.bytes),
    })
}

fn document_input(index: usize, doc: MultimodalDocument) -> Result<Input, PluginError> {
    match doc.content_type {
        ContentKind::Text => Ok(Input::Text(doc.content)),
        ContentKind::Image => image_input(index, &doc.content),
        other => Err(PluginError::bad_request(format!(
            "document {index}: content_type {:?} cannot be embedded; Bedrock embedding models take text and image",
            other.as_str()
        ))),
    }
}

pub async fn invoke_multimodal(
    state: &AppState,
    mut req: MultimodalEmbedding,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    req.base
        .accept_multimodal_type("multimodal-embedding", ModelType::TextEmbedding);
    let purpose = Purpose::from_input_type(req.input_type.as_deref());
    let inputs = req
        .documents
        .into_iter()
        .enumerate()
        .map(|(i, d)| document_input(i, d))
        .collect::<Result<Vec<_>, _>>()?;
    answer(state, &req.base, inputs, purpose, sink).await
}

#[derive(Serialize)]
struct NumTokens {
    num_tokens: Vec<u64>,
}

/// One count per text with the cl100k BPE (as `llm::tokens::count_tokens`): an estimate, since
/// Bedrock offers no token counting for embedding models.
pub async fn num_tokens(
    state: &AppState,
    req: EmbeddingNumTokens,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    resolve(state, &req.base, ModelType::TextEmbedding)?;
    let bpe = tiktoken_rs::cl100k_base_singleton();
    let num_tokens = req
        .texts
        .iter()
        .map(|t| bpe.encode_ordinary(t).len() as u64)
        .collect();
    sink.stream(&NumTokens { num_tokens }).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

    #[test]
    fn images_are_typed_by_their_bytes() {
        let Input::Image { format, base64 } =
            image_input(0, &format!("data:image/jpeg;base64,{PNG_1X1}")).expect("png")
        else {
            panic!("an image");
        };
        // The bytes win over the declared type.
        assert_eq!(format, ImageType::Png);
        assert_eq!(base64, PNG_1X1);
        let e = image_input(3, "R0lGOD!!").expect_err("not base64");
        assert!(
            e.message
                .starts_with("document 3: the image content is not valid base64"),
            "{e}"
        );
        let bmp = base64::engine::general_purpose::STANDARD.encode(b"BM\x00\x00\x00\x00");
        let e = image_input(1, &bmp).expect_err("bmp");
        assert!(e.message.contains("not PNG, JPEG, GIF or WebP"), "{e}");
        let e = document_input(
            2,
            MultimodalDocument {
                content: "x".into(),
                content_type: ContentKind::Video,
            },
        )
        .expect_err("video");
        assert!(e.message.contains("content_type \"video\""), "{e}");
    }
}
