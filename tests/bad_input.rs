//! The bad-input table (issue 17, item 2): one list of rows — what is sent, and what the
//! session must get — run through the built binary against the Bedrock test double. Every
//! row is answered for its own session only: its session ends exactly once with the
//! expected error type and a message naming the problem (or, where AWS might accept the
//! input, with what the double answered), while a well-formed control session sent right
//! after it completes normally, no chunk lands in another session, no secret is echoed,
//! and the process is alive at the end. The whole table runs over stdio; a representative
//! subset runs over TCP (remote debugging) and HTTP (serverless).
//!
//! `BAD_INPUT_DUMP=<file> cargo test --test bad_input` writes what each row got, one
//! line per row, for the reliability table.

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use base64::Engine;
use bedrock_double::{Double, TEST_API_KEY, TEST_SECRET_KEY};
use serde_json::{Value, json};
use support::aws::{
    api_key_credentials, double, embedding_request, in_region, key_credentials, llm_request,
    rerank_request, user, with,
};
use support::{Plugin, Session, Transport, envelope};

const NOVA: &str = "amazon.nova-lite-v1:0";
const TITAN_EMBED: &str = "amazon.titan-embed-text-v2:0";
const RERANK: &str = "amazon.rerank-v1:0";
/// The line limit the plugin is started with (`PLUGIN_RUNTIME_MAX_BUFFER_SIZE`): small,
/// so that a row can go past it cheaply.
const LINE_LIMIT: usize = 65_536;
const WAIT: Duration = Duration::from_secs(90);

/// What one row sends.
#[derive(Clone)]
enum Line {
    /// The daemon's envelope around this action payload.
    Action(&'static str, Value),
    /// This whole envelope; the runner sets its `session_id` (when it is a string).
    Envelope(&'static str, Value),
    /// These bytes, `{SID}` replaced by the session id; the action names the rules.
    Bytes(&'static str, Vec<u8>),
}

/// What the row's session must end with.
#[derive(Clone)]
enum Want {
    /// An error of this type whose message says each of these.
    Error(&'static str, Vec<String>),
    /// A normal answer that passes this check.
    Answer(fn(&Session) -> Result<(), String>),
    /// No session can be told (no usable session id): a top-level `error` event saying
    /// each of these (over HTTP, a 400 answer saying them).
    Unroutable(Vec<String>),
}

#[derive(Clone)]
struct Row {
    name: String,
    line: Line,
    want: Want,
}

fn row(name: impl Into<String>, line: Line, want: Want) -> Row {
    Row {
        name: name.into(),
        line,
        want,
    }
}

fn error(kind: &'static str, says: &[&str]) -> Want {
    Want::Error(kind, says.iter().map(|s| s.to_string()).collect())
}

fn unroutable(says: &[&str]) -> Want {
    Want::Unroutable(says.iter().map(|s| s.to_string()).collect())
}

/// A chat answer with some text.
fn answered(s: &Session) -> Result<(), String> {
    match s.error() {
        Some(e) => Err(format!("expected an answer, got {e}")),
        None if s.text().is_empty() => Err("the answer has no text".into()),
        None => Ok(()),
    }
}

/// An embedding answer of `n` vectors.
fn vectors(s: &Session, n: usize) -> Result<(), String> {
    one_result(s)?;
    let got = s.result()["embeddings"].as_array().map_or(0, Vec::len);
    (got == n)
        .then_some(())
        .ok_or(format!("{got} vectors, not {n}"))
}

/// A single result (non-chat actions).
fn one_result(s: &Session) -> Result<(), String> {
    match s.error() {
        Some(e) => Err(format!("expected a result, got {e}")),
        None => {
            let items = s.items();
            (items.len() == 1)
                .then_some(())
                .ok_or(format!("{} results", items.len()))
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A user message of typed parts.
fn parts(parts: Value) -> Value {
    json!([{"role": "user", "content": parts}])
}

fn image_part(fields: Value) -> Value {
    with(json!({"type": "image"}), fields)
}

/// A well-formed request of every action the table varies, to be broken field by field.
fn templates(d: &Double) -> Vec<(&'static str, Value)> {
    let creds = key_credentials(d);
    let rerank_creds = in_region(&creds, "us-west-2");
    let custom = with(
        creds.clone(),
        json!({"inference_profile_id": NOVA, "context_length": "300000", "max_tokens": "5000"}),
    );
    vec![
        (
            "invoke_llm",
            with(
                llm_request(
                    NOVA,
                    &creds,
                    json!([{"role": "system", "content": "be brief"},
                           {"role": "user", "content": "hello", "name": "", "tool_calls": [], "tool_call_id": ""}]),
                    true,
                    json!({"max_tokens": 100, "temperature": 0.5}),
                ),
                json!({"tools": [{"name": "weather", "description": "Weather", "parameters": {"type": "object", "properties": {}}}],
                       "stop": ["STOP"]}),
            ),
        ),
        (
            "get_llm_num_tokens",
            json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "credentials": creds,
                   "prompt_messages": user("count me"), "tools": []}),
        ),
        (
            "invoke_text_embedding",
            embedding_request(TITAN_EMBED, &creds, &["a", "b"], "document"),
        ),
        (
            "get_text_embedding_num_tokens",
            json!({"provider": "bedrock", "model": TITAN_EMBED, "model_type": "text-embedding",
                   "credentials": creds, "texts": ["a", "b"]}),
        ),
        (
            "invoke_rerank",
            rerank_request(RERANK, &rerank_creds, "q", &["x", "y"], 1, 0.0),
        ),
        (
            "validate_provider_credentials",
            json!({"provider": "bedrock", "credentials": with(creds.clone(), json!({"model_for_validation": NOVA}))}),
        ),
        (
            "validate_model_credentials",
            json!({"provider": "bedrock", "model": "my-nova", "model_type": "llm", "credentials": custom}),
        ),
        (
            "get_ai_model_schemas",
            json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "credentials": {}}),
        ),
    ]
}

/// The JSON kinds a field is replaced with; each differs from the field's own kind.
fn wrong_values() -> Vec<(&'static str, Value)> {
    vec![
        ("null", Value::Null),
        ("a number", json!(42)),
        ("a string", json!("wrong")),
        ("a boolean", json!(true)),
        ("an array", json!([1, 2])),
        ("an object", json!({"k": 1})),
    ]
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Every field path of `v` worth breaking: each object member and the first element of
/// each array, down to the leaves.
fn paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(p.clone());
                paths(child, &p, out);
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                let p = format!("{prefix}[0]");
                out.push(p.clone());
                paths(first, &p, out);
            }
        }
        _ => {}
    }
}

/// `v` with the value at `path` replaced.
fn replaced(mut v: Value, path: &str, new: Value) -> Value {
    let mut at = &mut v;
    for seg in path.split('.') {
        let (key, index) = match seg.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        at = &mut at[key];
        if let Some(i) = index {
            at = &mut at[i];
        }
    }
    *at = new;
    v
}

fn value_at<'a>(v: &'a Value, path: &str) -> &'a Value {
    let mut at = v;
    for seg in path.split('.') {
        let (key, index) = match seg.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        at = &at[key];
        if let Some(i) = index {
            at = &at[i];
        }
    }
    at
}

/// Any answer without an error (a field the plugin rightly accepts or ignores).
fn accepted(s: &Session) -> Result<(), String> {
    match s.error() {
        Some(e) => Err(format!("expected an answer, got {e}")),
        None if s.items().is_empty() => Err("no answer".into()),
        None => Ok(()),
    }
}

/// Actions that call AWS, and so read the credential form.
fn calls_aws(action: &str) -> bool {
    matches!(
        action,
        "invoke_llm"
            | "invoke_text_embedding"
            | "invoke_rerank"
            | "validate_provider_credentials"
            | "validate_model_credentials"
    )
}

/// What a field of another JSON kind must give: the plugin's rule for each field, so
/// that every generated row has one exact expected outcome.
fn wrong_type_outcome(action: &str, path: &str, kind: &str) -> Want {
    let null = kind == "null";
    // Fields the plugin does not read take any value: the daemon adds fields over time.
    // A tool schema's content is AWS's to judge (the plugin only needs an object).
    if path == "provider"
        || path == "prompt_messages[0].name"
        || path.starts_with("tools[0].parameters.")
    {
        return Want::Answer(accepted);
    }
    if let Some(field) = path.strip_prefix("credentials.") {
        // Counting and schemas read no credentials.
        if !calls_aws(action) {
            return Want::Answer(accepted);
        }
        return credential_outcome(action, field, kind);
    }
    if path == "credentials" {
        return match (null, action) {
            (true, "validate_model_credentials") => error(
                "CredentialsValidateFailedError",
                &["inference_profile_id", "required"],
            ),
            (true, "validate_provider_credentials") => error(
                "CredentialsValidateFailedError",
                &["aws_region", "required"],
            ),
            (true, a) if calls_aws(a) => {
                error("InvokeBadRequestError", &["aws_region", "required"])
            }
            (true, _) => Want::Answer(accepted),
            (false, _) => error("ValidationError", &["credentials"]),
        };
    }
    if let Some(param) = path.strip_prefix("model_parameters.") {
        // A parameter set to null is a parameter not set.
        return if null {
            Want::Answer(accepted)
        } else {
            Want::Error(
                "InvokeBadRequestError",
                vec![format!("Model parameter {param} should be")],
            )
        };
    }
    // Optional lists, maps and texts: Go's null means absent.
    let optional = [
        "model_parameters",
        "stop",
        "tools",
        "tools[0].parameters",
        "prompt_messages[0].content",
        "prompt_messages[0].tool_calls",
        "prompt_messages[0].tool_call_id",
        "input_type",
        "texts",
        "docs",
        "score_threshold",
        "top_n",
    ];
    if null
        && (optional.contains(&path)
            || (action == "get_llm_num_tokens" && path == "prompt_messages"))
    {
        return Want::Answer(accepted);
    }
    Want::Error("ValidationError", vec![path.to_string()])
}

/// A credential field of another JSON kind, for an action that calls AWS.
fn credential_outcome(action: &str, field: &str, kind: &str) -> Want {
    let validating = action.starts_with("validate_");
    let form = if validating {
        "CredentialsValidateFailedError"
    } else {
        "InvokeBadRequestError"
    };
    let says = |words: &[&str]| Want::Error(form, words.iter().map(|w| w.to_string()).collect());
    match (field, kind) {
        // A type no form sends: every field of the provider's forms is text.
        (_, "a boolean" | "an array" | "an object") => says(&[field, "must be text"]),
        // The custom model's sizes: absent or a number, they are as written.
        ("context_length" | "max_tokens", _) => Want::Answer(accepted),
        ("model_for_validation", "a number") | ("inference_profile_id", "a number") => {
            says(&["42", "not found"])
        }
        // Null: no model named, so a cheap one of the region is probed.
        ("model_for_validation", _) => Want::Answer(accepted),
        ("inference_profile_id", _) => says(&["inference_profile_id", "required"]),
        ("aws_region" | "aws_access_key_id" | "aws_secret_access_key", "null") => {
            says(&[field, "required"])
        }
        // No endpoint: AWS's own for the region, which the test's proxy refuses.
        ("bedrock_endpoint_url", "null") if validating => {
            says(&["Could not reach bedrock-runtime.", ".amazonaws.com"])
        }
        ("bedrock_endpoint_url", "null") => Want::Error(
            "InvokeConnectionError",
            vec![
                "could not reach bedrock-runtime.".into(),
                ".amazonaws.com".into(),
            ],
        ),
        (_, "null") => Want::Answer(accepted),
        // A number is read as the text it is written as, and judged as such.
        ("aws_region", _) => says(&[field, "not a region name"]),
        ("aws_access_key_id", _) => says(&[field, "does not look like"]),
        ("aws_secret_access_key", _) if validating => says(&["secret access key does not match"]),
        ("aws_secret_access_key", _) => Want::Error(
            "InvokeAuthorizationError",
            vec!["InvalidSignatureException".into()],
        ),
        ("auth_method", _) => says(&[field, "is not one of"]),
        (_, _) if field.ends_with("endpoint_url") => says(&[field, "must start with https://"]),
        _ => says(&[field]),
    }
}

/// What a field of the envelope of another JSON kind must give.
fn envelope_outcome(path: &str, kind: &str) -> Want {
    let null = kind == "null";
    match path {
        "session_id" if null => unroutable(&["no session_id"]),
        "session_id" => unroutable(&["session_id must be a string"]),
        "event" => error("ValidationError", &["`event`"]),
        "data" if null => error("ValidationError", &["`data` is missing"]),
        "data" => error("ValidationError", &["`data` must be an object"]),
        "data.type" => error("ValidationError", &["data.type"]),
        "data.action" => error("ValidationError", &["data.action"]),
        "data.model" => error("ValidationError", &["model"]),
        "data.model_type" => error("ValidationError", &["model_type"]),
        "data.credentials" if null => Want::Answer(accepted),
        "data.credentials" => error("ValidationError", &["credentials"]),
        // What the plugin does not read (ids, context, the user, the provider name; an
        // app id that is not text tags no request metadata).
        _ => Want::Answer(accepted),
    }
}

/// Rows that replace each field of each template with each other JSON kind.
fn wrong_type_rows(d: &Double) -> Vec<Row> {
    let mut rows = Vec::new();
    for (action, template) in templates(d) {
        let mut fields = Vec::new();
        paths(&template, "", &mut fields);
        for path in fields {
            let original = kind_of(value_at(&template, &path));
            for (kind, value) in wrong_values() {
                if kind == original {
                    continue;
                }
                rows.push(row(
                    format!("{action}: {path} as {kind}"),
                    Line::Action(action, replaced(template.clone(), &path, value)),
                    wrong_type_outcome(action, &path, kind),
                ));
            }
        }
    }
    rows
}

/// The envelope's own fields, each of another kind.
fn envelope_rows() -> Vec<Row> {
    let good = envelope(
        "SID",
        "get_ai_model_schemas",
        json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "credentials": {}}),
    );
    let mut fields = Vec::new();
    paths(&good, "", &mut fields);
    let mut rows = Vec::new();
    for path in fields {
        let original = kind_of(value_at(&good, &path));
        for (kind, value) in wrong_values() {
            if kind == original {
                continue;
            }
            rows.push(row(
                format!("envelope: {path} as {kind}"),
                Line::Envelope("get_ai_model_schemas", replaced(good.clone(), &path, value)),
                envelope_outcome(&path, kind),
            ));
        }
    }
    rows
}

/// The hand-written rows: each input class of the issue.
fn named_rows(d: &Double, dead_proxy: &str) -> Vec<Row> {
    let creds = key_credentials(d);
    let creds_no_endpoint = || {
        let mut c = creds.clone();
        for k in [
            "bedrock_endpoint_url",
            "bedrock_control_endpoint_url",
            "bedrock_mantle_endpoint_url",
        ] {
            c.as_object_mut().map(|o| o.remove(k));
        }
        c
    };
    let llm = |messages: Value, params: Value| llm_request(NOVA, &creds, messages, true, params);
    let script = |s: &str| user(&format!("hello [[double: {s}]]"));
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let valid_line = |fields: Value| envelope("{SID}", "invoke_llm", fields).to_string();
    let jpeg = [
        0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1,
    ];
    let random: Vec<u8> = (0..512u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1)
        .collect();
    let many_messages: Vec<Value> = (0..10_000)
        .map(|i| {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            json!({"role": role, "content": format!("message {i}")})
        })
        .chain([json!({"role": "user", "content": "[[double: {\"text\": \"read them all\"}]]"})])
        .collect();
    let docs: Vec<String> = (0..10_000).map(|i| format!("document {i}")).collect();
    let doc_refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    vec![
        // --- the line itself ---
        row(
            "invalid UTF-8 inside a string value",
            Line::Bytes(
                "invoke_llm",
                replace_bytes(
                    valid_line(llm(user("caf-HERE"), json!({}))).as_bytes(),
                    b"-HERE",
                    b"\xff\xfe",
                ),
            ),
            error("ValidationError", &["UTF-8"]),
        ),
        row(
            "invalid UTF-8 in the session id",
            Line::Bytes(
                "get_ai_model_schemas",
                b"{\"session_id\": \"s-\xff\xfe\", \"event\": \"request\", \"data\": {}}".to_vec(),
            ),
            unroutable(&["UTF-8"]),
        ),
        row(
            "100,000 nested arrays inside a field",
            Line::Bytes(
                "invoke_llm",
                valid_line(llm(user("hi"), json!({})))
                    .replace(
                        "\"model_parameters\":{}",
                        &format!("\"model_parameters\":{}", nested(100_000)),
                    )
                    .into_bytes(),
            ),
            error("ValidationError", &["nested", "128"]),
        ),
        row(
            "100,000 nested arrays as the whole line",
            Line::Bytes("invoke_llm", nested(100_000).into_bytes()),
            unroutable(&["nested", "128"]),
        ),
        row(
            "a request line past the line limit is read whole",
            Line::Action(
                "invoke_llm",
                llm(
                    user(&format!(
                        "{} [[double: {{\"text\": \"long read\"}}]]",
                        "x".repeat(4 * LINE_LIMIT)
                    )),
                    json!({}),
                ),
            ),
            Want::Answer(|s| {
                (s.text() == "long read")
                    .then_some(())
                    .ok_or(format!("text {:?}", s.text()))
            }),
        ),
        row(
            "an answer line past the line limit",
            Line::Action(
                "invoke_llm",
                with(
                    llm(
                        script(&format!(
                            "{{\"tool_calls\": [{{\"name\": \"t\", \"input\": {{\"blob\": \"{}\"}}, \"chunks\": 1}}]}}",
                            "y".repeat(2 * LINE_LIMIT)
                        )),
                        json!({}),
                    ),
                    json!({"tools": [{"name": "t", "description": "d", "parameters": {"type": "object"}}]}),
                ),
            ),
            error("InternalError", &["line limit", &LINE_LIMIT.to_string()]),
        ),
        // --- credentials ---
        row(
            "credentials without a region",
            Line::Action(
                "invoke_llm",
                llm_request(
                    NOVA,
                    &with(creds.clone(), json!({"aws_region": null})),
                    user("hi"),
                    true,
                    json!({}),
                ),
            ),
            error("InvokeBadRequestError", &["aws_region", "required"]),
        ),
        row(
            "access keys without the secret",
            Line::Action(
                "invoke_llm",
                llm_request(
                    NOVA,
                    &with(creds.clone(), json!({"aws_secret_access_key": ""})),
                    user("hi"),
                    true,
                    json!({}),
                ),
            ),
            error(
                "InvokeBadRequestError",
                &["aws_secret_access_key", "required"],
            ),
        ),
        row(
            "API key auth without the key",
            Line::Action(
                "invoke_llm",
                llm_request(
                    NOVA,
                    &with(api_key_credentials(d), json!({"bedrock_api_key": null})),
                    user("hi"),
                    true,
                    json!({}),
                ),
            ),
            error("InvokeBadRequestError", &["bedrock_api_key", "required"]),
        ),
        row(
            "validation without the secret",
            Line::Action(
                "validate_provider_credentials",
                json!({"credentials": with(creds.clone(), json!({"aws_secret_access_key": null}))}),
            ),
            error("CredentialsValidateFailedError", &["aws_secret_access_key"]),
        ),
        row(
            "unknown credential fields are ignored",
            Line::Action(
                "invoke_llm",
                llm_request(
                    NOVA,
                    &with(
                        creds.clone(),
                        json!({"aws_favourite_colour": "blue", "x": {"y": [1]}}),
                    ),
                    script(r#"{"text": "fine"}"#),
                    true,
                    json!({}),
                ),
            ),
            Want::Answer(answered),
        ),
        row(
            "an unknown auth method",
            Line::Action(
                "invoke_llm",
                llm_request(
                    NOVA,
                    &with(creds.clone(), json!({"auth_method": "Kerberos"})),
                    user("hi"),
                    true,
                    json!({}),
                ),
            ),
            error(
                "InvokeBadRequestError",
                &["auth_method", "Kerberos", "IAM_Role"],
            ),
        ),
        row(
            "an unknown auth method at validation",
            Line::Action(
                "validate_provider_credentials",
                json!({"credentials": with(creds.clone(), json!({"auth_method": "Kerberos"}))}),
            ),
            error(
                "CredentialsValidateFailedError",
                &["auth_method", "Kerberos"],
            ),
        ),
        row(
            "a region that is not a region name",
            Line::Action(
                "invoke_llm",
                llm_request(
                    NOVA,
                    &with(creds.clone(), json!({"aws_region": "the moon"})),
                    user("hi"),
                    true,
                    json!({}),
                ),
            ),
            error("InvokeBadRequestError", &["aws_region", "the moon"]),
        ),
        row(
            "a region that does not exist, at an endpoint that answers",
            Line::Action(
                "invoke_llm",
                llm_request(
                    NOVA,
                    &in_region(&creds, "xx-nowhere-9"),
                    user("hi"),
                    true,
                    json!({}),
                ),
            ),
            // Tried: the double, as AWS would, knows no Nova there; its answer is relayed.
            error(
                "InvokeBadRequestError",
                &[
                    "ValidationException",
                    "not offered in-region in xx-nowhere-9",
                ],
            ),
        ),
        row(
            "a region that does not exist, through AWS's own endpoint",
            Line::Action(
                "invoke_llm",
                llm_request(
                    NOVA,
                    &with(
                        creds_no_endpoint(),
                        json!({"aws_region": "xx-nowhere-9", "bedrock_proxy_url": dead_proxy}),
                    ),
                    user("hi"),
                    true,
                    json!({}),
                ),
            ),
            error(
                "InvokeConnectionError",
                &[
                    "could not reach bedrock-runtime.xx-nowhere-9.amazonaws.com",
                    "xx-nowhere-9 is not an AWS Region where Bedrock is offered",
                    "aws_region",
                ],
            ),
        ),
        // --- prompts ---
        row(
            "no messages at all",
            Line::Action("invoke_llm", llm(json!([]), json!({}))),
            error("InvokeBadRequestError", &["no user message"]),
        ),
        row(
            "a user message with empty content",
            Line::Action("invoke_llm", llm(user(""), json!({}))),
            error("InvokeBadRequestError", &["no user message"]),
        ),
        row(
            "10,000 messages",
            Line::Action("invoke_llm", llm(Value::Array(many_messages), json!({}))),
            Want::Answer(|s| {
                (s.text() == "read them all")
                    .then_some(())
                    .ok_or(format!("text {:?}", s.text()))
            }),
        ),
        row(
            "a tool whose schema is not an object",
            Line::Action(
                "invoke_llm",
                with(
                    llm(user("hi"), json!({})),
                    json!({"tools": [{"name": "t", "description": "d", "parameters": "not a schema"}]}),
                ),
            ),
            error("ValidationError", &["tools[0].parameters"]),
        ),
        row(
            "a tool whose schema is an array",
            Line::Action(
                "invoke_llm",
                with(
                    llm(user("hi"), json!({})),
                    json!({"tools": [{"name": "t", "description": "d", "parameters": [1, 2]}]}),
                ),
            ),
            error("ValidationError", &["tools[0].parameters"]),
        ),
        // --- files ---
        row(
            "base64 that is not base64",
            Line::Action(
                "invoke_llm",
                llm(
                    parts(json!([image_part(
                        json!({"base64_data": "not*base64!", "mime_type": "image/png"})
                    )])),
                    json!({}),
                ),
            ),
            error("InvokeBadRequestError", &["message 0, part 0", "base64"]),
        ),
        row(
            "a data URL whose payload is not base64",
            Line::Action(
                "invoke_llm",
                llm(
                    parts(json!([image_part(
                        json!({"url": "data:image/png;base64,%%%%"})
                    )])),
                    json!({}),
                ),
            ),
            error("InvokeBadRequestError", &["message 0, part 0", "base64"]),
        ),
        row(
            "an image that is not an image",
            Line::Action(
                "invoke_llm",
                llm(
                    parts(json!([image_part(json!({"base64_data": b64(&random)}))])),
                    json!({}),
                ),
            ),
            error(
                "InvokeBadRequestError",
                &["message 0, part 0", "not a JPEG, PNG, GIF or WebP image"],
            ),
        ),
        row(
            "random bytes that say they are a PNG (AWS decides)",
            Line::Action(
                "invoke_llm",
                llm(
                    parts(json!([
                        {"type": "text", "data": "[[double: {\"error\": {\"status\": 400, \"type\": \"ValidationException\", \"message\": \"Could not process image\"}}]]"},
                        image_part(json!({"url": format!("data:image/png;base64,{}", b64(&random))}))
                    ])),
                    json!({}),
                ),
            ),
            error("InvokeBadRequestError", &["Could not process image"]),
        ),
        row(
            "a data URL that says PNG holding a JPEG (AWS decides)",
            Line::Action(
                "invoke_llm",
                llm(
                    parts(json!([
                        {"type": "text", "data": "[[double: {\"text\": \"a picture\"}]]"},
                        image_part(json!({"url": format!("data:image/png;base64,{}", b64(&jpeg))}))
                    ])),
                    json!({}),
                ),
            ),
            Want::Answer(answered),
        ),
        row(
            "a data URL that says PNG holding text",
            Line::Action(
                "invoke_llm",
                llm(
                    parts(json!([
                        {"type": "text", "data": "[[double: {\"error\": {\"status\": 400, \"type\": \"ValidationException\", \"message\": \"Could not process image\"}}]]"},
                        image_part(json!({"url": format!("data:image/png;base64,{}", b64(b"just some text, not a picture"))}))
                    ])),
                    json!({}),
                ),
            ),
            error("InvokeBadRequestError", &["Could not process image"]),
        ),
        // --- embeddings and rerank ---
        row(
            "a rerank of 10,000 documents",
            Line::Action(
                "invoke_rerank",
                rerank_request(
                    RERANK,
                    &in_region(&creds, "us-west-2"),
                    "q",
                    &doc_refs,
                    3,
                    0.0,
                ),
            ),
            Want::Answer(|s| {
                one_result(s)?;
                let n = s.result()["docs"].as_array().map_or(0, Vec::len);
                (n == 3).then_some(()).ok_or(format!("{n} documents"))
            }),
        ),
        // Titan and Nova refuse empty text: the plugin embeds a space instead, so that
        // Dify gets the one vector per input it counts on.
        row(
            "an embedding of one empty string",
            Line::Action(
                "invoke_text_embedding",
                embedding_request(TITAN_EMBED, &creds, &[""], "document"),
            ),
            Want::Answer(|s| vectors(s, 1)),
        ),
        row(
            "an embedding of a list with one empty string",
            Line::Action(
                "invoke_text_embedding",
                embedding_request(TITAN_EMBED, &creds, &["a", "", "c"], "document"),
            ),
            Want::Answer(|s| vectors(s, 3)),
        ),
        row(
            "an embedding of no texts",
            Line::Action(
                "invoke_text_embedding",
                embedding_request(TITAN_EMBED, &creds, &[], "document"),
            ),
            Want::Answer(|s| vectors(s, 0)),
        ),
        row(
            "an embedding answer past the line limit",
            Line::Action(
                "invoke_text_embedding",
                embedding_request(TITAN_EMBED, &creds, &["t"; 40], "document"),
            ),
            error(
                "InvokeBadRequestError",
                &["40 vectors", "65536 byte line limit", "send at most"],
            ),
        ),
        // --- model parameters ---
        row(
            "negative max_tokens",
            Line::Action("invoke_llm", llm(user("hi"), json!({"max_tokens": -5}))),
            error(
                "InvokeBadRequestError",
                &["max_tokens", "greater than or equal to"],
            ),
        ),
        row(
            "temperature 5",
            Line::Action("invoke_llm", llm(user("hi"), json!({"temperature": 5}))),
            error(
                "InvokeBadRequestError",
                &["temperature", "less than or equal to"],
            ),
        ),
        row(
            "top_p -1",
            Line::Action("invoke_llm", llm(user("hi"), json!({"top_p": -1}))),
            error(
                "InvokeBadRequestError",
                &["top_p", "greater than or equal to"],
            ),
        ),
        row(
            "a string for a number",
            Line::Action(
                "invoke_llm",
                llm(user("hi"), json!({"temperature": "warm"})),
            ),
            error("InvokeBadRequestError", &["temperature", "should be float"]),
        ),
        row(
            "a numeric string for a number",
            Line::Action("invoke_llm", llm(user("hi"), json!({"max_tokens": "100"}))),
            error("InvokeBadRequestError", &["max_tokens", "should be int"]),
        ),
        row(
            "unknown parameter names are dropped",
            Line::Action(
                "invoke_llm",
                llm(
                    script(r#"{"text": "fine"}"#),
                    json!({"frobnication": 11, "max_tokens": 50}),
                ),
            ),
            Want::Answer(answered),
        ),
        row(
            "an action the provider does not offer",
            Line::Action(
                "get_tts_model_voices",
                json!({"model": 5, "credentials": "x"}),
            ),
            error("NotImplementedError", &["get_tts_model_voices"]),
        ),
    ]
}

/// How one row went.
struct Outcome {
    row: Row,
    problem: Option<String>,
    got: String,
}

/// Runs `rows` on `plugin`, each followed by a control chat whose answer must come back
/// whole; checks each against its `Want`. Returns the problems found.
fn run_rows(plugin: &mut Plugin, d: &Double, rows: Vec<Row>, transport: Transport) -> Vec<String> {
    let creds = key_credentials(d);
    let mut pending = Vec::new();
    let mut unroutable = Vec::new();
    let mut controls = Vec::new();
    // Each control's number → its session: its text may appear there only.
    let mut owners: HashMap<String, String> = HashMap::new();
    let started = Instant::now();
    for (i, r) in rows.into_iter().enumerate() {
        let sid = format!("row-{i}");
        if matches!(r.want, Want::Unroutable(_)) {
            unroutable.push((sid, r));
            continue;
        }
        send(plugin, &sid, &r.line);
        pending.push((sid, r));
        // A control right behind it: it must be answered whole whatever the row did.
        let (n, id) = send_control(plugin, &creds, i);
        owners.insert(n.to_string(), id.clone());
        controls.push((n, id));
    }
    let mut problems = Vec::new();
    let mut outcomes = Vec::new();
    let deadline = Instant::now() + WAIT;
    for (sid, r) in pending {
        let Some(s) = wait_until_ended(plugin, &sid, deadline) else {
            problems.push(format!("{}: the session never ended", r.name));
            continue;
        };
        let got = describe(&s);
        let problem = check(&r.want, &s).err();
        outcomes.push(Outcome {
            row: r,
            problem,
            got,
        });
    }
    for (i, id) in controls {
        let Some(s) = wait_until_ended(plugin, &id, deadline) else {
            problems.push(format!("control {i} never ended"));
            continue;
        };
        if s.text() != control_text(i) {
            problems.push(format!("control {i} after a row: {}", describe(&s)));
        }
    }
    // Lines no session can be told of, one at a time: each gets its own top-level error.
    for (i, (sid, r)) in unroutable.into_iter().enumerate() {
        let before = match transport {
            Transport::Http => plugin.http_failures().len(),
            _ => plugin.top_level_errors().len(),
        };
        send(plugin, &sid, &r.line);
        let (n, id) = send_control(plugin, &creds, 100_000 + i);
        owners.insert(n.to_string(), id.clone());
        let s = plugin.wait_session(&id, WAIT);
        if s.text() != control_text(100_000 + i) {
            problems.push(format!("control after {}: {}", r.name, describe(&s)));
        }
        let said = match transport {
            Transport::Http => plugin
                .wait_http_failures(before + 1, WAIT)
                .last()
                .map(|f| format!("{} {}", f.status, f.body))
                .unwrap_or_default(),
            _ => plugin
                .wait_top_level_errors(before + 1, WAIT)
                .last()
                .map(|e| e["data"]["error"].to_string())
                .unwrap_or_default(),
        };
        let problem = match &r.want {
            Want::Unroutable(says) => says
                .iter()
                .find(|w| !said.contains(w.as_str()))
                .map(|w| format!("should say {w:?}")),
            _ => None,
        };
        outcomes.push(Outcome {
            row: r,
            problem,
            got: said,
        });
    }
    if let Ok(path) = std::env::var("BAD_INPUT_DUMP") {
        let dump: Vec<String> = outcomes
            .iter()
            .map(|o| format!("{} => {}", o.row.name, o.got))
            .collect();
        let _ = std::fs::write(path, dump.join("\n"));
    }
    for o in &outcomes {
        if let Some(p) = &o.problem {
            problems.push(format!("{}: {p}; got {}", o.row.name, o.got));
        }
    }
    eprintln!(
        "{transport:?}: {} rows in {:.1} s",
        outcomes.len(),
        started.elapsed().as_secs_f64()
    );
    problems.extend(whole_run_problems(plugin, &owners));
    problems
}

/// The session, once ended; `None` if it has not by `deadline`.
fn wait_until_ended(plugin: &Plugin, id: &str, deadline: Instant) -> Option<Session> {
    while !plugin.has_ended(id) {
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Some(plugin.wait_session(id, Duration::from_secs(1)))
}

fn control_text(i: usize) -> String {
    format!("control-{i} fine")
}

fn send_control(plugin: &mut Plugin, creds: &Value, i: usize) -> (usize, String) {
    let text = control_text(i);
    let id = plugin.request(
        "invoke_llm",
        llm_request(
            NOVA,
            creds,
            user(&format!(
                "[[double: {{\"text\": \"{text}\", \"deltas\": 3}}]]"
            )),
            true,
            json!({}),
        ),
    );
    (i, id)
}

fn send(plugin: &mut Plugin, sid: &str, line: &Line) {
    match line {
        Line::Action(action, fields) => {
            let mut l = envelope(sid, action, fields.clone());
            l["app_id"] = Value::Null;
            plugin.send_session_bytes(sid, action, l.to_string().as_bytes());
        }
        Line::Envelope(action, env) => {
            let mut env = env.clone();
            if env["session_id"].is_string() {
                env["session_id"] = json!(sid);
            }
            plugin.send_session_bytes(sid, action, env.to_string().as_bytes());
        }
        Line::Bytes(action, bytes) => {
            let text = String::from_utf8_lossy(bytes);
            let line = if text.contains("{SID}") {
                replace_bytes(bytes, b"{SID}", sid.as_bytes())
            } else {
                bytes.clone()
            };
            plugin.send_session_bytes(sid, action, &line);
        }
    }
}

fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

fn describe(s: &Session) -> String {
    match s.error() {
        Some(e) => format!(
            "{} {:?}",
            e["error_type"],
            e["message"].as_str().unwrap_or("")
        ),
        None => format!("answer {:?}", {
            let t = s.text();
            if t.is_empty() {
                s.items()
                    .first()
                    .map(|v| v.to_string())
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect()
            } else {
                t.chars().take(80).collect::<String>()
            }
        }),
    }
}

fn check(want: &Want, s: &Session) -> Result<(), String> {
    match want {
        Want::Error(kind, says) => {
            let e = s.error().ok_or("expected an error, got an answer")?;
            if e["error_type"] != *kind {
                return Err(format!("error type should be {kind}"));
            }
            let message = e["message"].as_str().unwrap_or("");
            match says.iter().find(|w| !message.contains(w.as_str())) {
                Some(w) => Err(format!("the message should say {w:?}")),
                None => Ok(()),
            }
        }
        Want::Answer(f) => f(s),
        Want::Unroutable(_) => Err("expected no session".into()),
    }
}

/// What holds over the whole run: one `end` per session, each control's text only in its
/// own session, no secret in any line, no line that is not JSON, the process alive.
fn whole_run_problems(plugin: &mut Plugin, owners: &HashMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    let (lines, junk) = plugin.stdout_lines();
    if !junk.is_empty() {
        problems.push(format!("{} stdout lines were not JSON", junk.len()));
    }
    let mut ends: HashMap<String, usize> = HashMap::new();
    for l in &lines {
        let sid = l["session_id"].as_str().unwrap_or("");
        if l["data"]["type"] == "end" {
            *ends.entry(sid.to_string()).or_default() += 1;
        }
        let text = l.to_string();
        // Errors and logs must not repeat a secret (a validation answer does: Dify saves
        // the form it returns).
        let told = [
            &l["data"]["data"]["message"],
            &l["data"]["message"],
            &l["data"]["error"],
        ];
        for secret in [TEST_SECRET_KEY, TEST_API_KEY] {
            if told
                .iter()
                .any(|t| t.as_str().is_some_and(|t| t.contains(secret)))
            {
                problems.push(format!("a secret in {}", &text[..text.len().min(300)]));
            }
        }
        if l["event"] == "session"
            && let Some(at) = text.find("control-")
        {
            let n: String = text[at + "control-".len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            // ("control-plane" in a message is no control's text.)
            if !n.is_empty() && owners.get(&n).map(String::as_str) != Some(sid) {
                problems.push(format!("control-{n}'s text reached session {sid}"));
            }
        }
    }
    for (sid, n) in ends {
        if n != 1 {
            problems.push(format!("session {sid} ended {n} times"));
        }
    }
    if !plugin.is_running() {
        problems.push(format!("the plugin exited: {}", plugin.stderr()));
    }
    if plugin.stderr().contains("panicked") {
        problems.push(format!("a panic: {}", plugin.stderr()));
    }
    problems
}

/// A proxy that refuses every tunnel, as a proxy does for a host whose name does not
/// resolve: it lets the plugin try AWS's real endpoint name without leaving loopback.
/// Returns its URL and the CONNECT targets it was asked for.
fn dead_proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match client.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let first = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                seen.lock().unwrap_or_else(|e| e.into_inner()).push(first);
                let _ = client.write_all(
                    b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            });
        }
    });
    (url, asked)
}

/// The plugin as the table runs it: a small line limit, one attempt per call, any HTTPS
/// that would leave for AWS sent to the refusing proxy instead, and (serverless) a
/// request size limit a row can pass.
fn start(transport: Transport, proxy: &str) -> Plugin {
    let limit = LINE_LIMIT.to_string();
    let request_limit = MAX_REQUEST_BYTES.to_string();
    Plugin::start_over(
        transport,
        &[
            ("PLUGIN_RUNTIME_MAX_BUFFER_SIZE", &limit),
            ("MAX_SERVERLESS_REQUEST_BYTES", &request_limit),
            ("DIFY_BEDROCK_MAX_ATTEMPTS", "1"),
            ("DIFY_BEDROCK_CONNECT_TIMEOUT_SECS", "5"),
            ("HTTPS_PROXY", proxy),
        ],
    )
}

/// The serverless request limit the plugin is started with.
const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

/// The rows run over TCP and HTTP: every named and envelope row, and every fifth
/// generated one (the whole table runs over stdio; the transports share the decoding).
fn subset(d: &Double, proxy: &str) -> Vec<Row> {
    let mut rows = named_rows(d, proxy);
    rows.extend(envelope_rows());
    rows.extend(wrong_type_rows(d).into_iter().step_by(5));
    rows
}

fn run_table(transport: Transport, all: bool, extra: Vec<Row>) {
    let d = double();
    let (proxy, asked) = dead_proxy();
    let mut rows = if all {
        let mut rows = named_rows(&d, &proxy);
        rows.extend(envelope_rows());
        rows.extend(wrong_type_rows(&d));
        rows
    } else {
        subset(&d, &proxy)
    };
    rows.extend(extra);
    let mut plugin = start(transport, &proxy);
    let mut problems = run_rows(&mut plugin, &d, rows, transport);
    // The region that does not exist was tried at AWS's name for it, not refused unasked.
    let asked = asked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if !asked
        .iter()
        .any(|a| a.starts_with("CONNECT bedrock-runtime.xx-nowhere-9.amazonaws.com:443"))
    {
        problems.push(format!("the plugin never tried xx-nowhere-9: {asked:?}"));
    }
    fail_on(problems);
}

fn fail_on(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_bad_input_gets_its_own_clear_answer_over_stdio() {
    run_table(Transport::Stdio, true, Vec::new());
}

#[test]
fn bad_input_over_remote_debugging_tcp() {
    run_table(Transport::Tcp, false, Vec::new());
}

#[test]
fn bad_input_over_serverless_http() {
    // Serverless only: a request body past MAX_SERVERLESS_REQUEST_BYTES is refused with
    // 413 before it is read as JSON (the daemon reports the answer for that call).
    let too_big = row(
        "a request body past MAX_SERVERLESS_REQUEST_BYTES",
        Line::Bytes(
            "invoke_llm",
            envelope(
                "{SID}",
                "invoke_llm",
                json!({"prompt_messages": "x".repeat(MAX_REQUEST_BYTES + 1)}),
            )
            .to_string()
            .into_bytes(),
        ),
        unroutable(&["413", "MAX_SERVERLESS_REQUEST_BYTES"]),
    );
    run_table(Transport::Http, false, vec![too_big]);
}
