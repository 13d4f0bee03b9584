//! A raw input line → the request it decodes to, or the error the daemon is answered
//! with: never a panic; a request is routable and typed; a bad line is a `ValidationError`
//! for its session (error, then end) or a top-level `error` event, each valid JSON.
#![no_main]

use dify_bedrock::internals::{self, ErrorKind, LineError};
use dify_bedrock_fuzz::check_session;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|line: &[u8]| {
    match internals::decode_request_line(line) {
        Ok(request) => {
            assert!(
                !request.session_id.is_empty(),
                "a request without a session"
            );
            assert!(!request.action.is_empty(), "a request without an action");
            assert_eq!(request.data["type"], "model");
            assert_eq!(request.data["action"], request.action.as_str());
            // The items of its answer are framed as any other line. (Not `data` itself:
            // serde_json reads some floats 1 ulp off, so an echo need not compare equal.)
            let item = serde_json::json!({"action": request.action, "app": request.app_id});
            let encoded = internals::encode_stream_line(&request.session_id, &item);
            assert_eq!(encoded.iter().filter(|b| **b == b'\n').count(), 1);
            let text = std::str::from_utf8(&encoded).expect("UTF-8 output");
            let mut lines = vec![text.trim_end_matches('\n').to_string()];
            lines.push(
                internals::line_error_lines(&LineError::Session {
                    session_id: request.session_id.clone(),
                    error: internals::PluginError::validation("x"),
                })
                .pop()
                .expect("an end line"),
            );
            let items = check_session(&lines, &request.session_id);
            assert_eq!(items, [item]);
        }
        Err(e @ LineError::Session { .. }) => {
            let LineError::Session { session_id, error } = &e else {
                unreachable!()
            };
            assert!(!session_id.is_empty());
            assert_eq!(error.kind, ErrorKind::Validation, "{error}");
            let lines = internals::line_error_lines(&e);
            assert_eq!(lines.len(), 2);
            check_session(&lines, session_id);
        }
        Err(e @ LineError::Unroutable(_)) => {
            let lines = internals::line_error_lines(&e);
            assert_eq!(lines.len(), 1);
            let v: Value = serde_json::from_str(&lines[0]).expect("a JSON error event");
            assert_eq!(v["event"], "error");
            assert!(v["data"]["error"].as_str().is_some_and(|m| !m.is_empty()));
        }
        Err(LineError::Ignored(message)) => assert!(!message.is_empty()),
    }
});
