//! InvokeModel and InvokeModelWithResponseStream: the opaque JSON body of
//! each modelled family, validated against AWS's documented parameters, and
//! deterministic answers (unit vectors from a hash of each input, rerank
//! scores from word overlap).
//!
//! Bodies (one documentation page per family, cited beside each validator):
//! - Titan Text Embeddings G1 / V2: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html
//! - Cohere Embed v3: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v3.html
//! - Cohere Embed v4: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v4.html
//! - Nova Multimodal Embeddings: https://docs.aws.amazon.com/nova/latest/userguide/embeddings-schema.html
//! - Amazon Rerank 1.0 and Cohere Rerank 3.5 through InvokeModel:
//!   https://docs.aws.amazon.com/bedrock/latest/userguide/rerank-use.html and
//!   https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-cohere-rerank.html
//! - Anthropic Claude Messages API: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html
//!
//! Errors use Bedrock's schema-validator wording ("Malformed input request:
//! #: required key [inputText] not found, please reformat your input and try
//! again."). Response headers follow
//! https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html
//! (`X-Amzn-Bedrock-Input-Token-Count`, `X-Amzn-Bedrock-Output-Token-Count`,
//! `X-Amzn-Bedrock-Invocation-Latency`).

use crate::body::StreamPlan;
use crate::catalog::{Family, ModelKind, ModelSpec};
use crate::converse::{as_arr, as_obj, as_str, only_keys, pacing, required, wrong_type};
use crate::error::AwsError;
use crate::script::{Script, extract_marker};
use crate::util::{SplitMix64, count_tokens, fnv1a64, split_even};
use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value, json};

/// A successful InvokeModel answer.
#[derive(Debug)]
pub struct InvokeAnswer {
    pub body: Value,
    pub input_tokens: u32,
    /// Only text generation reports output tokens.
    pub output_tokens: Option<u32>,
}

/// The deterministic embedding of `input` (unit length unless `normalize`
/// is false): the same text always gives the same vector; different texts
/// give (nearly) orthogonal ones.
pub fn embedding(input: &str, dim: usize, normalize: bool) -> Vec<f32> {
    let mut rng = SplitMix64::new(fnv1a64(input.as_bytes()));
    let raw: Vec<f64> = (0..dim).map(|_| rng.next_signed_unit()).collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    let scale = if normalize { 1.0 / norm } else { 1.0 };
    raw.iter().map(|x| (x * scale) as f32).collect()
}

fn int8(v: &[f32]) -> Vec<i64> {
    let max = v
        .iter()
        .fold(0f32, |m, x| m.max(x.abs()))
        .max(f32::MIN_POSITIVE);
    v.iter()
        .map(|x| ((x / max) * 127.0).round() as i64)
        .collect()
}

fn uint8(v: &[f32]) -> Vec<i64> {
    int8(v).into_iter().map(|x| x + 128).collect()
}

/// Packed sign bits, 8 dimensions per byte (Cohere `ubinary`); `binary` is
/// the same minus 128.
fn packed_bits(v: &[f32], signed: bool) -> Vec<i64> {
    v.chunks(8)
        .map(|c| {
            let byte =
                c.iter().enumerate().fold(
                    0i64,
                    |b, (i, x)| if *x > 0.0 { b | (1 << (7 - i)) } else { b },
                );
            if signed { byte - 128 } else { byte }
        })
        .collect()
}

fn typed(v: &[f32], kind: &str) -> Value {
    match kind {
        "int8" => json!(int8(v)),
        "uint8" => json!(uint8(v)),
        "binary" => json!(packed_bits(v, true)),
        "ubinary" => json!(packed_bits(v, false)),
        _ => json!(v),
    }
}

fn uuid_from(seed: u64) -> String {
    let mut r = SplitMix64::new(seed);
    let (a, b) = (r.next_u64(), r.next_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

fn enum_str<'a>(v: &'a Value, path: &str, allowed: &[&str]) -> Result<&'a str, AwsError> {
    let s = as_str(v, path)?;
    if !allowed.contains(&s) {
        return Err(AwsError::malformed(format!(
            "{path}: {s} is not a valid enum value"
        )));
    }
    Ok(s)
}

fn int_in(v: &Value, path: &str, allowed: &[u64]) -> Result<usize, AwsError> {
    let n = v.as_u64().ok_or_else(|| wrong_type(path, "Integer", v))?;
    if !allowed.contains(&n) {
        return Err(AwsError::malformed(format!(
            "{path}: {n} is not a valid enum value"
        )));
    }
    Ok(n as usize)
}

/// Finds a marker in any of `texts`, removing it from that text.
fn marker_in(texts: &mut [String]) -> Result<Option<Script>, AwsError> {
    for t in texts.iter_mut() {
        if let Some((clean, s)) = extract_marker(t)? {
            *t = clean;
            return Ok(Some(s));
        }
    }
    Ok(None)
}

/// Parses the request body as a JSON object (InvokeModel bodies must be JSON
/// for every modelled family).
pub fn parse_body(body: &[u8]) -> Result<Value, AwsError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| AwsError::malformed("#: expected type: JSONObject, found: String"))?;
    as_obj(&v, "#")?;
    Ok(v)
}

/// Validates the body for `model` and extracts a marker, without answering.
pub enum Parsed {
    Embed(EmbedRequest),
    Rerank(RerankRequest),
    Anthropic(AnthropicRequest),
}

/// Validates an InvokeModel body for `model`.
pub fn parse(model: &ModelSpec, v: &Value) -> Result<(Parsed, Option<Script>), AwsError> {
    match (model.kind, model.family) {
        (ModelKind::Embedding, _) => {
            let mut r = parse_embed(model, v)?;
            let script = marker_in(&mut r.texts)?;
            Ok((Parsed::Embed(r), script))
        }
        (ModelKind::Rerank, _) => {
            let mut r = parse_rerank_body(model, v)?;
            let script = match extract_marker(&r.query)? {
                Some((clean, s)) => {
                    r.query = clean;
                    Some(s)
                }
                None => None,
            };
            Ok((Parsed::Rerank(r), script))
        }
        (ModelKind::Text, Family::Anthropic) => {
            let mut r = parse_anthropic(v)?;
            let script = match extract_marker(&r.last_user_text)? {
                Some((clean, s)) => {
                    r.last_user_text = clean;
                    Some(s)
                }
                None => None,
            };
            Ok((Parsed::Anthropic(r), script))
        }
        (ModelKind::Text, f) => Err(AwsError::validation(format!(
            "bedrock-double: InvokeModel bodies of the {f:?} family are not modelled; use Converse"
        ))),
    }
}

/// An embedding request in a family-neutral form.
#[derive(Debug, Default)]
pub struct EmbedRequest {
    pub family: Option<Family>,
    /// Inputs to embed (text, or a stand-in string for an image).
    pub texts: Vec<String>,
    /// Which inputs are images (for Nova's `embeddingType`).
    pub is_image: Vec<bool>,
    pub dimension: usize,
    pub normalize: bool,
    pub types: Vec<String>,
    pub by_type: bool,
}

fn parse_embed(model: &ModelSpec, v: &Value) -> Result<EmbedRequest, AwsError> {
    let o = as_obj(v, "#")?;
    let mut r = EmbedRequest {
        family: Some(model.family),
        dimension: model.embedding_dimension,
        normalize: true,
        ..EmbedRequest::default()
    };
    match model.family {
        // Titan Embeddings G1 - Text: {"inputText": string}
        Family::TitanEmbedV1 => {
            only_keys(o, &["inputText"], "#")?;
            r.texts.push(titan_text(o)?);
        }
        // Titan Text Embeddings V2: {inputText, dimensions, normalize, embeddingTypes}
        Family::TitanEmbedV2 => {
            only_keys(
                o,
                &["inputText", "dimensions", "normalize", "embeddingTypes"],
                "#",
            )?;
            r.texts.push(titan_text(o)?);
            if let Some(d) = o.get("dimensions") {
                r.dimension = int_in(d, "#/dimensions", &[256, 512, 1024])?;
            }
            if let Some(n) = o.get("normalize") {
                r.normalize = n
                    .as_bool()
                    .ok_or_else(|| wrong_type("#/normalize", "Boolean", n))?;
            }
            r.types = vec!["float".into()];
            if let Some(t) = o.get("embeddingTypes") {
                r.types = type_list(t, "#/embeddingTypes", &["float", "binary"])?;
            }
        }
        // Cohere Embed v3: {texts|images, input_type, truncate, embedding_types}
        Family::CohereEmbedV3 => {
            only_keys(
                o,
                &[
                    "texts",
                    "images",
                    "input_type",
                    "truncate",
                    "embedding_types",
                ],
                "#",
            )?;
            enum_str(
                required(o, "input_type", "#")?,
                "#/input_type",
                &[
                    "search_document",
                    "search_query",
                    "classification",
                    "clustering",
                    "image",
                ],
            )?;
            if let Some(t) = o.get("truncate") {
                enum_str(t, "#/truncate", &["NONE", "START", "END"])?;
            }
            cohere_inputs(o, &mut r, 2048, 1)?;
            if let Some(t) = o.get("embedding_types") {
                r.types = type_list(
                    t,
                    "#/embedding_types",
                    &["float", "int8", "uint8", "binary", "ubinary"],
                )?;
                r.by_type = true;
            }
        }
        // Cohere Embed v4: {input_type, texts|images|inputs, embedding_types,
        // output_dimension, max_tokens, truncate}
        Family::CohereEmbedV4 => {
            only_keys(
                o,
                &[
                    "input_type",
                    "texts",
                    "images",
                    "inputs",
                    "embedding_types",
                    "output_dimension",
                    "max_tokens",
                    "truncate",
                ],
                "#",
            )?;
            enum_str(
                required(o, "input_type", "#")?,
                "#/input_type",
                &[
                    "search_document",
                    "search_query",
                    "classification",
                    "clustering",
                ],
            )?;
            if let Some(t) = o.get("truncate") {
                enum_str(t, "#/truncate", &["NONE", "LEFT", "RIGHT"])?;
            }
            if let Some(d) = o.get("output_dimension") {
                r.dimension = int_in(d, "#/output_dimension", &[256, 512, 1024, 1536])?;
            }
            if let Some(m) = o.get("max_tokens") {
                let n = m
                    .as_u64()
                    .ok_or_else(|| wrong_type("#/max_tokens", "Integer", m))?;
                if n == 0 || n > 128_000 {
                    return Err(AwsError::malformed(format!(
                        "#/max_tokens: {n} is not less or equal to 128000 and greater than 0"
                    )));
                }
            }
            if o.contains_key("inputs") {
                if o.contains_key("texts") || o.contains_key("images") {
                    return Err(AwsError::malformed(
                        "#: only one of [texts, images, inputs] may be provided",
                    ));
                }
                cohere_v4_inputs(o, &mut r)?;
            } else {
                cohere_inputs(o, &mut r, usize::MAX, 96)?;
            }
            r.types = vec!["float".into()];
            if let Some(t) = o.get("embedding_types") {
                r.types = type_list(
                    t,
                    "#/embedding_types",
                    &["float", "int8", "uint8", "binary", "ubinary"],
                )?;
            }
            r.by_type = true;
        }
        Family::NovaMultimodalEmbed => parse_nova_embed(o, &mut r)?,
        _ => {
            // A test-added embedding model without a family: take inputText or texts.
            if let Some(t) = o.get("inputText") {
                r.texts.push(as_str(t, "#/inputText")?.to_string());
            } else if let Some(ts) = o.get("texts") {
                for (i, t) in as_arr(ts, "#/texts")?.iter().enumerate() {
                    r.texts
                        .push(as_str(t, &format!("#/texts/{i}"))?.to_string());
                }
            }
        }
    }
    if r.is_image.len() < r.texts.len() {
        r.is_image.resize(r.texts.len(), false);
    }
    Ok(r)
}

fn titan_text(o: &Map<String, Value>) -> Result<String, AwsError> {
    let t = as_str(required(o, "inputText", "#")?, "#/inputText")?;
    if t.is_empty() {
        return Err(AwsError::malformed(
            "#/inputText: expected minLength: 1, actual: 0",
        ));
    }
    // Titan Embeddings accept up to 8192 tokens (about 50,000 characters).
    if t.chars().count() > 50_000 {
        return Err(AwsError::malformed(format!(
            "#/inputText: expected maxLength: 50000, actual: {}",
            t.chars().count()
        )));
    }
    Ok(t.to_string())
}

fn type_list(v: &Value, path: &str, allowed: &[&str]) -> Result<Vec<String>, AwsError> {
    let arr = as_arr(v, path)?;
    if arr.is_empty() {
        return Err(AwsError::malformed(format!(
            "{path}: expected minimum item count: 1, found: 0"
        )));
    }
    arr.iter()
        .enumerate()
        .map(|(i, t)| enum_str(t, &format!("{path}/{i}"), allowed).map(str::to_string))
        .collect()
}

fn cohere_inputs(
    o: &Map<String, Value>,
    r: &mut EmbedRequest,
    max_chars: usize,
    max_images: usize,
) -> Result<(), AwsError> {
    match (o.get("texts"), o.get("images")) {
        (Some(_), Some(_)) => Err(AwsError::malformed(
            "#: only one of [texts, images] may be provided",
        )),
        (None, None) => Err(AwsError::malformed("#: required key [texts] not found")),
        (Some(ts), None) => {
            let arr = as_arr(ts, "#/texts")?;
            if arr.len() > 96 {
                return Err(AwsError::malformed(format!(
                    "#/texts: expected maximum item count: 96, found: {}",
                    arr.len()
                )));
            }
            for (i, t) in arr.iter().enumerate() {
                let s = as_str(t, &format!("#/texts/{i}"))?;
                let n = s.chars().count();
                if n > max_chars {
                    return Err(AwsError::malformed(format!(
                        "#/texts/{i}: expected maxLength: {max_chars}, actual: {n}"
                    )));
                }
                r.texts.push(s.to_string());
                r.is_image.push(false);
            }
            Ok(())
        }
        (None, Some(imgs)) => {
            let arr = as_arr(imgs, "#/images")?;
            if arr.len() > max_images {
                return Err(AwsError::malformed(format!(
                    "#/images: expected maximum item count: {max_images}, found: {}",
                    arr.len()
                )));
            }
            for (i, im) in arr.iter().enumerate() {
                let s = as_str(im, &format!("#/images/{i}"))?;
                data_uri(s, &format!("#/images/{i}"))?;
                r.texts
                    .push(format!("image:{:016x}", fnv1a64(s.as_bytes())));
                r.is_image.push(true);
            }
            Ok(())
        }
    }
}

/// Checks `data:image/<png|jpeg|gif|webp>;base64,<data>`.
fn data_uri(s: &str, path: &str) -> Result<(), AwsError> {
    let ok = s
        .strip_prefix("data:image/")
        .and_then(|r| r.split_once(";base64,"))
        .filter(|(fmt, _)| ["png", "jpeg", "jpg", "gif", "webp"].contains(fmt))
        .is_some_and(|(_, data)| {
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .is_ok()
        });
    if ok {
        Ok(())
    } else {
        Err(AwsError::malformed(format!(
            "{path}: expected a data URI of the form data:image/<format>;base64,<data>"
        )))
    }
}

fn cohere_v4_inputs(o: &Map<String, Value>, r: &mut EmbedRequest) -> Result<(), AwsError> {
    let inputs = as_arr(&o["inputs"], "#/inputs")?;
    if inputs.len() > 96 {
        return Err(AwsError::malformed(format!(
            "#/inputs: expected maximum item count: 96, found: {}",
            inputs.len()
        )));
    }
    for (i, input) in inputs.iter().enumerate() {
        let p = format!("#/inputs/{i}");
        let io = as_obj(input, &p)?;
        only_keys(io, &["content"], &p)?;
        let parts = as_arr(required(io, "content", &p)?, &format!("{p}/content"))?;
        let mut text = String::new();
        let mut image = false;
        for (k, part) in parts.iter().enumerate() {
            let pp = format!("{p}/content/{k}");
            let po = as_obj(part, &pp)?;
            let ty = enum_str(
                required(po, "type", &pp)?,
                &format!("{pp}/type"),
                &["text", "image_url"],
            )?;
            if ty == "text" {
                only_keys(po, &["type", "text"], &pp)?;
                text.push_str(as_str(required(po, "text", &pp)?, &format!("{pp}/text"))?);
            } else {
                only_keys(po, &["type", "image_url"], &pp)?;
                // The AWS page shows a data-URI string; Cohere's own API nests
                // it as {"url": …}. Both forms are accepted.
                let iu = required(po, "image_url", &pp)?;
                let uri = match iu {
                    Value::Object(m) => {
                        only_keys(m, &["url"], &format!("{pp}/image_url"))?;
                        as_str(
                            required(m, "url", &format!("{pp}/image_url"))?,
                            &format!("{pp}/image_url/url"),
                        )?
                    }
                    other => as_str(other, &format!("{pp}/image_url"))?,
                };
                data_uri(uri, &format!("{pp}/image_url"))?;
                text.push_str(&format!("image:{:016x}", fnv1a64(uri.as_bytes())));
                image = true;
            }
        }
        r.texts.push(text);
        r.is_image.push(image);
    }
    Ok(())
}

/// Nova Multimodal Embeddings, synchronous SINGLE_EMBEDDING request.
/// https://docs.aws.amazon.com/nova/latest/userguide/embeddings-schema.html
fn parse_nova_embed(o: &Map<String, Value>, r: &mut EmbedRequest) -> Result<(), AwsError> {
    only_keys(
        o,
        &["schemaVersion", "taskType", "singleEmbeddingParams"],
        "#",
    )?;
    if let Some(s) = o.get("schemaVersion") {
        enum_str(s, "#/schemaVersion", &["nova-multimodal-embed-v1"])?;
    }
    enum_str(
        required(o, "taskType", "#")?,
        "#/taskType",
        &["SINGLE_EMBEDDING"],
    )?;
    let p = "#/singleEmbeddingParams";
    let sp = as_obj(required(o, "singleEmbeddingParams", "#")?, p)?;
    only_keys(
        sp,
        &[
            "embeddingPurpose",
            "embeddingDimension",
            "text",
            "image",
            "audio",
            "video",
        ],
        p,
    )?;
    enum_str(
        required(sp, "embeddingPurpose", p)?,
        &format!("{p}/embeddingPurpose"),
        &[
            "GENERIC_INDEX",
            "GENERIC_RETRIEVAL",
            "TEXT_RETRIEVAL",
            "IMAGE_RETRIEVAL",
            "VIDEO_RETRIEVAL",
            "DOCUMENT_RETRIEVAL",
            "AUDIO_RETRIEVAL",
            "CLASSIFICATION",
            "CLUSTERING",
        ],
    )?;
    if let Some(d) = sp.get("embeddingDimension") {
        r.dimension = int_in(
            d,
            &format!("{p}/embeddingDimension"),
            &[256, 384, 1024, 3072],
        )?;
    }
    let modalities: Vec<&str> = ["text", "image", "audio", "video"]
        .into_iter()
        .filter(|k| sp.contains_key(*k))
        .collect();
    if modalities.len() != 1 {
        return Err(AwsError::malformed(format!(
            "{p}: exactly one of [text, image, audio, video] is required, found {}",
            modalities.len()
        )));
    }
    let kind = modalities[0];
    let mp = format!("{p}/{kind}");
    let m = as_obj(&sp[kind], &mp)?;
    match kind {
        "text" => {
            only_keys(m, &["truncationMode", "value", "source"], &mp)?;
            enum_str(
                required(m, "truncationMode", &mp)?,
                &format!("{mp}/truncationMode"),
                &["START", "END", "NONE"],
            )?;
            match (m.get("value"), m.get("source")) {
                (Some(v), None) => {
                    let t = as_str(v, &format!("{mp}/value"))?;
                    if t.is_empty() {
                        return Err(AwsError::malformed(format!(
                            "{mp}/value: expected minLength: 1, actual: 0"
                        )));
                    }
                    r.texts.push(t.to_string());
                }
                (None, Some(s)) => {
                    nova_source(s, &format!("{mp}/source"))?;
                    r.texts.push(format!("source:{}", s));
                }
                _ => {
                    return Err(AwsError::malformed(format!(
                        "{mp}: exactly one of [value, source] is required"
                    )));
                }
            }
            r.is_image.push(false);
        }
        "image" => {
            only_keys(m, &["format", "source", "detailLevel"], &mp)?;
            enum_str(
                required(m, "format", &mp)?,
                &format!("{mp}/format"),
                &["png", "jpeg", "gif", "webp"],
            )?;
            if let Some(d) = m.get("detailLevel") {
                enum_str(
                    d,
                    &format!("{mp}/detailLevel"),
                    &["STANDARD_IMAGE", "DOCUMENT_IMAGE"],
                )?;
            }
            let s = required(m, "source", &mp)?;
            nova_source(s, &format!("{mp}/source"))?;
            r.texts
                .push(format!("image:{:016x}", fnv1a64(s.to_string().as_bytes())));
            r.is_image.push(true);
        }
        _ => {
            only_keys(m, &["format", "source", "embeddingMode"], &mp)?;
            required(m, "format", &mp)?;
            let s = required(m, "source", &mp)?;
            nova_source(s, &format!("{mp}/source"))?;
            r.texts
                .push(format!("{kind}:{:016x}", fnv1a64(s.to_string().as_bytes())));
            r.is_image.push(false);
        }
    }
    Ok(())
}

fn nova_source(v: &Value, path: &str) -> Result<(), AwsError> {
    let o = as_obj(v, path)?;
    only_keys(o, &["bytes", "s3Location"], path)?;
    if o.len() != 1 {
        return Err(AwsError::malformed(format!(
            "{path}: exactly one of [bytes, s3Location] is required"
        )));
    }
    if let Some(b) = o.get("bytes") {
        let s = as_str(b, &format!("{path}/bytes"))?;
        if base64::engine::general_purpose::STANDARD.decode(s).is_err() {
            return Err(AwsError::malformed(format!("{path}/bytes: invalid base64")));
        }
    }
    Ok(())
}

/// The embedding response of each family.
pub fn answer_embed(r: &EmbedRequest, seed_extra: &str) -> InvokeAnswer {
    let tokens: u32 = r.texts.iter().map(|t| count_tokens(t).max(1)).sum();
    let vecs: Vec<Vec<f32>> = r
        .texts
        .iter()
        .map(|t| embedding(&format!("{seed_extra}{t}"), r.dimension, r.normalize))
        .collect();
    let id = uuid_from(fnv1a64(r.texts.concat().as_bytes()));
    let first = vecs.first().cloned().unwrap_or_default();
    let body = match r.family {
        Some(Family::TitanEmbedV1) => json!({"embedding": first, "inputTextTokenCount": tokens}),
        Some(Family::TitanEmbedV2) => {
            let mut by_type = Map::new();
            for t in &r.types {
                let v = if t == "binary" {
                    json!(
                        first
                            .iter()
                            .map(|x| i64::from(*x > 0.0))
                            .collect::<Vec<_>>()
                    )
                } else {
                    json!(first)
                };
                by_type.insert(t.clone(), v);
            }
            json!({"embedding": first, "embeddingsByType": by_type, "inputTextTokenCount": tokens})
        }
        Some(Family::CohereEmbedV3) | Some(Family::CohereEmbedV4) => {
            let texts: Vec<&String> = r
                .texts
                .iter()
                .zip(&r.is_image)
                .filter(|(_, img)| !**img)
                .map(|(t, _)| t)
                .collect();
            if r.by_type {
                let mut by_type = Map::new();
                for t in &r.types {
                    by_type.insert(
                        t.clone(),
                        Value::Array(vecs.iter().map(|v| typed(v, t)).collect()),
                    );
                }
                json!({"id": id, "embeddings": by_type, "response_type": "embeddings_by_type", "texts": texts})
            } else {
                json!({"id": id, "embeddings": vecs, "response_type": "embeddings_floats", "texts": texts})
            }
        }
        Some(Family::NovaMultimodalEmbed) => {
            let kind = if r.is_image.first().copied().unwrap_or(false) {
                "IMAGE"
            } else {
                "TEXT"
            };
            json!({"embeddings": [{"embeddingType": kind, "embedding": first}]})
        }
        _ => json!({"embedding": first, "inputTextTokenCount": tokens}),
    };
    InvokeAnswer {
        body,
        input_tokens: tokens,
        output_tokens: None,
    }
}

/// A rerank request (InvokeModel body or the agent-runtime Rerank API).
#[derive(Debug, Default)]
pub struct RerankRequest {
    pub query: String,
    pub documents: Vec<String>,
    pub top_n: Option<usize>,
    pub cohere: bool,
}

/// `{query, documents, top_n?}`; Cohere adds `api_version` (≥ 2, required)
/// and `max_tokens_per_doc`.
fn parse_rerank_body(model: &ModelSpec, v: &Value) -> Result<RerankRequest, AwsError> {
    let o = as_obj(v, "#")?;
    let cohere = model.family == Family::CohereRerank;
    if cohere {
        only_keys(
            o,
            &[
                "query",
                "documents",
                "top_n",
                "api_version",
                "max_tokens_per_doc",
            ],
            "#",
        )?;
        let av = required(o, "api_version", "#")?;
        let n = av
            .as_u64()
            .ok_or_else(|| wrong_type("#/api_version", "Integer", av))?;
        if n < 2 {
            return Err(AwsError::malformed(format!(
                "#/api_version: {n} is not greater or equal to 2"
            )));
        }
        if let Some(m) = o.get("max_tokens_per_doc") {
            m.as_u64()
                .ok_or_else(|| wrong_type("#/max_tokens_per_doc", "Integer", m))?;
        }
    } else {
        only_keys(o, &["query", "documents", "top_n"], "#")?;
    }
    let query = as_str(required(o, "query", "#")?, "#/query")?.to_string();
    if query.is_empty() {
        return Err(AwsError::malformed(
            "#/query: expected minLength: 1, actual: 0",
        ));
    }
    let docs = as_arr(required(o, "documents", "#")?, "#/documents")?;
    if docs.is_empty() || docs.len() > 1000 {
        return Err(AwsError::malformed(format!(
            "#/documents: expected an item count between 1 and 1000, found: {}",
            docs.len()
        )));
    }
    let mut documents = Vec::with_capacity(docs.len());
    for (i, d) in docs.iter().enumerate() {
        documents.push(match d {
            Value::String(s) => s.clone(),
            Value::Object(_) if cohere => d.to_string(),
            other => return Err(wrong_type(&format!("#/documents/{i}"), "String", other)),
        });
    }
    let top_n = match o.get("top_n") {
        None | Some(Value::Null) => None,
        Some(t) => {
            let n = t
                .as_u64()
                .ok_or_else(|| wrong_type("#/top_n", "Integer", t))?;
            if n == 0 {
                return Err(AwsError::malformed(
                    "#/top_n: 0 is not greater or equal to 1",
                ));
            }
            Some(n as usize)
        }
    };
    Ok(RerankRequest {
        query,
        documents,
        top_n,
        cohere,
    })
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Deterministic relevance: the share of query words found in the document
/// (0.05–0.95), plus a tiny hash-derived tie-breaker.
pub fn relevance(query: &str, doc: &str) -> f64 {
    let q = words(query);
    let d = words(doc);
    let hits = q.iter().filter(|w| d.contains(w)).count();
    let overlap = if q.is_empty() {
        0.0
    } else {
        hits as f64 / q.len() as f64
    };
    let tie = (fnv1a64(doc.as_bytes()) % 1000) as f64 / 100_000.0;
    0.05 + 0.9 * overlap + tie
}

/// Scores (scripted or computed), sorted descending, cut to `top_n`.
pub fn rank(r: &RerankRequest, scores: Option<&[f64]>) -> Vec<(usize, f64)> {
    let mut ranked: Vec<(usize, f64)> = r
        .documents
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let s = scores
                .and_then(|s| s.get(i).copied())
                .unwrap_or_else(|| relevance(&r.query, d));
            (i, s)
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if let Some(n) = r.top_n {
        ranked.truncate(n);
    }
    ranked
}

pub fn answer_rerank(r: &RerankRequest, script: &Script) -> InvokeAnswer {
    let results: Vec<Value> = rank(r, script.scores.as_deref())
        .into_iter()
        .map(|(index, score)| json!({"index": index, "relevance_score": score}))
        .collect();
    let body = if r.cohere {
        json!({"id": uuid_from(fnv1a64(r.query.as_bytes())), "results": results})
    } else {
        json!({ "results": results })
    };
    let tokens = count_tokens(&r.query) + r.documents.iter().map(|d| count_tokens(d)).sum::<u32>();
    InvokeAnswer {
        body,
        input_tokens: tokens.max(1),
        output_tokens: None,
    }
}

/// A Claude Messages API request (InvokeModel for Anthropic models).
#[derive(Debug, Default)]
pub struct AnthropicRequest {
    pub last_user_text: String,
    pub input_tokens: u32,
    pub max_tokens: u64,
    pub body_hash: u64,
}

const ANTHROPIC_KEYS: &[&str] = &[
    "anthropic_version",
    "anthropic_beta",
    "max_tokens",
    "system",
    "messages",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tools",
    "tool_choice",
    "thinking",
    "metadata",
    "output_config",
];

fn parse_anthropic(v: &Value) -> Result<AnthropicRequest, AwsError> {
    let o = as_obj(v, "#")?;
    only_keys(o, ANTHROPIC_KEYS, "#")?;
    let ver = as_str(
        required(o, "anthropic_version", "#")?,
        "#/anthropic_version",
    )?;
    if ver != "bedrock-2023-05-31" {
        return Err(AwsError::malformed(format!(
            "#/anthropic_version: {ver} is not a valid enum value"
        )));
    }
    let mt = required(o, "max_tokens", "#")?;
    let max_tokens = mt
        .as_u64()
        .ok_or_else(|| wrong_type("#/max_tokens", "Integer", mt))?;
    let messages = as_arr(required(o, "messages", "#")?, "#/messages")?;
    if messages.is_empty() {
        return Err(AwsError::malformed(
            "#/messages: expected minimum item count: 1, found: 0",
        ));
    }
    let mut all = String::new();
    if let Some(s) = o.get("system") {
        all.push_str(&s.to_string());
    }
    let mut last_user = String::new();
    for (i, m) in messages.iter().enumerate() {
        let p = format!("#/messages/{i}");
        let mo = as_obj(m, &p)?;
        only_keys(mo, &["role", "content"], &p)?;
        let role = enum_str(
            required(mo, "role", &p)?,
            &format!("{p}/role"),
            &["user", "assistant"],
        )?;
        let content = required(mo, "content", &p)?;
        let text = match content {
            Value::String(s) => s.clone(),
            Value::Array(blocks) => {
                let mut t = String::new();
                for (j, b) in blocks.iter().enumerate() {
                    let bp = format!("{p}/content/{j}");
                    let bo = as_obj(b, &bp)?;
                    let ty = as_str(required(bo, "type", &bp)?, &format!("{bp}/type"))?;
                    if ty == "text" {
                        t.push_str(as_str(required(bo, "text", &bp)?, &format!("{bp}/text"))?);
                    }
                }
                t
            }
            other => return Err(wrong_type(&format!("{p}/content"), "String", other)),
        };
        all.push_str(&content.to_string());
        if role == "user" {
            last_user = text;
        }
    }
    Ok(AnthropicRequest {
        last_user_text: last_user,
        input_tokens: count_tokens(&all).max(1),
        max_tokens,
        body_hash: fnv1a64(v.to_string().as_bytes()),
    })
}

/// The Claude answer reuses the Converse answer logic, rendered in
/// Anthropic's native shapes.
fn anthropic_answer(r: &AnthropicRequest, script: &Script) -> crate::converse::Answer {
    let req = crate::converse::ConverseRequest {
        last_user_text: r.last_user_text.clone(),
        input_tokens: r.input_tokens,
        max_tokens: Some(r.max_tokens),
        body_hash: r.body_hash,
        ..Default::default()
    };
    crate::converse::answer(&req, script)
}

fn anthropic_stop(s: &str) -> &str {
    match s {
        "end_turn" | "tool_use" | "max_tokens" | "stop_sequence" => s,
        other => other,
    }
}

pub fn answer_anthropic(r: &AnthropicRequest, script: &Script, model: &ModelSpec) -> InvokeAnswer {
    let a = anthropic_answer(r, script);
    let mut content = Vec::new();
    if let Some((t, sig)) = &a.reasoning {
        content.push(json!({"type": "thinking", "thinking": t, "signature": sig}));
    }
    if let Some(d) = &a.redacted {
        content.push(json!({"type": "redacted_thinking", "data": d}));
    }
    if let Some(t) = &a.text {
        content.push(json!({"type": "text", "text": t}));
    }
    for (id, name, input, _) in &a.tools {
        let input: Value = serde_json::from_str(input).unwrap_or(Value::Null);
        content.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
    }
    let input = a.usage["inputTokens"].as_u64().unwrap_or(0) as u32;
    let output = a.usage["outputTokens"].as_u64().unwrap_or(0) as u32;
    let body = json!({
        "id": format!("msg_bdrk_{:024x}", u128::from(r.body_hash)),
        "type": "message",
        "role": "assistant",
        "model": model.id,
        "content": content,
        "stop_reason": anthropic_stop(&a.stop_reason),
        "stop_sequence": null,
        "usage": {"input_tokens": input, "output_tokens": output},
    });
    InvokeAnswer {
        body,
        input_tokens: input,
        output_tokens: Some(output),
    }
}

fn chunk(plan: &mut StreamPlan, payload: Value) {
    let bytes = serde_json::to_vec(&payload).unwrap_or_default();
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let frame = serde_json::to_vec(&json!({ "bytes": b64 })).unwrap_or_default();
    plan.event("chunk", Bytes::from(frame));
}

/// InvokeModelWithResponseStream for Claude: `chunk` events whose `bytes`
/// carry Anthropic's streaming events, the last with
/// `amazon-bedrock-invocationMetrics`.
pub fn stream_anthropic(r: &AnthropicRequest, script: &Script, model: &ModelSpec) -> StreamPlan {
    let a = anthropic_answer(r, script);
    let input = a.usage["inputTokens"].as_u64().unwrap_or(0);
    let output = a.usage["outputTokens"].as_u64().unwrap_or(0);
    let mut plan = StreamPlan::new(pacing(script));
    chunk(
        &mut plan,
        json!({"type": "message_start", "message": {
            "id": format!("msg_bdrk_{:024x}", u128::from(r.body_hash)), "type": "message",
            "role": "assistant", "model": model.id, "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": input, "output_tokens": 1}}}),
    );
    let mut index = 0;
    if let Some((t, sig)) = &a.reasoning {
        chunk(
            &mut plan,
            json!({"type": "content_block_start", "index": index, "content_block": {"type": "thinking", "thinking": ""}}),
        );
        for piece in split_even(t, a.deltas) {
            chunk(
                &mut plan,
                json!({"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": piece}}),
            );
        }
        chunk(
            &mut plan,
            json!({"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": sig}}),
        );
        chunk(
            &mut plan,
            json!({"type": "content_block_stop", "index": index}),
        );
        index += 1;
    }
    if let Some(t) = &a.text {
        chunk(
            &mut plan,
            json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
        );
        for piece in split_even(t, a.deltas) {
            chunk(
                &mut plan,
                json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}),
            );
        }
        chunk(
            &mut plan,
            json!({"type": "content_block_stop", "index": index}),
        );
        index += 1;
    }
    for (id, name, input_json, chunks) in &a.tools {
        chunk(
            &mut plan,
            json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        );
        for piece in split_even(input_json, *chunks) {
            chunk(
                &mut plan,
                json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}}),
            );
        }
        chunk(
            &mut plan,
            json!({"type": "content_block_stop", "index": index}),
        );
        index += 1;
    }
    chunk(
        &mut plan,
        json!({"type": "message_delta", "delta": {"stop_reason": anthropic_stop(&a.stop_reason), "stop_sequence": null}, "usage": {"output_tokens": output}}),
    );
    chunk(
        &mut plan,
        json!({"type": "message_stop", "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": input, "outputTokenCount": output,
            "invocationLatency": a.latency_ms, "firstByteLatency": a.latency_ms / 2}}),
    );
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::builtin_models;

    fn model(id: &str) -> ModelSpec {
        builtin_models()
            .into_iter()
            .find(|m| m.id == id)
            .expect("model in catalogue")
    }

    fn err(m: &str, v: Value) -> String {
        parse(&model(m), &v)
            .err()
            .map(|e| e.message)
            .unwrap_or_default()
    }

    #[test]
    fn embedding_bodies() {
        assert!(
            err(
                "amazon.titan-embed-text-v1",
                json!({"inputText":"a","dimensions":256})
            )
            .contains("extraneous key [dimensions]")
        );
        assert!(
            err("amazon.titan-embed-text-v2:0", json!({"dimensions":256}))
                .contains("required key [inputText] not found")
        );
        assert!(
            err(
                "amazon.titan-embed-text-v2:0",
                json!({"inputText":"a","dimensions":300})
            )
            .contains("300 is not a valid enum value")
        );
        assert!(
            err("cohere.embed-english-v3", json!({"texts":["a"]}))
                .contains("required key [input_type]")
        );
        let many: Vec<String> = (0..97).map(|i| i.to_string()).collect();
        assert!(
            err(
                "cohere.embed-english-v3",
                json!({"texts":many,"input_type":"search_query"})
            )
            .contains("maximum item count: 96")
        );
        let nova_bad = json!({"taskType":"SINGLE_EMBEDDING","singleEmbeddingParams":{"embeddingPurpose":"GENERIC_INDEX","inputText":"x"}});
        assert!(
            err("amazon.nova-2-multimodal-embeddings-v1:0", nova_bad)
                .contains("extraneous key [inputText]")
        );
        let ok = json!({"texts":["hello"],"input_type":"search_query","embedding_types":["float","int8"]});
        let (Parsed::Embed(r), _) = parse(&model("cohere.embed-english-v3"), &ok).expect("valid")
        else {
            panic!("embed");
        };
        let a = answer_embed(&r, "");
        assert_eq!(a.body["response_type"], "embeddings_by_type");
        assert_eq!(
            a.body["embeddings"]["float"][0].as_array().map(Vec::len),
            Some(1024)
        );
    }

    #[test]
    fn vectors_are_deterministic_unit_vectors() {
        let a = embedding("hello", 256, true);
        assert_eq!(a, embedding("hello", 256, true));
        assert_ne!(a, embedding("hello!", 256, true));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }

    #[test]
    fn rerank_orders_by_overlap() {
        let r = RerankRequest {
            query: "capital of France".into(),
            documents: vec![
                "Berlin is in Germany".into(),
                "Paris is the capital of France".into(),
            ],
            top_n: Some(1),
            cohere: false,
        };
        let ranked = rank(&r, None);
        assert_eq!(ranked.len(), 1);
        assert_eq!(ranked[0].0, 1);
        assert!(
            err(
                "cohere.rerank-v3-5:0",
                json!({"query":"q","documents":["d"]})
            )
            .contains("required key [api_version]")
        );
    }
}
