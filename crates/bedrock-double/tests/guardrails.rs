//! Guardrails through the real SDKs: GetGuardrail (known, unknown, versions, regions,
//! denied), `guardrailConfig` on Converse and ConverseStream (shapes, unknown
//! guardrails), a scripted intervention with the guardrail's message and
//! `guardrail_intervened`, and traces the SDK parses.

mod common;

use bedrock::error::ProvideErrorMetadata as _;
use bedrock_double::*;
use br::types::{
    ContentBlock, ContentBlockDelta, ConverseOutput as Output, ConverseStreamOutput,
    GuardrailConfiguration, GuardrailStreamConfiguration, GuardrailStreamProcessingMode,
    GuardrailTrace, StopReason,
};
use common::*;

const NOVA: &str = "amazon.nova-lite-v1:0";

fn config(id: &str, version: &str, trace: GuardrailTrace) -> GuardrailConfiguration {
    GuardrailConfiguration::builder()
        .guardrail_identifier(id)
        .guardrail_version(version)
        .trace(trace)
        .build()
}

#[tokio::test]
async fn get_guardrail_knows_the_account_s_guardrails() {
    let d = Double::start(DoubleConfig::default().guardrail(GuardrailSpec {
        published_versions: 3,
        status: "FAILED".into(),
        ..GuardrailSpec::new("other1", "other", "eu-west-1")
    }))
    .expect("start");
    let c = control(&d, TEST_REGION);
    let out = c
        .get_guardrail()
        .guardrail_identifier(TEST_GUARDRAIL_ID)
        .send()
        .await
        .expect("the draft");
    assert_eq!(out.guardrail_arn(), TEST_GUARDRAIL_ARN);
    assert_eq!(out.version(), "DRAFT");
    assert_eq!(out.status().as_str(), "READY");
    assert_eq!(out.blocked_input_messaging(), TEST_GUARDRAIL_BLOCKED_INPUT);
    let by_arn = c
        .get_guardrail()
        .guardrail_identifier(TEST_GUARDRAIL_ARN)
        .guardrail_version("1")
        .send()
        .await
        .expect("version 1 by ARN");
    assert_eq!(by_arn.version(), "1");
    let rec = d.last_request().expect("record");
    assert_eq!(rec.operation, Operation::GetGuardrail);
    assert_eq!(rec.model_id.as_deref(), Some(TEST_GUARDRAIL_ARN));

    for (id, version) in [
        ("nope0", None),
        (TEST_GUARDRAIL_ID, Some("2")),
        ("other1", None),
    ] {
        let e = c
            .get_guardrail()
            .guardrail_identifier(id)
            .set_guardrail_version(version.map(str::to_string))
            .send()
            .await
            .expect_err("not found");
        assert_eq!(e.code(), Some("ResourceNotFoundException"), "{id}");
    }
    let e = c
        .get_guardrail()
        .guardrail_identifier("Not-An-Id")
        .send()
        .await
        .expect_err("invalid");
    assert_eq!(e.code(), Some("ValidationException"));
    let eu = control(&d, "eu-west-1")
        .get_guardrail()
        .guardrail_identifier("other1")
        .guardrail_version("3")
        .send()
        .await
        .expect("in its own region");
    assert_eq!(eu.status().as_str(), "FAILED");

    let denied = Double::start(
        DoubleConfig::default().deny_operation(TEST_ACCESS_KEY, Operation::GetGuardrail),
    )
    .expect("start");
    let e = control(&denied, TEST_REGION)
        .get_guardrail()
        .guardrail_identifier(TEST_GUARDRAIL_ID)
        .send()
        .await
        .expect_err("denied");
    assert_eq!(e.code(), Some("AccessDeniedException"));
    assert!(
        e.message().unwrap_or("").contains("bedrock:GetGuardrail"),
        "{e:?}"
    );
}

#[tokio::test]
async fn converse_applies_a_known_guardrail_and_reports_its_intervention() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    // Let through, with a trace the SDK parses.
    let out = c
        .converse()
        .model_id(NOVA)
        .messages(user("hello"))
        .guardrail_config(config(TEST_GUARDRAIL_ID, "DRAFT", GuardrailTrace::Enabled))
        .send()
        .await
        .expect("converse");
    assert_eq!(out.stop_reason(), &StopReason::EndTurn);
    let trace = out.trace().and_then(|t| t.guardrail()).expect("trace");
    assert_eq!(trace.action_reason(), Some("No action."));
    assert!(
        trace
            .input_assessment()
            .is_some_and(|a| a.contains_key(TEST_GUARDRAIL_ID))
    );
    assert_eq!(
        d.last_request().expect("record").body["guardrailConfig"],
        serde_json::json!({"guardrailIdentifier": TEST_GUARDRAIL_ID, "guardrailVersion": "DRAFT", "trace": "enabled"})
    );

    // Blocked: the guardrail's message is the answer.
    let out = c
        .converse()
        .model_id(NOVA)
        .messages(user(
            r#"bad [[double: {"guardrail": {"action": "intervened"}}]]"#,
        ))
        .guardrail_config(config(TEST_GUARDRAIL_ARN, "1", GuardrailTrace::Disabled))
        .send()
        .await
        .expect("converse");
    assert_eq!(out.stop_reason(), &StopReason::GuardrailIntervened);
    let Some(Output::Message(m)) = out.output() else {
        panic!("no message: {out:?}")
    };
    assert_eq!(
        m.content(),
        [ContentBlock::Text(TEST_GUARDRAIL_BLOCKED_INPUT.into())]
    );
    assert!(out.trace().is_none(), "no trace unless asked for");

    // No guardrail in the request: nothing intervenes.
    let out = c
        .converse()
        .model_id(NOVA)
        .messages(user(
            r#"bad [[double: {"guardrail": {"action": "intervened"}}]]"#,
        ))
        .send()
        .await
        .expect("converse");
    assert_eq!(out.stop_reason(), &StopReason::EndTurn);

    // Unknown guardrails and versions are refused as Bedrock refuses them.
    for (id, version) in [("nope0", "DRAFT"), (TEST_GUARDRAIL_ID, "9")] {
        let e = c
            .converse()
            .model_id(NOVA)
            .messages(user("hello"))
            .guardrail_config(config(id, version, GuardrailTrace::Disabled))
            .send()
            .await
            .expect_err("unknown");
        let e = e.into_service_error();
        assert_eq!(
            br::error::ProvideErrorMetadata::message(&e),
            Some("The guardrail identifier or version provided in the request does not exist.")
        );
    }
}

#[tokio::test]
async fn converse_stream_takes_the_stream_configuration() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    let mut stream = c
        .converse_stream()
        .model_id(NOVA)
        .messages(user(
            r#"x [[double: {"text": "the model's words", "guardrail": {"action": "intervened", "source": "output", "message": "Blocked by policy."}}]]"#,
        ))
        .guardrail_config(
            GuardrailStreamConfiguration::builder()
                .guardrail_identifier(TEST_GUARDRAIL_ID)
                .guardrail_version("1")
                .trace(GuardrailTrace::EnabledFull)
                .stream_processing_mode(GuardrailStreamProcessingMode::Async)
                .build(),
        )
        .send()
        .await
        .expect("stream opens")
        .stream;
    let (mut text, mut stop, mut trace) = (String::new(), None, None);
    while let Some(event) = stream.recv().await.expect("event") {
        match event {
            ConverseStreamOutput::ContentBlockDelta(dl) => {
                if let Some(ContentBlockDelta::Text(t)) = dl.delta() {
                    text.push_str(t);
                }
            }
            ConverseStreamOutput::MessageStop(m) => stop = Some(m.stop_reason().clone()),
            ConverseStreamOutput::Metadata(m) => {
                trace = m.trace().and_then(|t| t.guardrail()).cloned();
            }
            _ => {}
        }
    }
    assert_eq!(text, "Blocked by policy.");
    assert_eq!(stop, Some(StopReason::GuardrailIntervened));
    let trace = trace.expect("a trace in the metadata event");
    assert_eq!(trace.model_output(), ["the model's words"]);
    assert_eq!(trace.action_reason(), Some("Guardrail blocked."));
    let body = &d.last_request().expect("record").body;
    assert_eq!(body["guardrailConfig"]["streamProcessingMode"], "async");
    assert_eq!(body["guardrailConfig"]["trace"], "enabled_full");
}
