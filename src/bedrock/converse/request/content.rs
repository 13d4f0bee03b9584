//! A user message's content → Converse content blocks: text, images and documents, each
//! checked against what the model accepts and Converse's limits, and refused by name
//! when it cannot be sent.

use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, DocumentBlock, DocumentSource, ImageBlock, ImageFormat, ImageSource, VideoBlock,
    VideoFormat, VideoSource,
};

use super::documents::{document_format, document_name};
use super::{Builder, bad, built};
use crate::error::PluginError;
use crate::media::ImageType;
use crate::prompt::{Content, ContentKind, ContentPart, PromptMessage};

/// Converse's limits on inline bytes (Bedrock user guide, ImageBlock and DocumentBlock).
const MAX_IMAGE_BYTES: usize = 3_750_000;
const MAX_DOCUMENT_BYTES: usize = 4_500_000;

fn converse_image(t: ImageType) -> ImageFormat {
    match t {
        ImageType::Png => ImageFormat::Png,
        ImageType::Jpeg => ImageFormat::Jpeg,
        ImageType::Gif => ImageFormat::Gif,
        ImageType::Webp => ImageFormat::Webp,
    }
}

impl Builder {
    /// The blocks of user message `i`.
    pub(super) fn user_blocks(
        &mut self,
        msg: &PromptMessage,
        i: usize,
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
            match &part.kind {
                ContentKind::Text => {
                    if let Some(t) = part.data.as_ref().filter(|t| !t.trim().is_empty()) {
                        blocks.push(ContentBlock::Text(t.clone()));
                    }
                }
                ContentKind::Image => blocks.push(self.image(part, &at)?),
                ContentKind::Document => blocks.push(self.document(part, &at)?),
                ContentKind::Video => blocks.push(self.video(part, &at)?),
                other => {
                    return Err(bad(format!(
                        "{at}: {other} content is not supported by Bedrock's Converse API"
                    )));
                }
            }
        }
        Ok(blocks)
    }

    fn image(&self, part: &ContentPart, at: &str) -> Result<ContentBlock, PluginError> {
        if !self.caps.vision {
            return Err(bad(format!(
                "{at}: this model does not accept images; choose a model with vision"
            )));
        }
        let (bytes, mime) = file_bytes(part, at)?;
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(bad(format!(
                "{at}: the image is {} bytes; Bedrock accepts images up to 3.75 MB",
                bytes.len()
            )));
        }
        // A named type is taken at its word; the bytes decide only when none is named.
        let named = mime.as_deref().or(part.format.as_deref());
        let format = match named {
            Some(name) => ImageType::named(name),
            None => ImageType::sniff(&bytes),
        }
        .ok_or_else(|| match named {
            Some(named) => bad(format!(
                "{at}: image type {named} is not supported; Bedrock accepts JPEG, PNG, GIF and WebP"
            )),
            None => bad(format!(
                "{at}: the image data is not a JPEG, PNG, GIF or WebP image (its first bytes are none of them), and no type was given"
            )),
        })?;
        Ok(ContentBlock::Image(built(
            ImageBlock::builder()
                .format(converse_image(format))
                .source(ImageSource::Bytes(Blob::new(bytes)))
                .build(),
        )?))
    }

    fn document(&mut self, part: &ContentPart, at: &str) -> Result<ContentBlock, PluginError> {
        if !self.caps.documents {
            return Err(bad(format!(
                "{at}: this model does not accept documents; choose a model with the document feature"
            )));
        }
        let (bytes, mime) = file_bytes(part, at)?;
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(bad(format!(
                "{at}: the document is {} bytes; Bedrock accepts documents up to 4.5 MB",
                bytes.len()
            )));
        }
        let format = document_format(
            mime.as_deref(),
            part.format.as_deref(),
            part.filename.as_deref(),
        )
        .ok_or_else(|| {
            bad(format!(
                "{at}: document type {} is not supported; Bedrock accepts pdf, csv, doc, docx, xls, xlsx, html, txt and md",
                mime.as_deref().or(part.format.as_deref()).unwrap_or("unknown")
            ))
        })?;
        self.documents += 1;
        let name = document_name(part.filename.as_deref(), self.documents);
        Ok(ContentBlock::Document(built(
            DocumentBlock::builder()
                .format(format)
                .name(name)
                .source(DocumentSource::Bytes(Blob::new(bytes)))
                .build(),
        )?))
    }
}

impl Builder {
    /// A video, inline; AWS says how large it may be.
    fn video(&self, part: &ContentPart, at: &str) -> Result<ContentBlock, PluginError> {
        if !self.caps.video {
            return Err(bad(format!(
                "{at}: this model does not accept video; choose a model with the video feature (Amazon Nova Lite or Pro)"
            )));
        }
        let (bytes, mime) = file_bytes(part, at)?;
        let named = mime.as_deref().or(part.format.as_deref());
        let format = named
            .and_then(video_format)
            .or_else(|| part.filename.as_deref().and_then(|f| f.rsplit_once('.')).and_then(|(_, e)| video_format(e)))
            .ok_or_else(|| {
                bad(format!(
                    "{at}: video type {} is not supported; Bedrock accepts mp4, mov, mkv, webm, flv, mpeg, mpg, wmv and 3gp",
                    named.unwrap_or("unknown")
                ))
            })?;
        Ok(ContentBlock::Video(built(
            VideoBlock::builder()
                .format(format)
                .source(VideoSource::Bytes(Blob::new(bytes)))
                .build(),
        )?))
    }
}

/// The video format a MIME type (`video/mp4`) or a format name or extension names.
fn video_format(name: &str) -> Option<VideoFormat> {
    let name = name.trim_start_matches("video/").trim_start_matches('.');
    Some(match name.to_ascii_lowercase().as_str() {
        "mp4" => VideoFormat::Mp4,
        "quicktime" | "mov" => VideoFormat::Mov,
        "x-matroska" | "mkv" => VideoFormat::Mkv,
        "webm" => VideoFormat::Webm,
        "x-flv" | "flv" => VideoFormat::Flv,
        "mpeg" => VideoFormat::Mpeg,
        "mpg" => VideoFormat::Mpg,
        "x-ms-wmv" | "wmv" => VideoFormat::Wmv,
        "3gpp" | "3gp" => VideoFormat::ThreeGp,
        _ => return None,
    })
}

/// The bytes of a file part and its MIME type, or the refusal in words.
fn file_bytes(part: &ContentPart, at: &str) -> Result<(Vec<u8>, Option<String>), PluginError> {
    let file = part.file().map_err(|e| bad(e.describe(at, &part.kind)))?;
    Ok((file.bytes, file.declared_mime))
}
