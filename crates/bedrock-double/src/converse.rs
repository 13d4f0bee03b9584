//! Converse, ConverseStream and CountTokens: request validation against the
//! documented shape, the deterministic (or scripted) answer, and its two
//! renderings — one JSON document, or event-stream frames.
//!
//! Request shape: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
//! (ContentBlock: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ContentBlock.html,
//! InferenceConfiguration: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InferenceConfiguration.html,
//! ToolConfiguration: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolConfiguration.html).
//! Stream events: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
//! CountTokens: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_CountTokens.html
//! Claude request rules applied through `additionalModelRequestFields`
//! (extended thinking): https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html
//!
//! Where AWS's exact wording is known (issues quoting real responses) it is
//! reproduced; the few messages whose wording could not be confirmed are
//! marked "wording approximated".

use crate::body::{Pacing, StreamPlan};
use crate::catalog::{Family, ModelSpec};
use crate::error::AwsError;
use crate::guardrail::{self, GuardrailOutcome, GuardrailRequest};
use crate::script::{Script, extract_marker};
use crate::util::{SplitMix64, count_tokens, fnv1a64, split_even};
use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// JSON type names as Bedrock's schema validator spells them.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "Integer",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "JSONArray",
        Value::Object(_) => "JSONObject",
    }
}

/// `#/a/b: expected type: X, found: Y`
pub fn wrong_type(path: &str, expected: &str, found: &Value) -> AwsError {
    AwsError::malformed(format!(
        "{path}: expected type: {expected}, found: {}",
        type_name(found)
    ))
}

pub fn as_obj<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, AwsError> {
    v.as_object()
        .ok_or_else(|| wrong_type(path, "JSONObject", v))
}

pub fn as_arr<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>, AwsError> {
    v.as_array().ok_or_else(|| wrong_type(path, "JSONArray", v))
}

pub fn as_str<'a>(v: &'a Value, path: &str) -> Result<&'a str, AwsError> {
    v.as_str().ok_or_else(|| wrong_type(path, "String", v))
}

/// Rejects keys outside `allowed`: `#/x: extraneous key [k] is not permitted`.
pub fn only_keys(o: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), AwsError> {
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(AwsError::malformed(format!(
            "{path}: extraneous key [{k}] is not permitted"
        )));
    }
    Ok(())
}

/// `#/x: required key [k] not found`
pub fn required<'a>(
    o: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Value, AwsError> {
    o.get(key)
        .ok_or_else(|| AwsError::malformed(format!("{path}: required key [{key}] not found")))
}

/// Coral-style constraint message for a member at `at` (dotted, 1-based lists).
fn constraint(value: &Value, at: &str, rule: &str) -> AwsError {
    let shown = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    AwsError::validation(format!(
        "1 validation error detected: Value '{shown}' at '{at}' failed to satisfy constraint: {rule}"
    ))
}

/// What the double took from a valid request.
#[derive(Debug, Clone, Default)]
pub struct ConverseRequest {
    /// The last user message's text (marker removed).
    pub last_user_text: String,
    /// A script found in the last user text.
    pub marker: Option<Script>,
    pub input_tokens: u32,
    pub max_tokens: Option<u64>,
    pub tool_names: Vec<String>,
    pub body_hash: u64,
    /// The request's `guardrailConfig`, checked for its operation.
    pub guardrail: Option<GuardrailRequest>,
    /// Characters of text the guardrail would assess (its trace reports them).
    pub input_chars: usize,
}

const TOP_LEVEL: &[&str] = &[
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "guardrailConfig",
    "inferenceConfig",
    "messages",
    "outputConfig",
    "performanceConfig",
    "promptVariables",
    "requestMetadata",
    "serviceTier",
    "system",
    "toolConfig",
];

const CONTENT_KINDS: &[&str] = &[
    "text",
    "image",
    "document",
    "video",
    "audio",
    "toolUse",
    "toolResult",
    "guardContent",
    "cachePoint",
    "reasoningContent",
    "citationsContent",
    "searchResult",
    "toolAddition",
    "toolRemoval",
];

/// Validates a Converse / ConverseStream body for `model`.
pub fn validate(
    body: &Value,
    model: &ModelSpec,
    streaming: bool,
) -> Result<ConverseRequest, AwsError> {
    let root = as_obj(body, "#")?;
    only_keys(root, TOP_LEVEL, "#")?;
    let mut out = ConverseRequest {
        body_hash: fnv1a64(body.to_string().as_bytes()),
        ..ConverseRequest::default()
    };
    let mut all_text = String::new();

    let tool_config = root.get("toolConfig");
    if let Some(tc) = tool_config {
        out.tool_names = validate_tool_config(tc)?;
        if !model.tools {
            return Err(AwsError::validation("This model doesn't support tool use."));
        }
        if streaming && !model.streaming_tools {
            return Err(AwsError::validation(
                "This model doesn't support tool use in streaming mode.",
            ));
        }
    }

    if let Some(system) = root.get("system") {
        let blocks = as_arr(system, "#/system")?;
        if !blocks.is_empty() && !model.system_prompts {
            // Wording approximated.
            return Err(AwsError::validation(
                "This model doesn't support system messages. Try again without system messages.",
            ));
        }
        for (i, b) in blocks.iter().enumerate() {
            let path = format!("#/system/{i}");
            let o = as_obj(b, &path)?;
            only_keys(o, &["text", "cachePoint", "guardContent"], &path)?;
            if o.len() != 1 {
                return Err(AwsError::malformed(format!(
                    "{path}: a SystemContentBlock must have exactly one member"
                )));
            }
            if let Some(t) = o.get("text") {
                all_text.push_str(as_str(t, &format!("{path}/text"))?);
                all_text.push('\n');
            }
            if let Some(cp) = o.get("cachePoint") {
                validate_cache_point(cp, &format!("{path}/cachePoint"))?;
            }
        }
    }

    if let Some(rm) = root.get("requestMetadata") {
        validate_request_metadata(rm)?;
    }
    if let Some(oc) = root.get("outputConfig") {
        validate_output_config(oc)?;
    }
    if let Some(g) = root.get("guardrailConfig") {
        out.guardrail = Some(guardrail::validate_config(g, streaming)?);
    }
    let inference = validate_inference(root.get("inferenceConfig"))?;
    out.max_tokens = inference.max_tokens;
    // Newer Claude models refuse both sampling knobs at once, whatever else is sent.
    if model.family == Family::Anthropic
        && model.temperature_top_p_exclusive
        && inference.temperature.is_some()
        && inference.top_p.is_some()
    {
        return Err(anthropic_error(
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
        ));
    }

    let messages = match root.get("messages") {
        Some(m) => as_arr(m, "#/messages")?.as_slice(),
        None => &[],
    };
    if messages.is_empty() {
        return Err(AwsError::validation(
            "A conversation must start with a user message. Try again with a conversation that \
             starts with a user message.",
        ));
    }
    let mut uses_tools = false;
    let mut prev_role: Option<&str> = None;
    let mut pending_tool_ids: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let path = format!("#/messages/{i}");
        let o = as_obj(m, &path)?;
        only_keys(o, &["role", "content"], &path)?;
        let role_v = required(o, "role", &path)?;
        let role = as_str(role_v, &format!("{path}/role"))?;
        if role != "user" && role != "assistant" {
            return Err(constraint(
                role_v,
                &format!("messages.{}.member.role", i + 1),
                "Member must satisfy enum value set: [user, assistant]",
            ));
        }
        if i == 0 && role != "user" {
            return Err(AwsError::validation(
                "A conversation must start with a user message. Try again with a conversation \
                 that starts with a user message.",
            ));
        }
        if prev_role == Some(role) {
            return Err(AwsError::validation(
                "A conversation must alternate between user and assistant roles. Make sure the \
                 conversation alternates between user and assistant roles and try again.",
            ));
        }
        prev_role = Some(role);
        let content = as_arr(required(o, "content", &path)?, &format!("{path}/content"))?;
        if content.is_empty() {
            return Err(AwsError::validation(format!(
                "The content field in the Message object at messages.{i} is empty. Add a \
                 ContentBlock object to the content field and try again."
            )));
        }
        let mut tool_use_ids = Vec::new();
        let mut tool_result_ids = Vec::new();
        let mut user_text = String::new();
        let mut result_text = String::new();
        for (j, b) in content.iter().enumerate() {
            let bpath = format!("{path}/content/{j}");
            let kind = validate_block(b, &bpath, i, j, role, model)?;
            let bo = as_obj(b, &bpath)?;
            match kind {
                "text" => {
                    let t = bo.get("text").and_then(Value::as_str).unwrap_or_default();
                    all_text.push_str(t);
                    all_text.push('\n');
                    if role == "user" {
                        user_text.push_str(t);
                    }
                }
                "toolUse" => {
                    uses_tools = true;
                    let tu = &bo["toolUse"];
                    tool_use_ids.push(tu["toolUseId"].as_str().unwrap_or_default().to_string());
                    all_text.push_str(&tu["input"].to_string());
                }
                "toolResult" => {
                    uses_tools = true;
                    let tr = &bo["toolResult"];
                    tool_result_ids.push(tr["toolUseId"].as_str().unwrap_or_default().to_string());
                    all_text.push_str(&tr["content"].to_string());
                    for item in tr["content"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                        if let Some(t) = item.get("text").and_then(Value::as_str) {
                            result_text.push_str(t);
                        }
                    }
                }
                _ => {}
            }
        }
        // Claude's rules for tool results: each toolUse of the previous turn
        // needs a toolResult in the next user turn, and no extra results.
        if model.family == Family::Anthropic && role == "user" {
            if tool_result_ids.len() > pending_tool_ids.len() {
                return Err(AwsError::validation(format!(
                    "The number of toolResult blocks at messages.{i}.content exceeds the number \
                     of toolUse blocks of previous turn."
                )));
            }
            let missing: Vec<&String> = pending_tool_ids
                .iter()
                .filter(|id| !tool_result_ids.contains(id))
                .collect();
            if !missing.is_empty() {
                let ids: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                return Err(AwsError::validation(format!(
                    "Expected toolResult blocks at messages.{i}.content for the following Ids: {}",
                    ids.join(", ")
                )));
            }
        }
        pending_tool_ids = tool_use_ids;
        if role == "user" {
            // A user turn made only of tool results: its result texts stand
            // in for the user text (answer and marker), so black-box agent
            // tests can script the next round.
            out.last_user_text = if user_text.is_empty() {
                result_text
            } else {
                user_text
            };
        }
    }
    if uses_tools && tool_config.is_none() {
        return Err(AwsError::validation(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks.",
        ));
    }

    if let Some(extra) = root.get("additionalModelRequestFields") {
        validate_additional(extra, model, &inference, messages)?;
    }

    if let Some((clean, script)) = extract_marker(&out.last_user_text)? {
        out.last_user_text = clean;
        out.marker = Some(script);
    }
    out.input_tokens = count_tokens(&all_text).max(1);
    out.input_chars = all_text.trim_end().chars().count();
    Ok(out)
}

/// requestMetadata: at most 16 pairs; keys 1–256 and values 0–256 characters
/// of `[a-zA-Z0-9\s:_@$#=/+,-.]`.
fn validate_request_metadata(v: &Value) -> Result<(), AwsError> {
    let o = as_obj(v, "#/requestMetadata")?;
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || c.is_whitespace() || ":_@$#=/+,-.".contains(c);
    if o.len() > 16 {
        return Err(constraint(
            &Value::from(o.len()),
            "requestMetadata",
            "Member must have length less than or equal to 16",
        ));
    }
    for (k, val) in o {
        let s = as_str(val, &format!("#/requestMetadata/{k}"))?;
        if k.is_empty() || k.chars().count() > 256 || !k.chars().all(allowed) {
            return Err(constraint(
                &Value::String(k.clone()),
                "requestMetadata",
                "Map keys must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [a-zA-Z0-9\\s:_@$#=/+,-.]{1,256}]",
            ));
        }
        if s.chars().count() > 256 || !s.chars().all(allowed) {
            return Err(constraint(
                val,
                "requestMetadata",
                "Map values must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: [a-zA-Z0-9\\s:_@$#=/+,-.]{0,256}]",
            ));
        }
    }
    Ok(())
}

/// outputConfig.textFormat: `{type: "json_schema", structure: {jsonSchema: {schema: "<JSON text>", name, description?}}}`.
fn validate_output_config(v: &Value) -> Result<(), AwsError> {
    let p = "#/outputConfig";
    let o = as_obj(v, p)?;
    only_keys(o, &["textFormat", "effort"], p)?;
    let Some(tf) = o.get("textFormat") else {
        return Ok(());
    };
    let tp = format!("{p}/textFormat");
    let t = as_obj(tf, &tp)?;
    only_keys(t, &["type", "structure"], &tp)?;
    let ty = as_str(required(t, "type", &tp)?, &format!("{tp}/type"))?;
    if ty != "json_schema" {
        return Err(AwsError::malformed(format!(
            "{tp}/type: {ty} is not a valid enum value"
        )));
    }
    let sp = format!("{tp}/structure");
    let st = as_obj(required(t, "structure", &tp)?, &sp)?;
    only_keys(st, &["jsonSchema"], &sp)?;
    let jp = format!("{sp}/jsonSchema");
    let js = as_obj(required(st, "jsonSchema", &sp)?, &jp)?;
    only_keys(js, &["schema", "name", "description"], &jp)?;
    let schema = as_str(required(js, "schema", &jp)?, &format!("{jp}/schema"))?;
    if !serde_json::from_str::<Value>(schema).is_ok_and(|v| v.is_object()) {
        // Wording approximated.
        return Err(AwsError::validation(
            "The JSON schema in outputConfig.textFormat.structure.jsonSchema.schema is not a valid JSON object.",
        ));
    }
    Ok(())
}

fn validate_cache_point(cp: &Value, path: &str) -> Result<(), AwsError> {
    let o = as_obj(cp, path)?;
    only_keys(o, &["type", "ttl"], path)?;
    let t = required(o, "type", path)?;
    if t.as_str() != Some("default") {
        return Err(AwsError::malformed(format!(
            "{path}/type: {t} is not a valid enum value"
        )));
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Inference {
    max_tokens: Option<u64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
}

fn validate_inference(v: Option<&Value>) -> Result<Inference, AwsError> {
    let mut out = Inference::default();
    let Some(v) = v else { return Ok(out) };
    let o = as_obj(v, "#/inferenceConfig")?;
    only_keys(
        o,
        &["maxTokens", "temperature", "topP", "stopSequences"],
        "#/inferenceConfig",
    )?;
    if let Some(m) = o.get("maxTokens") {
        let n = m
            .as_i64()
            .ok_or_else(|| wrong_type("#/inferenceConfig/maxTokens", "Integer", m))?;
        if n < 1 {
            return Err(constraint(
                m,
                "inferenceConfig.maxTokens",
                "Member must have value greater than or equal to 1",
            ));
        }
        out.max_tokens = Some(n as u64);
    }
    for (key, slot) in [
        ("temperature", &mut out.temperature),
        ("topP", &mut out.top_p),
    ] {
        if let Some(t) = o.get(key) {
            let x = t
                .as_f64()
                .ok_or_else(|| wrong_type(&format!("#/inferenceConfig/{key}"), "Number", t))?;
            let at = format!("inferenceConfig.{key}");
            if x < 0.0 {
                return Err(constraint(
                    t,
                    &at,
                    "Member must have value greater than or equal to 0",
                ));
            }
            if x > 1.0 {
                return Err(constraint(
                    t,
                    &at,
                    "Member must have value less than or equal to 1",
                ));
            }
            *slot = Some(x);
        }
    }
    if let Some(s) = o.get("stopSequences") {
        for (i, x) in as_arr(s, "#/inferenceConfig/stopSequences")?
            .iter()
            .enumerate()
        {
            as_str(x, &format!("#/inferenceConfig/stopSequences/{i}"))?;
        }
    }
    Ok(out)
}

/// Tool names must match `[a-zA-Z0-9_-]+`, 1–64 characters.
fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn validate_tool_config(tc: &Value) -> Result<Vec<String>, AwsError> {
    let o = as_obj(tc, "#/toolConfig")?;
    only_keys(o, &["tools", "toolChoice"], "#/toolConfig")?;
    let tools = as_arr(required(o, "tools", "#/toolConfig")?, "#/toolConfig/tools")?;
    if tools.is_empty() {
        return Err(constraint(
            &Value::Array(vec![]),
            "toolConfig.tools",
            "Member must have length greater than or equal to 1",
        ));
    }
    let mut names = Vec::new();
    for (i, t) in tools.iter().enumerate() {
        let path = format!("#/toolConfig/tools/{i}");
        let to = as_obj(t, &path)?;
        only_keys(to, &["toolSpec", "cachePoint", "systemTool"], &path)?;
        if let Some(spec) = to.get("toolSpec") {
            let sp = format!("{path}/toolSpec");
            let so = as_obj(spec, &sp)?;
            only_keys(so, &["name", "description", "inputSchema", "strict"], &sp)?;
            let name_v = required(so, "name", &sp)?;
            let name = as_str(name_v, &format!("{sp}/name"))?;
            if !valid_tool_name(name) {
                return Err(constraint(
                    name_v,
                    &format!("toolConfig.tools.{}.member.toolSpec.name", i + 1),
                    "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+",
                ));
            }
            if names.iter().any(|n| n == name) {
                // Wording approximated.
                return Err(AwsError::validation(format!(
                    "The toolConfig contains duplicate tool names: {name}"
                )));
            }
            let schema = required(so, "inputSchema", &sp)?;
            let so2 = as_obj(schema, &format!("{sp}/inputSchema"))?;
            only_keys(so2, &["json"], &format!("{sp}/inputSchema"))?;
            let js = required(so2, "json", &format!("{sp}/inputSchema"))?;
            as_obj(js, &format!("{sp}/inputSchema/json"))?;
            names.push(name.to_string());
        } else if let Some(cp) = to.get("cachePoint") {
            validate_cache_point(cp, &format!("{path}/cachePoint"))?;
        }
    }
    if let Some(choice) = o.get("toolChoice") {
        let co = as_obj(choice, "#/toolConfig/toolChoice")?;
        only_keys(co, &["auto", "any", "tool"], "#/toolConfig/toolChoice")?;
        if let Some(t) = co.get("tool") {
            let n = t.get("name").and_then(Value::as_str).unwrap_or_default();
            if !names.iter().any(|x| x == n) {
                // Wording approximated.
                return Err(AwsError::validation(format!(
                    "The tool {n} specified in toolChoice is not defined in toolConfig.tools."
                )));
            }
        }
    }
    Ok(names)
}

const IMAGE_FORMATS: &[&str] = &["png", "jpeg", "gif", "webp"];
const DOC_FORMATS: &[&str] = &[
    "pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md",
];

fn validate_source(v: &Value, path: &str, kinds: &[&str]) -> Result<(), AwsError> {
    let o = as_obj(v, path)?;
    only_keys(o, kinds, path)?;
    if o.len() != 1 {
        return Err(AwsError::malformed(format!(
            "{path}: exactly one source member is required"
        )));
    }
    if let Some(b) = o.get("bytes") {
        let s = as_str(b, &format!("{path}/bytes"))?;
        if base64::engine::general_purpose::STANDARD.decode(s).is_err() {
            return Err(AwsError::malformed(format!(
                "{path}/bytes: invalid base64 blob"
            )));
        }
    }
    if let Some(s3) = o.get("s3Location") {
        let so = as_obj(s3, &format!("{path}/s3Location"))?;
        only_keys(so, &["uri", "bucketOwner"], &format!("{path}/s3Location"))?;
        required(so, "uri", &format!("{path}/s3Location"))?;
    }
    Ok(())
}

fn enum_value(
    o: &Map<String, Value>,
    key: &str,
    allowed: &[&str],
    path: &str,
) -> Result<(), AwsError> {
    let v = required(o, key, path)?;
    let s = as_str(v, &format!("{path}/{key}"))?;
    if !allowed.contains(&s) {
        return Err(AwsError::malformed(format!(
            "{path}/{key}: {s} is not a valid enum value"
        )));
    }
    Ok(())
}

/// Validates one content block and returns its kind.
fn validate_block(
    b: &Value,
    path: &str,
    i: usize,
    j: usize,
    role: &str,
    model: &ModelSpec,
) -> Result<&'static str, AwsError> {
    let o = as_obj(b, path)?;
    only_keys(o, CONTENT_KINDS, path)?;
    if o.len() != 1 {
        return Err(AwsError::malformed(format!(
            "{path}: a ContentBlock must have exactly one member, found {}",
            o.len()
        )));
    }
    let (key, v) = o.iter().next().ok_or_else(|| AwsError::malformed(path))?;
    let kind = CONTENT_KINDS
        .iter()
        .copied()
        .find(|k| k == key)
        .unwrap_or("text");
    let p = format!("{path}/{key}");
    match kind {
        "text" => {
            let t = as_str(v, &p)?;
            if t.trim().is_empty() {
                return Err(AwsError::validation(format!(
                    "The text field in the ContentBlock object at messages.{i}.content.{j} is \
                     blank. Add text to the text field, and try again."
                )));
            }
        }
        "image" => {
            let io = as_obj(v, &p)?;
            only_keys(io, &["format", "source", "error"], &p)?;
            enum_value(io, "format", IMAGE_FORMATS, &p)?;
            validate_source(
                required(io, "source", &p)?,
                &format!("{p}/source"),
                &["bytes", "s3Location"],
            )?;
            if !model.input_modalities.iter().any(|m| m == "IMAGE") {
                // Wording approximated.
                return Err(AwsError::validation(
                    "This model doesn't support the image content block that you provided. Try \
                     again with supported content blocks.",
                ));
            }
        }
        "document" => {
            let d = as_obj(v, &p)?;
            only_keys(d, &["format", "name", "source", "context", "citations"], &p)?;
            enum_value(d, "format", DOC_FORMATS, &p)?;
            as_str(required(d, "name", &p)?, &format!("{p}/name"))?;
            validate_source(
                required(d, "source", &p)?,
                &format!("{p}/source"),
                &["bytes", "s3Location", "text", "content"],
            )?;
        }
        "video" => {
            let vo = as_obj(v, &p)?;
            only_keys(vo, &["format", "source"], &p)?;
            required(vo, "format", &p)?;
            validate_source(
                required(vo, "source", &p)?,
                &format!("{p}/source"),
                &["bytes", "s3Location"],
            )?;
        }
        "toolUse" => {
            if role != "assistant" {
                // Wording approximated.
                return Err(AwsError::validation(format!(
                    "The toolUse block at messages.{i}.content.{j} must be in an assistant message."
                )));
            }
            let t = as_obj(v, &p)?;
            only_keys(t, &["toolUseId", "name", "input", "type"], &p)?;
            as_str(required(t, "toolUseId", &p)?, &format!("{p}/toolUseId"))?;
            as_str(required(t, "name", &p)?, &format!("{p}/name"))?;
            required(t, "input", &p)?;
        }
        "toolResult" => {
            if role != "user" {
                // Wording approximated.
                return Err(AwsError::validation(format!(
                    "The toolResult block at messages.{i}.content.{j} must be in a user message."
                )));
            }
            let t = as_obj(v, &p)?;
            only_keys(t, &["toolUseId", "content", "status", "type"], &p)?;
            as_str(required(t, "toolUseId", &p)?, &format!("{p}/toolUseId"))?;
            let items = as_arr(required(t, "content", &p)?, &format!("{p}/content"))?;
            for (k, item) in items.iter().enumerate() {
                let ip = format!("{p}/content/{k}");
                let io = as_obj(item, &ip)?;
                only_keys(
                    io,
                    &["text", "json", "image", "document", "video", "searchResult"],
                    &ip,
                )?;
                if io.len() != 1 {
                    return Err(AwsError::malformed(format!(
                        "{ip}: a ToolResultContentBlock must have exactly one member"
                    )));
                }
                if let Some(x) = io.get("text") {
                    as_str(x, &format!("{ip}/text"))?;
                }
            }
            if let Some(s) = t.get("status") {
                let st = as_str(s, &format!("{p}/status"))?;
                if st != "success" && st != "error" {
                    return Err(AwsError::malformed(format!(
                        "{p}/status: {st} is not a valid enum value"
                    )));
                }
            }
        }
        "reasoningContent" => {
            if role != "assistant" {
                // Wording approximated.
                return Err(AwsError::validation(format!(
                    "The reasoningContent block at messages.{i}.content.{j} must be in an \
                     assistant message."
                )));
            }
            let r = as_obj(v, &p)?;
            only_keys(r, &["reasoningText", "redactedContent"], &p)?;
            if let Some(rt) = r.get("reasoningText") {
                let rp = format!("{p}/reasoningText");
                let ro = as_obj(rt, &rp)?;
                only_keys(ro, &["text", "signature"], &rp)?;
                as_str(required(ro, "text", &rp)?, &format!("{rp}/text"))?;
                if model.family == Family::Anthropic && !ro.contains_key("signature") {
                    return Err(AwsError::validation(format!(
                        "The model returned the following errors: messages.{i}.content.{j}.thinking.signature: Field required"
                    )));
                }
            }
        }
        "cachePoint" => validate_cache_point(v, &p)?,
        _ => {}
    }
    Ok(kind)
}

fn anthropic_error(msg: &str) -> AwsError {
    AwsError::validation(format!("The model returned the following errors: {msg}"))
}

const ANTHROPIC_EXTRA: &[&str] = &[
    "anthropic_beta",
    "top_k",
    "thinking",
    "reasoning_config",
    "output_config",
    "tool_choice",
    "metadata",
    "context_management",
    "inference_geo",
];

fn validate_additional(
    extra: &Value,
    model: &ModelSpec,
    inference: &Inference,
    messages: &[Value],
) -> Result<(), AwsError> {
    let o = as_obj(extra, "#/additionalModelRequestFields")?;
    match model.family {
        // Claude: the fields are merged into Anthropic's native body, which
        // rejects unknown keys pydantic-style.
        Family::Anthropic => {
            if let Some(k) = o.keys().find(|k| !ANTHROPIC_EXTRA.contains(&k.as_str())) {
                return Err(anthropic_error(&format!(
                    "{k}: Extra inputs are not permitted"
                )));
            }
            if let Some(b) = o.get("anthropic_beta") {
                let arr = b.as_array().ok_or_else(|| {
                    anthropic_error("anthropic_beta: Input should be a valid list")
                })?;
                if arr.iter().any(|x| !x.is_string()) {
                    return Err(anthropic_error(
                        "anthropic_beta.0: Input should be a valid string",
                    ));
                }
            }
            let thinking = o.get("thinking").or_else(|| o.get("reasoning_config"));
            let enabled = thinking
                .and_then(|t| t.get("type"))
                .and_then(Value::as_str)
                .is_some_and(|t| t == "enabled" || t == "adaptive");
            if let Some(t) = thinking {
                let to = t.as_object().ok_or_else(|| {
                    anthropic_error("thinking: Input should be a valid dictionary")
                })?;
                let ty = to.get("type").and_then(Value::as_str).unwrap_or_default();
                if !["enabled", "disabled", "adaptive"].contains(&ty) {
                    return Err(anthropic_error(
                        "thinking: Input tag does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'",
                    ));
                }
                if ty == "enabled" {
                    let budget =
                        to.get("budget_tokens")
                            .and_then(Value::as_u64)
                            .ok_or_else(|| {
                                anthropic_error("thinking.enabled.budget_tokens: Field required")
                            })?;
                    if budget < 1024 {
                        return Err(anthropic_error(
                            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
                        ));
                    }
                    if let Some(max) = inference.max_tokens
                        && max <= budget
                    {
                        return Err(anthropic_error(
                            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size",
                        ));
                    }
                }
            }
            if enabled {
                if inference
                    .temperature
                    .is_some_and(|t| (t - 1.0).abs() > f64::EPSILON)
                {
                    return Err(anthropic_error(
                        "`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility",
                    ));
                }
                if o.contains_key("top_k") {
                    return Err(anthropic_error(
                        "`top_k` must be unset when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility",
                    ));
                }
                check_thinking_history(messages)?;
            }
        }
        // Nova: documented extra fields only.
        // https://docs.aws.amazon.com/nova/latest/userguide/complete-request-schema.html
        Family::Nova => {
            only_keys(o, &["inferenceConfig", "reasoningConfig"], "#")?;
            if let Some(ic) = o.get("inferenceConfig") {
                let io = as_obj(ic, "#/inferenceConfig")?;
                only_keys(io, &["topK"], "#/inferenceConfig")?;
            }
            if let Some(rc) = o.get("reasoningConfig") {
                let ro = as_obj(rc, "#/reasoningConfig")?;
                only_keys(ro, &["type", "maxReasoningEffort"], "#/reasoningConfig")?;
            }
        }
        // Other families are passed through unmodelled.
        _ => {}
    }
    Ok(())
}

/// With thinking enabled, the final assistant turn that used tools must start
/// with a thinking block — the error agents hit when they drop reasoning
/// blocks between rounds.
fn check_thinking_history(messages: &[Value]) -> Result<(), AwsError> {
    let Some((i, last_assistant)) = messages
        .iter()
        .enumerate()
        .rev()
        .find(|(_, m)| m["role"] == "assistant")
    else {
        return Ok(());
    };
    let content = last_assistant["content"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let has_tool_use = content.iter().any(|b| b.get("toolUse").is_some());
    let first_is_reasoning = content
        .first()
        .is_some_and(|b| b.get("reasoningContent").is_some());
    if has_tool_use && !first_is_reasoning {
        let found = content
            .first()
            .and_then(|b| b.as_object())
            .and_then(|o| o.keys().next().cloned())
            .map(|k| match k.as_str() {
                "toolUse" => "tool_use".to_string(),
                other => other.to_string(),
            })
            .unwrap_or_default();
        return Err(anthropic_error(&format!(
            "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found \
             `{found}`. When `thinking` is enabled, a final `assistant` message must start with a \
             thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). \
             We recommend you include thinking blocks from previous turns. To avoid this \
             requirement, disable `thinking`. Please consult our documentation at \
             https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
        )));
    }
    Ok(())
}

/// The answer to a Converse request, before rendering.
#[derive(Debug, Clone)]
pub struct Answer {
    pub reasoning: Option<(String, String)>,
    pub redacted: Option<String>,
    pub text: Option<String>,
    /// (id, name, input JSON text, chunks)
    pub tools: Vec<(String, String, String, usize)>,
    pub stop_reason: String,
    pub usage: Value,
    pub latency_ms: u64,
    pub deltas: usize,
    /// Top-level response fields reporting how the request was served (`serviceTier`,
    /// `performanceConfig`), also sent in the stream's metadata event.
    pub served: Vec<(&'static str, Value)>,
    /// `trace` of the response (Converse) or of the `metadata` event (ConverseStream).
    pub trace: Option<Value>,
}

impl Answer {
    /// What the request's guardrail did: an intervention replaces the answer with its
    /// message and stops with `guardrail_intervened`; a trace goes with the answer.
    pub fn apply_guardrail(&mut self, outcome: GuardrailOutcome) {
        if let Some(message) = outcome.blocked {
            self.text = Some(message);
            self.reasoning = None;
            self.redacted = None;
            self.tools.clear();
            self.stop_reason = "guardrail_intervened".into();
        }
        self.trace = outcome.trace;
    }

    /// The text the model gave (before any guardrail), for the guardrail's trace.
    pub fn model_output(&self) -> String {
        self.text.clone().unwrap_or_default()
    }
}

fn tool_use_id(seed: u64, i: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = SplitMix64::new(seed ^ (i as u64).wrapping_mul(0x9e37_79b9));
    let s: String = (0..22)
        .map(|_| ALPHABET[(rng.next_u64() % ALPHABET.len() as u64) as usize] as char)
        .collect();
    format!("tooluse_{s}")
}

/// Computes the answer from the request and an optional script.
pub fn answer(req: &ConverseRequest, script: &Script) -> Answer {
    let mut stop_reason = script.stop_reason.clone();
    let tools: Vec<(String, String, String, usize)> = script
        .tool_calls
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                t.id.clone()
                    .unwrap_or_else(|| tool_use_id(req.body_hash, i)),
                t.name.clone(),
                t.input.to_string(),
                t.chunks.unwrap_or(2).clamp(1, 100_000),
            )
        })
        .collect();
    let mut text = match (script.reply_text(), tools.is_empty()) {
        (Some(t), _) => Some(t),
        (None, true) => Some(if req.last_user_text.trim().is_empty() {
            "Done.".to_string()
        } else {
            format!("You said: {}", req.last_user_text.trim())
        }),
        (None, false) => None,
    };
    // Honour maxTokens like a model does: cut the text, stop with max_tokens.
    if stop_reason.is_none()
        && let (Some(max), Some(t)) = (req.max_tokens, text.as_mut())
        && u64::from(count_tokens(t)) > max
    {
        let keep = (max as usize).saturating_mul(4);
        *t = t.chars().take(keep).collect();
        stop_reason = Some("max_tokens".into());
    }
    let stop_reason = stop_reason.unwrap_or_else(|| {
        if tools.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        }
        .to_string()
    });
    let reasoning = script.reasoning.clone().map(|r| {
        let sig = script.signature.clone().unwrap_or_else(|| {
            let h = fnv1a64(r.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(format!("double-signature-{h:016x}"))
        });
        (r, sig)
    });
    let mut out_text = String::new();
    if let Some((r, _)) = &reasoning {
        out_text.push_str(r);
    }
    if let Some(t) = &text {
        out_text.push_str(t);
    }
    for (_, _, input, _) in &tools {
        out_text.push_str(input);
    }
    let u = script.usage.clone().unwrap_or_default();
    let input = u.input_tokens.unwrap_or(req.input_tokens);
    let output = u
        .output_tokens
        .unwrap_or_else(|| count_tokens(&out_text).max(1));
    let mut usage = json!({
        "inputTokens": input,
        "outputTokens": output,
        "totalTokens": input + output,
    });
    if let Some(c) = u.cache_read_input_tokens {
        usage["cacheReadInputTokens"] = json!(c);
    }
    if let Some(c) = u.cache_write_input_tokens {
        usage["cacheWriteInputTokens"] = json!(c);
    }
    if let (Some(r), Some(w)) = (u.cache_read_input_tokens, u.cache_write_input_tokens) {
        usage["totalTokens"] = json!(input + output + r + w);
    }
    Answer {
        reasoning,
        redacted: script.redacted.clone(),
        text,
        tools,
        stop_reason,
        usage,
        latency_ms: script.latency_ms.unwrap_or(100),
        deltas: script.deltas.unwrap_or(3).clamp(1, 1_000_000),
        served: Vec::new(),
        trace: None,
    }
}

/// The blocking Converse response document.
pub fn render_json(a: &Answer) -> Value {
    let mut content = Vec::new();
    if let Some((text, sig)) = &a.reasoning {
        content
            .push(json!({"reasoningContent": {"reasoningText": {"text": text, "signature": sig}}}));
    }
    if let Some(r) = &a.redacted {
        content.push(json!({"reasoningContent": {"redactedContent": r}}));
    }
    if let Some(t) = &a.text {
        content.push(json!({ "text": t }));
    }
    for (id, name, input, _) in &a.tools {
        let input: Value = serde_json::from_str(input).unwrap_or(Value::Null);
        content.push(json!({"toolUse": {"toolUseId": id, "name": name, "input": input}}));
    }
    let mut out = json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": a.stop_reason,
        "usage": a.usage,
        "metrics": {"latencyMs": a.latency_ms},
    });
    for (key, value) in &a.served {
        out[*key] = value.clone();
    }
    if let Some(t) = &a.trace {
        out["trace"] = t.clone();
    }
    out
}

/// Bedrock pads every stream event with a `p` field of varying length (to
/// hide token lengths); clients must ignore it, so the double sends one too.
fn pad(i: usize) -> &'static str {
    const P: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    &P[..(i * 7) % P.len() + 1]
}

fn event(plan: &mut StreamPlan, kind: &str, mut payload: Value) {
    let i = plan.events();
    if let Some(o) = payload.as_object_mut() {
        o.insert("p".into(), Value::String(pad(i).into()));
    }
    let bytes = serde_json::to_vec(&payload).unwrap_or_default();
    plan.event(kind, Bytes::from(bytes));
}

/// How many non-empty deltas `text` can be cut into: the requested number, fewer for a
/// short text (the answer is never changed to fit the number of deltas).
fn delta_count(text: &str, requested: usize) -> usize {
    requested.min(text.chars().count()).max(1)
}

/// The ConverseStream events for an answer, paced and faulted as scripted.
pub fn render_stream(a: &Answer, pacing: Pacing) -> StreamPlan {
    let mut plan = StreamPlan::new(pacing);
    event(&mut plan, "messageStart", json!({"role": "assistant"}));
    let mut index = 0usize;
    if let Some((text, sig)) = &a.reasoning {
        for piece in split_even(text, delta_count(text, a.deltas)) {
            event(
                &mut plan,
                "contentBlockDelta",
                json!({"contentBlockIndex": index, "delta": {"reasoningContent": {"text": piece}}}),
            );
        }
        event(
            &mut plan,
            "contentBlockDelta",
            json!({"contentBlockIndex": index, "delta": {"reasoningContent": {"signature": sig}}}),
        );
        event(
            &mut plan,
            "contentBlockStop",
            json!({"contentBlockIndex": index}),
        );
        index += 1;
    }
    if let Some(r) = &a.redacted {
        event(
            &mut plan,
            "contentBlockDelta",
            json!({"contentBlockIndex": index, "delta": {"reasoningContent": {"redactedContent": r}}}),
        );
        event(
            &mut plan,
            "contentBlockStop",
            json!({"contentBlockIndex": index}),
        );
        index += 1;
    }
    if let Some(t) = &a.text {
        for piece in split_even(t, delta_count(t, a.deltas)) {
            if plan.is_done() {
                break;
            }
            event(
                &mut plan,
                "contentBlockDelta",
                json!({"contentBlockIndex": index, "delta": {"text": piece}}),
            );
        }
        event(
            &mut plan,
            "contentBlockStop",
            json!({"contentBlockIndex": index}),
        );
        index += 1;
    }
    for (id, name, input, chunks) in &a.tools {
        event(
            &mut plan,
            "contentBlockStart",
            json!({"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": id, "name": name}}}),
        );
        for piece in split_even(input, *chunks) {
            event(
                &mut plan,
                "contentBlockDelta",
                json!({"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}),
            );
        }
        event(
            &mut plan,
            "contentBlockStop",
            json!({"contentBlockIndex": index}),
        );
        index += 1;
    }
    event(
        &mut plan,
        "messageStop",
        json!({"stopReason": a.stop_reason}),
    );
    let mut metadata = json!({"usage": a.usage, "metrics": {"latencyMs": a.latency_ms}});
    for (key, value) in &a.served {
        metadata[*key] = value.clone();
    }
    if let Some(t) = &a.trace {
        metadata["trace"] = t.clone();
    }
    event(&mut plan, "metadata", metadata);
    plan
}

/// Pacing for a stream from a script.
pub fn pacing(script: &Script) -> Pacing {
    Pacing {
        delay: script.delay_ms.map(Duration::from_millis),
        exception: script.exception.as_ref().map(|e| {
            (
                e.after,
                e.exception_type.clone(),
                e.message.clone().unwrap_or_else(|| {
                    format!("{} (scripted by bedrock-double)", e.exception_type)
                }),
            )
        }),
        drop_after: script.drop_after,
        stall: script
            .stall
            .as_ref()
            .map(|s| (s.after, Duration::from_millis(s.ms))),
    }
}

/// Validates a CountTokens body and returns the input token count.
/// https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_CountTokens.html
pub fn count_tokens_request(
    body: &Value,
    model: &ModelSpec,
) -> Result<(u32, Option<Script>), AwsError> {
    let root = as_obj(body, "#")?;
    only_keys(root, &["input"], "#")?;
    let input = as_obj(required(root, "input", "#")?, "#/input")?;
    only_keys(input, &["converse", "invokeModel"], "#/input")?;
    if input.len() != 1 {
        return Err(AwsError::malformed(
            "#/input: exactly one of [converse, invokeModel] is required",
        ));
    }
    if let Some(c) = input.get("converse") {
        let co = as_obj(c, "#/input/converse")?;
        only_keys(
            co,
            &[
                "messages",
                "system",
                "toolConfig",
                "additionalModelRequestFields",
            ],
            "#/input/converse",
        )?;
        let req = validate(c, model, false)?;
        return Ok((req.input_tokens, req.marker));
    }
    let im = as_obj(&input["invokeModel"], "#/input/invokeModel")?;
    only_keys(im, &["body"], "#/input/invokeModel")?;
    let b64 = as_str(
        required(im, "body", "#/input/invokeModel")?,
        "#/input/invokeModel/body",
    )?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| AwsError::malformed("#/input/invokeModel/body: invalid base64 blob"))?;
    let text = String::from_utf8_lossy(&raw);
    Ok((count_tokens(&text).max(1), None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::builtin_models;

    fn model(id: &str) -> ModelSpec {
        builtin_models()
            .into_iter()
            .find(|m| m.id == id)
            .unwrap_or_else(|| ModelSpec::text(id, "x", "x", Family::Other))
    }

    fn msg(e: Result<ConverseRequest, AwsError>) -> String {
        e.err().map(|e| e.message).unwrap_or_default()
    }

    #[test]
    fn converse_rules() {
        let claude = model("anthropic.claude-sonnet-4-5-20250929-v1:0");
        let ok = json!({"messages":[{"role":"user","content":[{"text":"hi"}]}]});
        assert!(validate(&ok, &claude, true).is_ok());
        let first_assistant = json!({"messages":[{"role":"assistant","content":[{"text":"hi"}]}]});
        assert!(
            msg(validate(&first_assistant, &claude, false))
                .starts_with("A conversation must start")
        );
        let twice = json!({"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"user","content":[{"text":"b"}]}]});
        assert!(msg(validate(&twice, &claude, false)).contains("must alternate"));
        let tools = json!({"messages":[
            {"role":"user","content":[{"text":"a"}]},
            {"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"f","input":{}}}]},
            {"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"r"}]}}]}]});
        assert!(
            msg(validate(&tools, &claude, false))
                .starts_with("The toolConfig field must be defined")
        );
        let extra = json!({"messages":[{"role":"user","content":[{"text":"a"}]}],"bogus":1});
        assert!(msg(validate(&extra, &claude, false)).contains("extraneous key [bogus]"));
        let both = json!({"messages":[{"role":"user","content":[{"text":"a"}]}],
            "inferenceConfig":{"temperature":0.5,"topP":0.9}, "additionalModelRequestFields":{}});
        assert!(msg(validate(&both, &claude, false)).contains("cannot both be specified"));
        let nova = model("amazon.nova-lite-v1:0");
        let topk = json!({"messages":[{"role":"user","content":[{"text":"a"}]}],
            "additionalModelRequestFields":{"top_k":5}});
        assert!(msg(validate(&topk, &nova, false)).contains("extraneous key [top_k]"));
        let mistral = model("mistral.mistral-7b-instruct-v0:2");
        let sys =
            json!({"messages":[{"role":"user","content":[{"text":"a"}]}],"system":[{"text":"s"}]});
        assert!(msg(validate(&sys, &mistral, false)).contains("system messages"));
    }

    #[test]
    fn metadata_and_output_config() {
        let nova = model("amazon.nova-pro-v1:0");
        let base = |extra: Value| {
            let mut b = json!({"messages":[{"role":"user","content":[{"text":"a"}]}]});
            if let (Some(o), Some(e)) = (b.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            b
        };
        let ok = base(json!({"requestMetadata": {"dify_app_id": "app-1", "dify_source": "dify"}}));
        assert!(validate(&ok, &nova, false).is_ok());
        let bad = base(json!({"requestMetadata": {"app": "semi;colon"}}));
        assert!(msg(validate(&bad, &nova, false)).contains("Map values must satisfy constraint"));
        let schema = json!({"outputConfig": {"textFormat": {"type": "json_schema",
            "structure": {"jsonSchema": {"schema": "{\"type\":\"object\"}", "name": "response"}}}}});
        assert!(validate(&base(schema), &nova, false).is_ok());
        let not_text = json!({"outputConfig": {"textFormat": {"type": "json_schema",
            "structure": {"jsonSchema": {"schema": {"type": "object"}, "name": "response"}}}}});
        assert!(msg(validate(&base(not_text), &nova, false)).contains("expected type: String"));
    }

    #[test]
    fn stream_shape() {
        let req = ConverseRequest {
            last_user_text: "hello world".into(),
            input_tokens: 3,
            ..ConverseRequest::default()
        };
        let a = answer(&req, &Script::default());
        assert_eq!(a.text.as_deref(), Some("You said: hello world"));
        assert_eq!(a.stop_reason, "end_turn");
        let plan = render_stream(&a, Pacing::default());
        // messageStart + 3 deltas + stop + messageStop + metadata
        assert_eq!(plan.events(), 7);
    }
}
