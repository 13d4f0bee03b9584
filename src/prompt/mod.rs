//! Dify's prompt model: messages with text, images and documents, tool calls and tool
//! results, and the tools offered — as the daemon sends them in `invoke_llm`.

pub(crate) mod reasoning;
pub(crate) mod think;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::media::{self, MediaError};
use crate::wire::de::{empty_string_none, null_default};

/// The kind of a content part (Dify's `PromptMessageContentType`); a kind this plugin
/// does not know is kept by name, so the refusal can say what was sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum ContentKind {
    Text,
    Image,
    Document,
    Audio,
    Video,
    Other(String),
}

impl From<String> for ContentKind {
    fn from(kind: String) -> ContentKind {
        match kind.as_str() {
            "text" => ContentKind::Text,
            "image" => ContentKind::Image,
            "document" => ContentKind::Document,
            "audio" => ContentKind::Audio,
            "video" => ContentKind::Video,
            _ => ContentKind::Other(kind),
        }
    }
}

impl ContentKind {
    pub fn as_str(&self) -> &str {
        match self {
            ContentKind::Text => "text",
            ContentKind::Image => "image",
            ContentKind::Document => "document",
            ContentKind::Audio => "audio",
            ContentKind::Video => "video",
            ContentKind::Other(kind) => kind,
        }
    }
}

impl std::fmt::Display for ContentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    /// Newer OpenAI-style system prompt; treated as `system`.
    Developer,
    User,
    Assistant,
    Tool,
}

/// A message's content: plain text, or a list of typed parts.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: ContentKind,
    /// The text of a `text` part.
    #[serde(default, deserialize_with = "empty_string_none")]
    pub data: Option<String>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub base64_data: Option<String>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub mime_type: Option<String>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub format: Option<String>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub filename: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToolCall {
    #[serde(default)]
    pub id: String,
    pub function: ToolCallFunction,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToolCallFunction {
    pub name: String,
    /// A JSON document as a string.
    #[serde(default)]
    pub arguments: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PromptMessage {
    pub role: Role,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default, deserialize_with = "null_default")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub tool_call_id: Option<String>,
    /// The signed reasoning an earlier answer of this plugin carried (`opaque_body`).
    #[serde(
        default,
        rename = "opaque_body",
        deserialize_with = "reasoning::from_opaque_body"
    )]
    pub reasoning: Vec<reasoning::ReasoningBlock>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tool {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, deserialize_with = "null_default")]
    pub parameters: Map<String, Value>,
}

/// How the model may use the tools offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    Auto,
    None,
    /// Some tool must be called.
    Required,
    /// The tool named in `name` must be called.
    Tool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToolChoice {
    pub mode: ToolChoiceMode,
    #[serde(default, deserialize_with = "empty_string_none")]
    pub name: Option<String>,
}

impl PromptMessage {
    /// The text of the message: plain content, or its text parts joined; other parts
    /// are left out.
    pub fn text(&self) -> String {
        match &self.content {
            None => String::new(),
            Some(Content::Text(t)) => t.clone(),
            Some(Content::Parts(parts)) => parts
                .iter()
                .filter(|p| p.kind == ContentKind::Text)
                .filter_map(|p| p.data.as_deref())
                .collect(),
        }
    }
}

/// Why a file part's content cannot be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    /// The part names a link (Dify's URL transfer mode); the model needs the bytes.
    Link(String),
    NoData,
    Unreadable(MediaError),
}

impl FileError {
    /// The error in words, about the part at `at` (e.g. "message 0, part 1").
    pub fn describe(&self, at: &str, kind: &ContentKind) -> String {
        match self {
            FileError::Link(url) => format!(
                "{at}: the file is given as a link ({url}); Bedrock needs the file itself: set Dify's file transfer to base64 (FILES_URL / upload)"
            ),
            FileError::NoData => format!("{at}: the {kind} part has no data"),
            FileError::Unreadable(e) => {
                format!("{at}: {}", e.describe(&format!("the {kind} data")))
            }
        }
    }
}

impl ContentPart {
    /// The file an image, document or video part carries (base64, or a data URL),
    /// decoded, and its MIME type: the part's own, else the one its data URL declares.
    pub fn file(&self) -> Result<media::Decoded, FileError> {
        let encoded = match (
            self.base64_data.as_deref(),
            self.url.as_deref().or(self.data.as_deref()),
        ) {
            (Some(b64), _) => b64,
            (None, Some(url)) if media::is_data_url(url) => url,
            (None, Some(url)) => {
                // The query string of a signed link is a credential: never repeated.
                return Err(FileError::Link(
                    url.split('?').next().unwrap_or(url).to_string(),
                ));
            }
            (None, None) => return Err(FileError::NoData),
        };
        let mut decoded = media::decode(encoded).map_err(FileError::Unreadable)?;
        if let Some(mime) = &self.mime_type {
            decoded.declared_mime = Some(mime.clone());
        }
        Ok(decoded)
    }
}
