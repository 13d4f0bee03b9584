//! End-to-end tests of customizable models through the binary against the Bedrock test
//! double: any model id, system profile, or ARN; application profiles resolved to their
//! foundation model once per tenant; schemas built from the form and the underlying model.

mod support;

use std::time::Duration;

use bedrock_double::*;
use serde_json::{Value, json};
use support::Plugin;
use support::aws::{api_key_credentials, double, key_credentials, llm_request, user, with};

const SECS: fn(u64) -> Duration = Duration::from_secs;
const HAIKU: &str = "anthropic.claude-haiku-4-5-20251001-v1:0";
const SONNET: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";

fn plugin() -> Plugin {
    let p = Plugin::start_with(&[("DIFY_BEDROCK_MAX_ATTEMPTS", "1")]);
    p.wait_first_heartbeat(SECS(10));
    p
}

fn custom(base: &Value, id: &str, extra: Value) -> Value {
    with(
        with(base.clone(), json!({"inference_profile_id": id})),
        extra,
    )
}

fn schema(p: &mut Plugin, name: &str, model_type: &str, credentials: &Value) -> Value {
    let s = p.call("get_ai_model_schemas", json!({"provider": "bedrock", "model": name, "model_type": model_type, "credentials": credentials}));
    s.result()["model_schema"].clone()
}

fn converse(d: &Double) -> Vec<RecordedRequest> {
    d.requests()
        .into_iter()
        .filter(|r| matches!(r.operation, Operation::Converse | Operation::ConverseStream))
        .collect()
}

#[test]
fn a_known_profile_id_gets_the_underlying_models_schema_and_is_called_as_given() {
    let d = double();
    let mut p = plugin();
    let creds = custom(
        &key_credentials(&d),
        &format!("eu.{HAIKU}"),
        json!({"aws_region": "eu-west-1"}),
    );
    let s = schema(&mut p, "My Haiku", "llm", &creds);
    assert_eq!(s["model"], "My Haiku");
    assert_eq!(s["fetch_from"], "customizable-model");
    assert_eq!(
        s["model_properties"]["context_size"], 200000,
        "the underlying model's context, the form left at its default"
    );
    assert!(
        s["features"]
            .as_array()
            .is_some_and(|f| f.contains(&json!("vision")) && f.contains(&json!("tool-call")))
    );
    let names: Vec<&str> = s["parameter_rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"reasoning_type") && !names.contains(&"cross-region"),
        "{names:?}"
    );
    assert_eq!(s["pricing"]["input"], "0.001");
    let call = p.call(
        "invoke_llm",
        llm_request(
            "My Haiku",
            &creds,
            user("hi"),
            true,
            json!({"max_tokens": 64}),
        ),
    );
    assert!(call.error().is_none(), "{call:#?}");
    let usage = &call.items().last().expect("chunk")["delta"]["usage"];
    assert_ne!(
        usage["prompt_unit_price"], "0",
        "priced as the underlying model"
    );
    assert_eq!(
        converse(&d)[0].model_id.as_deref(),
        Some(format!("eu.{HAIKU}").as_str())
    );
}

#[test]
fn every_arn_kind_is_called_as_given() {
    let d = double();
    let mut p = plugin();
    let cases = [
        (
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0".to_string(),
            Some("amazon.nova-lite-v1:0"),
        ),
        (
            format!("arn:aws:bedrock:us-east-1:{TEST_ACCOUNT_ID}:inference-profile/us.{HAIKU}"),
            Some(HAIKU),
        ),
        (TEST_APP_PROFILE_ARN.to_string(), Some(SONNET)),
        (TEST_APP_PROFILE_ID.to_string(), Some(SONNET)),
    ];
    for (id, resolved) in cases {
        d.clear_requests();
        let creds = custom(&key_credentials(&d), &id, json!({}));
        let s = p.call(
            "invoke_llm",
            llm_request(
                "custom",
                &creds,
                user("hi"),
                true,
                json!({"max_tokens": 64}),
            ),
        );
        assert!(s.error().is_none(), "{id}: {s:#?}");
        let sent = converse(&d);
        // A bare application-profile id is called by the ARN GetInferenceProfile gave.
        let expected = if id == TEST_APP_PROFILE_ID {
            TEST_APP_PROFILE_ARN
        } else {
            id.as_str()
        };
        assert_eq!(sent[0].model_id.as_deref(), Some(expected));
        assert_eq!(sent[0].resolved_model.as_deref(), resolved, "{id}");
    }
    // Provisioned throughput and imported models cannot be looked up: the form decides,
    // and Bedrock's answer about the ARN is passed on.
    for id in [
        format!("arn:aws:bedrock:us-east-1:{TEST_ACCOUNT_ID}:provisioned-model/abc123"),
        format!("arn:aws:bedrock:us-east-1:{TEST_ACCOUNT_ID}:imported-model/xyz789"),
    ] {
        d.clear_requests();
        let creds = custom(
            &key_credentials(&d),
            &id,
            json!({"context_length": "32000", "max_tokens": "2048"}),
        );
        let s = schema(&mut p, "mine", "llm", &creds);
        assert_eq!(s["model_properties"]["context_size"], 32000);
        let max = s["parameter_rules"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["name"] == "max_tokens"))
            .expect("max_tokens")["max"]
            .clone();
        assert_eq!(max, 2048.0);
        p.call(
            "invoke_llm",
            llm_request("mine", &creds, user("hi"), true, json!({})),
        );
        assert_eq!(converse(&d)[0].model_id.as_deref(), Some(id.as_str()));
        assert!(
            d.requests()
                .iter()
                .all(|r| r.operation != Operation::GetInferenceProfile)
        );
    }
}

#[test]
fn a_burst_on_an_application_profile_makes_one_lookup_per_tenant() {
    let d = double();
    let mut p = plugin();
    let tenants = [
        custom(&key_credentials(&d), TEST_APP_PROFILE_ARN, json!({})),
        custom(&api_key_credentials(&d), TEST_APP_PROFILE_ARN, json!({})),
    ];
    let ids: Vec<String> = (0..40)
        .map(|i| {
            p.request(
                "invoke_llm",
                llm_request(
                    "profiled",
                    &tenants[i % 2],
                    user("hi"),
                    true,
                    json!({"max_tokens": 32}),
                ),
            )
        })
        .collect();
    for id in &ids {
        assert!(p.wait_session(id, SECS(60)).error().is_none());
    }
    let lookups: Vec<RecordedRequest> = d.requests_for(Operation::GetInferenceProfile);
    assert_eq!(
        lookups.len(),
        2,
        "one control-plane call per tenant: {:?}",
        lookups.iter().map(|r| &r.identity).collect::<Vec<_>>()
    );
    let who: std::collections::BTreeSet<String> =
        lookups.iter().map(|r| r.identity.clone()).collect();
    let expected: std::collections::BTreeSet<String> = [
        TEST_ACCESS_KEY.to_string(),
        format!("bearer:{TEST_API_KEY_NAME}"),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        who, expected,
        "each tenant looked the profile up with its own credentials"
    );
    assert_eq!(converse(&d).len(), 40);
}

#[test]
fn a_failed_lookup_falls_back_to_the_form() {
    let d = Double::start(
        DoubleConfig::default().deny_operation(TEST_ACCESS_KEY, Operation::GetInferenceProfile),
    )
    .expect("double");
    let mut p = plugin();
    let creds = custom(
        &key_credentials(&d),
        TEST_APP_PROFILE_ARN,
        json!({"context_length": "64000"}),
    );
    let s = schema(&mut p, "profiled", "llm", &creds);
    assert_eq!(s["model_properties"]["context_size"], 64000);
    let call = p.call(
        "invoke_llm",
        llm_request("profiled", &creds, user("hi"), true, json!({})),
    );
    assert!(
        call.error().is_none(),
        "the call itself still works: {call:#?}"
    );
}

#[test]
fn the_forms_feature_switches_decide_for_unknown_models() {
    let d = double();
    let mut p = plugin();
    let tools = json!({"tools": [{"name": "t", "description": "d", "parameters": {"type": "object", "properties": {}}}]});
    let id = "amazon.nova-micro-v1:0";
    // Recognised: tools come from the underlying model unless switched off.
    let on = custom(&key_credentials(&d), id, json!({}));
    let s = p.call(
        "invoke_llm",
        with(
            llm_request("m", &on, user("hi"), true, json!({})),
            tools.clone(),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    let off = custom(
        &key_credentials(&d),
        id,
        json!({"tool_call_support": "no_support"}),
    );
    let s = p.call(
        "invoke_llm",
        with(
            llm_request("m", &off, user("hi"), true, json!({})),
            tools.clone(),
        ),
    );
    assert!(
        s.expect_error()["message"]
            .as_str()
            .unwrap_or("")
            .contains("does not support tool calling")
    );
    let sch = schema(&mut p, "m", "llm", &off);
    assert!(
        !sch["features"]
            .as_array()
            .is_some_and(|f| f.contains(&json!("tool-call")))
    );
    let vision = custom(
        &key_credentials(&d),
        id,
        json!({"vision_support": "no_support"}),
    );
    let img = json!([{"role": "user", "content": [{"type": "image", "mime_type": "image/png", "base64_data": "iVBORw0KGgo="}]}]);
    let s = p.call(
        "invoke_llm",
        llm_request("m", &vision, img, true, json!({})),
    );
    assert!(
        s.expect_error()["message"]
            .as_str()
            .unwrap_or("")
            .contains("does not accept images")
    );
}
