//! End-to-end tests of Amazon Bedrock Guardrails through the built binary against the
//! Bedrock test double: the provider's guardrail and an app's own on Converse and
//! ConverseStream (the recorded `guardrailConfig`), trace and stream processing mode, an
//! intervention as Dify's content-filter finish with the guardrail's message, bad
//! settings refused before any call, validation that names a missing, unreadable or
//! unready guardrail, and bedrock-mantle models, which take none.

mod support;

use std::time::Duration;

use bedrock_double::*;
use serde_json::{Value, json};
use support::aws::{converse_bodies, key_credentials, llm_request, user, with};
use support::{Plugin, Session};

const NOVA: &str = "amazon.nova-lite-v1:0";
const GPT55: &str = "openai.gpt-5.5";
/// A second guardrail of the double's account, for apps that name their own.
const APP_GUARDRAIL: &str = "appguard1";

fn double() -> Double {
    Double::start(DoubleConfig::default().guardrail(GuardrailSpec {
        published_versions: 2,
        ..GuardrailSpec::new(APP_GUARDRAIL, "app-guardrail", TEST_REGION)
    }))
    .expect("start the Bedrock test double")
}

fn plugin(env: &[(&str, &str)]) -> Plugin {
    let mut all = vec![
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "1"),
        ("DIFY_BEDROCK_STREAM_IDLE_TIMEOUT_SECS", "2"),
    ];
    all.extend_from_slice(env);
    let p = Plugin::start_with(&all);
    p.wait_first_heartbeat(Duration::from_secs(10));
    p
}

/// The double's credentials with the provider's guardrail fields.
fn guarded(d: &Double, fields: Value) -> Value {
    with(key_credentials(d), fields)
}

fn last(s: &Session) -> Value {
    s.items()
        .last()
        .map(|v| (*v).clone())
        .unwrap_or(Value::Null)
}

/// One call of `model`, streamed or not, with these credentials and parameters.
fn chat(
    p: &mut Plugin,
    model: &str,
    credentials: &Value,
    stream: bool,
    parameters: Value,
    text: &str,
) -> Session {
    p.call(
        "invoke_llm",
        llm_request(model, credentials, user(text), stream, parameters),
    )
}

#[test]
fn the_provider_s_guardrail_goes_with_converse_and_converse_stream() {
    let d = double();
    let mut p = plugin(&[]);
    let creds = guarded(
        &d,
        json!({"guardrail_identifier": TEST_GUARDRAIL_ID, "guardrail_version": "1",
               "guardrail_trace": "enabled", "guardrail_stream_processing_mode": "async"}),
    );
    for stream in [false, true] {
        let s = chat(&mut p, NOVA, &creds, stream, json!({}), "hello");
        assert!(s.error().is_none(), "{s:#?}");
        assert_eq!(s.text(), "You said: hello");
    }
    let sent = converse_bodies(&d);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].operation, Operation::Converse);
    assert_eq!(
        sent[0].body["guardrailConfig"],
        json!({"guardrailIdentifier": TEST_GUARDRAIL_ID, "guardrailVersion": "1", "trace": "enabled"}),
        "Converse takes no stream processing mode"
    );
    assert_eq!(sent[1].operation, Operation::ConverseStream);
    assert_eq!(
        sent[1].body["guardrailConfig"],
        json!({"guardrailIdentifier": TEST_GUARDRAIL_ID, "guardrailVersion": "1", "trace": "enabled",
               "streamProcessingMode": "async"})
    );

    // By ARN, without a version: DRAFT; the trace and mode keep AWS's defaults.
    d.clear_requests();
    let creds = guarded(&d, json!({"guardrail_identifier": TEST_GUARDRAIL_ARN}));
    let s = chat(&mut p, NOVA, &creds, true, json!({}), "hello");
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(
        converse_bodies(&d)[0].body["guardrailConfig"],
        json!({"guardrailIdentifier": TEST_GUARDRAIL_ARN, "guardrailVersion": "DRAFT", "trace": "disabled",
               "streamProcessingMode": "sync"})
    );

    // No guardrail on the form: none is sent.
    d.clear_requests();
    let s = chat(&mut p, NOVA, &key_credentials(&d), false, json!({}), "hi");
    assert!(s.error().is_none(), "{s:#?}");
    assert!(converse_bodies(&d)[0].body.get("guardrailConfig").is_none());
}

#[test]
fn an_app_s_own_guardrail_wins_over_the_provider_s() {
    let d = double();
    let mut p = plugin(&[]);
    let creds = guarded(
        &d,
        json!({"guardrail_identifier": TEST_GUARDRAIL_ID, "guardrail_version": "1",
               "guardrail_trace": "enabled", "guardrail_stream_processing_mode": "sync"}),
    );
    // Its own guardrail: its version (DRAFT when none), its mode; the provider's trace.
    let own =
        json!({"guardrail_identifier": APP_GUARDRAIL, "guardrail_stream_processing_mode": "async"});
    let s = chat(&mut p, NOVA, &creds, true, own, "hello");
    assert!(s.error().is_none(), "{s:#?}");
    // The provider's guardrail, pinned to another version, with the full trace.
    let pinned = json!({"guardrail_version": "DRAFT", "guardrail_trace": "enabled_full"});
    let s = chat(&mut p, NOVA, &creds, false, pinned, "hello");
    assert!(s.error().is_none(), "{s:#?}");
    let sent = converse_bodies(&d);
    assert_eq!(
        sent[0].body["guardrailConfig"],
        json!({"guardrailIdentifier": APP_GUARDRAIL, "guardrailVersion": "DRAFT", "trace": "enabled",
               "streamProcessingMode": "async"})
    );
    assert_eq!(
        sent[1].body["guardrailConfig"],
        json!({"guardrailIdentifier": TEST_GUARDRAIL_ID, "guardrailVersion": "DRAFT", "trace": "enabled_full"})
    );

    // Without any guardrail on the form, an app can still name one.
    d.clear_requests();
    let s = chat(
        &mut p,
        NOVA,
        &key_credentials(&d),
        false,
        json!({"guardrail_identifier": APP_GUARDRAIL, "guardrail_version": "2"}),
        "hello",
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert_eq!(
        converse_bodies(&d)[0].body["guardrailConfig"],
        json!({"guardrailIdentifier": APP_GUARDRAIL, "guardrailVersion": "2", "trace": "disabled"})
    );
}

#[test]
fn an_intervention_is_a_content_filter_finish_with_the_guardrail_s_message() {
    let d = double();
    let mut p = plugin(&[("RUST_LOG", "debug")]);
    let creds = guarded(
        &d,
        json!({"guardrail_identifier": TEST_GUARDRAIL_ID, "guardrail_trace": "enabled"}),
    );
    let secret_words = "my secret plan";
    let prompt =
        format!(r#"{secret_words} [[double: {{"guardrail": {{"action": "intervened"}}}}]]"#);
    for stream in [true, false] {
        let s = chat(&mut p, NOVA, &creds, stream, json!({}), &prompt);
        assert!(s.error().is_none(), "stream={stream}: {s:#?}");
        assert_eq!(s.text(), TEST_GUARDRAIL_BLOCKED_INPUT, "stream={stream}");
        assert_eq!(last(&s)["delta"]["finish_reason"], "content_filter");
    }
    // A blocked answer, with the message the guardrail was given.
    let prompt = r#"x [[double: {"text": "harmful", "guardrail": {"action": "intervened", "source": "output"}}]]"#;
    let s = chat(&mut p, NOVA, &creds, true, json!({}), prompt);
    assert_eq!(s.text(), TEST_GUARDRAIL_BLOCKED_OUTPUT);
    assert_eq!(last(&s)["delta"]["finish_reason"], "content_filter");

    // The assessments are logged at debug level, and nothing at a higher level quotes
    // the user.
    let logs = p.logs();
    let assessed = logs.iter().any(|l| {
        l["data"]["level"] == "DEBUG"
            && l["data"]["message"].as_str().is_some_and(|m| {
                m.contains("guardrail assessment") && m.contains("Guardrail blocked.")
            })
    });
    assert!(assessed, "no debug log of the assessment: {logs:#?}");
    for l in &logs {
        let message = l["data"]["message"].as_str().unwrap_or("");
        if l["data"]["level"] != "DEBUG" {
            assert!(!message.contains(secret_words), "{l}");
        }
    }
    assert!(
        logs.iter().any(|l| l["data"]["level"] == "INFO"
            && l["data"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("guardrail intervened"))),
        "{logs:#?}"
    );
}

#[test]
fn bad_guardrail_settings_are_refused_before_any_call() {
    let d = double();
    let mut p = plugin(&[]);
    let cases = [
        (
            guarded(
                &d,
                json!({"guardrail_identifier": TEST_GUARDRAIL_ID, "guardrail_version": "v2"}),
            ),
            json!({}),
            "Guardrail version (guardrail_version) must be DRAFT or a published version number",
        ),
        (
            guarded(&d, json!({"guardrail_identifier": "My Guardrail"})),
            json!({}),
            "Guardrail ID or ARN (guardrail_identifier) \"My Guardrail\" is not a guardrail ID",
        ),
        (
            guarded(&d, json!({"guardrail_version": "3"})),
            json!({}),
            "no guardrail is named",
        ),
        (
            key_credentials(&d),
            json!({"guardrail_identifier": APP_GUARDRAIL, "guardrail_version": "0"}),
            "Model parameter guardrail_version must be DRAFT or a published version number",
        ),
        (
            key_credentials(&d),
            json!({"guardrail_trace": "verbose"}),
            "guardrail_trace should be one of disabled, enabled, enabled_full",
        ),
    ];
    for (creds, parameters, needle) in cases {
        for stream in [true, false] {
            let s = chat(&mut p, NOVA, &creds, stream, parameters.clone(), "hello");
            let e = s.expect_error();
            assert_eq!(e["error_type"], "InvokeBadRequestError", "{e}");
            assert!(
                e["message"].as_str().unwrap_or("").contains(needle),
                "{e} should say {needle:?}"
            );
        }
    }
    assert!(
        d.requests().is_empty(),
        "nothing may reach Bedrock: {:#?}",
        d.requests()
    );

    // A guardrail Bedrock does not have fails the call with AWS's words, naming it.
    let creds = guarded(
        &d,
        json!({"guardrail_identifier": "nope0", "guardrail_version": "4"}),
    );
    let s = chat(&mut p, NOVA, &creds, true, json!({}), "hello");
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeBadRequestError", "{e}");
    let message = e["message"].as_str().unwrap_or("");
    assert!(
        message.contains(
            "The guardrail identifier or version provided in the request does not exist."
        ) && message.contains("guardrail nope0 (version 4) in us-east-1"),
        "{message}"
    );
}

/// `validate_provider_credentials`: `Ok` with the answer, or the failure's message.
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

#[test]
fn validation_checks_the_guardrail_and_sends_it_with_the_probe() {
    let d = Double::start(DoubleConfig::default().guardrail(GuardrailSpec {
        status: "CREATING".into(),
        ..GuardrailSpec::new("notready1", "not-ready", TEST_REGION)
    }))
    .expect("double");
    let mut p = plugin(&[]);
    let creds = guarded(
        &d,
        json!({"guardrail_identifier": TEST_GUARDRAIL_ID, "guardrail_version": "1", "model_for_validation": NOVA}),
    );
    validate(&mut p, creds).expect("a known guardrail validates");
    let ops: Vec<Operation> = d.requests().iter().map(|r| r.operation).collect();
    assert_eq!(ops, [Operation::GetGuardrail, Operation::Converse]);
    let get = &d.requests()[0];
    assert_eq!(get.model_id.as_deref(), Some(TEST_GUARDRAIL_ID));
    assert_eq!(get.query.as_deref(), Some("guardrailVersion=1"));
    assert_eq!(
        d.requests()[1].body["guardrailConfig"],
        json!({"guardrailIdentifier": TEST_GUARDRAIL_ID, "guardrailVersion": "1", "trace": "disabled"})
    );

    let cases = [
        (
            json!({"guardrail_identifier": "nope0"}),
            vec![
                "The guardrail nope0 (version DRAFT) was not found in us-east-1",
                "created in us-east-1",
            ],
        ),
        (
            json!({"guardrail_identifier": TEST_GUARDRAIL_ID, "guardrail_version": "7"}),
            vec!["The guardrail dbl0guardrail (version 7) was not found in us-east-1"],
        ),
        (
            json!({"guardrail_identifier": "notready1"}),
            vec!["is CREATING in us-east-1, not READY"],
        ),
        (
            json!({"guardrail_identifier": TEST_GUARDRAIL_ID, "guardrail_version": "latest"}),
            vec!["Guardrail version (guardrail_version) must be DRAFT"],
        ),
    ];
    for (fields, needles) in cases {
        d.clear_requests();
        let message = validate(&mut p, guarded(&d, fields.clone())).expect_err(&fields.to_string());
        for needle in needles {
            assert!(
                message.contains(needle),
                "{message:?} should say {needle:?}"
            );
        }
        assert!(
            converse_bodies(&d).is_empty(),
            "{fields}: no probe after a failed guardrail check"
        );
    }

    // Permitted to apply it but not to read it: the test call decides, and it works.
    let unreadable = Double::start(
        DoubleConfig::default().deny_operation(TEST_ACCESS_KEY, Operation::GetGuardrail),
    )
    .expect("double");
    validate(
        &mut p,
        guarded(
            &unreadable,
            json!({"guardrail_identifier": TEST_GUARDRAIL_ID, "model_for_validation": NOVA}),
        ),
    )
    .expect("applying the guardrail is what chat calls need");
    let ops: Vec<Operation> = unreadable.requests().iter().map(|r| r.operation).collect();
    assert_eq!(ops, [Operation::GetGuardrail, Operation::Converse]);
    assert_eq!(
        unreadable.requests()[1].body["guardrailConfig"]["guardrailIdentifier"],
        TEST_GUARDRAIL_ID
    );

    // Not permitted to apply it: said plainly, with the permission to grant.
    let denied =
        Double::start(DoubleConfig::default().deny_guardrail(TEST_ACCESS_KEY, TEST_GUARDRAIL_ID))
            .expect("double");
    let message = validate(
        &mut p,
        guarded(
            &denied,
            json!({"guardrail_identifier": TEST_GUARDRAIL_ID, "model_for_validation": NOVA}),
        ),
    )
    .expect_err("denied");
    for needle in [
        TEST_USER_ARN,
        "may not call bedrock:ApplyGuardrail",
        "guardrail/dbl0guardrail",
    ] {
        assert!(
            message.contains(needle),
            "{message:?} should say {needle:?}"
        );
    }
}

#[test]
fn bedrock_mantle_models_take_no_guardrail() {
    let d = double();
    let mut p = plugin(&[]);
    let creds = key_credentials(&d);
    for stream in [true, false] {
        let s = chat(
            &mut p,
            GPT55,
            &creds,
            stream,
            json!({"guardrail_identifier": APP_GUARDRAIL}),
            "hello",
        );
        let e = s.expect_error();
        assert_eq!(e["error_type"], "InvokeBadRequestError", "{e}");
        let message = e["message"].as_str().unwrap_or("");
        assert!(
            message.contains("openai.gpt-5.5 runs on bedrock-mantle, which does not take Amazon Bedrock Guardrails")
                && message.contains("remove guardrail_identifier"),
            "{message}"
        );
    }
    assert!(d.requests().is_empty(), "{:#?}", d.requests());
    // A version alone asks for a guardrail too; a trace alone names none and is ignored.
    let s = chat(
        &mut p,
        GPT55,
        &creds,
        false,
        json!({"guardrail_version": "1", "guardrail_trace": "enabled"}),
        "hello",
    );
    let message = s.expect_error()["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        message.contains("remove guardrail_version, guardrail_trace"),
        "{message}"
    );
    let s = chat(
        &mut p,
        GPT55,
        &creds,
        false,
        json!({"guardrail_trace": "enabled"}),
        "hello",
    );
    assert!(s.error().is_none(), "{s:#?}");
    d.clear_requests();

    // The provider's guardrail applies to every other model; these answer without it.
    let creds = guarded(&d, json!({"guardrail_identifier": TEST_GUARDRAIL_ID}));
    let s = chat(&mut p, GPT55, &creds, true, json!({}), "hello");
    assert!(s.error().is_none(), "{s:#?}");
    let sent = d.requests_for(Operation::CreateResponse);
    assert_eq!(sent.len(), 1);
    assert!(
        !sent[0].body.to_string().contains("guardrail"),
        "{:#}",
        sent[0].body
    );
}
