//! End-to-end tests of credential validation through the binary against the Bedrock test
//! double: every failure cause gets its own message, every model kind is probed for real,
//! IAM roles pass without keys, and the `check` command gives the same verdict.

mod support;

use std::process::Command;
use std::time::Duration;

use bedrock_double::*;
use serde_json::{Value, json};
use support::Plugin;
use support::aws::{api_key_credentials, double, key_credentials, with};

const SECS: fn(u64) -> Duration = Duration::from_secs;
const HAIKU: &str = "anthropic.claude-haiku-4-5-20251001-v1:0";
const NOVA: &str = "amazon.nova-lite-v1:0";

fn plugin(env: &[(&str, &str)]) -> Plugin {
    let mut all = vec![
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "1"),
        ("DIFY_BEDROCK_CONNECT_TIMEOUT_SECS", "2"),
    ];
    all.extend_from_slice(env);
    let p = Plugin::start_with(&all);
    p.wait_first_heartbeat(SECS(10));
    p
}

fn validate(p: &mut Plugin, credentials: Value) -> Result<Value, String> {
    let s = p.call(
        "validate_provider_credentials",
        json!({"provider": "bedrock", "credentials": credentials}),
    );
    match s.error() {
        Some(e) => {
            assert_eq!(e["error_type"], "CredentialsValidateFailedError", "{e}");
            Err(e["message"].as_str().unwrap_or("").to_string())
        }
        None => Ok(s.result().clone()),
    }
}

fn fails_with(p: &mut Plugin, credentials: Value, needles: &[&str]) -> String {
    let message =
        validate(p, credentials.clone()).expect_err(&format!("{credentials} must not validate"));
    for needle in needles {
        assert!(
            message.contains(needle),
            "{message:?} should contain {needle:?}"
        );
    }
    message
}

fn probe(creds: Value, model: &str) -> Value {
    with(creds, json!({"model_for_validation": model}))
}

#[test]
fn working_credentials_validate_and_are_echoed() {
    let d = double();
    let mut p = plugin(&[]);
    for creds in [
        key_credentials(&d),
        api_key_credentials(&d),
        probe(key_credentials(&d), NOVA),
    ] {
        let answer = validate(&mut p, creds.clone()).expect("valid");
        assert_eq!(answer, json!({"result": true, "credentials": creds}));
    }
    // The probe was a real, 1-token call.
    let calls = d.requests_for(Operation::Converse);
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].body["inferenceConfig"]["maxTokens"], 1);
}

#[test]
fn each_cause_has_its_own_message() {
    let d =
        Double::start(DoubleConfig::default().deny_model(TEST_ACCESS_KEY, "amazon.nova-pro-v1:0"))
            .expect("double");
    let mut p = plugin(&[]);
    let keys = key_credentials(&d);
    let mut seen = std::collections::BTreeSet::new();
    let mut check = |p: &mut Plugin, creds: Value, needles: &[&str]| {
        let m = fails_with(p, creds, needles);
        assert!(
            seen.insert(m.clone()),
            "two causes gave the same message: {m}"
        );
    };
    check(
        &mut p,
        with(
            keys.clone(),
            json!({"aws_access_key_id": "AKIAUNKNOWNKEY000000"}),
        ),
        &["does not recognise the access key ID AKIA…0000"],
    );
    check(
        &mut p,
        with(keys.clone(), json!({"aws_secret_access_key": "wrong"})),
        &["secret access key does not match the access key ID AKIA…MPLE"],
    );
    check(
        &mut p,
        with(
            keys.clone(),
            json!({"aws_access_key_id": TEST_EXPIRED_ACCESS_KEY, "aws_secret_access_key": TEST_EXPIRED_SECRET_KEY, "aws_session_token": TEST_EXPIRED_SESSION_TOKEN}),
        ),
        &["session token has expired"],
    );
    check(
        &mut p,
        probe(keys.clone(), "amazon.nova-pro-v1:0"),
        &[
            "may not call bedrock:InvokeModel on arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
            TEST_USER_ARN,
        ],
    );
    d.push_script(
        Matcher::operation(Operation::Converse),
        Script::error(
            403,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        ),
    );
    check(
        &mut p,
        probe(keys.clone(), NOVA),
        &[
            "model access to amazon.nova-lite-v1:0 is not enabled",
            "Model access",
        ],
    );
    check(
        &mut p,
        probe(keys.clone(), HAIKU),
        &[
            "can only be called through an inference profile in us-east-1",
            &format!("(us.{HAIKU})"),
            &format!("(global.{HAIKU})"),
        ],
    );
    check(
        &mut p,
        probe(keys.clone(), "amazon.rerank-v1:0"),
        &[
            "not offer the model amazon.rerank-v1:0 in us-east-1",
            "it runs in-region in ap-northeast-1, ca-central-1, eu-central-1, us-west-2",
        ],
    );
    d.push_script(
        Matcher::operation(Operation::Converse),
        Script::error(429, "ThrottlingException", "Too many requests"),
    );
    check(
        &mut p,
        keys.clone(),
        &["credentials work", "throttled", "try saving again"],
    );
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    check(
        &mut p,
        with(
            keys.clone(),
            json!({"bedrock_endpoint_url": format!("http://127.0.0.1:{closed}")}),
        ),
        &[
            &format!("Could not reach 127.0.0.1:{closed}"),
            "the endpoint URL",
        ],
    );
    check(
        &mut p,
        with(
            api_key_credentials(&d),
            json!({"bedrock_api_key": "ABSK-not-a-key"}),
        ),
        &["Bedrock API key was not accepted"],
    );
    check(
        &mut p,
        json!({"auth_method": "Access_Secret_Key", "aws_region": "us-east-1"}),
        &["aws_access_key_id"],
    );
    check(
        &mut p,
        json!({"auth_method": "API_Key", "aws_region": "us-east-1"}),
        &["bedrock_api_key"],
    );
}

#[test]
fn iam_role_with_and_without_machine_credentials() {
    let d = double();
    let iam = json!({"auth_method": "IAM_Role", "aws_region": "us-east-1", "bedrock_endpoint_url": d.url()});
    let mut with_creds = plugin(&[
        ("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY),
    ]);
    validate(&mut with_creds, iam.clone())
        .expect("machine credentials validate without a key typed");
    let bare = Double::start(DoubleConfig::default().no_imds_role()).expect("double");
    let url = bare.url();
    let mut without = plugin(&[
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url),
    ]);
    let iam = json!({"auth_method": "IAM_Role", "aws_region": "us-east-1", "bedrock_endpoint_url": bare.url()});
    fails_with(
        &mut without,
        iam,
        &["IAM Role is selected, but the machine running the plugin has no AWS credentials"],
    );
}

#[test]
fn every_model_kind_is_probed_for_real() {
    let d = double();
    let mut p = plugin(&[]);
    let west = with(key_credentials(&d), json!({"aws_region": "us-west-2"}));
    for (creds, model, operation) in [
        (
            key_credentials(&d),
            "amazon.titan-embed-text-v2:0",
            Operation::InvokeModel,
        ),
        (west.clone(), "amazon.rerank-v1:0", Operation::InvokeModel),
        (
            key_credentials(&d),
            TEST_APP_PROFILE_ARN,
            Operation::GetInferenceProfile,
        ),
        (
            key_credentials(&d),
            &format!("us.{HAIKU}") as &str,
            Operation::Converse,
        ),
    ] {
        d.clear_requests();
        validate(&mut p, probe(creds, model)).unwrap_or_else(|e| panic!("{model}: {e}"));
        let ops: Vec<Operation> = d.requests().iter().map(|r| r.operation).collect();
        assert_eq!(ops, [operation], "{model}");
    }
    fails_with(
        &mut p,
        probe(
            key_credentials(&d),
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/nosuch",
        ),
        &["nosuch"],
    );
}

#[test]
fn customizable_models_are_probed_by_their_type() {
    let d = double();
    let mut p = plugin(&[]);
    for (model_type, id) in [
        ("llm", format!("us.{HAIKU}")),
        ("text-embedding", "cohere.embed-english-v3".to_string()),
        ("llm", TEST_APP_PROFILE_ARN.to_string()),
    ] {
        d.clear_requests();
        let creds = with(key_credentials(&d), json!({"inference_profile_id": id}));
        let s = p.call("validate_model_credentials", json!({"provider": "bedrock", "model": "mine", "model_type": model_type, "credentials": creds}));
        assert_eq!(s.result()["result"], true, "{id}: {s:#?}");
    }
    let creds = with(
        key_credentials(&d),
        json!({"inference_profile_id": "acme.unknown-model-v9:0"}),
    );
    let s = p.call(
        "validate_model_credentials",
        json!({"provider": "bedrock", "model": "mine", "model_type": "llm", "credentials": creds}),
    );
    let e = s.expect_error();
    assert_eq!(e["error_type"], "CredentialsValidateFailedError");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("acme.unknown-model-v9:0"),
        "{e}"
    );
}

#[test]
fn the_check_command_gives_the_same_verdict() {
    let d = double();
    let run = |args: &[&str]| {
        let out = Command::new(support::BIN)
            .arg("check")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("DIFY_BEDROCK_MAX_ATTEMPTS", "1")
            .output()
            .expect("run check");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let url = d.url();
    let (code, out) = run(&[
        "--region",
        "us-east-1",
        "--model",
        NOVA,
        "--endpoint-url",
        &url,
        "--access-key",
        TEST_ACCESS_KEY,
        "--secret-key",
        TEST_SECRET_KEY,
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("OK: the credentials work"), "{out}");
    let (code, out) = run(&[
        "--region",
        "us-east-1",
        "--model",
        NOVA,
        "--endpoint-url",
        &url,
        "--access-key",
        TEST_ACCESS_KEY,
        "--secret-key",
        "wrong",
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAILED: The secret access key does not match"),
        "{out}"
    );
    let (code, out) = run(&[
        "--region",
        "us-east-1",
        "--model",
        NOVA,
        "--endpoint-url",
        &url,
        "--api-key",
        TEST_API_KEY,
    ]);
    assert_eq!(code, Some(0), "{out}");
    // A guardrail is looked up on the control plane, as when settings are saved.
    let guardrail = |id: &str| {
        run(&[
            "--region",
            "us-east-1",
            "--model",
            NOVA,
            "--endpoint-url",
            &url,
            "--control-endpoint-url",
            &url,
            "--api-key",
            TEST_API_KEY,
            "--guardrail",
            id,
        ])
    };
    let (code, out) = guardrail(TEST_GUARDRAIL_ID);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = guardrail("nope0");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAILED: The guardrail nope0 (version DRAFT) was not found in us-east-1"),
        "{out}"
    );
    let (code, _) = run(&["--bogus"]);
    assert_eq!(code, Some(2));
}
