//! InvokeModel answers → what the plugin reads from them: the embedding answers of each
//! model generation (Titan v1/v2, Cohere v3/v4, Nova multimodal) and the rerank answers
//! (Amazon, Cohere). Never a panic; a body that cannot be used is a typed
//! `InvokeServerUnavailableError`; a body read has exactly the vectors asked for, or
//! only ranks of documents that were sent.
//!
//! Input: byte 0 chooses the parser, byte 1 the number of inputs, the rest is the body.
#![no_main]

use dify_bedrock::internals::{self, EmbeddingDialect, ErrorKind};
use dify_bedrock_fuzz::check_error_payload;
use libfuzzer_sys::fuzz_target;

const DIALECTS: [EmbeddingDialect; 5] = [
    EmbeddingDialect::TitanV1,
    EmbeddingDialect::TitanV2,
    EmbeddingDialect::CohereV3,
    EmbeddingDialect::CohereV4,
    EmbeddingDialect::NovaMultimodal,
];

fuzz_target!(|bytes: &[u8]| {
    let [which, count, body @ ..] = bytes else {
        return;
    };
    let count = *count as usize % 100;
    let result = match *which as usize % 6 {
        5 => internals::parse_rerank_response(body, count).map(|ranked| {
            for (index, _) in &ranked {
                assert!(*index < count, "document {index} of {count} ranked");
            }
        }),
        d => internals::parse_embedding_response(DIALECTS[d], body, count).map(|(vectors, _)| {
            assert_eq!(
                vectors.len(),
                count,
                "{count} inputs, {} vectors",
                vectors.len()
            );
        }),
    };
    if let Err(e) = result {
        assert_eq!(e.kind, ErrorKind::ServerUnavailable, "{e}");
        check_error_payload(&e.payload(), "model_responses");
    }
});
