//! End-to-end tests of AWS access through the binary against the Bedrock test double:
//! every way to give credentials, per request and per tenant, endpoints and proxies,
//! client reuse, retries and timeouts, and that no secret ever leaves the process.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use bedrock_double::*;
use serde_json::{Value, json};
use support::Plugin;
use support::aws::{api_key_credentials, double, key_credentials, llm_request, user, with};
use support::proxy::Proxy;

const NOVA: &str = "amazon.nova-lite-v1:0";

/// Environment variables for one plugin process.
type Env<'a> = Vec<(&'a str, &'a str)>;
const SECS: fn(u64) -> Duration = Duration::from_secs;

fn start(env: &[(&str, &str)]) -> Plugin {
    let mut all = vec![("DIFY_BEDROCK_MAX_ATTEMPTS", "1")];
    all.extend_from_slice(env);
    let p = Plugin::start_with(&all);
    p.wait_first_heartbeat(SECS(10));
    p
}

fn chat(p: &mut Plugin, credentials: &Value) -> support::Session {
    let s = p.call(
        "invoke_llm",
        llm_request(NOVA, credentials, user("hi"), true, json!({})),
    );
    assert!(s.error().is_none(), "{s:#?}");
    s
}

/// The identities the double saw on Converse calls, in order.
fn converse_identities(d: &Double) -> Vec<String> {
    d.requests()
        .into_iter()
        .filter(|r| matches!(r.operation, Operation::Converse | Operation::ConverseStream))
        .map(|r| r.identity)
        .collect()
}

fn iam_role(d: &Double) -> Value {
    json!({"auth_method": "IAM_Role", "aws_region": "us-east-1", "bedrock_endpoint_url": d.url()})
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("access-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn static_keys_session_tokens_and_api_keys() {
    let d = double();
    let mut p = start(&[]);
    chat(&mut p, &key_credentials(&d));
    let session = with(
        key_credentials(&d),
        json!({"aws_access_key_id": TEST_SESSION_ACCESS_KEY, "aws_secret_access_key": TEST_SESSION_SECRET_KEY, "aws_session_token": TEST_SESSION_TOKEN}),
    );
    chat(&mut p, &session);
    chat(&mut p, &api_key_credentials(&d));
    assert_eq!(
        converse_identities(&d),
        [
            TEST_ACCESS_KEY.to_string(),
            TEST_SESSION_ACCESS_KEY.to_string(),
            format!("bearer:{TEST_API_KEY_NAME}")
        ]
    );
    let bearer = d
        .requests()
        .into_iter()
        .find(|r| r.identity.starts_with("bearer"))
        .expect("bearer request");
    assert_eq!(bearer.header("authorization"), Some("Bearer <redacted>"));
}

#[test]
fn rejected_credentials_are_authorization_errors() {
    let d = double();
    let mut p = start(&[]);
    let cases = [
        (
            json!({"aws_access_key_id": "AKIAUNKNOWNKEY000000"}),
            "UnrecognizedClientException",
        ),
        (
            json!({"aws_secret_access_key": "not-the-secret"}),
            "InvalidSignatureException",
        ),
        (
            json!({"aws_access_key_id": TEST_EXPIRED_ACCESS_KEY, "aws_secret_access_key": TEST_EXPIRED_SECRET_KEY, "aws_session_token": TEST_EXPIRED_SESSION_TOKEN}),
            "ExpiredTokenException",
        ),
        (
            json!({"auth_method": "API_Key", "bedrock_api_key": "ABSKnot-a-real-key"}),
            "",
        ),
    ];
    for (change, code) in cases {
        let s = p.call(
            "invoke_llm",
            llm_request(
                NOVA,
                &with(key_credentials(&d), change.clone()),
                user("hi"),
                true,
                json!({}),
            ),
        );
        let e = s.expect_error();
        assert_eq!(e["error_type"], "InvokeAuthorizationError", "{change}: {e}");
        assert!(
            e["message"].as_str().unwrap_or("").contains(code),
            "{change}: {e}"
        );
    }
}

#[test]
fn machine_credentials_from_environment_variables() {
    let d = double();
    let mut p = start(&[
        ("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY),
    ]);
    chat(&mut p, &iam_role(&d));
    assert_eq!(converse_identities(&d), [TEST_ACCESS_KEY]);
}

#[test]
fn machine_credentials_from_a_shared_config_profile_and_credential_process() {
    let d = double();
    let dir = temp_dir("profiles");
    let script = dir.join("creds.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho '{{\"Version\": 1, \"AccessKeyId\": \"{TEST_SESSION_ACCESS_KEY}\", \"SecretAccessKey\": \"{TEST_SESSION_SECRET_KEY}\", \"SessionToken\": \"{TEST_SESSION_TOKEN}\"}}'\n"
        ),
    )
    .expect("script");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .expect("chmod");
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "[profile team]\nregion = us-east-1\n\n[profile process]\ncredential_process = {}\n",
            script.display()
        ),
    )
    .expect("config");
    let credentials = dir.join("credentials");
    std::fs::write(&credentials, format!("[team]\naws_access_key_id = {TEST_ACCESS_KEY}\naws_secret_access_key = {TEST_SECRET_KEY}\n"))
        .expect("credentials");
    for (profile, identity) in [
        ("team", TEST_ACCESS_KEY),
        ("process", TEST_SESSION_ACCESS_KEY),
    ] {
        let mut p = start(&[
            ("AWS_CONFIG_FILE", config.to_str().expect("path")),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                credentials.to_str().expect("path"),
            ),
            ("AWS_PROFILE", profile),
        ]);
        d.clear_requests();
        chat(&mut p, &iam_role(&d));
        assert_eq!(converse_identities(&d), [identity], "profile {profile}");
    }
}

#[test]
fn machine_credentials_from_web_identity_ecs_and_imds() {
    let d = double();
    let dir = temp_dir("web-identity");
    let token = dir.join("token");
    std::fs::write(&token, TEST_WEB_IDENTITY_TOKEN).expect("token");
    let url = d.url();
    let ecs_url = format!("{url}{TEST_ECS_PATH}");
    let cases: Vec<(&str, Env, Operation)> = vec![
        (
            "web identity",
            vec![
                ("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().expect("path")),
                ("AWS_ROLE_ARN", TEST_ROLE_ARN),
                ("AWS_ROLE_SESSION_NAME", "dify"),
                ("AWS_ENDPOINT_URL_STS", &url),
            ],
            Operation::AssumeRoleWithWebIdentity,
        ),
        (
            "ecs",
            vec![("AWS_CONTAINER_CREDENTIALS_FULL_URI", &ecs_url)],
            Operation::EcsCredentials,
        ),
        (
            "imds",
            vec![
                ("AWS_EC2_METADATA_DISABLED", "false"),
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url),
            ],
            Operation::ImdsCredentials,
        ),
    ];
    for (name, env, source) in cases {
        d.clear_requests();
        let mut p = start(&env);
        chat(&mut p, &iam_role(&d));
        let ops: Vec<Operation> = d.requests().iter().map(|r| r.operation).collect();
        assert!(ops.contains(&source), "{name}: {ops:?}");
        let identity = converse_identities(&d);
        assert_eq!(identity.len(), 1, "{name}");
        let expected = match source {
            Operation::EcsCredentials => TEST_ECS_ACCESS_KEY.to_string(),
            Operation::ImdsCredentials => TEST_IMDS_ACCESS_KEY.to_string(),
            _ => d
                .issued_credentials()
                .last()
                .map(|k| k.access_key_id.clone())
                .expect("STS issued keys"),
        };
        assert_eq!(identity[0], expected, "{name}");
    }
}

#[test]
fn a_machine_without_credentials_gets_a_clear_message() {
    let d = Double::start(DoubleConfig::default().no_imds_role()).expect("double");
    let url = d.url();
    let mut p = start(&[
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url),
    ]);
    let s = p.call(
        "invoke_llm",
        llm_request(NOVA, &iam_role(&d), user("hi"), true, json!({})),
    );
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeAuthorizationError", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("no AWS credentials were found"),
        "{e}"
    );
}

#[test]
fn assume_role_on_top_of_keys_is_cached() {
    let d = double();
    let url = d.url();
    let mut p = start(&[("AWS_ENDPOINT_URL_STS", &url)]);
    let creds = with(
        key_credentials(&d),
        json!({"aws_role_arn": TEST_ROLE_ARN, "aws_external_id": "ext-123"}),
    );
    chat(&mut p, &creds);
    chat(&mut p, &creds);
    let assumes: Vec<_> = d
        .requests()
        .into_iter()
        .filter(|r| r.operation == Operation::AssumeRole)
        .collect();
    assert_eq!(
        assumes.len(),
        1,
        "credentials are cached until shortly before they expire"
    );
    assert_eq!(assumes[0].identity, TEST_ACCESS_KEY);
    assert_eq!(assumes[0].body["RoleArn"], TEST_ROLE_ARN);
    assert_eq!(assumes[0].body["ExternalId"], "ext-123");
    assert_eq!(assumes[0].body["RoleSessionName"], "dify-bedrock");
    let issued = d
        .issued_credentials()
        .last()
        .map(|k| k.access_key_id.clone())
        .expect("issued");
    assert_eq!(converse_identities(&d), [issued.clone(), issued]);
}

#[test]
fn bearer_and_sigv4_tenants_in_flight_together_keep_their_identities() {
    let d = double();
    let mut p = start(&[]);
    let slow = r#"slow [[double: {"text": "a b c d", "deltas": 4, "delay_ms": 50}]]"#;
    let tenants = [key_credentials(&d), api_key_credentials(&d)];
    let mut ids = Vec::new();
    for i in 0..40 {
        let creds = &tenants[i % 2];
        let marker = format!("tenant {} {slow}", i % 2);
        ids.push(p.request(
            "invoke_llm",
            llm_request(NOVA, creds, user(&marker), true, json!({})),
        ));
    }
    for id in &ids {
        assert!(p.wait_session(id, SECS(60)).error().is_none());
    }
    let requests = d.requests();
    assert_eq!(requests.len(), 40);
    for r in &requests {
        let text = r.body["messages"][0]["content"][0]["text"]
            .as_str()
            .unwrap_or("");
        let expected = if text.starts_with("tenant 0") {
            TEST_ACCESS_KEY.to_string()
        } else {
            format!("bearer:{TEST_API_KEY_NAME}")
        };
        assert_eq!(r.identity, expected, "{text}");
    }
}

#[test]
fn one_connection_pool_per_credential_set() {
    let d = double();
    let mut p = start(&[]);
    let a = key_credentials(&d);
    let b = api_key_credentials(&d);
    for _ in 0..5 {
        chat(&mut p, &a);
        chat(&mut p, &b);
    }
    let requests = d.requests();
    let conns = |identity: &str| -> std::collections::BTreeSet<u64> {
        requests
            .iter()
            .filter(|r| r.identity == identity)
            .map(|r| r.connection_id)
            .collect()
    };
    let a_conns = conns(TEST_ACCESS_KEY);
    let b_conns = conns(&format!("bearer:{TEST_API_KEY_NAME}"));
    assert_eq!(
        a_conns.len(),
        1,
        "tenant A reuses one connection: {a_conns:?}"
    );
    assert_eq!(
        b_conns.len(),
        1,
        "tenant B reuses one connection: {b_conns:?}"
    );
    assert!(
        a_conns.is_disjoint(&b_conns),
        "tenants never share a connection"
    );
    assert_eq!(d.connections_accepted(), 2);
}

#[test]
fn endpoint_and_proxy_together() {
    let d = double();
    let proxy = Proxy::start();
    let mut p = start(&[]);
    // With and without a scheme, as users type it: both mean the same proxy, so the
    // second call reuses the first call's client and its connection through the proxy.
    let with_scheme = proxy.url.clone();
    let without_scheme = proxy.url.trim_start_matches("http://").to_string();
    for proxy_url in [with_scheme, without_scheme] {
        chat(
            &mut p,
            &with(key_credentials(&d), json!({"bedrock_proxy_url": proxy_url})),
        );
        assert_eq!(proxy.carried(), 1, "the call went through the proxy");
    }
    assert_eq!(
        d.connections_accepted(),
        1,
        "the double saw only the proxy's connection"
    );
    assert_eq!(d.requests().len(), 2);
}

#[test]
fn an_unreachable_endpoint_names_the_host_tried() {
    let mut p = start(&[("DIFY_BEDROCK_CONNECT_TIMEOUT_SECS", "2")]);
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let creds = json!({"auth_method": "Access_Secret_Key", "aws_access_key_id": TEST_ACCESS_KEY, "aws_secret_access_key": TEST_SECRET_KEY,
                       "aws_region": "us-east-1", "bedrock_endpoint_url": format!("http://127.0.0.1:{port}")});
    let s = p.call(
        "invoke_llm",
        llm_request(NOVA, &creds, user("hi"), true, json!({})),
    );
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeConnectionError", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("127.0.0.1:{port}")),
        "{e}"
    );
}

#[test]
fn throttling_is_retried_with_backoff() {
    let d = double();
    let mut p = Plugin::start_with(&[
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "3"),
        ("DIFY_BEDROCK_RETRY_BACKOFF_MS", "10"),
    ]);
    p.wait_first_heartbeat(SECS(10));
    d.push_script_times(
        Matcher::operation(Operation::ConverseStream),
        Script::error(429, "ThrottlingException", "slow down"),
        2,
    );
    chat(&mut p, &key_credentials(&d));
    let attempts: Vec<u16> = d.requests().iter().map(|r| r.status).collect();
    assert_eq!(attempts, [429, 429, 200]);
}

#[test]
fn a_slow_blocking_answer_times_out_clearly() {
    let d = double();
    let mut p = start(&[("DIFY_BEDROCK_READ_TIMEOUT_SECS", "1")]);
    let s = p.call(
        "invoke_llm",
        llm_request(
            NOVA,
            &key_credentials(&d),
            user(r#"[[double: {"first_byte_ms": 3000}]]"#),
            false,
            json!({}),
        ),
    );
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeConnectionError", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains(&d.url().trim_start_matches("http://").to_string()),
        "{e}"
    );
}

#[test]
fn missing_or_inconsistent_fields_are_named() {
    let mut p = start(&[]);
    let cases = [
        (
            json!({"auth_method": "Access_Secret_Key", "aws_region": "us-east-1"}),
            "aws_access_key_id",
        ),
        (
            json!({"auth_method": "API_Key", "aws_region": "us-east-1"}),
            "bedrock_api_key",
        ),
        (json!({"auth_method": "IAM_Role"}), "aws_region"),
        (
            json!({"auth_method": "IAM_Role", "aws_region": "us-east-1", "bedrock_proxy_url": "ftp://x"}),
            "bedrock_proxy_url",
        ),
    ];
    for (creds, field) in cases {
        let s = p.call(
            "invoke_llm",
            llm_request(NOVA, &creds, user("hi"), true, json!({})),
        );
        let e = s.expect_error();
        assert_eq!(e["error_type"], "InvokeBadRequestError");
        assert!(e["message"].as_str().unwrap_or("").contains(field), "{e}");
    }
}

#[test]
fn secrets_never_leave_the_process() {
    let d = double();
    let url = d.url();
    let mut p = start(&[("RUST_LOG", "trace"), ("AWS_ENDPOINT_URL_STS", &url)]);
    let secrets = [
        TEST_SECRET_KEY,
        TEST_SESSION_SECRET_KEY,
        TEST_SESSION_TOKEN,
        TEST_API_KEY,
        "wrong-secret-0123456789abcdef",
        "ext-secret-987",
    ];
    let wrong_secret = with(
        key_credentials(&d),
        json!({"aws_secret_access_key": "wrong-secret-0123456789abcdef"}),
    );
    let session = with(
        key_credentials(&d),
        json!({"aws_access_key_id": TEST_SESSION_ACCESS_KEY, "aws_secret_access_key": TEST_SESSION_SECRET_KEY, "aws_session_token": TEST_SESSION_TOKEN}),
    );
    let role = with(
        key_credentials(&d),
        json!({"aws_role_arn": TEST_ROLE_ARN, "aws_external_id": "ext-secret-987"}),
    );
    let all = [
        key_credentials(&d),
        api_key_credentials(&d),
        wrong_secret,
        session,
        role,
    ];
    for creds in &all {
        for stream in [true, false] {
            p.call(
                "invoke_llm",
                llm_request(NOVA, creds, user("hi"), stream, json!({})),
            );
            p.call("invoke_llm", llm_request(NOVA, creds, user(r#"[[double: {"error": {"status": 403, "type": "AccessDeniedException"}}]]"#), stream, json!({})));
        }
        for (action, extra) in [
            (
                "get_llm_num_tokens",
                json!({"model": NOVA, "model_type": "llm", "prompt_messages": [], "tools": []}),
            ),
            (
                "get_ai_model_schemas",
                json!({"model": NOVA, "model_type": "llm"}),
            ),
            (
                "invoke_text_embedding",
                json!({"model": "amazon.titan-embed-text-v2:0", "model_type": "text-embedding", "texts": ["a"], "input_type": "query"}),
            ),
            (
                "invoke_rerank",
                json!({"model": "amazon.rerank-v1:0", "model_type": "rerank", "query": "q", "docs": ["a"], "score_threshold": 0, "top_n": 0}),
            ),
            (
                "validate_model_credentials",
                json!({"model": NOVA, "model_type": "llm"}),
            ),
        ] {
            p.call(
                action,
                with(json!({"provider": "bedrock", "credentials": creds}), extra),
            );
        }
    }
    p.close_stdin();
    p.wait_exit(SECS(10));
    p.wait_stdout_closed(SECS(5));
    let (lines, junk) = p.stdout_lines();
    let everything = format!(
        "{}\n{}\n{}",
        lines
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        junk.join("\n"),
        p.stderr()
    );
    assert!(
        everything.contains("\"level\":\"DEBUG\"") || everything.len() > 1000,
        "trace logging produced output"
    );
    for secret in secrets {
        let leak = everything.lines().find(|l| l.contains(secret));
        assert!(
            leak.is_none(),
            "secret {secret:?} leaked into the plugin's output: {}",
            leak.unwrap_or("").chars().take(600).collect::<String>()
        );
    }
}

#[test]
fn the_environment_proxy_and_no_proxy_are_honoured() {
    let d = double();
    let proxy = Proxy::start();
    let mut p = start(&[("HTTP_PROXY", &proxy.url), ("HTTPS_PROXY", &proxy.url)]);
    chat(&mut p, &key_credentials(&d));
    assert_eq!(
        proxy.carried(),
        1,
        "HTTP_PROXY from the environment is used"
    );
    let mut p = start(&[("HTTP_PROXY", &proxy.url), ("NO_PROXY", "127.0.0.1")]);
    chat(&mut p, &key_credentials(&d));
    assert_eq!(proxy.carried(), 1, "NO_PROXY bypasses the proxy");
    assert_eq!(d.requests().len(), 2);
}
