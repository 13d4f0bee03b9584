//! Thin, hidden entry points into the plugin's internal code paths, for the fuzz targets
//! (`fuzz/`), the regression tests of what they found (`tests/fuzz_regressions.rs`) and
//! micro-benchmarks. Each function calls the real code and adds no logic of its own
//! (but for the `declarations` target's input format, kept here so that the target and
//! the replay of its inputs read it alike); none of this is a supported API.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::actions::llm::{chunks, prepare};
use crate::actions::{self, AppState, model};
use crate::bedrock::client::NetworkSettings;
use crate::bedrock::converse::ConverseParts;
use crate::bedrock::{embedding, rerank, routing};
use crate::declaration::{ChatApi, ModelType, params};
use crate::runtime;
use crate::wire;

pub use crate::bedrock::embedding::Dialect as EmbeddingDialect;
pub use crate::declaration::{Catalog, DeclarationError};
pub use crate::error::{ErrorKind, PluginError};
pub use crate::runtime::{ServeOptions, StopReason};
pub use crate::session::{Handler, Lines, SessionSink, Writer};
pub use crate::wire::{LineError, Request};

/// One request line as the runtime decodes it (without its newline): a request, or the
/// per-session (or top-level) error the daemon is answered with.
pub fn decode_request_line(line: &[u8]) -> Result<Request, LineError> {
    wire::parse_request(line)
}

/// The protocol lines for a line that is not a request: `error` + `end` for a session,
/// a top-level `error` otherwise, nothing for an ignored line (as the runtime sends them).
pub fn line_error_lines(error: &LineError) -> Vec<String> {
    match error {
        LineError::Session { session_id, error } => vec![
            wire::error_line(session_id, error),
            wire::end_line(session_id),
        ],
        LineError::Unroutable(message) => vec![wire::top_error_line(message)],
        LineError::Ignored(_) => Vec::new(),
    }
}

/// One `stream` item as the writer puts it on the wire: the line and its newline.
pub fn encode_stream_line<T: Serialize>(session_id: &str, item: &T) -> Vec<u8> {
    let mut out = wire::stream_line(session_id, item).into_bytes();
    out.push(b'\n');
    out
}

/// The declarations compiled into the binary.
pub fn embedded_catalog() -> Result<Catalog, DeclarationError> {
    Catalog::embedded()
}

/// The text files the binary embeds, as (path in the package, contents).
pub fn embedded_declaration_files() -> &'static [(&'static str, &'static str)] {
    crate::declaration::embedded::TEXT_FILES
}

/// Declaration loading from (path in the package, contents) pairs.
pub fn load_declarations(files: &[(&str, &str)]) -> Result<Catalog, DeclarationError> {
    Catalog::from_files(files)
}

/// Declaration loading as the `declarations` fuzz target drives it, from one input: byte
/// 0 chooses the file, the rest (read as UTF-8, lossily) is its text. The files loaded are
/// the manifest, the provider, the position lists and one model of each type (the whole
/// catalogue takes 50 times longer to load), with the chosen one replaced by the text
/// (in the order those files come first, then the other embedded ones, added), or past
/// the last embedded file, a new model file. `None` for an empty input. Shared by the
/// target and the replay of its inputs in the tests, so both load the same files.
pub fn load_declarations_fuzz_input(input: &[u8]) -> Option<Result<Catalog, DeclarationError>> {
    const MODELS: [&str; 3] = [
        "models/llm/amazon.nova-lite-v1_0.yaml",
        "models/text_embedding/amazon.titan-embed-text-v2_0.yaml",
        "models/rerank/cohere.rerank-v3-5_0.yaml",
    ];
    let (which, text) = input.split_first()?;
    let text = String::from_utf8_lossy(text);
    let embedded = embedded_declaration_files();
    let base = |path: &str| {
        path == "manifest.yaml"
            || path.starts_with("provider/")
            || path.ends_with("_position.yaml")
            || MODELS.contains(&path)
    };
    let mut order: Vec<&(&str, &str)> = embedded.iter().collect();
    order.sort_by_key(|(path, _)| (!base(path), *path));
    let mut files: Vec<(&str, &str)> = embedded.iter().filter(|(p, _)| base(p)).copied().collect();
    match order.get(*which as usize) {
        Some((path, _)) => match files.iter_mut().find(|(p, _)| p == path) {
            Some(file) => file.1 = &text,
            None => files.push((path, &text)),
        },
        None => files.push((
            [
                "models/llm/fuzz.yaml",
                "models/text_embedding/fuzz.yaml",
                "models/rerank/fuzz.yaml",
            ][*which as usize % 3],
            &text,
        )),
    }
    Some(load_declarations(&files))
}

/// The state every session shares, and the handler that answers requests with it: the
/// catalogue and the per-tenant AWS clients.
#[derive(Clone)]
pub struct State(Arc<AppState>);

/// The real actions over `catalog`, with `attempts` per AWS call and `timeout` for
/// connecting, reading and stream silences.
pub fn app_state(catalog: Catalog, attempts: u32, timeout: std::time::Duration) -> State {
    State(Arc::new(AppState::new(
        catalog,
        NetworkSettings {
            connect_timeout: timeout,
            read_timeout: timeout,
            stream_idle_timeout: timeout,
            max_attempts: attempts,
            ..NetworkSettings::default()
        },
    )))
}

/// A Converse request, as built for ConverseStream or Converse.
#[derive(Debug)]
pub struct ConverseRequest(ConverseParts);

impl ConverseRequest {
    pub fn model_id(&self) -> &str {
        &self.0.model_id
    }

    pub fn messages(&self) -> &[aws_sdk_bedrockruntime::types::Message] {
        &self.0.messages
    }

    pub fn system(&self) -> &[aws_sdk_bedrockruntime::types::SystemContentBlock] {
        &self.0.system
    }

    pub fn tool_config(&self) -> Option<&aws_sdk_bedrockruntime::types::ToolConfiguration> {
        self.0.tool_config.as_ref()
    }
}

/// The Converse request an `invoke_llm` payload (`data`) becomes, through the steps
/// `invoke_llm` takes before its first AWS call: the payload decoded, the model resolved,
/// its parameters checked, then the action's own preparation (`llm::prepare`: route,
/// guardrail, request). Two steps need AWS and are left out: an application inference
/// profile's lookup (the form's values apply, as when that lookup fails) and a custom
/// id's profile ARN (the id is called as given). A bedrock-mantle model (no Converse
/// request) is an `Unsupported` error here.
pub fn converse_request_from_prompt(
    state: &State,
    data: Value,
    app_id: Option<&str>,
) -> Result<ConverseRequest, PluginError> {
    let state = state.0.as_ref();
    let req: actions::requests::InvokeLlm = actions::parse("invoke_llm", data)?;
    let decl = model::resolve(state, &req.base, ModelType::Llm)?;
    let chosen = params::validate(&decl.parameter_rules, &req.model_parameters)?;
    let access = req.base.credentials.access()?;
    if decl.chat_api() != ChatApi::Converse {
        return Err(PluginError::unsupported(
            "this model is served by bedrock-mantle, not Converse",
        ));
    }
    let target = prepare::target(&decl, &req.base.credentials, &chosen);
    let routed = routing::id_without_lookup(target, &access.region);
    prepare::converse_call(state, &req, &decl, &chosen, routed, &access.region, app_id)
        .map(|call| ConverseRequest(call.parts))
}

/// The line a streamed piece of `text` becomes, as chunk `index` of `model`'s answer in
/// session `session_id`: the chunk writer's text chunk, encoded as the writer sends it.
pub fn encode_text_chunk_line(session_id: &str, model: &str, index: u64, text: &str) -> Vec<u8> {
    encode_stream_line(session_id, &chunks::text_chunk(model, index, text))
}

/// An InvokeModel embedding answer read as `dialect`, for `expected` inputs: the
/// vectors and the token count the body reports.
pub fn parse_embedding_response(
    dialect: EmbeddingDialect,
    body: &[u8],
    expected: usize,
) -> Result<(Vec<Vec<f32>>, Option<u64>), PluginError> {
    embedding::answer::parse(dialect, body, expected)
}

/// A rerank answer for `documents` documents: (index, score) pairs.
pub fn parse_rerank_response(
    body: &[u8],
    documents: usize,
) -> Result<Vec<(usize, f64)>, PluginError> {
    rerank::parse(body, documents)
}

/// Whether the runtime reads `line` as a request (possibly broken) rather than, over
/// remote debugging, as the daemon's refusal.
pub fn looks_like_request(line: &[u8]) -> bool {
    runtime::looks_like_json(line)
}

/// Runs one decoded request as a session of the real actions, to its single `end` (what
/// the runtime does with each request line and the serverless mode with each `/invoke`).
pub async fn run_session(
    state: &State,
    request: Request,
    writer: Writer,
    idle_timeout: std::time::Duration,
) {
    runtime::run_session(request, state.0.clone(), writer, idle_timeout, None).await
}

/// The runtime's line framing over any byte stream: stdio's, and the remote-debugging
/// TCP connection's when `options.plain_text_is_refusal` (a non-JSON line is then the
/// daemon's refusal). Runs until the input ends and the sessions finish.
pub async fn serve_lines<R, H>(
    input: R,
    writer: Writer,
    handler: Arc<H>,
    options: &ServeOptions,
) -> StopReason
where
    R: tokio::io::AsyncRead + Unpin,
    H: Handler,
{
    let (_stop, stop_rx) = runtime::stop_channel();
    runtime::serve_lines(input, writer, handler, options, stop_rx).await
}

/// What the serverless mode makes of a `POST /invoke` body.
#[derive(Debug)]
pub enum HttpInvokeBody {
    /// Over the limit: answered with 413.
    TooLarge,
    /// The body could not be read (a broken chunked encoding, a reset): 400.
    Unreadable(String),
    /// Read whole, and decoded as a request line is.
    Decoded(Result<Request, LineError>),
}

/// Reads a serverless `/invoke` request's body as the HTTP runtime does (bounded by
/// `limit`, the declared Content-Length refused early) and decodes it.
pub async fn http_invoke_body(
    req: http::Request<hyper::body::Incoming>,
    limit: usize,
) -> HttpInvokeBody {
    let declared = crate::serve::http::declared_length(req.headers());
    match crate::serve::http::read_body(req.into_body(), limit, declared).await {
        Ok(Some(body)) => HttpInvokeBody::Decoded(wire::parse_request(&body)),
        Ok(None) => HttpInvokeBody::TooLarge,
        Err(e) => HttpInvokeBody::Unreadable(e.to_string()),
    }
}
