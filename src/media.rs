//! Files inside requests, for chat and embedding alike: base64 (bare or in a `data:`
//! URL) decoded with one rule, and images recognised by their bytes.

use std::fmt;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard base64, with or without padding, as browsers and SDKs produce it; whitespace
/// (line breaks of MIME-style base64) is skipped before decoding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a file's content could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaError {
    /// A `data:` URL without a `,` before its payload.
    NoPayload,
    /// A `data:` URL whose payload is not base64 (`;base64` is missing).
    NotBase64Url,
    InvalidBase64(String),
    Empty,
}

impl MediaError {
    /// The error as a sentence about `what` ("the image data").
    pub fn describe(&self, what: &str) -> String {
        match self {
            MediaError::NoPayload => format!("{what} is a data URL without a payload"),
            MediaError::NotBase64Url => format!(
                "{what} is a data URL that is not base64; only base64 data URLs are supported (data:<type>;base64,…)"
            ),
            MediaError::InvalidBase64(e) => format!("{what} is not valid base64 ({e})"),
            MediaError::Empty => format!("{what} is empty"),
        }
    }
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("the content"))
    }
}

/// A decoded file and the MIME type its `data:` URL declared, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub bytes: Vec<u8>,
    pub declared_mime: Option<String>,
}

/// Whether `text` is a `data:` URL (anything else that is not bare base64 is a link).
pub fn is_data_url(text: &str) -> bool {
    text.trim_start().starts_with("data:")
}

/// Decodes a `data:<type>;base64,<payload>` URL or bare base64.
pub fn decode(text: &str) -> Result<Decoded, MediaError> {
    let text = text.trim();
    let (declared_mime, payload) = match text.strip_prefix("data:") {
        Some(rest) => {
            let (meta, payload) = rest.split_once(',').ok_or(MediaError::NoPayload)?;
            let mime = meta
                .strip_suffix(";base64")
                .ok_or(MediaError::NotBase64Url)?;
            (
                Some(mime).filter(|m| !m.is_empty()).map(str::to_string),
                payload,
            )
        }
        None => (None, text),
    };
    let compact: Vec<u8> = payload
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let bytes = BASE64
        .decode(&compact)
        .map_err(|e| MediaError::InvalidBase64(e.to_string()))?;
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    Ok(Decoded {
        bytes,
        declared_mime,
    })
}

/// Canonical base64 (padded), as request bodies carry files.
pub fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The image formats Bedrock's models take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageType {
    /// The format from the file's first bytes.
    pub fn sniff(bytes: &[u8]) -> Option<ImageType> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageType::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageType::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(ImageType::Gif)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageType::Webp)
        } else {
            None
        }
    }

    /// The format a MIME type (`image/png`) or a format name (`png`, `jpg`) names.
    pub fn named(name: &str) -> Option<ImageType> {
        match name
            .trim_start_matches("image/")
            .to_ascii_lowercase()
            .as_str()
        {
            "png" => Some(ImageType::Png),
            "jpeg" | "jpg" | "pjpeg" => Some(ImageType::Jpeg),
            "gif" => Some(ImageType::Gif),
            "webp" => Some(ImageType::Webp),
            _ => None,
        }
    }

    /// The lower-case name Bedrock's request bodies use (`png`, `jpeg`, `gif`, `webp`).
    pub fn as_str(self) -> &'static str {
        match self {
            ImageType::Png => "png",
            ImageType::Jpeg => "jpeg",
            ImageType::Gif => "gif",
            ImageType::Webp => "webp",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

    #[test]
    fn bare_base64_and_data_urls_decode_alike() {
        let bare = decode(PNG_1X1).expect("bare");
        let url = decode(&format!("data:image/png;base64,{PNG_1X1}")).expect("url");
        assert_eq!(bare.bytes, url.bytes);
        assert_eq!(url.declared_mime.as_deref(), Some("image/png"));
        // Padding is optional and line breaks are skipped.
        let unpadded = PNG_1X1.trim_end_matches('=');
        let wrapped = format!("{}\n{}", &unpadded[..20], &unpadded[20..]);
        assert_eq!(decode(&wrapped).expect("unpadded").bytes, bare.bytes);
        assert_eq!(encode(&bare.bytes), PNG_1X1);
        assert_eq!(ImageType::sniff(&bare.bytes), Some(ImageType::Png));
    }

    #[test]
    fn what_is_not_a_file_is_named() {
        assert_eq!(decode("data:image/png,abc"), Err(MediaError::NotBase64Url));
        assert_eq!(decode("data:image/png;base64"), Err(MediaError::NoPayload));
        assert_eq!(decode(""), Err(MediaError::Empty));
        assert!(matches!(
            decode("@@not base64@@"),
            Err(MediaError::InvalidBase64(_))
        ));
    }

    #[test]
    fn images_are_recognised_by_their_bytes_or_names() {
        assert_eq!(
            ImageType::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageType::Webp)
        );
        assert_eq!(ImageType::sniff(b"GIF89a.."), Some(ImageType::Gif));
        assert_eq!(
            ImageType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageType::Jpeg)
        );
        assert_eq!(ImageType::sniff(b"BM...."), None);
        assert_eq!(ImageType::named("image/jpg"), Some(ImageType::Jpeg));
        assert_eq!(ImageType::named("tiff"), None);
    }
}
