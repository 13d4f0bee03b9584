//! An `invoke_llm` payload → the Converse request it becomes (the steps before the first
//! AWS call): arbitrary messages, content parts (text, images, documents, video, data
//! URLs, base64 that is not), tool calls and results, tools, tool choice, parameters and
//! customizable-model forms. Never a panic; a refusal is a typed error that is not
//! InternalError; a request built starts with a user turn, alternates roles and has no
//! empty turn, as Converse requires.
//!
//! The input is a JSON payload (the seeds) or, when it is not JSON, bytes the payload is
//! generated from.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Unstructured;
use dify_bedrock::internals::{self, ErrorKind, State};
use dify_bedrock_fuzz::{check_error_payload, credentials, invoke_llm_data};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| {
        let catalog = internals::embedded_catalog().expect("the embedded catalogue loads");
        internals::app_state(catalog, 1, std::time::Duration::from_secs(1))
    })
}

fuzz_target!(|bytes: &[u8]| {
    let data = match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            let mut u = Unstructured::new(bytes);
            // Never used: nothing is called.
            match invoke_llm_data(&mut u, credentials("http://127.0.0.1:9")) {
                Ok(v) => v,
                Err(_) => return,
            }
        }
    };
    match internals::converse_request_from_prompt(state(), data, Some("app-1")) {
        Ok(request) => {
            let messages = request.messages();
            assert!(!messages.is_empty(), "a request without messages");
            assert_eq!(messages[0].role().as_str(), "user", "{request:?}");
            for pair in messages.windows(2) {
                assert_ne!(
                    pair[0].role(),
                    pair[1].role(),
                    "roles do not alternate: {request:?}"
                );
            }
            for m in messages {
                assert!(!m.content().is_empty(), "an empty turn: {request:?}");
            }
            assert!(!request.model_id().is_empty());
        }
        Err(e) => {
            assert_ne!(e.kind, ErrorKind::Internal, "a bug, not a refusal: {e}");
            check_error_payload(&e.payload(), "converse_request");
        }
    }
});
