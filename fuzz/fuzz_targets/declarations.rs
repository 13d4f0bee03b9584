//! Declaration loading: the manifest, the provider YAML and the model YAMLs (templates,
//! positions, parameter rules) as the binary embeds them, with one file replaced (or one
//! model file added) by arbitrary text. Never a panic; a file that does not load is a
//! `DeclarationError` naming a file and what is wrong.
//!
//! Input: byte 0 chooses the file (past the last one: a new model file), the rest is
//! its text.
#![no_main]

use dify_bedrock::internals;
use libfuzzer_sys::fuzz_target;

/// The files loaded: the manifest, the provider, the position lists and one model of each
/// type (the whole catalogue takes 50 times longer to load), with byte `which` choosing
/// the file replaced by `text`, or past the last embedded file, a new model file.
fn with_replaced<'a>(
    embedded: &[(&'a str, &'a str)],
    which: u8,
    text: &'a str,
) -> Vec<(&'a str, &'a str)> {
    const MODELS: [&str; 3] = [
        "models/llm/amazon.nova-lite-v1_0.yaml",
        "models/text_embedding/amazon.titan-embed-text-v2_0.yaml",
        "models/rerank/cohere.rerank-v3-5_0.yaml",
    ];
    let base = |path: &str| {
        path == "manifest.yaml"
            || path.starts_with("provider/")
            || path.ends_with("_position.yaml")
            || MODELS.contains(&path)
    };
    let mut order: Vec<&(&str, &str)> = embedded.iter().collect();
    order.sort_by_key(|(path, _)| (!base(path), *path));
    let mut files: Vec<(&str, &str)> = embedded.iter().filter(|(p, _)| base(p)).copied().collect();
    match order.get(which as usize) {
        Some((path, _)) => match files.iter_mut().find(|(p, _)| p == path) {
            Some(file) => file.1 = text,
            None => files.push((path, text)),
        },
        None => files.push((
            [
                "models/llm/fuzz.yaml",
                "models/text_embedding/fuzz.yaml",
                "models/rerank/fuzz.yaml",
            ][which as usize % 3],
            text,
        )),
    }
    files
}

fuzz_target!(|bytes: &[u8]| {
    let Some((which, text)) = bytes.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(text);
    let files = with_replaced(internals::embedded_declaration_files(), *which, &text);
    if let Err(e) = internals::load_declarations(&files) {
        assert!(!e.file.is_empty(), "an error that names no file: {e:?}");
        assert!(!e.message.is_empty(), "an error that says nothing: {e:?}");
    }
});
