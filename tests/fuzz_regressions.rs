//! The fuzz targets' inputs in the normal test suite: every committed seed
//! (`fuzz/corpus/<target>/`) and every input that once crashed a target
//! (`fuzz/regressions/<target>/`) of the targets whose input is plain data, replayed
//! through the same internal entry points (`dify_bedrock::internals`) with the same
//! invariant: no panic, and a refusal is a typed error (never InternalError).

use std::path::{Path, PathBuf};

use dify_bedrock::internals::{self, EmbeddingDialect, ErrorKind, LineError, PluginError};
use serde_json::Value;

/// The seeds and regressions of `target`, as (file, bytes); the regressions must exist
/// for each target that ever crashed, the seeds for every target.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let bytes = std::fs::read(&path).expect("a readable input");
            out.push((path, bytes));
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no inputs for {target}");
    out
}

/// A refusal Dify can show: typed, not a bug, with a message.
fn assert_typed(e: &PluginError, file: &Path) {
    assert_ne!(e.kind, ErrorKind::Internal, "{}: {e}", file.display());
    let payload = e.payload();
    assert!(
        payload["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}: {payload}",
        file.display()
    );
}

#[test]
fn request_lines_decode_to_a_request_or_a_typed_error() {
    for (file, line) in inputs("request_line") {
        match internals::decode_request_line(&line) {
            Ok(request) => assert!(!request.session_id.is_empty(), "{}", file.display()),
            Err(e) => {
                if let LineError::Session { error, .. } = &e {
                    assert_eq!(error.kind, ErrorKind::Validation, "{}", file.display());
                }
                for out in internals::line_error_lines(&e) {
                    let v: Value = serde_json::from_str(&out).expect("a JSON line");
                    assert!(v["event"] == "session" || v["event"] == "error", "{out}");
                }
            }
        }
    }
}

#[test]
fn prompts_map_to_a_converse_request_or_a_typed_refusal() {
    let catalog = internals::embedded_catalog().expect("the catalogue loads");
    let state = internals::app_state(catalog, 1, std::time::Duration::from_secs(1));
    let mut built = 0;
    for (file, bytes) in inputs("converse_request") {
        // Generated inputs (not JSON) need the fuzz crate's generator.
        let Ok(data) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        match internals::converse_request_from_prompt(&state, data, Some("app")) {
            Ok(request) => {
                built += 1;
                assert_eq!(request.messages()[0].role().as_str(), "user");
            }
            Err(e) => assert_typed(&e, &file),
        }
    }
    assert!(
        built > 0,
        "no seed builds a request: the seeds no longer fit the payload"
    );
}

#[test]
fn model_responses_are_read_or_refused_as_unavailable() {
    let dialects = [
        EmbeddingDialect::TitanV1,
        EmbeddingDialect::TitanV2,
        EmbeddingDialect::CohereV3,
        EmbeddingDialect::CohereV4,
        EmbeddingDialect::NovaMultimodal,
    ];
    for (file, bytes) in inputs("model_responses") {
        let [which, count, body @ ..] = bytes.as_slice() else {
            continue;
        };
        let count = *count as usize % 100;
        let result = match *which as usize % 6 {
            5 => internals::parse_rerank_response(body, count)
                .map(|ranked| assert!(ranked.iter().all(|(i, _)| *i < count))),
            d => internals::parse_embedding_response(dialects[d], body, count)
                .map(|(vectors, _)| assert_eq!(vectors.len(), count)),
        };
        if let Err(e) = result {
            assert_eq!(e.kind, ErrorKind::ServerUnavailable, "{}", file.display());
            assert_typed(&e, &file);
        }
    }
}

#[test]
fn declarations_load_or_name_the_bad_file() {
    for (file, bytes) in inputs("declarations") {
        if let Some(Err(e)) = internals::load_declarations_fuzz_input(&bytes) {
            assert!(
                !e.file.is_empty() && !e.message.is_empty(),
                "{}: {e:?}",
                file.display()
            );
        }
    }
}
