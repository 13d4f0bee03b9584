//! Dify's structured output and response formats through the built binary and the Bedrock
//! double: a `json_schema` becomes Converse `outputConfig.textFormat` on the models that
//! declare native structured output (streaming and blocking), a schema that is not JSON is
//! refused before any call, and `response_format` covers the families the official plugin
//! gives it.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Plugin;
use support::aws::{converse_bodies, double, key_credentials, llm_request, user};

const SONNET: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const NOVA: &str = "amazon.nova-lite-v1:0";

fn plugin() -> Plugin {
    let p = Plugin::start_with(&[("DIFY_BEDROCK_MAX_ATTEMPTS", "1")]);
    p.wait_first_heartbeat(Duration::from_secs(10));
    p
}

/// What Dify's structured-output helper puts in `json_schema`.
fn dify_schema() -> String {
    json!({
        "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "name": "llm_response"
    })
    .to_string()
}

#[test]
fn a_json_schema_becomes_converse_structured_output_streamed_and_blocking() {
    let d = double();
    let mut p = plugin();
    for stream in [true, false] {
        d.clear_requests();
        let s = p.call(
            "invoke_llm",
            llm_request(
                SONNET,
                &key_credentials(&d),
                user(r#"Where? [[double: {"text": "{\"city\": \"Paris\"}"}]]"#),
                stream,
                json!({"json_schema": dify_schema(), "response_format": "JSON"}),
            ),
        );
        assert!(s.error().is_none(), "{s:#?}");
        assert_eq!(s.text(), r#"{"city": "Paris"}"#);
        let bodies = converse_bodies(&d);
        let body = &bodies[0].body;
        let format = &body["outputConfig"]["textFormat"];
        assert_eq!(format["type"], "json_schema", "{body:#}");
        let definition = &format["structure"]["jsonSchema"];
        assert_eq!(definition["name"], "llm_response");
        let schema: Value = serde_json::from_str(definition["schema"].as_str().expect("text"))
            .expect("the schema is sent as JSON text");
        assert_eq!(schema["required"], json!(["city"]));
        // Bedrock enforces the schema: no prompt instruction on top.
        let system = body["system"].to_string();
        assert!(!system.contains("Answer with one valid"), "{system}");
    }
}

#[test]
fn a_schema_that_is_not_json_is_refused_before_any_call() {
    let d = double();
    let mut p = plugin();
    let s = p.call(
        "invoke_llm",
        llm_request(
            SONNET,
            &key_credentials(&d),
            user("hi"),
            true,
            json!({"json_schema": "{\"type\": \"object\""}),
        ),
    );
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeBadRequestError");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("structured output schema (json_schema) is not valid JSON"),
        "{e}"
    );
    assert!(converse_bodies(&d).is_empty());
}

#[test]
fn models_without_native_structured_output_ignore_the_schema_as_the_sdk_does() {
    let d = double();
    let mut p = plugin();
    let schema = p.call(
        "get_ai_model_schemas",
        json!({"provider": "bedrock", "model": NOVA, "model_type": "llm", "credentials": {}}),
    );
    let decl = &schema.result()["model_schema"];
    assert!(
        !decl["features"]
            .as_array()
            .expect("features")
            .contains(&json!("structured-output"))
    );
    let s = p.call(
        "invoke_llm",
        llm_request(
            NOVA,
            &key_credentials(&d),
            user("hi"),
            true,
            json!({"json_schema": dify_schema()}),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert!(converse_bodies(&d)[0].body.get("outputConfig").is_none());
    // The models that have it say so, with the parameter Dify fills.
    let schema = p.call(
        "get_ai_model_schemas",
        json!({"provider": "bedrock", "model": SONNET, "model_type": "llm", "credentials": {}}),
    );
    let decl = &schema.result()["model_schema"];
    assert!(
        decl["features"]
            .as_array()
            .expect("features")
            .contains(&json!("structured-output"))
    );
    assert!(
        decl["parameter_rules"]
            .as_array()
            .expect("rules")
            .iter()
            .any(|r| r["name"] == "json_schema")
    );
}

#[test]
fn response_format_covers_deepseek_qwen_and_openai() {
    let d = double();
    let mut p = plugin();
    for (model, region) in [
        ("deepseek.v3.2", "us-east-1"),
        ("qwen.qwen3-32b-v1:0", "us-west-2"),
        ("openai.gpt-oss-120b-1:0", "us-west-2"),
    ] {
        d.clear_requests();
        let creds = support::aws::in_region(&key_credentials(&d), region);
        let s = p.call(
            "invoke_llm",
            llm_request(
                model,
                &creds,
                user("hi"),
                true,
                json!({"response_format": "XML"}),
            ),
        );
        assert!(s.error().is_none(), "{model}: {s:#?}");
        let body = &converse_bodies(&d)[0].body;
        let instructions = body.to_string();
        assert!(
            instructions.contains("Answer with one valid XML document"),
            "{model}: {body:#}"
        );
    }
}
