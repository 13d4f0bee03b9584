//! Tenant isolation (issue 17 item 5): credential sets used at the same time by one plugin
//! process never share a client, a connection, a credential or a cache entry (inference
//! profiles, the routes resolved from them, assumed-role credentials). Proved with what
//! the Bedrock test double records of each request: who signed it, on which TCP
//! connection, and what it asked for. Each request's prompt names its tenant, so the
//! record can be traced back to the session that made it.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bedrock_double::*;
use serde_json::{Value, json};
use support::Plugin;
use support::aws::{llm_request, user, with};

const SECS: fn(u64) -> Duration = Duration::from_secs;
const NOVA: &str = "amazon.nova-lite-v1:0";
const GPT: &str = "openai.gpt-5.4";

const A: (&str, &str) = (
    "AKIAISOLATIONTENANTA",
    "isolationSecretOfTenantA/aaaaaaaaaaaaaaa",
);
const B: (&str, &str) = (
    "AKIAISOLATIONTENANTB",
    "isolationSecretOfTenantB/bbbbbbbbbbbbbbb",
);
const C_NAME: &str = "isolation-api-key-c";
const C_KEY: &str = "ABSKSXNvbGF0aW9uVGVuYW50Qy1hdC0xMjM0NTY3ODkwMTI6aXNvbGF0aW9uS2V5Qw==";

fn plugin() -> Plugin {
    let p = Plugin::start_with(&[("DIFY_BEDROCK_MAX_ATTEMPTS", "1")]);
    p.wait_first_heartbeat(SECS(10));
    p
}

fn config() -> DoubleConfig {
    DoubleConfig::default()
        .key_pair(A.0, A.1)
        .key_pair(B.0, B.1)
        .api_key(C_NAME, C_KEY)
}

fn keys(d: &Double, (id, secret): (&str, &str)) -> Value {
    json!({
        "auth_method": "Access_Secret_Key",
        "aws_access_key_id": id,
        "aws_secret_access_key": secret,
        "aws_region": "us-east-1",
        "bedrock_endpoint_url": d.url(),
        "bedrock_control_endpoint_url": d.url(),
        "bedrock_mantle_endpoint_url": d.url(),
    })
}

fn api_key(d: &Double) -> Value {
    json!({
        "auth_method": "API_Key",
        "bedrock_api_key": C_KEY,
        "aws_region": "us-east-1",
        "bedrock_endpoint_url": d.url(),
        "bedrock_control_endpoint_url": d.url(),
        "bedrock_mantle_endpoint_url": d.url(),
    })
}

/// The tenant a recorded request's prompt names (`tenant=<name>;`).
fn tenant_of(r: &RecordedRequest) -> Option<String> {
    let text = r.body.to_string();
    let start = text.find("tenant=")? + "tenant=".len();
    Some(text[start..].split(';').next()?.to_string())
}

/// The connections each identity's requests came on.
fn connections_by_identity(records: &[RecordedRequest]) -> BTreeMap<String, BTreeSet<u64>> {
    let mut out: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for r in records {
        out.entry(r.identity.clone())
            .or_default()
            .insert(r.connection_id);
    }
    out
}

/// No connection carried requests of two identities.
fn assert_disjoint(by_identity: &BTreeMap<String, BTreeSet<u64>>) {
    let mut owner: BTreeMap<u64, &str> = BTreeMap::new();
    for (identity, conns) in by_identity {
        for c in conns {
            if let Some(other) = owner.insert(*c, identity) {
                panic!("connection {c} carried both {other} and {identity}: {by_identity:?}");
            }
        }
    }
}

#[test]
fn interleaved_tenants_on_one_model_sign_with_their_own_keys_on_their_own_connections() {
    let d = Double::start(config()).expect("double");
    let mut p = plugin();
    let tenants = [
        ("a", keys(&d, A), A.0.to_string()),
        ("b", keys(&d, B), B.0.to_string()),
        ("c", api_key(&d), format!("bearer:{C_NAME}")),
    ];
    // Slow streams, sent round-robin: all three tenants have calls in flight together.
    let mut sessions = Vec::new();
    for i in 0..60 {
        let (name, creds, _) = &tenants[i % 3];
        let text = format!(
            "tenant={name}; call {i} [[double: {{\"text\": \"for {name} {i}\", \"deltas\": 3, \"delay_ms\": 40}}]]"
        );
        let stream = i % 2 == 0;
        let id = p.request(
            "invoke_llm",
            llm_request(NOVA, creds, user(&text), stream, json!({})),
        );
        sessions.push((id, format!("for {name} {i}")));
    }
    for (id, expected) in &sessions {
        let s = p.wait_session(id, SECS(60));
        assert!(s.error().is_none(), "{s:#?}");
        assert_eq!(&s.text(), expected);
    }
    let records = support::aws::converse_bodies(&d);
    assert_eq!(records.len(), 60);
    for r in &records {
        let name = tenant_of(r).expect("every call names its tenant");
        let (_, _, identity) = tenants
            .iter()
            .find(|(n, _, _)| *n == name)
            .expect("a known tenant");
        assert_eq!(&r.identity, identity, "tenant {name}'s call");
    }
    let by_identity = connections_by_identity(&records);
    assert_eq!(by_identity.len(), 3, "{by_identity:?}");
    assert_disjoint(&by_identity);
}

#[test]
fn the_same_access_key_id_with_another_secret_gets_no_client_of_its_own_tenant() {
    let d = Double::start(config()).expect("double");
    let mut p = plugin();
    let right = keys(&d, A);
    let wrong = keys(&d, (A.0, "isolationSecretOfTenantA/guessed-wrong!!"));
    // The right secret first: its clients (and their signing credentials) are cached.
    let s = p.call(
        "invoke_llm",
        llm_request(NOVA, &right, user("tenant=right; first"), true, json!({})),
    );
    assert!(s.error().is_none(), "{s:#?}");
    let mut sessions = Vec::new();
    for i in 0..20 {
        let (name, creds) = if i % 2 == 0 {
            ("right", &right)
        } else {
            ("wrong", &wrong)
        };
        let text = format!("tenant={name}; call {i}");
        sessions.push((
            name,
            p.request(
                "invoke_llm",
                llm_request(NOVA, creds, user(&text), i % 4 < 2, json!({})),
            ),
        ));
    }
    for (name, id) in &sessions {
        let s = p.wait_session(id, SECS(60));
        if *name == "right" {
            assert!(s.error().is_none(), "{s:#?}");
        } else {
            // Signed with the wrong secret, as given: never with the cached right one.
            let e = s.expect_error();
            assert_eq!(e["error_type"], "InvokeAuthorizationError", "{e}");
        }
    }
    let records = support::aws::converse_bodies(&d);
    for r in &records {
        let name = tenant_of(r).expect("tenant");
        let expected = if name == "right" {
            None
        } else {
            Some("InvalidSignatureException")
        };
        assert_eq!(r.error_code.as_deref(), expected, "{name}: {r:?}");
    }
    assert_eq!(
        records.iter().filter(|r| r.error_code.is_some()).count(),
        10
    );
}

#[test]
fn an_application_profile_looked_up_by_one_tenant_is_not_seen_by_another() {
    // B may neither read nor invoke the profile; A may do both.
    let d = Double::start(
        config()
            .deny_operation(B.0, Operation::GetInferenceProfile)
            .deny_model(B.0, TEST_APP_PROFILE_ARN),
    )
    .expect("double");
    let mut p = plugin();
    // A bare profile id: the plugin resolves it to the ARN it calls, and to the
    // underlying model that gives the schema (Claude Sonnet 4.5, a 200,000 context).
    let custom = |creds: Value| with(creds, json!({"inference_profile_id": TEST_APP_PROFILE_ID}));
    let a = custom(keys(&d, A));
    let b = custom(keys(&d, B));
    let schema = |p: &mut Plugin, creds: &Value| {
        let s = p.call(
            "get_ai_model_schemas",
            json!({"provider": "bedrock", "model": "profiled", "model_type": "llm", "credentials": creds}),
        );
        s.result()["model_schema"].clone()
    };
    let a_schema = schema(&mut p, &a);
    // Claude Sonnet 4.5's context (with its 1M beta) and price: the lookup worked.
    assert_eq!(a_schema["model_properties"]["context_size"], 1_000_000);
    assert_eq!(a_schema["pricing"]["input"], "0.003", "{a_schema}");
    let s = p.call(
        "invoke_llm",
        llm_request("profiled", &a, user("tenant=a; hi"), true, json!({})),
    );
    assert!(s.error().is_none(), "{s:#?}");

    // B, after A filled its cache: B's own lookup, refused, so the form decides.
    let b_schema = schema(&mut p, &b);
    assert_ne!(
        b_schema["model_properties"], a_schema["model_properties"],
        "B must not see what A looked up"
    );
    assert_ne!(b_schema["pricing"], a_schema["pricing"], "{b_schema}");
    let s = p.call(
        "invoke_llm",
        llm_request("profiled", &b, user("tenant=b; hi"), true, json!({})),
    );
    // B is refused for itself (the bare id, which B could not resolve, is no model).
    s.expect_error();

    // A again: still served, from its own cache.
    assert_eq!(schema(&mut p, &a), a_schema);
    let s = p.call(
        "invoke_llm",
        llm_request("profiled", &a, user("tenant=a; again"), true, json!({})),
    );
    assert!(s.error().is_none(), "{s:#?}");

    let lookups = d.requests_for(Operation::GetInferenceProfile);
    let by: Vec<(&str, Option<&str>)> = lookups
        .iter()
        .map(|r| (r.identity.as_str(), r.error_code.as_deref()))
        .collect();
    assert_eq!(
        by.iter().filter(|(who, _)| *who == A.0).count(),
        1,
        "A looked the profile up once and then used its cache: {by:?}"
    );
    assert!(
        by.iter()
            .any(|(who, code)| *who == B.0 && *code == Some("AccessDeniedException")),
        "B looked it up with its own key and was refused: {by:?}"
    );
    assert!(
        by.iter().all(|(who, _)| *who == A.0 || *who == B.0),
        "{by:?}"
    );
    // The route: A calls the ARN its lookup gave; B, whose lookup failed, the id as given
    // (never A's resolved ARN).
    for r in support::aws::converse_bodies(&d) {
        match tenant_of(&r).as_deref() {
            Some("a") => {
                assert_eq!(r.identity, A.0);
                assert_eq!(r.model_id.as_deref(), Some(TEST_APP_PROFILE_ARN));
                assert_eq!(r.error_code, None);
            }
            Some("b") => {
                assert_eq!(r.identity, B.0);
                assert_eq!(r.model_id.as_deref(), Some(TEST_APP_PROFILE_ID));
                assert!(r.error_code.is_some(), "{r:?}");
            }
            other => panic!("a call of no tenant: {other:?}"),
        }
    }
}

#[test]
fn assumed_roles_are_assumed_and_used_per_tenant() {
    let d = Double::start(config()).expect("double");
    let url = d.url();
    let p = Plugin::start_with(&[
        ("DIFY_BEDROCK_MAX_ATTEMPTS", "1"),
        ("AWS_ENDPOINT_URL_STS", &url),
    ]);
    p.wait_first_heartbeat(SECS(10));
    let mut p = p;
    let role = |creds: Value, external: &str| {
        with(
            creds,
            json!({"aws_role_arn": TEST_ROLE_ARN, "aws_external_id": external, "aws_role_session_name": "isolation"}),
        )
    };
    let tenants = [
        ("a", role(keys(&d, A), "external-of-a")),
        ("b", role(keys(&d, B), "external-of-b")),
    ];
    let mut ids = Vec::new();
    for i in 0..20 {
        let (name, creds) = &tenants[i % 2];
        let text = format!("tenant={name}; call {i} [[double: {{\"delay_ms\": 20}}]]");
        ids.push(p.request(
            "invoke_llm",
            llm_request(NOVA, creds, user(&text), true, json!({})),
        ));
    }
    for id in &ids {
        let s = p.wait_session(id, SECS(60));
        assert!(s.error().is_none(), "{s:#?}");
    }
    // Each tenant assumed the role once, signing with its own key and its own external id.
    let assumed: BTreeMap<String, String> = d
        .requests_for(Operation::AssumeRole)
        .iter()
        .map(|r| {
            (
                r.identity.clone(),
                r.body["ExternalId"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        assumed,
        BTreeMap::from([
            (A.0.to_string(), "external-of-a".to_string()),
            (B.0.to_string(), "external-of-b".to_string()),
        ])
    );
    assert_eq!(d.requests_for(Operation::AssumeRole).len(), 2);
    // Each tenant's calls used one issued key, never the other tenant's.
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let records = support::aws::converse_bodies(&d);
    for r in &records {
        used.entry(tenant_of(r).expect("tenant"))
            .or_default()
            .insert(r.identity.clone());
    }
    let (a_keys, b_keys) = (&used["a"], &used["b"]);
    assert_eq!((a_keys.len(), b_keys.len()), (1, 1), "{used:?}");
    assert!(a_keys.is_disjoint(b_keys), "{used:?}");
    let issued: BTreeSet<String> = d
        .issued_credentials()
        .into_iter()
        .map(|k| k.access_key_id)
        .collect();
    assert!(
        a_keys.union(b_keys).all(|k| issued.contains(k)),
        "{used:?} vs {issued:?}"
    );
    assert_disjoint(&connections_by_identity(&records));
}

#[test]
fn bedrock_mantle_tenants_get_their_own_tokens_and_connections() {
    let d = Double::start(config()).expect("double");
    let mut p = plugin();
    let tenants = [
        ("a", keys(&d, A), format!("token:{}", A.0)),
        ("b", keys(&d, B), format!("token:{}", B.0)),
        ("c", api_key(&d), format!("bearer:{C_NAME}")),
    ];
    let mut ids = Vec::new();
    for i in 0..30 {
        let (name, creds, _) = &tenants[i % 3];
        let text = format!(
            "tenant={name}; call {i} [[double: {{\"text\": \"gpt for {name} {i}\", \"delay_ms\": 20}}]]"
        );
        ids.push((
            p.request(
                "invoke_llm",
                llm_request(GPT, creds, user(&text), i % 2 == 0, json!({})),
            ),
            format!("gpt for {name} {i}"),
        ));
    }
    for (id, expected) in &ids {
        let s = p.wait_session(id, SECS(60));
        assert!(s.error().is_none(), "{s:#?}");
        assert_eq!(&s.text(), expected);
    }
    let records = d.requests_for(Operation::CreateResponse);
    assert_eq!(records.len(), 30);
    for r in &records {
        let name = tenant_of(r).expect("tenant");
        let (_, _, identity) = tenants.iter().find(|(n, _, _)| *n == name).expect("known");
        assert_eq!(&r.identity, identity, "tenant {name}'s call");
    }
    let by_identity = connections_by_identity(&records);
    assert_eq!(by_identity.len(), 3, "{by_identity:?}");
    assert_disjoint(&by_identity);
}
