//! Documents in Converse: which of Bedrock's document formats a file is (by MIME type,
//! format name or file extension), and a name Converse accepts for it.

use aws_sdk_bedrockruntime::types::DocumentFormat;

/// The formats Converse takes, by MIME type and by extension.
const FORMATS: &[(DocumentFormat, &[&str], &[&str])] = &[
    (DocumentFormat::Pdf, &["application/pdf"], &["pdf"]),
    (DocumentFormat::Csv, &["text/csv"], &["csv"]),
    (DocumentFormat::Doc, &["application/msword"], &["doc"]),
    (
        DocumentFormat::Docx,
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
        &["docx"],
    ),
    (DocumentFormat::Xls, &["application/vnd.ms-excel"], &["xls"]),
    (
        DocumentFormat::Xlsx,
        &["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
        &["xlsx"],
    ),
    (DocumentFormat::Html, &["text/html"], &["html", "htm"]),
    (DocumentFormat::Txt, &["text/plain"], &["txt"]),
    (
        DocumentFormat::Md,
        &["text/markdown", "text/x-markdown"],
        &["md", "markdown"],
    ),
];

/// The format of a document: its MIME type when it names one Converse takes, else its
/// `format` or its file name's extension.
pub fn document_format(
    mime: Option<&str>,
    format: Option<&str>,
    filename: Option<&str>,
) -> Option<DocumentFormat> {
    let by_mime = mime.and_then(|m| {
        let m = m.split(';').next().unwrap_or(m).trim();
        FORMATS
            .iter()
            .find(|(_, mimes, _)| mimes.contains(&m))
            .map(|(f, _, _)| f.clone())
    });
    let extension = format
        .map(|f| f.trim_start_matches('.').to_ascii_lowercase())
        .or_else(|| {
            filename
                .and_then(|f| f.rsplit_once('.'))
                .map(|(_, e)| e.to_ascii_lowercase())
        });
    by_mime.or_else(|| {
        let extension = extension?;
        FORMATS
            .iter()
            .find(|(_, _, exts)| exts.contains(&extension.as_str()))
            .map(|(f, _, _)| f.clone())
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
    fn formats_by_mime_then_name() {
        assert_eq!(
            document_format(Some("text/markdown; charset=utf-8"), None, None),
            Some(DocumentFormat::Md)
        );
        assert_eq!(
            document_format(Some("application/octet-stream"), None, Some("a.HTM")),
            Some(DocumentFormat::Html)
        );
        assert_eq!(
            document_format(None, Some(".xlsx"), None),
            Some(DocumentFormat::Xlsx)
        );
        assert_eq!(
            document_format(Some("application/zip"), None, Some("a.zip")),
            None
        );
    }
}
