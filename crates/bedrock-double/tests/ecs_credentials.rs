//! The ECS container credentials endpoint through aws-config's
//! EcsCredentialsProvider. That provider only reads its endpoint from the
//! process environment (`AWS_CONTAINER_CREDENTIALS_FULL_URI`), so this test
//! lives alone in its own test binary: no other thread can observe the
//! variables it sets.

mod common;

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::ProvideCredentials;
use bedrock_double::*;
use common::*;

#[tokio::test]
async fn ecs_container_credentials() {
    let token = "double-ecs-auth-token";
    let d = Double::start(DoubleConfig::default().ecs_auth_token(token)).expect("start");
    // SAFETY: the only test in this binary, so no other thread reads or
    // writes the environment concurrently.
    unsafe {
        std::env::set_var(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}{TEST_ECS_PATH}", d.url()),
        );
        std::env::set_var("AWS_CONTAINER_AUTHORIZATION_TOKEN", token);
        std::env::remove_var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
        std::env::remove_var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    }
    let pc = ProviderConfig::empty()
        .with_http_client(http())
        .with_sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new());
    let provider = EcsCredentialsProvider::builder().configure(&pc).build();
    let c = provider
        .provide_credentials()
        .await
        .expect("ecs credentials");
    assert_eq!(c.access_key_id(), TEST_ECS_ACCESS_KEY);
    assert_eq!(c.session_token(), Some(TEST_ECS_SESSION_TOKEN));
    let rec = d.last_request().expect("record");
    assert_eq!(rec.operation, Operation::EcsCredentials);
    assert_eq!(rec.status, 200);

    // The container credentials sign Bedrock calls.
    let rt = br::Client::from_conf(
        runtime_builder(&d, TEST_REGION)
            .credentials_provider(provider)
            .build(),
    );
    rt.converse()
        .model_id("amazon.nova-micro-v1:0")
        .messages(user("hi"))
        .send()
        .await
        .expect("converse");
    assert_eq!(
        d.last_request().map(|r| r.identity),
        Some(TEST_ECS_ACCESS_KEY.to_string())
    );

    // Without the authorization token the endpoint refuses.
    let (status, _, _) = raw(&d, "GET", TEST_ECS_PATH, &[], b"").await;
    assert_eq!(status, 401);
    let (status, _, body) = raw(&d, "GET", TEST_ECS_PATH, &[("authorization", token)], b"").await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["RoleArn"], TEST_ECS_ROLE_ARN);
    assert!(v["Expiration"].as_str().is_some_and(|e| e.ends_with('Z')));
}
