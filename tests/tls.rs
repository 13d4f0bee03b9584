//! End-to-end tests of TLS through the binary: the Bedrock double behind a TLS-terminating
//! proxy whose certificates come from a CA made at test time, as behind a TLS-inspecting
//! corporate proxy. AWS_CA_BUNDLE (or a profile's ca_bundle) makes every AWS client trust
//! it; without it, or with a wrong name, an expired certificate, a bundle that cannot be
//! read or a closed port, the user is told what failed in plain words.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use bedrock_double::*;
use serde_json::{Value, json};
use support::Plugin;
use support::aws::{double, key_credentials, llm_request, user, with};
use support::proxy::Proxy;
use support::tls::{Authority, TlsProxy};

const NOVA: &str = "amazon.nova-lite-v1:0";
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// A plugin that tries each call once, so failures answer at once.
fn start(env: &[(&str, &str)]) -> Plugin {
    let mut all = vec![
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "1"),
        ("DIFY_BEDROCK_CONNECT_TIMEOUT_SECS", "5"),
    ];
    all.extend_from_slice(env);
    let p = Plugin::start_with(&all);
    p.wait_first_heartbeat(SECS(10));
    p
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Access keys whose runtime and control-plane endpoints are `url`.
fn keys_at(d: &Double, url: &str) -> Value {
    with(
        key_credentials(d),
        json!({"bedrock_endpoint_url": url, "bedrock_control_endpoint_url": url}),
    )
}

fn chat(p: &mut Plugin, credentials: &Value) -> support::Session {
    p.call(
        "invoke_llm",
        llm_request(NOVA, credentials, user("hi"), true, json!({})),
    )
}

/// The message of a call that must fail with a connection error.
fn connection_error(p: &mut Plugin, credentials: &Value) -> String {
    let s = chat(p, credentials);
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeConnectionError", "{e}");
    e["message"].as_str().unwrap_or("").to_string()
}

fn assert_contains(message: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            message.contains(needle),
            "{message:?} should contain {needle:?}"
        );
    }
}

/// A double behind a TLS proxy with a certificate for localhost from a fresh CA.
fn double_behind_tls() -> (Double, Authority, TlsProxy) {
    let d = double();
    let ca = Authority::new("Test Inspecting Proxy CA");
    let proxy = TlsProxy::start(ca.issue(&["localhost"]), d.addr());
    (d, ca, proxy)
}

#[test]
fn with_the_ca_bundle_every_aws_client_goes_through_tls() {
    let (d, ca, proxy) = double_behind_tls();
    let dir = temp_dir("bundle");
    let bundle = ca.write_bundle(&dir);
    let url = proxy.url();
    let mut p = start(&[
        ("AWS_CA_BUNDLE", path(&bundle)),
        ("AWS_ENDPOINT_URL_STS", &url),
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url),
    ]);

    // Runtime, control plane (an application profile is looked up) and STS (a role is
    // assumed), all over TLS.
    let creds = with(
        keys_at(&d, &url),
        json!({"inference_profile_id": TEST_APP_PROFILE_ARN, "aws_role_arn": TEST_ROLE_ARN}),
    );
    let s = p.call(
        "invoke_llm",
        llm_request(
            "profiled",
            &creds,
            user("hi"),
            true,
            json!({"max_tokens": 32}),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    let ops: Vec<Operation> = d.requests().iter().map(|r| r.operation).collect();
    for op in [
        Operation::AssumeRole,
        Operation::GetInferenceProfile,
        Operation::ConverseStream,
    ] {
        assert!(ops.contains(&op), "{op:?} went through TLS: {ops:?}");
    }

    // The IAM-role credential chain's own calls (instance metadata here) too.
    d.clear_requests();
    let iam_role =
        json!({"auth_method": "IAM_Role", "aws_region": "us-east-1", "bedrock_endpoint_url": url});
    let s = chat(&mut p, &iam_role);
    assert!(s.error().is_none(), "{s:#?}");
    let requests = d.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.operation == Operation::ImdsCredentials),
        "{:?}",
        requests.iter().map(|r| r.operation).collect::<Vec<_>>()
    );
    assert!(
        requests
            .iter()
            .any(|r| r.operation == Operation::ConverseStream
                && r.identity == TEST_IMDS_ACCESS_KEY)
    );
    assert!(
        proxy.accepted() >= 2,
        "TLS handshakes: {}",
        proxy.accepted()
    );
    // Through a forward proxy (CONNECT), as behind a TLS-inspecting corporate proxy.
    let forward = Proxy::start();
    let s = chat(
        &mut p,
        &with(keys_at(&d, &url), json!({"bedrock_proxy_url": forward.url})),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(forward.carried(), 1);
    // Plain HTTP endpoints keep working with a bundle.
    let s = chat(&mut p, &key_credentials(&d));
    assert!(s.error().is_none(), "{s:#?}");
}

#[test]
fn without_the_bundle_the_certificate_is_not_trusted_and_the_hint_names_aws_ca_bundle() {
    let (d, _ca, proxy) = double_behind_tls();
    let mut p = start(&[]);
    let creds = keys_at(&d, &proxy.url());
    let message = connection_error(&mut p, &creds);
    assert_contains(
        &message,
        &[
            &format!("could not reach localhost:{}", proxy.port),
            "TLS certificate is not trusted",
            "set AWS_CA_BUNDLE",
        ],
    );
    assert!(!message.contains("Unknown"), "{message}");
    // Saving the settings says the same, with what to check.
    let s = p.call(
        "validate_provider_credentials",
        json!({"provider": "bedrock", "credentials": creds}),
    );
    let e = s.expect_error();
    assert_contains(
        e["message"].as_str().unwrap_or(""),
        &["not trusted", "AWS_CA_BUNDLE", "Check the endpoint URL"],
    );
    // STS for an assumed role: the credential service is named, not the Bedrock host.
    let url = proxy.url();
    let mut p = start(&[("AWS_ENDPOINT_URL_STS", &url)]);
    let message = connection_error(
        &mut p,
        &with(key_credentials(&d), json!({"aws_role_arn": TEST_ROLE_ARN})),
    );
    assert_contains(
        &message,
        &[
            "could not reach the AWS credential service",
            "not trusted",
            "AWS_CA_BUNDLE",
        ],
    );
    assert!(d.requests().is_empty(), "nothing reached the double");
}

#[test]
fn a_certificate_for_another_name_or_an_expired_one_is_named_as_such() {
    let d = double();
    let ca = Authority::new("Test Inspecting Proxy CA");
    let other_name = TlsProxy::start(ca.issue(&["bedrock.example.com"]), d.addr());
    let expired = TlsProxy::start(ca.issue_expired(&["localhost"]), d.addr());
    let bundle = ca.write_bundle(&temp_dir("names"));
    let mut p = start(&[("AWS_CA_BUNDLE", path(&bundle))]);

    let message = connection_error(&mut p, &keys_at(&d, &other_name.url()));
    assert_contains(
        &message,
        &[
            &format!("could not reach localhost:{}", other_name.port),
            "TLS certificate is not valid for localhost",
            "bedrock.example.com",
        ],
    );
    let message = connection_error(&mut p, &keys_at(&d, &expired.url()));
    assert_contains(
        &message,
        &[
            &format!("could not reach localhost:{}", expired.port),
            "TLS certificate has expired",
        ],
    );
    assert!(d.requests().is_empty());
}

#[test]
fn a_bundle_that_cannot_be_used_fails_each_call_clearly_and_the_process_keeps_serving() {
    let d = double();
    let dir = temp_dir("unusable");
    let missing = dir.join("no-such-bundle.pem");
    let mut p = start(&[("AWS_CA_BUNDLE", path(&missing))]);
    for _ in 0..2 {
        let message = connection_error(&mut p, &key_credentials(&d));
        assert_contains(
            &message,
            &[
                "AWS_CA_BUNDLE",
                path(&missing),
                "cannot be read",
                "unset it",
            ],
        );
        // Requests that need no AWS client are still answered.
        let s = p.call(
            "get_ai_model_schemas",
            json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "credentials": key_credentials(&d)}),
        );
        assert!(s.error().is_none(), "{s:#?}");
    }
    assert!(d.requests().is_empty());

    // A file that holds no certificate.
    let empty = dir.join("not-a-bundle.pem");
    std::fs::write(&empty, "this is not a certificate\n").expect("write");
    let mut p = start(&[("AWS_CA_BUNDLE", path(&empty))]);
    let message = connection_error(&mut p, &key_credentials(&d));
    assert_contains(
        &message,
        &[
            "AWS_CA_BUNDLE",
            path(&empty),
            "contains no usable PEM certificate",
        ],
    );
}

#[test]
fn the_profiles_ca_bundle_is_used_when_aws_ca_bundle_is_unset() {
    let (d, ca, proxy) = double_behind_tls();
    let dir = temp_dir("profile");
    let bundle = ca.write_bundle(&dir);
    let missing = dir.join("missing.pem");
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "[default]\nca_bundle = {}\n\n[profile broken]\nca_bundle = {}\n",
            bundle.display(),
            missing.display()
        ),
    )
    .expect("config");
    let creds = keys_at(&d, &proxy.url());

    let mut p = start(&[("AWS_CONFIG_FILE", path(&config))]);
    let s = chat(&mut p, &creds);
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(d.requests().len(), 1);

    // AWS_PROFILE chooses the profile; its bundle is named when it cannot be used.
    let mut p = start(&[
        ("AWS_CONFIG_FILE", path(&config)),
        ("AWS_PROFILE", "broken"),
    ]);
    let message = connection_error(&mut p, &creds);
    assert_contains(
        &message,
        &[
            "ca_bundle setting of AWS profile \"broken\"",
            path(&missing),
            "cannot be read",
        ],
    );

    // AWS_CA_BUNDLE wins over the profile, as in boto3.
    let mut p = start(&[
        ("AWS_CONFIG_FILE", path(&config)),
        ("AWS_CA_BUNDLE", path(&missing)),
    ]);
    let message = connection_error(&mut p, &creds);
    assert_contains(&message, &["AWS_CA_BUNDLE", path(&missing)]);
    assert_eq!(d.requests().len(), 1);
}

#[test]
fn a_closed_port_says_the_connection_was_refused() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let d = double();
    let mut p = start(&[]);
    for url in [
        format!("https://localhost:{closed}"),
        format!("http://127.0.0.1:{closed}"),
    ] {
        let message = connection_error(&mut p, &keys_at(&d, &url));
        assert_contains(&message, &[&format!(":{closed}"), "refused"]);
    }
    // A proxy that refuses is named as the one refusing.
    let creds = with(
        keys_at(&d, "https://localhost:1"),
        json!({"bedrock_proxy_url": format!("http://127.0.0.1:{closed}")}),
    );
    let message = connection_error(&mut p, &creds);
    assert_contains(&message, &["the proxy refused the connection"]);
}
