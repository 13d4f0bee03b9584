//! Secrets never leave the process (issue 17 item 5), extending `access.rs`
//! `secrets_never_leave_the_process` (stdio, trace, the basic actions) to the other
//! transports (TCP remote debugging, HTTP serverless), to every log level (with the AWS
//! SDK's, hyper's and the signer's own targets asked for at trace too), and to the newer
//! features: guardrails with full traces, service tiers, CountTokens, structured output,
//! bedrock-mantle (whose bearer token is derived from the secret key), Bedrock API keys,
//! session tokens, assumed roles with external ids (and the credentials STS issues for
//! them), expired and wrong credentials, and error paths. Every secret value must be
//! absent from stdout (protocol lines and anything else), stderr and every error message.

mod support;

use std::time::Duration;

use bedrock_double::*;
use serde_json::{Value, json};
use support::aws::{api_key_credentials, key_credentials, llm_request, user, with};
use support::{Plugin, Transport, daemon};

const SECS: fn(u64) -> Duration = Duration::from_secs;
const NOVA: &str = "amazon.nova-lite-v1:0";
const HAIKU: &str = "anthropic.claude-haiku-4-5-20251001-v1:0";
const SONNET: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const GPT_OSS: &str = "openai.gpt-oss-120b-1:0";
const GPT: &str = "openai.gpt-5.4";

const WRONG_SECRET: &str = "wrongSecretLeakCheck/0123456789abcdefABCD";
const EXTERNAL_ID: &str = "externalIdLeakCheck-4f1b2c";
const WRONG_API_KEY: &str = "ABSKd3JvbmdBcGlLZXlMZWFrQ2hlY2stMDAwMDAwMDAwMDAwMA==";

/// The secrets given to the plugin (those STS issues are added after the run).
const SECRETS: [&str; 9] = [
    TEST_SECRET_KEY,
    TEST_SESSION_SECRET_KEY,
    TEST_SESSION_TOKEN,
    TEST_EXPIRED_SECRET_KEY,
    TEST_EXPIRED_SESSION_TOKEN,
    TEST_API_KEY,
    WRONG_SECRET,
    EXTERNAL_ID,
    WRONG_API_KEY,
];

/// Every credential set: each way to authenticate, right and wrong.
fn credential_sets(d: &Double) -> Vec<(&'static str, Value)> {
    let keys = key_credentials(d);
    vec![
        ("keys", keys.clone()),
        ("api key", api_key_credentials(d)),
        (
            "session token",
            with(
                keys.clone(),
                json!({"aws_access_key_id": TEST_SESSION_ACCESS_KEY, "aws_secret_access_key": TEST_SESSION_SECRET_KEY, "aws_session_token": TEST_SESSION_TOKEN}),
            ),
        ),
        (
            "expired session token",
            with(
                keys.clone(),
                json!({"aws_access_key_id": TEST_EXPIRED_ACCESS_KEY, "aws_secret_access_key": TEST_EXPIRED_SECRET_KEY, "aws_session_token": TEST_EXPIRED_SESSION_TOKEN}),
            ),
        ),
        (
            "wrong secret",
            with(keys.clone(), json!({"aws_secret_access_key": WRONG_SECRET})),
        ),
        (
            "wrong api key",
            with(
                api_key_credentials(d),
                json!({"bedrock_api_key": WRONG_API_KEY}),
            ),
        ),
        (
            "assumed role",
            with(
                keys,
                json!({"aws_role_arn": TEST_ROLE_ARN, "aws_external_id": EXTERNAL_ID}),
            ),
        ),
    ]
}

/// The requests each credential set makes: every feature that touches AWS, answers and
/// errors alike.
fn requests(creds: &Value) -> Vec<(&'static str, Value)> {
    let guarded = with(
        creds.clone(),
        json!({"guardrail_identifier": TEST_GUARDRAIL_ID, "guardrail_version": "1", "guardrail_trace": "enabled_full"}),
    );
    let counting = with(
        creds.clone(),
        json!({"count_tokens_with_bedrock": "enabled"}),
    );
    let schema = json!({"schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}, "name": "r"}).to_string();
    let llm = |model: &str, c: &Value, text: &str, stream: bool, params: Value| {
        (
            "invoke_llm",
            llm_request(model, c, user(text), stream, params),
        )
    };
    let mut out = Vec::new();
    for stream in [true, false] {
        out.push(llm(NOVA, creds, "hi", stream, json!({})));
        out.push(llm(
            NOVA,
            creds,
            r#"[[double: {"error": {"status": 403, "type": "AccessDeniedException"}}]]"#,
            stream,
            json!({}),
        ));
        out.push(llm(
            NOVA,
            &guarded,
            r#"x [[double: {"guardrail": {"action": "intervened"}}]]"#,
            stream,
            json!({}),
        ));
        out.push(llm(
            GPT_OSS,
            creds,
            "tier",
            stream,
            json!({"service_tier": "priority"}),
        ));
        out.push(llm(
            SONNET,
            creds,
            r#"Where? [[double: {"text": "{\"city\": \"Paris\"}"}]]"#,
            stream,
            json!({"json_schema": schema, "response_format": "JSON"}),
        ));
        out.push(llm(GPT, creds, "mantle", stream, json!({})));
        out.push(llm(
            NOVA,
            creds,
            r#"[[double: {"deltas": 4, "exception": {"after": 2, "type": "modelStreamErrorException"}}]]"#,
            stream,
            json!({}),
        ));
        out.push(llm("no.such-model", creds, "hi", stream, json!({})));
    }
    out.push((
        "get_llm_num_tokens",
        json!({"provider": "bedrock", "model": HAIKU, "model_type": "llm", "credentials": counting,
               "prompt_messages": [{"role": "user", "content": "count me"}], "tools": []}),
    ));
    out.push((
        "invoke_text_embedding",
        json!({"provider": "bedrock", "model": "amazon.titan-embed-text-v2:0", "model_type": "text-embedding",
               "credentials": creds, "texts": ["a"], "input_type": "query"}),
    ));
    out.push((
        "invoke_rerank",
        json!({"provider": "bedrock", "model": "cohere.rerank-v3-5:0", "model_type": "rerank",
               "credentials": creds, "query": "q", "docs": ["a"], "score_threshold": 0, "top_n": 0}),
    ));
    out.push((
        "validate_provider_credentials",
        json!({"provider": "bedrock", "credentials": with(guarded, json!({"model_for_validation": NOVA}))}),
    ));
    out.push((
        "validate_model_credentials",
        json!({"provider": "bedrock", "model": GPT, "model_type": "llm", "credentials": creds}),
    ));
    // A payload of the wrong shape around good credentials: the error names the field,
    // never the values next to it.
    out.push((
        "invoke_llm",
        json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "credentials": creds, "prompt_messages": "not a list"}),
    ));
    out
}

/// Runs every request of every credential set through a plugin started over `transport`
/// with `RUST_LOG=log`, and checks its whole output for secrets.
fn no_secret_leaves(transport: Transport, log: &str) {
    let d = Double::start(DoubleConfig::default()).expect("double");
    let url = d.url();
    let mut p = Plugin::start_over(
        transport,
        &[
            ("RUST_LOG", log),
            ("AWS_ENDPOINT_URL_STS", &url),
            ("DIFY_BEDROCK_MAX_ATTEMPTS", "1"),
        ],
    );
    for (name, creds) in credential_sets(&d) {
        // Sent together: concurrent sessions share the log.
        let ids: Vec<String> = requests(&creds)
            .into_iter()
            .map(|(action, fields)| p.request(action, fields))
            .collect();
        let answered = ids
            .iter()
            .filter(|id| p.wait_session(id, SECS(60)).error().is_none())
            .count();
        // The features ran for real: with good credentials all but the seven scripted
        // failures (403, a mid-stream exception and an unknown model, streamed and
        // blocking, and the payload of the wrong shape) are answered; with bad ones only
        // the token count, whose estimate stands in when CountTokens is refused.
        let good = !name.starts_with("wrong") && !name.starts_with("expired");
        assert_eq!(
            answered,
            if good { ids.len() - 7 } else { 1 },
            "{name}: {answered} of {} answered",
            ids.len()
        );
    }
    // Credentials STS issued for the assumed role are secrets too.
    let issued = d.issued_credentials();
    assert!(!issued.is_empty(), "the role was assumed");
    let mut secrets: Vec<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    for k in issued {
        secrets.push(k.secret_access_key);
        secrets.extend(k.session_token);
    }
    p.close_stdin();
    if transport == Transport::Http {
        std::process::Command::new("kill")
            .args(["-TERM", &p.pid().to_string()])
            .status()
            .expect("kill");
    } else if transport == Transport::Tcp {
        // Remote debugging reconnects when the daemon goes: stop it as its user would.
        std::process::Command::new("kill")
            .args(["-INT", &p.pid().to_string()])
            .status()
            .expect("kill");
    }
    p.wait_exit(SECS(15));
    let (mut lines, junk) = p.stdout_lines();
    // validate_provider_credentials answers with the credentials it was sent, which the
    // daemon stores (dify-protocol.md §4.8): the protocol's echo, not a leak.
    for l in &mut lines {
        let data = &mut l["data"]["data"];
        if data["result"] == true
            && let Some(answer) = data.as_object_mut()
        {
            answer.remove("credentials");
        }
    }
    let failures: Vec<String> = p.http_failures().into_iter().map(|r| r.body).collect();
    let everything = format!(
        "{}\n{}\n{}\n{}",
        lines
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        junk.join("\n"),
        failures.join("\n"),
        p.stderr()
    );
    for secret in &secrets {
        let leak = everything.lines().find(|l| l.contains(secret.as_str()));
        assert!(
            leak.is_none(),
            "{transport:?} at RUST_LOG={log}: secret {secret:?} leaked: {}",
            leak.unwrap_or("").chars().take(600).collect::<String>()
        );
    }
    // bedrock-mantle's bearer token is derived from the secret key: as good as one.
    assert!(
        !everything.contains("bedrock-api-key-"),
        "{transport:?} at RUST_LOG={log}: a derived bearer token leaked"
    );
    // Nor any request signature or authorization header.
    for needle in ["Signature=", "X-Amz-Signature", "X-Amz-Security-Token="] {
        let leak = everything.lines().find(|l| l.contains(needle));
        assert!(
            leak.is_none(),
            "{transport:?} at RUST_LOG={log}: {needle} in the output: {}",
            leak.unwrap_or("").chars().take(600).collect::<String>()
        );
    }
    // Remote debugging: the daemon's key goes to the daemon only, never to the logs.
    if transport == Transport::Tcp {
        assert!(
            !p.stderr().contains(daemon::KEY),
            "the debugging key leaked"
        );
    }
    // The log level asked for was honoured (the output is not silent by accident).
    if log.starts_with("trace") {
        assert!(
            everything.contains("DEBUG") || everything.contains("TRACE"),
            "{transport:?}: trace logging produced no debug output"
        );
    }
}

/// Trace for everything, the SDK's, hyper's and the signer's own targets named too.
const EVERYTHING: &str = "trace,aws_config=trace,aws_sigv4=trace,aws_smithy_runtime=trace,aws_smithy_runtime_api=trace,aws_credential_types=trace,hyper=trace,hyper_util=trace,rustls=trace";

#[test]
fn no_secret_leaves_over_stdio_at_any_log_level() {
    for level in [EVERYTHING, "debug", "info", "warn", "error"] {
        no_secret_leaves(Transport::Stdio, level);
    }
}

#[test]
fn no_secret_leaves_over_remote_debugging() {
    no_secret_leaves(Transport::Tcp, EVERYTHING);
}

#[test]
fn no_secret_leaves_over_serverless_http() {
    no_secret_leaves(Transport::Http, EVERYTHING);
}
