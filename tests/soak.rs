//! Soak (issue 17 item 4): one plugin process per transport — stdio, TCP remote debugging
//! and HTTP serverless — serves a thousand or more concurrent sessions of mixed actions
//! (streamed and blocking chat, embedding, rerank, credential validation) for several
//! tenants (key pairs, a session token, Bedrock API keys) and Dify apps, with upstream
//! faults injected at random through the double's markers (HTTP 429/500/400, an exception
//! frame mid-stream, a dropped connection, a stall). The RNG is seeded and the seed
//! printed, so a failure can be replayed with `DIFY_BEDROCK_SOAK_SEED`.
//!
//! It checks that every session ends exactly once, that each session's answer is its own
//! (every expected text, vector size and document is unique to its session, so a chunk
//! delivered to the wrong session shows), that the faulted sessions get the error of
//! their fault and the others the exact expected content, that each request reached the
//! double signed as its own tenant with its own app id, that no upstream connection
//! served two tenants, that memory returns near idle, and that the process neither
//! restarted nor stopped answering.
//!
//! The default run is bounded: two waves of 1,000 sessions per transport, each wave all
//! in flight at once. `DIFY_BEDROCK_SOAK=long` runs ten waves (10,000 sessions per
//! transport) and adds stalls past the stream idle timeout; `DIFY_BEDROCK_SOAK_SESSIONS`
//! (per wave) and `DIFY_BEDROCK_SOAK_WAVES` size it, `DIFY_BEDROCK_SOAK_BIN` runs another
//! build (the shipped static musl binary, say). Run with `--nocapture` to see the figures.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bedrock_double::{
    Double, DoubleConfig, Matcher, Operation, Script, TEST_SESSION_ACCESS_KEY,
    TEST_SESSION_SECRET_KEY, TEST_SESSION_TOKEN,
};
use serde_json::{Value, json};
use support::aws::{embedding_request, llm_request, rerank_request, user, with};
use support::soak::{self, Rng};
use support::{Session, Transport, daemon_rules};

const NOVA: &str = "amazon.nova-lite-v1:0";
/// The validation model of the faulted validations: every call to it fails upstream.
const BROKEN: &str = "amazon.nova-micro-v1:0";
const TITAN: &str = "amazon.titan-embed-text-v2:0";
const RERANK: &str = "cohere.rerank-v3-5:0";
const APPS: [Option<&str>; 4] = [
    None,
    Some("app-soak-alpha"),
    Some("app-soak-beta"),
    Some("app-soak-gamma"),
];

/// The soaks run one at a time: their figures are then the plugin's alone, and the
/// machine's open-file limit is shared by one soak's sockets only.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A tenant: one credential set, as the double identifies it.
struct Tenant {
    credentials: Value,
    /// `AKIA…` / `ASIA…` or `bearer:<name>`, as the double records it.
    identity: String,
    /// `enable_request_metadata`: Converse calls carry the app id.
    metadata: bool,
}

const KEY_TENANTS: [(&str, &str); 3] = [
    (
        "AKIASOAKTENANT0A000",
        "soakSecretKeyOfTenantA/0000000000000000",
    ),
    (
        "AKIASOAKTENANT0B000",
        "soakSecretKeyOfTenantB/1111111111111111",
    ),
    (
        "AKIASOAKTENANT0E000",
        "soakSecretKeyOfTenantE/2222222222222222",
    ),
];
const API_TENANTS: [(&str, &str); 2] = [
    (
        "soak-api-c",
        "ABSKU29ha1RlbmFudEMtYXQtMTIzNDU2Nzg5MDEyOnNvYWtBcGlLZXlDMDAwMQ==",
    ),
    (
        "soak-api-d",
        "ABSKU29ha1RlbmFudEQtYXQtMTIzNDU2Nzg5MDEyOnNvYWtBcGlLZXlEMDAwMg==",
    ),
];

fn start_double() -> Double {
    let mut config = DoubleConfig::default();
    for (id, secret) in KEY_TENANTS {
        config = config.key_pair(id, secret);
    }
    for (name, key) in API_TENANTS {
        config = config.api_key(name, key);
    }
    let d = Double::start(config).expect("start the Bedrock test double");
    // Every call to the validation model of faulted validations fails (a marker cannot
    // reach the validation probe's fixed prompt).
    d.push_script_times(
        Matcher::model(BROKEN),
        Script::error(500, "InternalServerException", "soak: this model is down"),
        usize::MAX / 2,
    );
    d
}

fn tenants(d: &Double) -> Vec<Tenant> {
    let endpoints = json!({
        "aws_region": "us-east-1",
        "bedrock_endpoint_url": d.url(),
        "bedrock_control_endpoint_url": d.url(),
        "bedrock_mantle_endpoint_url": d.url(),
    });
    let keys = |id: &str, secret: &str, token: Option<&str>, metadata: bool| Tenant {
        credentials: with(
            endpoints.clone(),
            json!({
                "auth_method": "Access_Secret_Key",
                "aws_access_key_id": id,
                "aws_secret_access_key": secret,
                "aws_session_token": token,
                "enable_request_metadata": if metadata { "enabled" } else { "disabled" },
            }),
        ),
        identity: id.to_string(),
        metadata,
    };
    let api = |name: &str, key: &str, metadata: bool| Tenant {
        credentials: with(
            endpoints.clone(),
            json!({
                "auth_method": "API_Key",
                "bedrock_api_key": key,
                "enable_request_metadata": if metadata { "enabled" } else { "disabled" },
            }),
        ),
        identity: format!("bearer:{name}"),
        metadata,
    };
    vec![
        keys(KEY_TENANTS[0].0, KEY_TENANTS[0].1, None, true),
        keys(KEY_TENANTS[1].0, KEY_TENANTS[1].1, None, false),
        keys(
            TEST_SESSION_ACCESS_KEY,
            TEST_SESSION_SECRET_KEY,
            Some(TEST_SESSION_TOKEN),
            true,
        ),
        api(API_TENANTS[0].0, API_TENANTS[0].1, false),
        api(API_TENANTS[1].0, API_TENANTS[1].1, true),
        keys(KEY_TENANTS[2].0, KEY_TENANTS[2].1, None, false),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stream,
    Blocking,
    Embedding,
    Rerank,
    Validate,
}

/// What the double is told to do to one session's upstream call.
#[derive(Debug, Clone, PartialEq)]
enum Fault {
    None,
    /// An HTTP error: status, AWS code, and the Dify error type it must become.
    Http(u16, &'static str, &'static str),
    /// An exception frame after `after` events (streams).
    Exception(usize, &'static str, &'static str),
    /// The connection dropped after `after` events (streams) or before the answer.
    Drop(usize),
    /// A pause that the session survives.
    Stall(usize, u64),
    /// A pause past the stream idle timeout (long soak only).
    LongStall(usize, u64),
    /// Validation against a model that is down.
    BrokenModel,
}

impl Fault {
    fn fails(&self) -> bool {
        !matches!(self, Fault::None | Fault::Stall(..))
    }

    fn marker(&self) -> Option<Value> {
        Some(match self {
            Fault::None | Fault::BrokenModel => return None,
            Fault::Http(status, code, _) => {
                json!({"error": {"status": status, "type": code, "message": "soak fault"}})
            }
            Fault::Exception(after, kind, _) => {
                json!({"exception": {"after": after, "type": kind, "message": "soak fault"}})
            }
            Fault::Drop(after) => json!({"drop_after": after}),
            Fault::Stall(after, ms) | Fault::LongStall(after, ms) => {
                json!({"stall": {"after": after, "ms": ms}})
            }
        })
    }
}

/// One planned session and what it must get.
struct Plan {
    index: usize,
    kind: Kind,
    tenant: usize,
    app: Option<&'static str>,
    fault: Fault,
    action: &'static str,
    payload: Value,
    expect: Expect,
}

enum Expect {
    /// Chat: this exact text.
    Text(String),
    /// Embedding: one vector of Titan v2's 1024 dimensions and exactly these tokens.
    Embedding(u64),
    /// Rerank: these documents, each once.
    Documents(BTreeSet<String>),
    /// Validation passes.
    Valid,
}

const HTTP_FAULTS: [Fault; 3] = [
    Fault::Http(429, "ThrottlingException", "InvokeRateLimitError"),
    Fault::Http(
        500,
        "InternalServerException",
        "InvokeServerUnavailableError",
    ),
    Fault::Http(400, "ValidationException", "InvokeBadRequestError"),
];
const STREAM_EXCEPTIONS: [(&str, &str); 3] = [
    ("modelStreamErrorException", "InvokeConnectionError"),
    ("throttlingException", "InvokeRateLimitError"),
    ("internalServerException", "InvokeServerUnavailableError"),
];

/// How the run is sized.
struct Size {
    /// Sessions sent at once, all in flight together.
    per_wave: usize,
    /// Waves, one after the other: memory is compared between them.
    waves: usize,
    /// Stalls past the stream idle timeout are included.
    long_stalls: bool,
}

impl Size {
    fn from_env() -> Size {
        let long = std::env::var("DIFY_BEDROCK_SOAK").is_ok_and(|v| v == "long");
        let number = |var: &str, default: usize| {
            std::env::var(var)
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or(default)
        };
        Size {
            per_wave: number("DIFY_BEDROCK_SOAK_SESSIONS", 1_000),
            waves: number("DIFY_BEDROCK_SOAK_WAVES", if long { 10 } else { 2 }),
            long_stalls: long,
        }
    }

    fn sessions(&self) -> usize {
        self.per_wave * self.waves
    }
}

/// The stream idle timeout the plugin runs with: long enough that a loaded machine
/// never trips it by accident; the long soak's long stalls outlast its shorter one.
fn idle_timeout_secs(size: &Size) -> u64 {
    if size.long_stalls { 10 } else { 30 }
}

fn plan(index: usize, rng: &mut Rng, tenants: &[Tenant], size: &Size, embeds: &mut u64) -> Plan {
    let tenant = rng.below(tenants.len() as u64) as usize;
    let app = *rng.pick(&APPS);
    let kind = match rng.below(100) {
        0..35 => Kind::Stream,
        35..55 => Kind::Blocking,
        55..75 => Kind::Embedding,
        75..90 => Kind::Rerank,
        _ => Kind::Validate,
    };
    let faulted = rng.chance(30);
    let creds = &tenants[tenant].credentials;
    // Each session's words are its own: the tag also lets the double's records be
    // traced back to the session.
    let tag = format!("soak#{index}#");
    let fault = if !faulted {
        Fault::None
    } else {
        let roll = rng.below(10);
        let stall = |rng: &mut Rng| Fault::Stall(1 + rng.below(2) as usize, 50 + rng.below(450));
        match kind {
            Kind::Validate => Fault::BrokenModel,
            _ if roll < 4 => rng.pick(&HTTP_FAULTS).clone(),
            Kind::Stream if roll < 6 => {
                let (kind, error) = *rng.pick(&STREAM_EXCEPTIONS);
                Fault::Exception(1 + rng.below(3) as usize, kind, error)
            }
            Kind::Stream if roll < 8 => Fault::Drop(1 + rng.below(3) as usize),
            Kind::Stream if roll == 8 && size.long_stalls => {
                Fault::LongStall(1, 2 * idle_timeout_secs(size) * 1000)
            }
            Kind::Stream => stall(rng),
            _ if roll < 7 => Fault::Drop(0),
            _ => stall(rng),
        }
    };
    let mut script = fault.marker().unwrap_or_else(|| json!({}));
    let (action, payload, expect) = match kind {
        Kind::Stream | Kind::Blocking => {
            let text = format!(
                "answer to {tag} for tenant {tenant} in {} nonce {:x}",
                app.unwrap_or("no app"),
                rng.next_u64()
            );
            script["text"] = json!(text);
            script["deltas"] = json!(4 + rng.below(5));
            let prompt = format!("question {tag} [[double: {script}]]");
            (
                "invoke_llm",
                llm_request(
                    NOVA,
                    creds,
                    user(&prompt),
                    kind == Kind::Stream,
                    json!({"max_tokens": 400}),
                ),
                Expect::Text(text),
            )
        }
        Kind::Embedding => {
            // A length no other session has: the tokens Bedrock bills (a quarter of the
            // characters, at the double) tell this session's answer from all others.
            *embeds += 1;
            let tokens = 8 + (*embeds % 6_000);
            let mut text = tag.clone();
            while text.len() < 4 * tokens as usize {
                text.push('x');
            }
            if fault != Fault::None {
                text = format!("{text} [[double: {script}]]");
            }
            (
                "invoke_text_embedding",
                embedding_request(TITAN, creds, &[&text], "document"),
                Expect::Embedding(tokens),
            )
        }
        Kind::Rerank => {
            let docs = [
                format!("{tag} alpha document"),
                format!("{tag} beta document"),
                format!("unrelated {index}"),
            ];
            let query = if fault == Fault::None {
                format!("{tag} alpha")
            } else {
                format!("{tag} alpha [[double: {script}]]")
            };
            let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
            (
                "invoke_rerank",
                rerank_request(RERANK, creds, &query, &refs, 0, 0.0),
                Expect::Documents(docs.into_iter().collect()),
            )
        }
        Kind::Validate => {
            let model = if fault == Fault::BrokenModel {
                BROKEN
            } else {
                NOVA
            };
            (
                "validate_provider_credentials",
                json!({"provider": "bedrock", "credentials": with(creds.clone(), json!({"model_for_validation": model}))}),
                Expect::Valid,
            )
        }
    };
    Plan {
        index,
        kind,
        tenant,
        app,
        fault,
        action,
        payload,
        expect,
    }
}

/// Checks one finished session against its plan; `Err` says what is wrong.
fn check(plan: &Plan, s: &Session) -> Result<(), String> {
    let ends = s
        .lines
        .iter()
        .filter(|l| l["data"]["type"] == "end")
        .count();
    if ends != 1 {
        return Err(format!("{ends} ends"));
    }
    daemon_rules::check_session(plan.action, &s.lines)?;
    if plan.fault.fails() {
        let Some(e) = s.error() else {
            return Err("no error for a faulted session".into());
        };
        let message = e["message"].as_str().unwrap_or("");
        if message.is_empty() {
            return Err("an error without a message".into());
        }
        let want: &[&str] = match &plan.fault {
            Fault::Http(_, _, t) | Fault::Exception(_, _, t) => &[t],
            Fault::Drop(_) | Fault::LongStall(..) => &["InvokeConnectionError"],
            Fault::BrokenModel => &["CredentialsValidateFailedError"],
            Fault::None | Fault::Stall(..) => &[],
        };
        let got = e["error_type"].as_str().unwrap_or("");
        if !want.contains(&got) {
            return Err(format!("error type {got}, expected one of {want:?}: {e}"));
        }
        // What streamed before the fault is the start of this session's own answer.
        if let Expect::Text(text) = &plan.expect
            && !text.starts_with(&s.text())
        {
            return Err(format!(
                "streamed {:?} before the error, not a prefix of {text:?}",
                s.text()
            ));
        }
        return Ok(());
    }
    if let Some(e) = s.error() {
        return Err(format!("an unexpected error: {e}"));
    }
    match &plan.expect {
        Expect::Text(text) => {
            if &s.text() != text {
                return Err(format!("answer {:?}, expected {text:?}", s.text()));
            }
        }
        Expect::Embedding(tokens) => {
            let r = s.result();
            let vectors = r["embeddings"].as_array().map(Vec::len);
            let dims = r["embeddings"][0].as_array().map(Vec::len);
            if vectors != Some(1) || dims != Some(1024) || r["usage"]["tokens"] != *tokens {
                return Err(format!(
                    "embedding of {vectors:?} vectors of {dims:?} and {} tokens, expected 1 of 1024 and {tokens}",
                    r["usage"]["tokens"]
                ));
            }
        }
        Expect::Documents(docs) => {
            let got: Vec<String> = s.result()["docs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["text"].as_str().map(str::to_string))
                .collect();
            if got.len() != docs.len() || got.iter().cloned().collect::<BTreeSet<_>>() != *docs {
                return Err(format!("documents {got:?}, expected {docs:?}"));
            }
        }
        Expect::Valid => {
            if s.result()["result"] != true {
                return Err(format!("validation result {}", s.result()));
            }
        }
    }
    Ok(())
}

/// The soak's figures, printed for RELIABILITY.md.
struct Figures {
    sessions: usize,
    faulted: usize,
    duration: Duration,
    idle_kib: u64,
    peak_kib: u64,
    after_kib: u64,
}

/// The session tag a recorded request carries, if any.
fn tag_of(body: &Value) -> Option<usize> {
    let text = body.to_string();
    let start = text.find("soak#")? + 5;
    text[start..].split('#').next()?.parse().ok()
}

fn soak(transport: Transport) -> Figures {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let size = Size::from_env();
    let seed = soak::seed_from_env("DIFY_BEDROCK_SOAK_SEED");
    eprintln!(
        "soak over {transport:?}: {} waves of {} sessions, seed {seed}",
        size.waves, size.per_wave
    );
    // Each session in flight holds a few descriptors across the test, the plugin and
    // the double: say so plainly rather than fail in an obscure way.
    if let Some(limit) = soak::open_files_limit() {
        assert!(
            limit >= 4 * size.per_wave as u64 + 256,
            "the open-files limit ({limit}) is too low for {} sessions in flight: raise `ulimit -n`",
            size.per_wave
        );
    }
    let d = start_double();
    let tenants = tenants(&d);
    let idle = idle_timeout_secs(&size).to_string();
    let mut p = soak::start_binary(
        &soak::binary(),
        transport,
        &[
            ("DIFY_BEDROCK_MAX_ATTEMPTS", "2"),
            ("DIFY_BEDROCK_RETRY_BACKOFF_MS", "10"),
            ("DIFY_BEDROCK_STREAM_IDLE_TIMEOUT_SECS", &idle),
        ],
    );
    let pid = p.pid();
    let started_at = soak::start_ticks(pid).expect("the plugin's start time");

    // Warm up: every tenant's clients exist before idle memory is measured.
    for t in &tenants {
        let s = p.call(
            "invoke_llm",
            llm_request(NOVA, &t.credentials, user("warm up"), true, json!({})),
        );
        assert_eq!(s.text(), "You said: warm up", "{s:#?}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let idle_kib = soak::rss_kib(pid);

    let mut rng = Rng::new(seed);
    let mut embeds = 0;
    let plans: Vec<Plan> = (0..size.sessions())
        .map(|i| plan(i, &mut rng, &tenants, &size, &mut embeds))
        .collect();
    let started = Instant::now();
    let mut ids: Vec<String> = Vec::with_capacity(plans.len());
    // RSS after each wave, once its sessions have all ended.
    let mut after_waves = Vec::new();
    for wave in plans.chunks(size.per_wave) {
        let before = p.ended_count();
        for plan in wave {
            ids.push(p.request_in_app(plan.action, plan.payload.clone(), plan.app));
        }
        p.wait_ended(before + wave.len(), Duration::from_secs(600));
        after_waves.push(soak::rss_kib(pid));
    }
    let duration = started.elapsed();
    let peak_kib = soak::peak_rss_kib(pid);

    // Still the same process, still answering.
    let s = p.call(
        "invoke_llm",
        llm_request(
            NOVA,
            &tenants[0].credentials,
            user("still there?"),
            false,
            json!({}),
        ),
    );
    assert_eq!(s.text(), "You said: still there?", "{s:#?}");
    assert!(p.is_running(), "the plugin exited");
    assert_eq!(
        soak::start_ticks(pid),
        Some(started_at),
        "the plugin restarted"
    );
    assert!(
        !p.output_closed(),
        "the plugin's output (stdout or the daemon connection) ended"
    );

    // Every session: one end, its own answer or its fault's error.
    let by_id: HashMap<String, Session> = p
        .finished_sessions()
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let mut problems = Vec::new();
    for (plan, id) in plans.iter().zip(&ids) {
        let Some(s) = by_id.get(id) else {
            problems.push(format!("session {} ({id}) never ended", plan.index));
            continue;
        };
        if let Err(why) = check(plan, s) {
            problems.push(format!(
                "session {} ({:?}, tenant {}, app {:?}, fault {:?}): {why}",
                plan.index, plan.kind, plan.tenant, plan.app, plan.fault
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "seed {seed}: {} of {} sessions are wrong; first: {:#?}",
        problems.len(),
        plans.len(),
        &problems[..problems.len().min(10)]
    );
    assert_eq!(p.unknown_sessions(), Vec::<String>::new());
    assert_eq!(p.top_level_errors(), Vec::<Value>::new());
    let (_, junk) = p.stdout_lines();
    assert!(junk.is_empty(), "non-JSON output: {junk:?}");
    let failures = p.http_failures();
    assert!(failures.is_empty(), "HTTP answers not 200: {failures:?}");

    // At the double: each request signed as its session's tenant, with its app id; no
    // connection carried two tenants.
    let identities: BTreeSet<&str> = tenants.iter().map(|t| t.identity.as_str()).collect();
    let mut per_connection: HashMap<u64, &str> = HashMap::new();
    let records = d.requests();
    for r in &records {
        let owner = tag_of(&r.body).map(|i| &plans[i]);
        if let Some(plan) = owner {
            let tenant = &tenants[plan.tenant];
            assert_eq!(
                r.identity, tenant.identity,
                "session {}'s {} was signed as another tenant",
                plan.index, r.operation
            );
            if matches!(r.operation, Operation::Converse | Operation::ConverseStream) {
                let app = &r.body["requestMetadata"]["dify_app_id"];
                let expected = match (tenant.metadata, plan.app) {
                    (true, Some(app)) => json!(app),
                    _ => Value::Null,
                };
                assert_eq!(
                    *app, expected,
                    "session {}: app id at the double",
                    plan.index
                );
            }
        } else {
            assert!(
                identities.contains(r.identity.as_str()),
                "a request from no tenant: {r:?}"
            );
        }
        let first = per_connection.entry(r.connection_id).or_insert(&r.identity);
        assert_eq!(
            *first, r.identity,
            "connection {} carried two tenants",
            r.connection_id
        );
    }
    let tagged = records.iter().filter(|r| tag_of(&r.body).is_some()).count();
    assert!(
        tagged >= plans.iter().filter(|p| p.kind != Kind::Validate).count(),
        "the double saw {tagged} requests of the sessions"
    );

    // Memory returns near idle: the sessions' buffers are freed and the allocator hands
    // them back within seconds; what stays is up to DIFY_BEDROCK_POOL_MAX_IDLE pooled
    // connections per tenant and endpoint, and the allocator's own bookkeeping.
    let bound = idle_kib + 20 * 1024;
    let ended = Instant::now();
    let deadline = ended + Duration::from_secs(30);
    let after_kib = loop {
        let now = soak::rss_kib(pid);
        if now <= bound || Instant::now() > deadline {
            break now;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let faulted = plans.iter().filter(|p| p.fault.fails()).count();
    let figures = Figures {
        sessions: plans.len(),
        faulted,
        duration,
        idle_kib,
        peak_kib,
        after_kib,
    };
    let settled = ended.elapsed();
    eprintln!(
        "soak figures | {transport:?} | sessions {} (waves of {}, {} faulted) | {:.1} s | RSS idle {:.1} MiB, peak {:.1} MiB, after {:.1} MiB (within {:.1} s), after each wave {:?} MiB | seed {seed}",
        figures.sessions,
        size.per_wave,
        figures.faulted,
        figures.duration.as_secs_f64(),
        figures.idle_kib as f64 / 1024.0,
        figures.peak_kib as f64 / 1024.0,
        figures.after_kib as f64 / 1024.0,
        settled.as_secs_f64(),
        after_waves.iter().map(|k| k / 1024).collect::<Vec<_>>(),
    );
    assert!(
        after_kib <= bound,
        "RSS after the soak is {after_kib} KiB, over idle ({idle_kib} KiB) + 20 MiB; after each wave: {after_waves:?}"
    );
    figures
}

#[test]
fn soak_over_stdio() {
    let f = soak(Transport::Stdio);
    assert!(f.faulted > 0 && f.faulted < f.sessions);
}

#[test]
fn soak_over_tcp_remote_debugging() {
    let f = soak(Transport::Tcp);
    assert!(f.faulted > 0 && f.faulted < f.sessions);
}

#[test]
fn soak_over_http_serverless() {
    let f = soak(Transport::Http);
    assert!(f.faulted > 0 && f.faulted < f.sessions);
}
