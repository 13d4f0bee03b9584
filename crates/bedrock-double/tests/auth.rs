//! Authentication and authorization as the SDK sees them: SigV4 rejections
//! (unknown key, wrong secret, expired or missing session token, clock skew),
//! Bedrock API keys accepted on runtime and control plane but refused on the
//! agent runtime, AccessDenied per model and per operation, and connection
//! reuse proven by connection ids.

mod common;

use bedrock_double::*;
use br::error::ProvideErrorMetadata;
use common::*;
use std::time::{Duration, SystemTime};

const NOVA: &str = "amazon.nova-micro-v1:0";

async fn converse_err(
    c: &br::Client,
) -> br::error::SdkError<
    br::operation::converse::ConverseError,
    aws_smithy_runtime_api::client::orchestrator::HttpResponse,
> {
    c.converse()
        .model_id(NOVA)
        .messages(user("hi"))
        .send()
        .await
        .expect_err("rejected")
}

#[tokio::test]
async fn sigv4_rejections() {
    let d = Double::start(DoubleConfig::default()).expect("start");

    let e = converse_err(&runtime_with(
        &d,
        TEST_REGION,
        "AKIAUNKNOWNKEY000000",
        TEST_SECRET_KEY,
        None,
    ))
    .await;
    assert_eq!(e.code(), Some("UnrecognizedClientException"));
    assert_eq!(
        e.message(),
        Some("The security token included in the request is invalid.")
    );
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));

    let e = converse_err(&runtime_with(
        &d,
        TEST_REGION,
        TEST_ACCESS_KEY,
        "not-the-secret",
        None,
    ))
    .await;
    assert_eq!(e.code(), Some("InvalidSignatureException"));
    assert!(
        e.message()
            .is_some_and(|m| m.starts_with("The request signature we calculated does not match"))
    );
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));

    let expired = runtime_with(
        &d,
        TEST_REGION,
        TEST_EXPIRED_ACCESS_KEY,
        TEST_EXPIRED_SECRET_KEY,
        Some(TEST_EXPIRED_SESSION_TOKEN),
    );
    let e = converse_err(&expired).await;
    assert_eq!(e.code(), Some("ExpiredTokenException"));
    assert_eq!(
        e.message(),
        Some("The security token included in the request is expired")
    );

    // Temporary credentials need their session token.
    let no_token = runtime_with(
        &d,
        TEST_REGION,
        TEST_SESSION_ACCESS_KEY,
        TEST_SESSION_SECRET_KEY,
        None,
    );
    assert_eq!(
        converse_err(&no_token).await.code(),
        Some("UnrecognizedClientException")
    );
    let session = runtime_with(
        &d,
        TEST_REGION,
        TEST_SESSION_ACCESS_KEY,
        TEST_SESSION_SECRET_KEY,
        Some(TEST_SESSION_TOKEN),
    );
    session
        .converse()
        .model_id(NOVA)
        .messages(user("hi"))
        .send()
        .await
        .expect("session credentials work");
    let rec = d.last_request().expect("record");
    assert_eq!(rec.identity, TEST_SESSION_ACCESS_KEY);
    assert_eq!(rec.header("x-amz-security-token"), Some("<redacted>"));

    // Every rejection is recorded with the identity it claimed.
    let codes: Vec<_> = d
        .requests()
        .iter()
        .map(|r| (r.identity.clone(), r.error_code.clone()))
        .collect();
    assert_eq!(
        codes[0],
        (
            "AKIAUNKNOWNKEY000000".into(),
            Some("UnrecognizedClientException".into())
        )
    );
    assert_eq!(codes[1].1.as_deref(), Some("InvalidSignatureException"));
}

#[tokio::test]
async fn signatures_older_than_five_minutes_are_rejected() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let past = SystemTime::now() - Duration::from_secs(15 * 60);
    let c = br::Client::from_conf(
        runtime_builder(&d, TEST_REGION)
            .credentials_provider(creds(TEST_ACCESS_KEY, TEST_SECRET_KEY, None))
            .time_source(aws_smithy_async::time::StaticTimeSource::new(past))
            .build(),
    );
    let e = converse_err(&c).await;
    assert_eq!(e.code(), Some("InvalidSignatureException"));
    assert!(
        e.message()
            .is_some_and(|m| m.starts_with("Signature expired: ")),
        "{:?}",
        e.message()
    );
}

#[tokio::test]
async fn bedrock_api_keys() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    // Accepted on bedrock-runtime.
    let out = runtime_bearer(&d, TEST_API_KEY)
        .converse()
        .model_id(NOVA)
        .messages(user("hi"))
        .send()
        .await
        .expect("bearer converse");
    assert!(out.usage().is_some());
    let rec = d.last_request().expect("record");
    assert_eq!(rec.identity, format!("bearer:{TEST_API_KEY_NAME}"));
    assert_eq!(rec.region.as_deref(), Some(TEST_REGION));
    assert_eq!(rec.header("authorization"), Some("Bearer <redacted>"));
    assert!(
        !serde_json::to_string(&rec)
            .unwrap_or_default()
            .contains(TEST_API_KEY)
    );

    // Accepted on the control plane.
    let models = control_bearer(&d, TEST_API_KEY)
        .list_foundation_models()
        .send()
        .await
        .expect("bearer control plane");
    assert!(!models.model_summaries().is_empty());

    // Unknown keys: AWS's authorizer answers.
    let e = runtime_bearer(&d, "ABSKdW5rbm93bg==")
        .converse()
        .model_id(NOVA)
        .messages(user("hi"))
        .send()
        .await
        .expect_err("unknown");
    assert_eq!(e.code(), Some("AccessDeniedException"));
    assert_eq!(
        e.message(),
        Some("Authentication failed: Please make sure your API Key is valid.")
    );
    let e = runtime_bearer(&d, "sk-not-bedrock")
        .converse()
        .model_id(NOVA)
        .messages(user("hi"))
        .send()
        .await
        .expect_err("format");
    assert_eq!(
        e.message(),
        Some("Invalid API Key format: Must start with pre-defined prefix")
    );
    assert!(
        d.last_request()
            .is_some_and(|r| r.identity.starts_with("bearer:unknown-"))
    );

    // Refused on bedrock-agent-runtime (the SDK cannot even send it: raw HTTP).
    let body = br#"{"queries":[],"sources":[],"rerankingConfiguration":{}}"#;
    let (status, head, body) = raw(
        &d,
        "POST",
        "/rerank",
        &[
            ("authorization", &format!("Bearer {TEST_API_KEY}")),
            ("content-type", "application/json"),
        ],
        body,
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        head.to_lowercase()
            .contains("x-amzn-errortype: incompletesignatureexception")
    );
    let msg: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert!(
        msg["message"]
            .as_str()
            .is_some_and(|m| m.contains("Authorization header requires 'Credential' parameter"))
    );
    assert!(!String::from_utf8_lossy(&body).contains(TEST_API_KEY));
}

#[tokio::test]
async fn missing_authentication() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let (status, head, _) = raw(
        &d,
        "POST",
        "/model/amazon.nova-micro-v1%3A0/converse",
        &[("content-type", "application/json")],
        b"{}",
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        head.to_lowercase()
            .contains("missingauthenticationtokenexception")
    );
}

#[tokio::test]
async fn access_denied_per_model_and_operation() {
    let cfg = DoubleConfig::default()
        .deny_model(TEST_ACCESS_KEY, "amazon.nova-pro-v1:0")
        .deny_operation(TEST_API_KEY_NAME, Operation::ListInferenceProfiles);
    let d = Double::start(cfg).expect("start");
    let c = runtime(&d);
    let e = c
        .converse()
        .model_id("amazon.nova-pro-v1:0")
        .messages(user("hi"))
        .send()
        .await
        .expect_err("denied");
    assert_eq!(e.code(), Some("AccessDeniedException"));
    assert_eq!(
        e.message(),
        Some(
            "User: arn:aws:iam::123456789012:user/double-user is not authorized to perform: bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0 because no identity-based policy allows the bedrock:InvokeModel action"
        )
    );
    assert!(e.into_service_error().is_access_denied_exception());
    // The foundation model stays denied through its inference profile, for streams too.
    let e = c
        .converse_stream()
        .model_id("us.amazon.nova-pro-v1:0")
        .messages(user("hi"))
        .send()
        .await
        .expect_err("denied");
    assert!(e.message().is_some_and(|m| m.contains("bedrock:InvokeModelWithResponseStream on resource: arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0")));
    // Other models and other identities are fine.
    c.converse()
        .model_id(NOVA)
        .messages(user("hi"))
        .send()
        .await
        .expect("allowed");
    runtime_with(
        &d,
        TEST_REGION,
        TEST_SESSION_ACCESS_KEY,
        TEST_SESSION_SECRET_KEY,
        Some(TEST_SESSION_TOKEN),
    )
    .converse()
    .model_id("amazon.nova-pro-v1:0")
    .messages(user("hi"))
    .send()
    .await
    .expect("other identity");

    let e = control_bearer(&d, TEST_API_KEY)
        .list_inference_profiles()
        .send()
        .await
        .expect_err("op denied");
    assert_eq!(e.code(), Some("AccessDeniedException"));
    assert!(
        e.message()
            .is_some_and(|m| m.contains("bedrock:ListInferenceProfiles"))
    );
    control(&d, TEST_REGION)
        .list_inference_profiles()
        .send()
        .await
        .expect("sigv4 identity allowed");
}

#[tokio::test]
async fn connections_are_reused_and_numbered() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    for _ in 0..3 {
        c.converse()
            .model_id(NOVA)
            .messages(user("hi"))
            .send()
            .await
            .expect("ok");
    }
    let ids: Vec<u64> = d.requests().iter().map(|r| r.connection_id).collect();
    assert_eq!(ids, vec![1, 1, 1]);
    assert_eq!(d.connections_accepted(), 1);
    let other = runtime(&d);
    other
        .converse()
        .model_id(NOVA)
        .messages(user("hi"))
        .send()
        .await
        .expect("ok");
    assert_eq!(d.last_request().map(|r| r.connection_id), Some(2));
    assert_eq!(d.connections_accepted(), 2);
    d.clear_requests();
    assert!(d.requests().is_empty());
}
