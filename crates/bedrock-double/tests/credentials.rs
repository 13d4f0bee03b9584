//! The credential-chain stand-ins through aws-config's own providers and the
//! STS client: AssumeRole (whose temporary keys then sign Bedrock calls),
//! AssumeRoleWithWebIdentity, GetCallerIdentity, and IMDSv2 with and without
//! an instance role. Providers are built explicitly with the double as their
//! endpoint; no process environment is touched.

mod common;

use aws_config::imds;
use aws_config::provider_config::ProviderConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use bedrock_double::*;
use common::*;

fn sdk_config(d: &Double) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(TEST_REGION))
        .http_client(http())
        .endpoint_url(d.url())
        .credentials_provider(SharedCredentialsProvider::new(creds(
            TEST_ACCESS_KEY,
            TEST_SECRET_KEY,
            None,
        )))
        .time_source(aws_smithy_async::time::SystemTimeSource::new())
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .build()
}

#[tokio::test]
async fn assume_role_then_call_bedrock_with_the_issued_keys() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let provider = AssumeRoleProvider::builder(TEST_ROLE_ARN)
        .session_name("double-test")
        .configure(&sdk_config(&d))
        .build()
        .await;
    let issued = provider.provide_credentials().await.expect("assume role");
    assert!(issued.access_key_id().starts_with("ASIA"));
    assert!(issued.session_token().is_some());
    assert!(issued.expiry().is_some());

    let sts = d.requests_for(Operation::AssumeRole);
    assert_eq!(sts.len(), 1);
    assert_eq!(sts[0].identity, TEST_ACCESS_KEY);
    assert_eq!(sts[0].service.as_deref(), Some("sts"));
    assert_eq!(sts[0].body["RoleArn"], TEST_ROLE_ARN);
    assert_eq!(sts[0].body["RoleSessionName"], "double-test");

    // The chain end to end: the assumed-role provider signs a Converse call.
    let c = br::Client::from_conf(
        runtime_builder(&d, TEST_REGION)
            .credentials_provider(provider)
            .build(),
    );
    c.converse()
        .model_id("amazon.nova-micro-v1:0")
        .messages(user("hi"))
        .send()
        .await
        .expect("converse with STS keys");
    // The client resolves its own credentials (AssumeRoleProvider does not
    // cache), so the call is signed with keys STS issued for it.
    let rec = d.last_request().expect("record");
    let issued_keys: Vec<String> = d
        .issued_credentials()
        .into_iter()
        .map(|k| k.access_key_id)
        .collect();
    assert_eq!(
        issued_keys.len(),
        d.requests_for(Operation::AssumeRole).len()
    );
    assert!(
        issued_keys.contains(&rec.identity),
        "{} not issued by STS",
        rec.identity
    );
    assert_eq!(rec.status, 200);

    // Denials can name the role the credentials came from.
    let cfg = DoubleConfig::default().deny_model(TEST_ROLE_ARN, "amazon.nova-micro-v1:0");
    let d2 = Double::start(cfg).expect("start");
    let p2 = AssumeRoleProvider::builder(TEST_ROLE_ARN)
        .session_name("s2")
        .configure(&sdk_config(&d2))
        .build()
        .await;
    let c2 = br::Client::from_conf(
        runtime_builder(&d2, TEST_REGION)
            .credentials_provider(p2)
            .build(),
    );
    let e = c2
        .converse()
        .model_id("amazon.nova-micro-v1:0")
        .messages(user("hi"))
        .send()
        .await
        .expect_err("denied");
    assert!(
        br::error::ProvideErrorMetadata::message(&e).is_some_and(|m| m.starts_with(
            "User: arn:aws:sts::123456789012:assumed-role/double-role/s2 is not authorized"
        ))
    );
}

#[tokio::test]
async fn assume_role_failures() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let sts = aws_sdk_sts::Client::new(&sdk_config(&d));
    let e = sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/not-allowed")
        .role_session_name("s")
        .send()
        .await
        .expect_err("session name too short");
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&e),
        Some("ValidationError")
    );
    let e = sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/not-allowed")
        .role_session_name("session")
        .send()
        .await
        .expect_err("role not assumable");
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&e),
        Some("AccessDenied")
    );
    let bad = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&sdk_config(&d))
            .credentials_provider(creds("AKIANOTKNOWN00000000", "x", None))
            .build(),
    );
    let e = bad
        .get_caller_identity()
        .send()
        .await
        .expect_err("unknown key");
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&e),
        Some("InvalidClientTokenId")
    );
    let me = sts
        .get_caller_identity()
        .send()
        .await
        .expect("caller identity");
    assert_eq!(me.arn(), Some(TEST_USER_ARN));
    assert_eq!(me.account(), Some(TEST_ACCOUNT_ID));
}

#[tokio::test]
async fn assume_role_with_web_identity() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(TEST_REGION))
        .http_client(http())
        .endpoint_url(d.url())
        .build();
    let sts = aws_sdk_sts::Client::from_conf(conf);
    let out = sts
        .assume_role_with_web_identity()
        .role_arn(TEST_ROLE_ARN)
        .role_session_name("irsa-session")
        .web_identity_token(TEST_WEB_IDENTITY_TOKEN)
        .send()
        .await
        .expect("web identity");
    let c = out.credentials().expect("credentials");
    assert!(c.access_key_id().starts_with("ASIA"));
    assert_eq!(
        out.assumed_role_user().map(|u| u.arn()),
        Some("arn:aws:sts::123456789012:assumed-role/double-role/irsa-session")
    );
    let rec = d.last_request().expect("record");
    assert_eq!(rec.operation, Operation::AssumeRoleWithWebIdentity);
    assert_eq!(rec.identity, "anonymous");
    let e = sts
        .assume_role_with_web_identity()
        .role_arn(TEST_ROLE_ARN)
        .role_session_name("irsa-session")
        .web_identity_token("not-a-valid-token")
        .send()
        .await
        .expect_err("bad token");
    assert!(e.into_service_error().is_invalid_identity_token_exception());
    // The issued keys sign Bedrock requests.
    let rt = runtime_with(
        &d,
        TEST_REGION,
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token()),
    );
    rt.converse()
        .model_id("amazon.nova-micro-v1:0")
        .messages(user("hi"))
        .send()
        .await
        .expect("converse");
}

fn provider_config() -> ProviderConfig {
    ProviderConfig::empty()
        .with_http_client(http())
        .with_sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
}

#[tokio::test]
async fn imds_v2_with_an_instance_role() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let pc = provider_config();
    let client = imds::Client::builder()
        .configure(&pc)
        .endpoint(d.url())
        .expect("endpoint")
        .build();
    let provider = imds::credentials::ImdsCredentialsProvider::builder()
        .configure(&pc)
        .imds_client(client)
        .build();
    let c = provider
        .provide_credentials()
        .await
        .expect("imds credentials");
    assert_eq!(c.access_key_id(), TEST_IMDS_ACCESS_KEY);
    assert_eq!(c.session_token(), Some(TEST_IMDS_SESSION_TOKEN));
    let ops: Vec<Operation> = d.requests().iter().map(|r| r.operation).collect();
    assert_eq!(
        ops,
        vec![
            Operation::ImdsToken,
            Operation::ImdsCredentials,
            Operation::ImdsCredentials
        ]
    );
    assert_eq!(
        d.requests()[2].path,
        format!("/latest/meta-data/iam/security-credentials/{TEST_IMDS_ROLE}")
    );
    // The instance credentials are accepted by Bedrock.
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
        Some(TEST_IMDS_ACCESS_KEY.to_string())
    );

    // IMDSv2 only: no token, no metadata.
    let (status, _, _) = raw(
        &d,
        "GET",
        "/latest/meta-data/iam/security-credentials/",
        &[],
        b"",
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = raw(&d, "PUT", "/latest/api/token", &[], b"").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn imds_without_a_role() {
    let d = Double::start(DoubleConfig::default().no_imds_role()).expect("start");
    let pc = provider_config();
    let client = imds::Client::builder()
        .configure(&pc)
        .endpoint(d.url())
        .expect("endpoint")
        .build();
    let provider = imds::credentials::ImdsCredentialsProvider::builder()
        .configure(&pc)
        .imds_client(client)
        .build();
    let e = provider.provide_credentials().await.expect_err("no role");
    assert!(
        matches!(
            e,
            aws_credential_types::provider::error::CredentialsError::CredentialsNotLoaded(_)
        ),
        "{e:?}"
    );
    assert_eq!(d.last_request().map(|r| r.status), Some(404));
}

/// Short-lived credentials: IMDS rotating its instance-role keys and STS issuing keys for
/// a few seconds. Each key pair signs Bedrock calls until its expiry and is refused with
/// ExpiredTokenException after it, so a client's refresh can be tested in seconds.
#[tokio::test]
async fn short_lived_credentials_expire_and_are_refused() {
    let lifetime = std::time::Duration::from_secs(2);
    let d = Double::start(
        DoubleConfig::default()
            .imds_credential_lifetime(lifetime)
            .sts_default_duration(lifetime),
    )
    .expect("start");
    let pc = provider_config();
    let client = imds::Client::builder()
        .configure(&pc)
        .endpoint(d.url())
        .expect("endpoint")
        .build();
    let imds = imds::credentials::ImdsCredentialsProvider::builder()
        .configure(&pc)
        .imds_client(client)
        .build();
    let first = imds.provide_credentials().await.expect("imds credentials");
    let second = imds.provide_credentials().await.expect("imds credentials");
    assert_ne!(
        first.access_key_id(),
        second.access_key_id(),
        "every fetch rotates the keys"
    );
    let expiry = first.expiry().expect("an expiry");
    let ahead = expiry
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    assert!(ahead <= lifetime, "expires {ahead:?} from now");

    let sts = AssumeRoleProvider::builder(TEST_ROLE_ARN)
        .session_name("short")
        .configure(&sdk_config(&d))
        .build()
        .await
        .provide_credentials()
        .await
        .expect("assume role");
    let call = |c: &aws_credential_types::Credentials| {
        runtime_with(
            &d,
            TEST_REGION,
            c.access_key_id(),
            c.secret_access_key(),
            c.session_token(),
        )
    };
    for c in [&first, &sts] {
        call(c)
            .converse()
            .model_id("amazon.nova-micro-v1:0")
            .messages(user("hi"))
            .send()
            .await
            .expect("valid until it expires");
    }
    tokio::time::sleep(lifetime + std::time::Duration::from_millis(200)).await;
    for c in [&first, &sts] {
        let e = call(c)
            .converse()
            .model_id("amazon.nova-micro-v1:0")
            .messages(user("hi"))
            .send()
            .await
            .expect_err("expired");
        assert_eq!(
            br::error::ProvideErrorMetadata::code(&e),
            Some("ExpiredTokenException"),
            "{e:?}"
        );
    }
    let issued: Vec<String> = d
        .issued_credentials()
        .into_iter()
        .map(|k| k.access_key_id)
        .collect();
    for c in [&first, &second, &sts] {
        assert!(
            issued.contains(&c.access_key_id().to_string()),
            "{issued:?}"
        );
    }
}
