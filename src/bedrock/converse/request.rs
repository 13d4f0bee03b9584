//! Dify prompt messages → a Converse request: system prompts, text, images, documents,
//! tool calls and results, tools and tool choice, inference parameters and the family's
//! additional fields. Every input the model cannot take is refused here, by name, before
//! any call to AWS.

use std::collections::HashMap;

use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    AnyToolChoice, AutoToolChoice, CachePointBlock, CachePointType, ContentBlock, ConversationRole,
    DocumentBlock, DocumentFormat, DocumentSource, ImageBlock, ImageFormat, ImageSource,
    InferenceConfiguration, Message, SpecificToolChoice, SystemContentBlock, Tool as ConverseTool,
    ToolChoice as ConverseToolChoice, ToolConfiguration, ToolInputSchema, ToolResultBlock,
    ToolResultContentBlock, ToolSpecification, ToolUseBlock,
};
use aws_smithy_types::Document;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value, json};

use crate::bedrock::document::to_document;
use crate::bedrock::families::{Family, Reasoning, TopK};
use crate::error::PluginError;
use crate::prompt::{Content, ContentPart, PromptMessage, Role, Tool, ToolChoice};

/// The name of the tool offered when history holds tool use but no tool is offered now:
/// Bedrock requires a toolConfig whenever messages contain toolUse or toolResult blocks.
pub const PLACEHOLDER_TOOL: &str = "dify_no_tools_available";

/// Standard base64, with or without padding, as browsers and SDKs produce it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Converse's limits on inline bytes (Bedrock user guide, ImageBlock and DocumentBlock).
const MAX_IMAGE_BYTES: usize = 3_750_000;
const MAX_DOCUMENT_BYTES: usize = 4_500_000;

/// What the model accepts, from its YAML features and its family.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    pub family: &'static Family,
    pub system_prompts: bool,
    pub vision: bool,
    pub documents: bool,
    pub tools: bool,
}

/// The model parameters a Converse request carries, already checked against the rules.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub max_tokens: Option<i64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<i64>,
    /// Anthropic extended thinking with this token budget.
    pub reasoning_budget: Option<i64>,
    pub cache_system: bool,
    pub cache_latest_messages: bool,
    /// Dify's `response_format` (JSON or XML): the answer must be one such document.
    pub response_format: Option<String>,
}

impl Params {
    /// Reads the validated `model_parameters`; every key a model may declare is consumed
    /// here or by the caller (cross-region), so none is dropped silently.
    pub fn from_model_parameters(p: &Map<String, Value>) -> Params {
        let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
        Params {
            max_tokens: p.get("max_tokens").and_then(Value::as_i64),
            temperature: p.get("temperature").and_then(Value::as_f64),
            top_p: p.get("top_p").and_then(Value::as_f64),
            top_k: p.get("top_k").and_then(Value::as_i64),
            reasoning_budget: if flag("reasoning_type") {
                Some(
                    p.get("reasoning_budget")
                        .and_then(Value::as_i64)
                        .unwrap_or(1024),
                )
            } else {
                None
            },
            cache_system: flag("system_cache_checkpoint"),
            cache_latest_messages: flag("latest_two_messages_cache_checkpoint"),
            response_format: p
                .get("response_format")
                .and_then(Value::as_str)
                .map(str::to_string),
        }
    }
}

/// A Converse request, ready for either `converse` or `converse_stream`.
#[derive(Debug, Clone)]
pub struct ConverseParts {
    pub model_id: String,
    pub system: Vec<SystemContentBlock>,
    pub messages: Vec<Message>,
    pub inference: Option<InferenceConfiguration>,
    pub tool_config: Option<ToolConfiguration>,
    pub additional_fields: Option<Document>,
    pub request_metadata: Option<HashMap<String, String>>,
}

pub struct ChatInput<'a> {
    pub model_id: String,
    pub caps: Capabilities,
    pub messages: &'a [PromptMessage],
    pub tools: &'a [Tool],
    pub tool_choice: Option<&'a ToolChoice>,
    pub stop: &'a [String],
    pub params: Params,
    pub request_metadata: Option<HashMap<String, String>>,
}

fn bad(message: impl Into<String>) -> PluginError {
    PluginError::bad_request(message)
}

fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, PluginError> {
    r.map_err(|e| PluginError::internal(format!("building the Converse request failed: {e}")))
}

pub fn build(input: ChatInput<'_>) -> Result<ConverseParts, PluginError> {
    let caps = input.caps;
    let mut system_texts: Vec<String> = Vec::new();
    let mut turns: Vec<(ConversationRole, Vec<ContentBlock>)> = Vec::new();
    let mut history_has_tools = false;
    let mut documents = 0usize;

    for (i, msg) in input.messages.iter().enumerate() {
        match msg.role {
            Role::System | Role::Developer => {
                let text = plain_text(msg, i)?;
                if !text.trim().is_empty() {
                    system_texts.push(text);
                }
            }
            Role::User => {
                let blocks = user_blocks(msg, i, caps, &mut documents)?;
                turns.push((ConversationRole::User, blocks));
            }
            Role::Assistant => {
                let mut blocks = Vec::new();
                let text = strip_think(&plain_text_lenient(msg));
                if !text.trim().is_empty() {
                    blocks.push(ContentBlock::Text(text));
                }
                for call in &msg.tool_calls {
                    history_has_tools = true;
                    let input_json = parse_arguments(&call.function.arguments).ok_or_else(|| {
                        bad(format!(
                            "message {i}: the arguments of tool call {:?} ({}) are not a JSON object",
                            call.id, call.function.name
                        ))
                    })?;
                    blocks.push(ContentBlock::ToolUse(built(
                        ToolUseBlock::builder()
                            .tool_use_id(tool_use_id(&call.id, i))
                            .name(&call.function.name)
                            .input(to_document(&input_json))
                            .build(),
                    )?));
                }
                if !blocks.is_empty() {
                    turns.push((ConversationRole::Assistant, blocks));
                }
            }
            Role::Tool => {
                history_has_tools = true;
                let id = msg.tool_call_id.as_deref().ok_or_else(|| {
                    bad(format!("message {i}: a tool result without tool_call_id"))
                })?;
                let text = plain_text_lenient(msg);
                let content = match serde_json::from_str::<Value>(&text) {
                    Ok(v @ Value::Object(_)) => ToolResultContentBlock::Json(to_document(&v)),
                    _ => ToolResultContentBlock::Text(if text.is_empty() {
                        "(empty result)".into()
                    } else {
                        text
                    }),
                };
                let block = built(
                    ToolResultBlock::builder()
                        .tool_use_id(tool_use_id(id, i))
                        .content(content)
                        .build(),
                )?;
                turns.push((
                    ConversationRole::User,
                    vec![ContentBlock::ToolResult(block)],
                ));
            }
        }
    }

    if !caps.tools && !input.tools.is_empty() {
        return Err(bad(
            "this model does not support tool calling; choose a model with the tool-call feature, or remove the tools",
        ));
    }
    if !caps.tools && history_has_tools {
        // A model without tools cannot read toolUse blocks: keep the history as text.
        turns = turns
            .into_iter()
            .map(|(role, blocks)| (role, blocks.into_iter().map(tool_block_as_text).collect()))
            .collect();
        history_has_tools = false;
    }

    if let Some(format) = &input.params.response_format {
        system_texts.push(format!(
            "Answer with one valid {format} document and nothing else: no explanation before or after it, and no code fences."
        ));
    }

    // Models without system prompts get them at the start of the first user turn.
    if !caps.system_prompts && !system_texts.is_empty() {
        let preamble = ContentBlock::Text(system_texts.join("\n\n"));
        match turns.iter_mut().find(|(r, _)| *r == ConversationRole::User) {
            Some((_, blocks)) => blocks.insert(0, preamble),
            None => turns.insert(0, (ConversationRole::User, vec![preamble])),
        }
        system_texts.clear();
    }

    let mut messages = merge_turns(turns);
    if messages.is_empty() {
        return Err(bad("the prompt has no user message"));
    }
    if messages[0].0 != ConversationRole::User {
        return Err(bad(
            "the conversation must start with a user message, not an assistant message",
        ));
    }

    let family = caps.family;
    if input.params.cache_latest_messages {
        if !family.prompt_caching {
            return Err(bad("prompt caching is not available for this model"));
        }
        let users: Vec<usize> = messages
            .iter()
            .enumerate()
            .filter(|(_, (r, _))| *r == ConversationRole::User)
            .map(|(i, _)| i)
            .collect();
        for &i in users.iter().rev().take(2) {
            messages[i].1.push(ContentBlock::CachePoint(cache_point()?));
        }
    }
    let mut system: Vec<SystemContentBlock> = system_texts
        .into_iter()
        .map(SystemContentBlock::Text)
        .collect();
    if input.params.cache_system && !system.is_empty() {
        if !family.prompt_caching {
            return Err(bad("prompt caching is not available for this model"));
        }
        system.push(SystemContentBlock::CachePoint(cache_point()?));
    }

    let tool_config = tool_config(input.tools, input.tool_choice, history_has_tools, family)?;
    // With thinking on, Anthropic requires the final assistant turn, when it called
    // tools, to start with its signed thinking block. Dify keeps no signatures, so such a
    // turn (the middle of an agent's tool loop) is continued without thinking; the first
    // step of each answer still thinks.
    let mut params = input.params.clone();
    let final_assistant_used_tools = messages
        .iter()
        .rev()
        .find(|(role, _)| *role == ConversationRole::Assistant)
        .is_some_and(|(_, content)| {
            content
                .iter()
                .any(|b| matches!(b, ContentBlock::ToolUse(_)))
        });
    if params.reasoning_budget.is_some() && final_assistant_used_tools {
        tracing::info!(
            "extended thinking is off for this step: it continues a tool call made without a signed thinking block"
        );
        params.reasoning_budget = None;
    }
    let (inference, additional) = parameters(&params, input.stop, family)?;

    let messages = messages
        .into_iter()
        .map(|(role, content)| {
            built(
                Message::builder()
                    .role(role)
                    .set_content(Some(content))
                    .build(),
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(ConverseParts {
        model_id: input.model_id,
        system,
        messages,
        inference,
        tool_config,
        additional_fields: additional.map(|v| to_document(&v)),
        request_metadata: input.request_metadata,
    })
}

fn cache_point() -> Result<CachePointBlock, PluginError> {
    built(
        CachePointBlock::builder()
            .r#type(CachePointType::Default)
            .build(),
    )
}

/// Converse needs alternating roles: consecutive turns of one role become one.
fn merge_turns(
    turns: Vec<(ConversationRole, Vec<ContentBlock>)>,
) -> Vec<(ConversationRole, Vec<ContentBlock>)> {
    let mut out: Vec<(ConversationRole, Vec<ContentBlock>)> = Vec::new();
    for (role, blocks) in turns {
        if blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            _ => out.push((role, blocks)),
        }
    }
    out
}

fn tool_block_as_text(block: ContentBlock) -> ContentBlock {
    match block {
        ContentBlock::ToolUse(t) => ContentBlock::Text(format!(
            "[called tool {} with {}]",
            t.name(),
            crate::bedrock::document::to_json(t.input())
        )),
        ContentBlock::ToolResult(r) => {
            let text: Vec<String> = r
                .content()
                .iter()
                .map(|c| match c {
                    ToolResultContentBlock::Text(t) => t.clone(),
                    ToolResultContentBlock::Json(d) => {
                        crate::bedrock::document::to_json(d).to_string()
                    }
                    _ => String::new(),
                })
                .collect();
            ContentBlock::Text(format!("[tool result] {}", text.join("\n")))
        }
        other => other,
    }
}

/// Tool use ids must match `[a-zA-Z0-9_-]+`; Dify's ids usually do, but keep them valid.
fn tool_use_id(id: &str, index: usize) -> String {
    let clean: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(64)
        .collect();
    if clean.is_empty() {
        format!("tooluse_{index}")
    } else {
        clean
    }
}

fn parse_arguments(arguments: &str) -> Option<Value> {
    if arguments.trim().is_empty() {
        return Some(json!({}));
    }
    match serde_json::from_str::<Value>(arguments).ok()? {
        v @ Value::Object(_) => Some(v),
        _ => None,
    }
}

/// Removes `<think>…</think>` that this plugin wrapped around reasoning in earlier turns:
/// it is display text, not something to send back as the assistant's words.
fn strip_think(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<think>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</think>") {
            Some(end) => rest = &rest[start + end + "</think>".len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out.trim_start().to_string()
}

fn plain_text_lenient(msg: &PromptMessage) -> String {
    match &msg.content {
        None => String::new(),
        Some(Content::Text(t)) => t.clone(),
        Some(Content::Parts(parts)) => parts
            .iter()
            .filter(|p| p.kind == "text")
            .filter_map(|p| p.data.clone())
            .collect::<Vec<_>>()
            .join(""),
    }
}

/// Text of a system message; files there have nowhere to go.
fn plain_text(msg: &PromptMessage, i: usize) -> Result<String, PluginError> {
    if let Some(Content::Parts(parts)) = &msg.content
        && let Some(p) = parts.iter().find(|p| p.kind != "text")
    {
        return Err(bad(format!(
            "message {i}: a system message cannot carry {} content",
            p.kind
        )));
    }
    Ok(plain_text_lenient(msg))
}

fn user_blocks(
    msg: &PromptMessage,
    i: usize,
    caps: Capabilities,
    documents: &mut usize,
) -> Result<Vec<ContentBlock>, PluginError> {
    let parts = match &msg.content {
        None => return Ok(Vec::new()),
        Some(Content::Text(t)) if t.trim().is_empty() => return Ok(Vec::new()),
        Some(Content::Text(t)) => return Ok(vec![ContentBlock::Text(t.clone())]),
        Some(Content::Parts(parts)) => parts,
    };
    let mut blocks = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let at = format!("message {i}, part {j}");
        match part.kind.as_str() {
            "text" => {
                if let Some(t) = part.data.as_ref().filter(|t| !t.trim().is_empty()) {
                    blocks.push(ContentBlock::Text(t.clone()));
                }
            }
            "image" => {
                if !caps.vision {
                    return Err(bad(format!(
                        "{at}: this model does not accept images; choose a model with vision"
                    )));
                }
                let (bytes, mime) = file_bytes(part, &at)?;
                if bytes.len() > MAX_IMAGE_BYTES {
                    return Err(bad(format!(
                        "{at}: the image is {} bytes; Bedrock accepts images up to 3.75 MB",
                        bytes.len()
                    )));
                }
                let format = image_format(mime.as_deref(), part.format.as_deref(), &bytes)
                    .ok_or_else(|| bad(format!(
                        "{at}: image type {} is not supported; Bedrock accepts JPEG, PNG, GIF and WebP",
                        mime.as_deref().or(part.format.as_deref()).unwrap_or("unknown")
                    )))?;
                blocks.push(ContentBlock::Image(built(
                    ImageBlock::builder()
                        .format(format)
                        .source(ImageSource::Bytes(Blob::new(bytes)))
                        .build(),
                )?));
            }
            "document" => {
                if !caps.documents {
                    return Err(bad(format!(
                        "{at}: this model does not accept documents; choose a model with the document feature"
                    )));
                }
                let (bytes, mime) = file_bytes(part, &at)?;
                if bytes.len() > MAX_DOCUMENT_BYTES {
                    return Err(bad(format!(
                        "{at}: the document is {} bytes; Bedrock accepts documents up to 4.5 MB",
                        bytes.len()
                    )));
                }
                let format = document_format(mime.as_deref(), part.format.as_deref(), part.filename.as_deref())
                    .ok_or_else(|| bad(format!(
                        "{at}: document type {} is not supported; Bedrock accepts pdf, csv, doc, docx, xls, xlsx, html, txt and md",
                        mime.as_deref().or(part.format.as_deref()).unwrap_or("unknown")
                    )))?;
                *documents += 1;
                let name = document_name(part.filename.as_deref(), *documents);
                blocks.push(ContentBlock::Document(built(
                    DocumentBlock::builder()
                        .format(format)
                        .name(name)
                        .source(DocumentSource::Bytes(Blob::new(bytes)))
                        .build(),
                )?));
            }
            other => {
                return Err(bad(format!(
                    "{at}: {other} content is not supported by Bedrock's Converse API"
                )));
            }
        }
    }
    Ok(blocks)
}

/// The bytes of an image or document part (base64, or a data URL), and its MIME type.
fn file_bytes(part: &ContentPart, at: &str) -> Result<(Vec<u8>, Option<String>), PluginError> {
    let mut mime = part.mime_type.clone();
    let encoded: &str = if let Some(b64) = part.base64_data.as_deref() {
        b64
    } else if let Some(url) = part.url.as_deref().or(part.data.as_deref()) {
        if let Some(rest) = url.strip_prefix("data:") {
            let (meta, payload) = rest
                .split_once(',')
                .ok_or_else(|| bad(format!("{at}: the data URL has no payload")))?;
            if !meta.ends_with(";base64") {
                return Err(bad(format!("{at}: only base64 data URLs are supported")));
            }
            if mime.is_none() {
                mime = Some(meta.trim_end_matches(";base64").to_string());
            }
            payload
        } else {
            return Err(bad(format!(
                "{at}: the file is given as a link ({}); Bedrock needs the file itself: set Dify's file transfer to base64 (FILES_URL / upload)",
                url.split('?').next().unwrap_or(url)
            )));
        }
    } else {
        return Err(bad(format!("{at}: the {} part has no data", part.kind)));
    };
    let cleaned: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = BASE64.decode(&cleaned).map_err(|e| {
        bad(format!(
            "{at}: the {} data is not valid base64 ({e})",
            part.kind
        ))
    })?;
    if bytes.is_empty() {
        return Err(bad(format!("{at}: the {} is empty", part.kind)));
    }
    Ok((bytes, mime))
}

fn image_format(mime: Option<&str>, format: Option<&str>, bytes: &[u8]) -> Option<ImageFormat> {
    let named = mime
        .map(|m| m.trim_start_matches("image/"))
        .or(format)
        .map(str::to_ascii_lowercase);
    match named.as_deref() {
        Some("png") => return Some(ImageFormat::Png),
        Some("jpeg" | "jpg" | "pjpeg") => return Some(ImageFormat::Jpeg),
        Some("gif") => return Some(ImageFormat::Gif),
        Some("webp") => return Some(ImageFormat::Webp),
        Some(_) => return None,
        None => {}
    }
    sniff_image(bytes)
}

/// The image format from its first bytes.
pub fn sniff_image(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(ImageFormat::Gif)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::Webp)
    } else {
        None
    }
}

fn document_format(
    mime: Option<&str>,
    format: Option<&str>,
    filename: Option<&str>,
) -> Option<DocumentFormat> {
    let by_mime = mime.and_then(|m| {
        Some(match m.split(';').next().unwrap_or(m).trim() {
            "application/pdf" => DocumentFormat::Pdf,
            "text/csv" => DocumentFormat::Csv,
            "application/msword" => DocumentFormat::Doc,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
                DocumentFormat::Docx
            }
            "application/vnd.ms-excel" => DocumentFormat::Xls,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => {
                DocumentFormat::Xlsx
            }
            "text/html" => DocumentFormat::Html,
            "text/plain" => DocumentFormat::Txt,
            "text/markdown" | "text/x-markdown" => DocumentFormat::Md,
            _ => return None,
        })
    });
    let extension = format
        .map(|f| f.trim_start_matches('.').to_ascii_lowercase())
        .or_else(|| {
            filename
                .and_then(|f| f.rsplit_once('.'))
                .map(|(_, e)| e.to_ascii_lowercase())
        });
    by_mime.or_else(|| {
        Some(match extension.as_deref()? {
            "pdf" => DocumentFormat::Pdf,
            "csv" => DocumentFormat::Csv,
            "doc" => DocumentFormat::Doc,
            "docx" => DocumentFormat::Docx,
            "xls" => DocumentFormat::Xls,
            "xlsx" => DocumentFormat::Xlsx,
            "html" | "htm" => DocumentFormat::Html,
            "txt" => DocumentFormat::Txt,
            "md" | "markdown" => DocumentFormat::Md,
            _ => return None,
        })
    })
}

/// A document name Converse accepts (letters, digits, single spaces, hyphens, parentheses,
/// square brackets) and unique within the request.
pub fn document_name(filename: Option<&str>, n: usize) -> String {
    let stem = filename
        .map(|f| f.rsplit_once('.').map_or(f, |(s, _)| s))
        .unwrap_or("");
    let mut name = String::new();
    for c in stem.chars() {
        let c = if c.is_ascii_alphanumeric() || "-()[]".contains(c) {
            c
        } else {
            ' '
        };
        if !(c == ' ' && (name.is_empty() || name.ends_with(' '))) {
            name.push(c);
        }
        if name.len() >= 48 {
            break;
        }
    }
    let name = name.trim_end();
    if name.is_empty() {
        format!("document {n}")
    } else {
        format!("{name} ({n})")
    }
}

fn tool_config(
    tools: &[Tool],
    choice: Option<&ToolChoice>,
    history_has_tools: bool,
    family: &Family,
) -> Result<Option<ToolConfiguration>, PluginError> {
    let mode = choice.map(|c| c.mode.as_str()).unwrap_or("auto");
    let offered: Vec<&Tool> = if mode == "none" {
        Vec::new()
    } else {
        tools.iter().collect()
    };
    if offered.is_empty() {
        if !history_has_tools {
            return Ok(None);
        }
        let spec = built(
            ToolSpecification::builder()
                .name(PLACEHOLDER_TOOL)
                .description(
                    "No tools are available now. Do not call this tool; answer the user directly.",
                )
                .input_schema(ToolInputSchema::Json(to_document(
                    &json!({"type": "object", "properties": {}}),
                )))
                .build(),
        )?;
        return Ok(Some(built(
            ToolConfiguration::builder()
                .tools(ConverseTool::ToolSpec(spec))
                .build(),
        )?));
    }
    let mut builder = ToolConfiguration::builder();
    for tool in offered {
        let mut schema = Value::Object(tool.parameters.clone());
        if schema.as_object().is_some_and(|o| o.is_empty()) {
            schema = json!({"type": "object", "properties": {}});
        }
        let mut spec = ToolSpecification::builder()
            .name(&tool.name)
            .input_schema(ToolInputSchema::Json(to_document(&schema)));
        if !tool.description.trim().is_empty() {
            spec = spec.description(&tool.description);
        }
        builder = builder.tools(ConverseTool::ToolSpec(built(spec.build())?));
    }
    let converse_choice = match (mode, family.forced_tool_choice) {
        ("required", true) => Some(ConverseToolChoice::Any(AnyToolChoice::builder().build())),
        ("tool", true) => {
            let name = choice
                .and_then(|c| c.name.as_deref())
                .ok_or_else(|| bad("tool_choice \"tool\" names no tool"))?;
            if !tools.iter().any(|t| t.name == name) {
                return Err(bad(format!(
                    "tool_choice names {name:?}, which is not among the tools offered"
                )));
            }
            Some(ConverseToolChoice::Tool(built(
                SpecificToolChoice::builder().name(name).build(),
            )?))
        }
        ("auto" | "required" | "tool", _) => {
            Some(ConverseToolChoice::Auto(AutoToolChoice::builder().build()))
        }
        (other, _) => {
            return Err(bad(format!(
                "tool_choice mode {other:?} is not one of auto, none, required, tool"
            )));
        }
    };
    Ok(Some(built(
        builder.set_tool_choice(converse_choice).build(),
    )?))
}

fn parameters(
    params: &Params,
    stop: &[String],
    family: &Family,
) -> Result<(Option<InferenceConfiguration>, Option<Value>), PluginError> {
    let mut additional = Map::new();
    let mut temperature = params.temperature;
    let mut top_p = params.top_p;
    let mut top_k = params.top_k;
    if let Some(budget) = params.reasoning_budget {
        if family.reasoning != Reasoning::AnthropicBudget {
            return Err(bad(
                "extended thinking cannot be switched on for this model",
            ));
        }
        if temperature.is_some_and(|t| t != 1.0)
            || top_k.is_some()
            || top_p.is_some_and(|p| p < 0.95)
        {
            return Err(bad(
                "extended thinking needs temperature 1 and no Top K, and Top P of at least 0.95: clear those parameters, or turn extended thinking off",
            ));
        }
        if params.max_tokens.is_some_and(|m| budget >= m) {
            return Err(bad(format!(
                "the thinking budget ({budget} tokens) must be smaller than Max Tokens ({}): raise Max Tokens or lower the budget",
                params.max_tokens.unwrap_or_default()
            )));
        }
        additional.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
        temperature = None;
        top_p = None;
        top_k = None;
    }
    if let Some(k) = top_k {
        match family.top_k {
            TopK::Field(name) => {
                additional.insert(name.into(), json!(k));
            }
            TopK::NovaInferenceConfig => {
                additional.insert("inferenceConfig".into(), json!({"topK": k}));
            }
            TopK::Unsupported => return Err(bad("Top K is not supported by this model")),
        }
    }
    let stop: Vec<String> = stop.iter().filter(|s| !s.is_empty()).cloned().collect();
    let any =
        params.max_tokens.is_some() || temperature.is_some() || top_p.is_some() || !stop.is_empty();
    let inference = any.then(|| {
        InferenceConfiguration::builder()
            .set_max_tokens(
                params
                    .max_tokens
                    .map(|m| m.clamp(1, i32::MAX as i64) as i32),
            )
            .set_temperature(temperature.map(|t| t as f32))
            .set_top_p(top_p.map(|p| p as f32))
            .set_stop_sequences((!stop.is_empty()).then_some(stop))
            .build()
    });
    Ok((
        inference,
        (!additional.is_empty()).then_some(Value::Object(additional)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_names_are_safe_and_unique() {
        assert_eq!(
            document_name(Some("Q3 report — final!!.pdf"), 1),
            "Q3 report final (1)"
        );
        assert_eq!(document_name(Some("___.csv"), 2), "document 2");
        assert_eq!(document_name(None, 3), "document 3");
    }

    #[test]
    fn think_blocks_are_not_sent_back() {
        assert_eq!(
            strip_think("<think>\nhmm\n</think>The answer"),
            "The answer"
        );
        assert_eq!(strip_think("plain"), "plain");
    }

    #[test]
    fn images_are_recognised_by_their_bytes() {
        assert_eq!(
            sniff_image(b"\x89PNG\r\n\x1a\n...."),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            sniff_image(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::Webp)
        );
        assert_eq!(sniff_image(b"BM...."), None);
    }
}
