//! What the fuzz targets share: the protocol checks every session's output must pass, a
//! loopback stand-in for Bedrock that answers with the bytes a target chose, and
//! generators for JSON and for Dify prompts built from the fuzzer's bytes.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use dify_bedrock::internals::{self, Lines};
use http_body_util::Full;
use serde_json::{Map, Value, json};

/// Every `error_type` the plugin may send. `InternalError` is not among them: it is
/// what a panic or a broken invariant becomes, so a fuzz input that causes it is a bug.
pub const ERROR_TYPES: &[&str] = &[
    "InvokeBadRequestError",
    "InvokeAuthorizationError",
    "InvokeRateLimitError",
    "InvokeServerUnavailableError",
    "InvokeConnectionError",
    "InvokeError",
    "CredentialsValidateFailedError",
    "ValidationError",
    "NotImplementedError",
];

/// A single-threaded runtime, made once per process: sessions run on it as on the
/// plugin's own.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// Every line a writer was given, once all its handles are gone.
pub async fn drain(mut lines: Lines) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(line) = std::future::poll_fn(|cx| lines.poll_line(cx)).await {
        out.push(line);
    }
    out
}

/// Checks an `error` payload: a known type (never InternalError) and a message.
pub fn check_error_payload(data: &Value, context: &str) {
    let kind = data["error_type"].as_str().unwrap_or("");
    assert!(
        ERROR_TYPES.contains(&kind),
        "{context}: error_type {kind:?} is not a typed error the plugin may send: {data}"
    );
    let message = data["message"].as_str().unwrap_or("");
    assert!(
        !message.is_empty(),
        "{context}: an error without a message: {data}"
    );
}

/// Checks one session's lines against the protocol: each a JSON `session` event of this
/// session, `stream` items, then at most one `error`, then exactly one `end`, last.
/// Returns the stream items.
pub fn check_session(lines: &[String], session_id: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut errored = false;
    let n = lines.len();
    assert!(n > 0, "session {session_id} sent nothing, not even its end");
    for (i, line) in lines.iter().enumerate() {
        assert!(
            !line.contains('\n'),
            "a line with a newline inside: {line:?}"
        );
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("an output line is not JSON ({e}): {line:?}"));
        assert_eq!(v["event"], "session", "not a session event: {line}");
        assert_eq!(
            v["session_id"], session_id,
            "a line of another session: {line}"
        );
        let kind = v["data"]["type"].as_str().unwrap_or("");
        match kind {
            "stream" => {
                assert!(!errored, "a stream item after the error: {lines:?}");
                items.push(v["data"]["data"].clone());
            }
            "error" => {
                assert!(!errored, "two errors in one session: {lines:?}");
                errored = true;
                check_error_payload(&v["data"]["data"], session_id);
            }
            "end" => assert_eq!(i, n - 1, "the end is not the last line: {lines:?}"),
            other => panic!("unknown session message type {other:?}: {line}"),
        }
    }
    assert!(
        lines[n - 1].contains(r#""type":"end""#),
        "the session did not end: {lines:?}"
    );
    items
}

/// What the loopback Bedrock answers next: status, content type and body.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
}

static REPLY: Mutex<Option<Reply>> = Mutex::new(None);

/// Sets what the loopback Bedrock answers to every request from now on.
pub fn set_reply(reply: Reply) {
    *REPLY.lock().unwrap_or_else(|e| e.into_inner()) = Some(reply);
}

/// A loopback HTTP server standing in for bedrock-runtime: it answers every request with
/// the current [`Reply`], whatever was asked. Started once, on the shared runtime.
pub fn upstream() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let listener = runtime()
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        runtime().spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let service = hyper::service::service_fn(|_req| async {
                    let reply = REPLY
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone()
                        .unwrap_or(Reply {
                            status: 500,
                            content_type: "application/json",
                            body: Bytes::from_static(b"{}"),
                        });
                    let mut response = http::Response::new(Full::new(reply.body));
                    *response.status_mut() =
                        http::StatusCode::from_u16(reply.status).unwrap_or_default();
                    response.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static(reply.content_type),
                    );
                    response.headers_mut().insert(
                        "x-amzn-requestid",
                        http::HeaderValue::from_static("fuzz-request"),
                    );
                    Ok::<_, std::convert::Infallible>(response)
                });
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        addr
    })
}

/// Access-key credentials (AWS's documented example keys) that send every Bedrock call
/// to `endpoint`.
pub fn credentials(endpoint: &str) -> Value {
    json!({
        "auth_method": "Access_Secret_Key",
        "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_region": "us-east-1",
        "bedrock_endpoint_url": endpoint,
    })
}

/// Credentials that send every call to the loopback Bedrock ([`upstream`]).
pub fn loopback_credentials() -> Value {
    credentials(&format!("http://{}", upstream()))
}

/// Keeps the process away from any real AWS: no instance metadata, no shared files.
pub fn isolate_from_aws() {
    // SAFETY: called once at start-up, before any thread of ours reads the environment.
    unsafe {
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/fuzz-aws-config");
        std::env::set_var(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/fuzz-aws-credentials",
        );
        for var in [
            "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_BEARER_TOKEN_BEDROCK",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "HTTPS_PROXY",
            "HTTP_PROXY",
            "https_proxy",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            std::env::remove_var(var);
        }
    }
}

/// The catalogue's chat models and the parameter names their rules use, from the
/// declaration files the binary embeds.
pub struct ChatCatalogue {
    pub models: Vec<String>,
    pub parameters: Vec<String>,
}

pub fn chat_catalogue() -> &'static ChatCatalogue {
    static CAT: OnceLock<ChatCatalogue> = OnceLock::new();
    CAT.get_or_init(|| {
        let mut models = Vec::new();
        let mut parameters = BTreeSet::new();
        for (path, text) in internals::embedded_declaration_files() {
            if !path.starts_with("models/llm/") || path.ends_with("_position.yaml") {
                continue;
            }
            for line in text.lines() {
                if let Some(m) = line.strip_prefix("model: ") {
                    models.push(m.trim().to_string());
                }
                let t = line.trim_start();
                for key in ["- name: ", "name: ", "use_template: "] {
                    if let Some(p) = t.strip_prefix(key) {
                        parameters.insert(p.trim().trim_matches('"').to_string());
                    }
                }
            }
        }
        ChatCatalogue {
            models,
            parameters: parameters.into_iter().collect(),
        }
    })
}

/// Short strings that mean something somewhere in the plugin.
const WORDS: &[&str] = &[
    "",
    " ",
    "user",
    "assistant",
    "system",
    "tool",
    "developer",
    "text",
    "image",
    "document",
    "video",
    "audio",
    "auto",
    "none",
    "required",
    "json",
    "json_object",
    "xml",
    "markdown",
    "disabled",
    "geographic",
    "global",
    "jp",
    "au",
    "enabled",
    "enabled_full",
    "sync",
    "async",
    "DRAFT",
    "1",
    "0",
    "-1",
    "priority",
    "flex",
    "default",
    "optimized",
    "standard",
    "1h",
    "5m",
    "adaptive",
    "low",
    "medium",
    "high",
    "max",
    "true",
    "false",
    "support",
    "no_support",
    "data:image/png;base64,iVBORw0KGgo=",
    "data:application/pdf;base64,JVBERi0=",
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    "/9j/4AAQSkZJRgABAQ",
    "R0lGODlhAQABAAAAACw=",
    "UklGRiQAAABXRUJQVlA4",
    "JVBERi0xLjQK",
    "not base64!",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/tiff",
    "application/pdf",
    "text/plain",
    "text/csv",
    "text/html",
    "video/mp4",
    "pdf",
    "csv",
    "doc",
    "docx",
    "xls",
    "html",
    "txt",
    "md",
    "png",
    "report.pdf",
    "a b.txt",
    "https://x.test/a.png?sig=s",
    "get_weather",
    "call_1",
    "{}",
    "{\"a\":1}",
    "[",
    "{\"type\":\"object\"}",
    "<think>",
    "</think>",
    "[[double: {}]]",
    "arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123",
    "abc123",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcdef123456",
    "amazon.nova-lite-v1:0",
    "end_turn",
    "tool_use",
    "max_tokens",
    "refusal",
];

/// A string: mostly one of [`WORDS`] or a model or parameter name, sometimes raw.
pub fn word(u: &mut Unstructured) -> arbitrary::Result<String> {
    let cat = chat_catalogue();
    Ok(match u.int_in_range(0..=9u8)? {
        0..=4 => (*u.choose(WORDS)?).to_string(),
        5 => u.choose(&cat.models)?.clone(),
        6 => u.choose(&cat.parameters)?.clone(),
        _ => String::arbitrary(u)?,
    })
}

/// An arbitrary JSON value, at most `depth` deep.
pub fn json_value(u: &mut Unstructured, depth: u32) -> arbitrary::Result<Value> {
    let top = if depth == 0 { 5 } else { 7 };
    Ok(match u.int_in_range(0..=top)? {
        0 => Value::Null,
        1 => Value::Bool(bool::arbitrary(u)?),
        2 => json!(i64::arbitrary(u)?),
        3 => serde_json::Number::from_f64(f64::arbitrary(u)?)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        4 => json!(u.int_in_range(0..=100_000u32)?),
        5 => Value::String(word(u)?),
        6 => {
            let n = u.int_in_range(0..=4usize)?;
            Value::Array(
                (0..n)
                    .map(|_| json_value(u, depth - 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        _ => Value::Object(json_object(u, depth - 1)?),
    })
}

pub fn json_object(u: &mut Unstructured, depth: u32) -> arbitrary::Result<Map<String, Value>> {
    let n = u.int_in_range(0..=4usize)?;
    let mut m = Map::new();
    for _ in 0..n {
        m.insert(word(u)?, json_value(u, depth)?);
    }
    Ok(m)
}

/// Either an arbitrary value or one of the shape Dify sends for this field.
fn maybe<F>(u: &mut Unstructured, shaped: F) -> arbitrary::Result<Value>
where
    F: FnOnce(&mut Unstructured) -> arbitrary::Result<Value>,
{
    if u.ratio(1u8, 12u8)? {
        json_value(u, 2)
    } else {
        shaped(u)
    }
}

fn content_part(u: &mut Unstructured) -> arbitrary::Result<Value> {
    let mut part = Map::new();
    part.insert("type".into(), json!(word(u)?));
    for key in [
        "data",
        "base64_data",
        "url",
        "mime_type",
        "format",
        "filename",
    ] {
        if bool::arbitrary(u)? {
            part.insert(key.into(), maybe(u, |u| Ok(json!(word(u)?)))?);
        }
    }
    Ok(Value::Object(part))
}

fn prompt_message(u: &mut Unstructured) -> arbitrary::Result<Value> {
    let mut m = Map::new();
    m.insert(
        "role".into(),
        maybe(u, |u| {
            Ok(json!(u.choose(&[
                "system",
                "user",
                "assistant",
                "tool",
                "developer"
            ])?))
        })?,
    );
    let content = match u.int_in_range(0..=3u8)? {
        0 => Value::Null,
        1 => json!(word(u)?),
        _ => {
            let n = u.int_in_range(0..=4usize)?;
            Value::Array((0..n).map(|_| content_part(u)).collect::<Result<_, _>>()?)
        }
    };
    m.insert("content".into(), content);
    if u.ratio(1u8, 4u8)? {
        let n = u.int_in_range(0..=3usize)?;
        let calls = (0..n)
            .map(|_| {
                maybe(u, |u| {
                    Ok(json!({"id": word(u)?, "type": "function",
                        "function": {"name": word(u)?, "arguments": word(u)?}}))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        m.insert("tool_calls".into(), Value::Array(calls));
    }
    if u.ratio(1u8, 5u8)? {
        m.insert("tool_call_id".into(), json!(word(u)?));
    }
    if u.ratio(1u8, 8u8)? {
        m.insert("opaque_body".into(), json_value(u, 3)?);
    }
    if u.ratio(1u8, 10u8)? {
        m.insert("name".into(), json!(word(u)?));
    }
    Ok(Value::Object(m))
}

/// An `invoke_llm` payload (`data`): a catalogue or customizable chat model, messages
/// of every kind, tools, a tool choice, model parameters and stop sequences.
pub fn invoke_llm_data(u: &mut Unstructured, credentials: Value) -> arbitrary::Result<Value> {
    let cat = chat_catalogue();
    let mut credentials = credentials;
    if u.ratio(1u8, 4u8)? {
        // A customizable model: its id and form fields.
        let form = credentials
            .as_object_mut()
            .expect("credentials are an object");
        form.insert("inference_profile_id".into(), json!(word(u)?));
        for key in [
            "context_length",
            "max_tokens",
            "vision_support",
            "document_support",
            "tool_call_support",
            "dimensions",
        ] {
            if bool::arbitrary(u)? {
                form.insert(key.into(), maybe(u, |u| Ok(json!(word(u)?)))?);
            }
        }
    }
    if let Some(form) = credentials.as_object_mut() {
        for key in [
            "guardrail_identifier",
            "guardrail_version",
            "guardrail_trace",
            "guardrail_stream_processing_mode",
            "enable_request_metadata",
        ] {
            if u.ratio(1u8, 10u8)? {
                form.insert(key.into(), json!(word(u)?));
            }
        }
    }
    let mut params = Map::new();
    for _ in 0..u.int_in_range(0..=5u8)? {
        let name = u.choose(&cat.parameters)?.clone();
        params.insert(name, json_value(u, 1)?);
    }
    let messages = (0..u.int_in_range(0..=6usize)?)
        .map(|_| prompt_message(u))
        .collect::<Result<Vec<_>, _>>()?;
    let tools = (0..u.int_in_range(0..=3usize)?)
        .map(|_| {
            maybe(u, |u| {
                Ok(json!({"name": word(u)?, "description": word(u)?,
                    "parameters": Value::Object(json_object(u, 2)?)}))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut data = json!({
        "user_id": "fuzz",
        "type": "model",
        "action": "invoke_llm",
        "provider": "bedrock",
        "model_type": "llm",
        "model": u.choose(&cat.models)?,
        "credentials": credentials,
        "model_parameters": params,
        "prompt_messages": messages,
        "tools": tools,
        "stop": (0..u.int_in_range(0..=2usize)?).map(|_| word(u)).collect::<Result<Vec<_>, _>>()?,
        "stream": bool::arbitrary(u)?,
    });
    if bool::arbitrary(u)? {
        data["tool_choice"] = maybe(u, |u| {
            Ok(json!({"mode": u.choose(&["auto", "none", "required", "tool"])?, "name": word(u)?}))
        })?;
    }
    Ok(data)
}
