//! The HTTP/1.1 server: accepts connections (numbering them), routes each
//! request to its operation, authenticates it, dispatches it, records it, and
//! writes the response — including scripted delays and dropped connections.
//!
//! Routing follows the paths the AWS SDK for Rust sends (see
//! shared/reference/aws-sdk-rust.md §4): the `{modelId}` segment arrives
//! percent-encoded (`:` as `%3A`, `/` as `%2F`) and is decoded here.

use crate::auth::{Identity, Known, RequestView, Service, authenticate};
use crate::body::DoubleBody;
use crate::catalog::Catalog;
use crate::config::{DoubleConfig, KeyPair, TEST_REGION};
use crate::error::{AwsError, Protocol};
use crate::record::{Operation, RECORDED_HEADERS, RecordedRequest, redact_header};
use crate::script::ScriptQueue;
use crate::util::{percent_decode, request_id};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Locks a mutex, recovering the data if a previous holder panicked: the
/// double must keep serving.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Shared state of a running double.
pub(crate) struct State {
    pub config: DoubleConfig,
    pub catalog: Catalog,
    /// Credentials issued at run time (STS) or added by tests.
    pub dynamic_keys: Mutex<HashMap<String, KeyPair>>,
    pub scripts: Mutex<ScriptQueue>,
    pub records: Mutex<Vec<RecordedRequest>>,
    pub seq: AtomicU64,
    pub connections: AtomicU64,
    pub imds_tokens: Mutex<HashMap<String, SystemTime>>,
    pub issued: AtomicU64,
    pub log: Option<Mutex<std::fs::File>>,
}

impl State {
    pub fn new(config: DoubleConfig) -> std::io::Result<Self> {
        let log = match &config.log_path {
            Some(p) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            )),
            None => None,
        };
        let catalog = Catalog {
            models: config.models.clone(),
            app_profiles: config.app_profiles.clone(),
            account: config.account_id.clone(),
        };
        Ok(Self {
            config,
            catalog,
            dynamic_keys: Mutex::new(HashMap::new()),
            scripts: Mutex::new(ScriptQueue::default()),
            records: Mutex::new(Vec::new()),
            seq: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            imds_tokens: Mutex::new(HashMap::new()),
            issued: AtomicU64::new(0),
            log,
        })
    }

    /// Looks up a key pair among configured, instance, container and issued credentials.
    pub fn key_pair(&self, access_key_id: &str) -> Option<KeyPair> {
        let c = &self.config;
        c.key_pairs
            .iter()
            .find(|k| k.access_key_id == access_key_id)
            .or_else(|| {
                c.imds_role
                    .as_ref()
                    .map(|(_, k)| k)
                    .filter(|k| k.access_key_id == access_key_id)
            })
            .or_else(|| {
                c.ecs
                    .as_ref()
                    .map(|e| &e.credentials)
                    .filter(|k| k.access_key_id == access_key_id)
            })
            .cloned()
            .or_else(|| lock(&self.dynamic_keys).get(access_key_id).cloned())
    }
}

/// What a handler answers.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: DoubleBody,
    /// Wait before sending the response headers.
    pub delay: Option<Duration>,
    /// Close the connection instead of answering.
    pub drop: bool,
    pub error_code: Option<String>,
}

impl Reply {
    pub fn bytes(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: vec![("content-type", content_type.to_string())],
            body: DoubleBody::full(body),
            delay: None,
            drop: false,
            error_code: None,
        }
    }

    pub fn json(value: &Value) -> Self {
        Self::bytes(
            200,
            "application/json",
            serde_json::to_vec(value).unwrap_or_default(),
        )
    }

    pub fn header(mut self, name: &'static str, value: impl ToString) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn error(err: &AwsError, protocol: Protocol, request_id: &str) -> Self {
        let mut r = match protocol {
            Protocol::RestJson => Self::bytes(err.status, "application/json", err.json_body())
                .header("x-amzn-errortype", err.error_type_header()),
            Protocol::Query => Self::bytes(err.status, "text/xml", err.xml_body(request_id)),
            Protocol::OpenAi => Self::bytes(err.status, "application/json", err.openai_body()),
        };
        r.error_code = Some(err.code.clone());
        r
    }
}

/// One request being handled.
pub(crate) struct Call<'a> {
    pub state: &'a State,
    pub op: Operation,
    pub identity: &'a Identity,
    /// From the SigV4 scope or the API key; defaults to us-east-1.
    pub region: String,
    pub model_id: Option<String>,
    pub body: &'a [u8],
    pub headers: &'a HeaderMap,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub request_id: String,
    /// Set by handlers once a model id resolves.
    pub resolved: Option<String>,
}

impl Call<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query?;
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The script for this request: the marker if any, else the first
    /// matching queued script, else the default.
    pub fn script(&self, marker: Option<crate::script::Script>) -> crate::script::Script {
        let for_this_model = |s: &crate::script::Script| {
            s.only_models.is_empty()
                || self
                    .resolved
                    .as_deref()
                    .is_some_and(|m| s.only_models.iter().any(|o| o == m))
        };
        marker
            .map(|s| {
                if for_this_model(&s) {
                    s
                } else {
                    Default::default()
                }
            })
            .or_else(|| {
                lock(&self.state.scripts).take(
                    self.op,
                    self.model_id.as_deref(),
                    self.resolved.as_deref(),
                )
            })
            .unwrap_or_default()
    }
}

/// The route of a request.
struct Route {
    op: Operation,
    service: Option<Service>,
    model_id: Option<String>,
}

fn route(method: &Method, path: &str, body: &[u8], query: Option<&str>, state: &State) -> Route {
    let plain = |op| Route {
        op,
        service: None,
        model_id: None,
    };
    if let Some(rest) = path.strip_prefix("/model/") {
        if let Some((id, action)) = rest.split_once('/') {
            let op = match action {
                "converse" => Some(Operation::Converse),
                "converse-stream" => Some(Operation::ConverseStream),
                "invoke" => Some(Operation::InvokeModel),
                "invoke-with-response-stream" => Some(Operation::InvokeModelWithResponseStream),
                "count-tokens" => Some(Operation::CountTokens),
                _ => None,
            };
            if let (Some(op), true) = (op, method == Method::POST) {
                return Route {
                    op,
                    service: Some(Service::Runtime),
                    model_id: percent_decode(id),
                };
            }
        }
        return plain(Operation::Unknown);
    }
    let control = |op, model_id| Route {
        op,
        service: Some(Service::ControlPlane),
        model_id,
    };
    match (method, path) {
        (&Method::POST, "/openai/v1/responses") => Route {
            op: Operation::CreateResponse,
            service: Some(Service::Mantle),
            model_id: serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|b| b["model"].as_str().map(str::to_string)),
        },
        (&Method::POST, "/rerank") => Route {
            op: Operation::Rerank,
            service: Some(Service::AgentRuntime),
            model_id: None,
        },
        (&Method::GET, "/inference-profiles") => control(Operation::ListInferenceProfiles, None),
        (&Method::GET, "/foundation-models") => control(Operation::ListFoundationModels, None),
        (&Method::GET, p) if p.starts_with("/inference-profiles/") => control(
            Operation::GetInferenceProfile,
            percent_decode(&p["/inference-profiles/".len()..]),
        ),
        (&Method::GET, p) if p.starts_with("/guardrails/") => control(
            Operation::GetGuardrail,
            percent_decode(&p["/guardrails/".len()..]),
        ),
        (&Method::GET, p) if p.starts_with("/foundation-model-availability/") => control(
            Operation::GetFoundationModelAvailability,
            percent_decode(&p["/foundation-model-availability/".len()..]),
        ),
        (&Method::GET, p) if p.starts_with("/foundation-models/") => control(
            Operation::GetFoundationModel,
            percent_decode(&p["/foundation-models/".len()..]),
        ),
        (&Method::PUT, "/latest/api/token") => plain(Operation::ImdsToken),
        (&Method::GET, p) if p.starts_with("/latest/") => plain(Operation::ImdsCredentials),
        (&Method::GET, p) if state.config.ecs.as_ref().is_some_and(|e| e.path == p) => {
            plain(Operation::EcsCredentials)
        }
        (&Method::POST, "/") | (&Method::GET, "/") => {
            let source = if method == Method::POST {
                body
            } else {
                query.unwrap_or_default().as_bytes()
            };
            let action = form_urlencoded::parse(source)
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.into_owned());
            let op = match action.as_deref() {
                Some("AssumeRole") => Operation::AssumeRole,
                Some("AssumeRoleWithWebIdentity") => Operation::AssumeRoleWithWebIdentity,
                Some("GetCallerIdentity") => Operation::GetCallerIdentity,
                _ => Operation::Unknown,
            };
            Route {
                op,
                service: (op != Operation::Unknown).then_some(Service::Sts),
                model_id: None,
            }
        }
        _ => plain(Operation::Unknown),
    }
}

fn decode_body(body: &[u8], headers: &HeaderMap, op: Operation) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form
        || matches!(
            op,
            Operation::AssumeRole
                | Operation::AssumeRoleWithWebIdentity
                | Operation::GetCallerIdentity
        )
    {
        let map: serde_json::Map<String, Value> = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Value::Object(map);
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Handles one request end to end. An `Err` closes the connection without a
/// response (a scripted drop, or a client that went away mid-body).
pub(crate) async fn serve(
    state: Arc<State>,
    connection_id: u64,
    req: Request<Incoming>,
) -> Result<Response<DoubleBody>, std::io::Error> {
    let seq = state.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let rid = request_id(seq);
    let (parts, incoming) = req.into_parts();
    let body = incoming
        .collect()
        .await
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, e))?
        .to_bytes();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let r = route(&parts.method, &path, &body, query.as_deref(), &state);

    let now = SystemTime::now();
    let (identity, auth) = match r.service {
        Some(service) => {
            let lookup = |ak: &str| state.key_pair(ak);
            let known = Known {
                key_pair: &lookup,
                api_keys: &state.config.api_keys,
                now,
                clock_skew: state.config.clock_skew,
            };
            let view = RequestView {
                method: parts.method.as_str(),
                path_and_query: &path_and_query,
                headers: &parts.headers,
                body: &body,
            };
            let anonymous_ok = r.op == Operation::AssumeRoleWithWebIdentity;
            authenticate(service, &view, &known, anonymous_ok)
        }
        None => (Identity::anonymous(), Ok(())),
    };
    let protocol = match r.service {
        Some(Service::Sts) => Protocol::Query,
        Some(Service::Mantle) => Protocol::OpenAi,
        _ => Protocol::RestJson,
    };
    let region = identity
        .region
        .clone()
        .unwrap_or_else(|| TEST_REGION.to_string());
    let mut call = Call {
        state: &state,
        op: r.op,
        identity: &identity,
        region,
        model_id: r.model_id.clone(),
        body: &body,
        headers: &parts.headers,
        path: &path,
        query: query.as_deref(),
        request_id: rid.clone(),
        resolved: None,
    };
    let result = match auth {
        Err(e) => Err(e),
        Ok(()) => match denied_operation(&call) {
            Some(e) => Err(e),
            None => dispatch(&mut call),
        },
    };
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => Reply::error(&e, protocol, &rid),
    };

    let record = RecordedRequest {
        seq,
        connection_id,
        operation: r.op,
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        model_id: call.model_id.clone(),
        resolved_model: call.resolved.clone(),
        body: decode_body(&body, &parts.headers, r.op),
        identity: identity.label.clone(),
        region: identity.region.clone(),
        service: identity.service.clone(),
        headers: RECORDED_HEADERS
            .iter()
            .filter_map(|h| {
                parts
                    .headers
                    .get(*h)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| (h.to_string(), redact_header(h, v)))
            })
            .collect(),
        status: reply.status,
        error_code: reply.error_code.clone(),
        request_id: rid.clone(),
    };
    if let Some(log) = &state.log
        && let Ok(line) = serde_json::to_string(&record)
    {
        let mut f = lock(log);
        // Logging is best effort: a full disk must not break the double.
        let _ = writeln!(f, "{line}");
    }
    lock(&state.records).push(record);

    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    if reply.drop {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "bedrock-double: scripted connection drop",
        ));
    }
    let mut resp = Response::new(reply.body);
    *resp.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    if let Ok(v) = rid.parse() {
        h.insert("x-amzn-requestid", v);
    }
    for (k, v) in reply.headers {
        if let Ok(v) = v.parse() {
            h.append(k, v);
        }
    }
    Ok(resp)
}

fn denied_operation(call: &Call<'_>) -> Option<AwsError> {
    let denied = call
        .state
        .config
        .denied_operations
        .iter()
        .any(|(who, op)| *op == call.op && call.identity.is(who));
    denied.then(|| {
        let principal = call.identity.principal_arn.clone().unwrap_or_default();
        let action = call.op.iam_action();
        let resource = format!(
            "arn:aws:bedrock:{}:{}:*",
            call.region, call.state.config.account_id
        );
        AwsError::access_denied(format!(
            "User: {principal} is not authorized to perform: {action} on resource: {resource} \
             because no identity-based policy allows the {action} action"
        ))
    })
}

fn dispatch(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    use crate::{control, creds, guardrail, mantle, rerank, runtime};
    match call.op {
        Operation::Converse => runtime::converse(call),
        Operation::ConverseStream => runtime::converse_stream(call),
        Operation::InvokeModel => runtime::invoke(call),
        Operation::InvokeModelWithResponseStream => runtime::invoke_stream(call),
        Operation::CountTokens => runtime::count_tokens(call),
        Operation::Rerank => rerank::rerank(call),
        Operation::CreateResponse => mantle::create_response(call),
        Operation::GetInferenceProfile => control::get_inference_profile(call),
        Operation::GetGuardrail => guardrail::get_guardrail(call),
        Operation::ListInferenceProfiles => control::list_inference_profiles(call),
        Operation::GetFoundationModel => control::get_foundation_model(call),
        Operation::ListFoundationModels => control::list_foundation_models(call),
        Operation::GetFoundationModelAvailability => {
            control::get_foundation_model_availability(call)
        }
        Operation::AssumeRole => creds::assume_role(call),
        Operation::AssumeRoleWithWebIdentity => creds::assume_role_with_web_identity(call),
        Operation::GetCallerIdentity => creds::get_caller_identity(call),
        Operation::ImdsToken => Ok(creds::imds_token(call)),
        Operation::ImdsCredentials => Ok(creds::imds_credentials(call)),
        Operation::EcsCredentials => Ok(creds::ecs_credentials(call)),
        Operation::Unknown => Err(AwsError::unknown_operation()),
    }
}

/// Runs the accept loop until `shutdown` flips. Connection tasks live in a
/// JoinSet owned by this loop, so they are cancelled when it ends.
pub(crate) async fn run(
    listener: TcpListener,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let id = state.connections.fetch_add(1, Ordering::SeqCst) + 1;
                let st = state.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| serve(st.clone(), id, req));
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .keep_alive(true)
                        .serve_connection(io, svc);
                    if let Err(e) = conn.await {
                        tracing::debug!(connection = id, error = %e, "connection ended with error");
                    }
                });
            }
            // Reap finished connection tasks so the set does not grow.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.shutdown().await;
}
