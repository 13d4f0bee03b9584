//! Dify's plugin protocol on the wire: the daemon's request envelope and the plugin's
//! event lines (reference dify-protocol.md §1). Knows nothing of Bedrock or sessions.

pub mod de;

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::PluginError;

/// A request from the daemon: one session to answer.
#[derive(Debug)]
pub struct Request {
    pub session_id: String,
    /// `data.action`, e.g. `invoke_llm`.
    pub action: String,
    /// The action payload (`data`), still untyped; actions parse what they need.
    pub data: Value,
    pub app_id: Option<String>,
}

/// Why an input line could not become a request.
#[derive(Debug, PartialEq)]
pub enum LineError {
    /// No session to answer: reported with a top-level `error` event.
    Unroutable(String),
    /// The session is known but its payload is unusable: reported as that session's error.
    Session {
        session_id: String,
        error: PluginError,
    },
    /// A line to ignore (a `backwards_response`, which a model provider never asks for).
    Ignored(String),
}

/// Parses one input line (without its newline).
pub fn parse_request(line: &[u8]) -> Result<Request, LineError> {
    let value: Value = serde_json::from_slice(line).map_err(|e| unreadable(line, &e))?;
    let Value::Object(mut envelope) = value else {
        return Err(LineError::Unroutable(
            "input line is not a JSON object".into(),
        ));
    };
    let session_id = match envelope.get("session_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(LineError::Unroutable("input line has no session_id".into()));
        }
        Some(other) => {
            return Err(LineError::Unroutable(format!(
                "session_id must be a string, got {other}"
            )));
        }
    };
    let session_error = |msg: String| LineError::Session {
        session_id: session_id.clone(),
        error: PluginError::validation(msg),
    };
    match envelope.get("event").and_then(Value::as_str) {
        Some("request") => {}
        Some("backwards_response") => {
            return Err(LineError::Ignored(format!(
                "backwards_response for session {session_id}: this plugin makes no backwards calls"
            )));
        }
        Some(other) => {
            return Err(session_error(format!(
                "unknown event {other:?}; expected \"request\""
            )));
        }
        None => {
            return Err(session_error(
                "field `event` is missing or not a string".into(),
            ));
        }
    }
    let app_id = envelope
        .get("app_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let data = match envelope.remove("data") {
        Some(Value::Object(data)) => data,
        Some(Value::Null) | None => return Err(session_error("field `data` is missing".into())),
        Some(_) => return Err(session_error("field `data` must be an object".into())),
    };
    match data.get("type").and_then(Value::as_str) {
        Some("model") => {}
        Some(other) => {
            return Err(session_error(format!(
                "data.type {other:?} is not served: this plugin is a model provider (data.type \"model\")"
            )));
        }
        None => {
            return Err(session_error(
                "field `data.type` is missing or not a string".into(),
            ));
        }
    }
    let action = match data.get("action").and_then(Value::as_str) {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => {
            return Err(session_error(
                "field `data.action` is missing or not a string".into(),
            ));
        }
    };
    Ok(Request {
        session_id,
        action,
        data: Value::Object(data),
        app_id,
    })
}

/// serde_json's nesting limit: deeper arrays and objects are refused (its stack guard).
const MAX_DEPTH: usize = 128;

/// A line that is not JSON as a whole, in plain words; when its session id can still be
/// read (the bad part is elsewhere: bytes that are not UTF-8 in a text, nesting past the
/// limit), the error goes to that session, so that the daemon's request gets its `end`
/// instead of waiting for its timeout.
fn unreadable(line: &[u8], e: &serde_json::Error) -> LineError {
    let problem = if let Err(bad) = std::str::from_utf8(line) {
        format!(
            "the request is not valid UTF-8 (the byte at offset {} is not part of a UTF-8 character)",
            bad.valid_up_to()
        )
    } else if e.to_string().starts_with("recursion limit exceeded") {
        format!(
            "the request's JSON is nested more than {MAX_DEPTH} levels deep (at column {})",
            e.column()
        )
    } else {
        return LineError::Unroutable(format!("input line is not JSON: {e}"));
    };
    /// Only the session id: the rest is skipped unread (serde_json skips without a
    /// depth limit and without decoding text).
    #[derive(serde::Deserialize)]
    struct Head {
        session_id: Option<String>,
    }
    match serde_json::from_slice::<Head>(line) {
        Ok(Head {
            session_id: Some(session_id),
        }) if !session_id.is_empty() => LineError::Session {
            session_id,
            error: PluginError::validation(problem),
        },
        _ => LineError::Unroutable(format!("input line is not JSON: {problem}")),
    }
}

#[derive(Serialize)]
struct Event<'a, T: Serialize> {
    event: &'static str,
    session_id: Option<&'a str>,
    data: T,
}

#[derive(Serialize)]
struct SessionMessage<T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    data: T,
}

/// What a line's buffer starts with: a streamed text chunk with its newline fits.
const LINE_CAPACITY: usize = 512;

fn line<T: Serialize>(event: &'static str, session_id: Option<&str>, data: T) -> String {
    // Room for a typical chunk line and its newline up front: serde_json's own start
    // (128 bytes) grows twice for every chunk.
    let mut out = Vec::with_capacity(LINE_CAPACITY);
    let made = serde_json::to_writer(
        &mut out,
        &Event {
            event,
            session_id,
            data,
        },
    )
    .map_err(|e| e.to_string())
    // serde_json writes UTF-8 only: this check cannot fail, and costs little.
    .and_then(|()| String::from_utf8(out).map_err(|e| e.to_string()));
    // Serialising our own JSON values and plain structs cannot fail; fall back to an
    // error event rather than panic if it ever did.
    made.unwrap_or_else(|e| {
        json!({"event": "error", "session_id": session_id, "data": {"error": format!("serialisation failed: {e}")}})
            .to_string()
    })
}

/// A `stream` session message carrying one response item.
pub fn stream_line<T: Serialize>(session_id: &str, data: &T) -> String {
    line(
        "session",
        Some(session_id),
        SessionMessage {
            kind: "stream",
            data,
        },
    )
}

/// The `end` session message that closes every session.
pub fn end_line(session_id: &str) -> String {
    line(
        "session",
        Some(session_id),
        SessionMessage {
            kind: "end",
            data: json!({}),
        },
    )
}

/// A session `error` message; must be followed by [`end_line`].
pub fn error_line(session_id: &str, error: &PluginError) -> String {
    line(
        "session",
        Some(session_id),
        SessionMessage {
            kind: "error",
            data: error.payload(),
        },
    )
}

pub fn heartbeat_line() -> String {
    line("heartbeat", None, json!({}))
}

/// A `log` event the daemon files at `level` (DEBUG, INFO, WARNING or ERROR).
pub fn log_line(level: &str, message: &str, timestamp: f64) -> String {
    line(
        "log",
        None,
        json!({"level": level, "message": message, "timestamp": timestamp}),
    )
}

/// A registration message of remote debugging (`handshake`, `manifest_declaration`,
/// `model_declaration`, `asset_chunk`, `end`), sent before the protocol's events.
pub fn registration_line<T: Serialize>(kind: &'static str, data: &T) -> String {
    #[derive(Serialize)]
    struct Registration<'a, T: Serialize> {
        #[serde(rename = "type")]
        kind: &'static str,
        data: &'a T,
    }
    serde_json::to_string(&Registration { kind, data }).unwrap_or_else(|e| {
        json!({"type": kind, "data": {"error": format!("serialisation failed: {e}")}}).to_string()
    })
}

/// A top-level `error` event, for input that belongs to no session.
pub fn top_error_line(message: &str) -> String {
    line("error", None, json!({ "error": message }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn session_err(line: &str) -> PluginError {
        match parse_request(line.as_bytes()) {
            Err(LineError::Session { error, .. }) => error,
            other => panic!("expected a session error, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_daemon_request() {
        let r = parse_request(br#"{"session_id":"s1","event":"request","app_id":null,"data":{"user_id":"u","type":"model","action":"invoke_llm","model":"m"}}"#)
            .expect("parses");
        assert_eq!(
            (r.session_id.as_str(), r.action.as_str()),
            ("s1", "invoke_llm")
        );
        assert_eq!(r.data["model"], "m");
        assert_eq!(r.app_id, None);
    }

    #[test]
    fn unroutable_lines() {
        for l in [
            "not json",
            "[1,2]",
            r#"{"event":"request"}"#,
            r#"{"session_id":"","event":"request"}"#,
            r#"{"session_id":5}"#,
        ] {
            assert!(
                matches!(parse_request(l.as_bytes()), Err(LineError::Unroutable(_))),
                "{l}"
            );
        }
    }

    #[test]
    fn a_line_unreadable_past_its_session_id_is_that_sessions_error() {
        let mut bad_utf8 = br#"{"session_id":"s1","event":"request","data":{"text":"caf"#.to_vec();
        bad_utf8.extend_from_slice(b"\xff\"}}");
        let deep = format!(
            r#"{{"session_id":"s2","data":{{"x":{}{}}}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        for (line, id, words) in [
            (bad_utf8.clone(), "s1", "not valid UTF-8"),
            (
                deep.clone().into_bytes(),
                "s2",
                "nested more than 128 levels",
            ),
        ] {
            match parse_request(&line) {
                Err(LineError::Session { session_id, error }) => {
                    assert_eq!(session_id, id);
                    assert_eq!(error.kind, ErrorKind::Validation);
                    assert!(error.message.contains(words), "{error}");
                }
                other => panic!("expected a session error, got {other:?}"),
            }
        }
        // Without a readable session id there is no one to tell but the daemon.
        let e = parse_request(format!("{}{}", "[".repeat(500), "]".repeat(500)).as_bytes());
        assert!(
            matches!(&e, Err(LineError::Unroutable(m)) if m.contains("nested more than 128")),
            "{e:?}"
        );
        let e = parse_request(b"{\"session_id\":\"s-\xff\"}");
        assert!(
            matches!(&e, Err(LineError::Unroutable(m)) if m.contains("not valid UTF-8")),
            "{e:?}"
        );
    }

    #[test]
    fn session_errors_name_the_field() {
        assert!(
            session_err(r#"{"session_id":"s","event":"request"}"#)
                .message
                .contains("`data`")
        );
        assert!(
            session_err(r#"{"session_id":"s","event":"nope","data":{}}"#)
                .message
                .contains("nope")
        );
        assert!(
            session_err(r#"{"session_id":"s","event":"request","data":{"type":"model"}}"#)
                .message
                .contains("data.action")
        );
        let e = session_err(
            r#"{"session_id":"s","event":"request","data":{"type":"tool","action":"x"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::Validation);
    }

    #[test]
    fn lines_have_the_protocol_shape() {
        let v: Value = serde_json::from_str(&stream_line("s", &json!({"a": 1}))).expect("json");
        assert_eq!(
            v,
            json!({"event":"session","session_id":"s","data":{"type":"stream","data":{"a":1}}})
        );
        let v: Value = serde_json::from_str(&end_line("s")).expect("json");
        assert_eq!(
            v,
            json!({"event":"session","session_id":"s","data":{"type":"end","data":{}}})
        );
        let v: Value = serde_json::from_str(&heartbeat_line()).expect("json");
        assert_eq!(v, json!({"event":"heartbeat","session_id":null,"data":{}}));
    }
}
