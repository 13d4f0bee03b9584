//! Faithfulness against AWS's own examples: each file in `fixtures/` is a
//! response written by hand from an AWS documentation page (cited inside the
//! file). For every operation the double's raw response must have the same
//! shape — the same field paths with the same JSON types (or the same XML
//! elements) — except fields the fixture lists as optional. This catches
//! fields the double invents, misspells or forgets, independently of what
//! the SDK happens to tolerate.

mod common;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bedrock_double::*;
use common::raw;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn paths(v: &Value, prefix: &str, out: &mut BTreeMap<String, &'static str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone(), kind(x));
                paths(x, &p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                let p = format!("{prefix}[]");
                out.insert(p.clone(), kind(x));
                paths(x, &p, out);
            }
        }
        _ => {}
    }
}

fn optional(path: &str, optional: &[String]) -> bool {
    optional.iter().any(|o| {
        if let Some(suffix) = o.strip_prefix("*.") {
            path == suffix || path.ends_with(&format!(".{suffix}"))
        } else {
            path == o || path.starts_with(&format!("{o}.")) || path.starts_with(&format!("{o}["))
        }
    })
}

/// Differences between the fixture's shape and the actual response's.
fn diff(expected: &Value, actual: &Value, opt: &[String]) -> Vec<String> {
    let (mut e, mut a) = (BTreeMap::new(), BTreeMap::new());
    paths(expected, "", &mut e);
    paths(actual, "", &mut a);
    let mut out = Vec::new();
    for (p, t) in &e {
        match a.get(p) {
            None if !optional(p, opt) => out.push(format!("missing {p} ({t})")),
            Some(at) if at != t => out.push(format!("{p}: expected {t}, got {at}")),
            _ => {}
        }
    }
    for (p, t) in &a {
        if !e.contains_key(p) && !optional(p, opt) {
            out.push(format!("unexpected {p} ({t})"));
        }
    }
    out
}

fn check(name: &str, actual: &Value) {
    let f = fixture(name);
    let opt: Vec<String> = serde_json::from_value(f["optional"].clone()).unwrap_or_default();
    let d = diff(&f["response"], actual, &opt);
    assert!(
        d.is_empty(),
        "{name} ({}):\n{}\nactual: {actual}",
        f["source"],
        d.join("\n")
    );
}

fn xml_elements(xml: &str) -> BTreeSet<String> {
    xml.split('<')
        .skip(1)
        .filter(|s| !s.starts_with('/') && !s.starts_with('!') && !s.starts_with('?'))
        .filter_map(|s| s.split(['>', ' ']).next().map(str::to_string))
        .collect()
}

fn check_xml(name: &str, actual: &[u8]) {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let actual = String::from_utf8_lossy(actual);
    assert_eq!(
        xml_elements(&actual),
        xml_elements(&expected),
        "{name}: {actual}"
    );
}

/// A request signed with SigV4 like an SDK would, sent raw.
async fn signed(
    d: &Double,
    method: &str,
    path: &str,
    service: &str,
    region: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let host = d.addr().to_string();
    let identity = common::creds(TEST_ACCESS_KEY, TEST_SECRET_KEY, None).into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("params");
    let base = [("host", host.as_str()), ("content-type", content_type)];
    let req = SignableRequest::new(
        method,
        format!("http://{host}{path}"),
        base.into_iter(),
        SignableBody::Bytes(body),
    )
    .expect("signable");
    let (instructions, _) = sign(req, &params.into()).expect("sign").into_parts();
    let mut headers: Vec<(String, String)> = vec![("content-type".into(), content_type.into())];
    for (k, v) in instructions.headers() {
        headers.push((k.to_string(), v.to_string()));
    }
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    raw(d, method, path, &refs, body).await
}

async fn bedrock(d: &Double, method: &str, path: &str, region: &str, body: Value) -> Value {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).expect("json")
    };
    let (status, head, resp) = signed(
        d,
        method,
        path,
        "bedrock",
        region,
        "application/json",
        &bytes,
    )
    .await;
    assert_eq!(
        status,
        200,
        "{path}: {head}\n{}",
        String::from_utf8_lossy(&resp)
    );
    serde_json::from_slice(&resp).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    out
}

#[tokio::test]
async fn runtime_responses_match_documented_shapes() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let msg = |t: &str| json!({"messages": [{"role": "user", "content": [{"text": t}]}]});
    check(
        "converse.json",
        &bedrock(
            &d,
            "POST",
            "/model/amazon.nova-micro-v1%3A0/converse",
            "us-east-1",
            msg("hi"),
        )
        .await,
    );
    check(
        "count_tokens.json",
        &bedrock(
            &d,
            "POST",
            "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens",
            "us-east-1",
            json!({"input": {"converse": msg("hi")}}),
        )
        .await,
    );
    check(
        "titan_embed_text_v1.json",
        &bedrock(
            &d,
            "POST",
            "/model/amazon.titan-embed-text-v1/invoke",
            "us-east-1",
            json!({"inputText": "hi"}),
        )
        .await,
    );
    check(
        "titan_embed_text_v2.json",
        &bedrock(
            &d,
            "POST",
            "/model/amazon.titan-embed-text-v2%3A0/invoke",
            "us-east-1",
            json!({"inputText": "hi"}),
        )
        .await,
    );
    check(
        "cohere_embed_v3.json",
        &bedrock(
            &d,
            "POST",
            "/model/cohere.embed-english-v3/invoke",
            "us-east-1",
            json!({"texts": ["hi"], "input_type": "search_query"}),
        )
        .await,
    );
    check(
        "cohere_embed_v4.json",
        &bedrock(
            &d,
            "POST",
            "/model/cohere.embed-v4%3A0/invoke",
            "us-east-1",
            json!({"texts": ["hi"], "input_type": "search_query"}),
        )
        .await,
    );
    check(
        "nova_multimodal_embeddings.json",
        &bedrock(&d, "POST", "/model/amazon.nova-2-multimodal-embeddings-v1%3A0/invoke", "us-east-1", json!({"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": {"embeddingPurpose": "GENERIC_INDEX", "text": {"truncationMode": "END", "value": "hi"}}})).await,
    );
    let docs = json!(["a b", "c d"]);
    check(
        "amazon_rerank_invoke.json",
        &bedrock(
            &d,
            "POST",
            "/model/amazon.rerank-v1%3A0/invoke",
            "us-west-2",
            json!({"query": "c", "documents": docs}),
        )
        .await,
    );
    check(
        "cohere_rerank_invoke.json",
        &bedrock(
            &d,
            "POST",
            "/model/cohere.rerank-v3-5%3A0/invoke",
            "us-east-1",
            json!({"query": "c", "documents": docs, "api_version": 2}),
        )
        .await,
    );
    check(
        "anthropic_messages.json",
        &bedrock(&d, "POST", "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/invoke", "us-east-1", json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]})).await,
    );
    let rerank_body = json!({
        "queries": [{"type": "TEXT", "textQuery": {"text": "c"}}],
        "sources": [
            {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": "a b"}}},
            {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": "c d"}}}
        ],
        "rerankingConfiguration": {"type": "BEDROCK_RERANKING_MODEL", "bedrockRerankingConfiguration": {
            "modelConfiguration": {"modelArn": "arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0"}}}
    });
    check(
        "rerank.json",
        &bedrock(&d, "POST", "/rerank", "us-west-2", rerank_body).await,
    );

    // An error: header and body.
    let (status, head, body) = signed(
        &d,
        "POST",
        "/model/amazon.nova-v9/converse",
        "bedrock",
        "us-east-1",
        "application/json",
        b"{}",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        head.to_lowercase()
            .contains("x-amzn-errortype: validationexception:"),
        "{head}"
    );
    check(
        "error_validation.json",
        &serde_json::from_slice(&body).expect("json"),
    );
}

#[tokio::test]
async fn converse_stream_events_match_documented_shapes() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let text = r#"x [[double: {"text":"Hello","deltas":2,"tool_calls":[{"name":"top_song","input":{"sign":"WZPZ"}}]}]]"#;
    let body =
        serde_json::to_vec(&json!({"messages": [{"role": "user", "content": [{"text": text}]}]}))
            .expect("json");
    let (status, head, resp) = signed(
        &d,
        "POST",
        "/model/amazon.nova-lite-v1%3A0/converse-stream",
        "bedrock",
        "us-east-1",
        "application/json",
        &body,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        head.to_lowercase()
            .contains("content-type: application/vnd.amazon.eventstream")
    );
    let mut buf = bytes::Bytes::from(dechunk(&resp));
    let mut actual = Vec::new();
    while !buf.is_empty() {
        let m = aws_smithy_eventstream::frame::read_message_from(&mut buf).expect("frame");
        let header = |n: &str| {
            m.headers()
                .iter()
                .find(|h| h.name().as_str() == n)
                .and_then(|h| h.value().as_string().ok())
                .map(|s| s.as_str().to_string())
        };
        assert_eq!(header(":message-type").as_deref(), Some("event"));
        assert_eq!(header(":content-type").as_deref(), Some("application/json"));
        let payload: Value = serde_json::from_slice(m.payload()).expect("payload");
        actual.push((header(":event-type").unwrap_or_default(), payload));
    }
    let f = fixture("converse_stream.json");
    let opt: Vec<String> = serde_json::from_value(f["optional"].clone()).unwrap_or_default();
    let expected: Vec<(String, Value)> = f["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["type"].as_str().unwrap_or_default().to_string(),
                        e["payload"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let type_opt = |t: &str| -> Vec<String> {
        opt.iter()
            .filter_map(|o| {
                o.strip_prefix(&format!("{t}."))
                    .map(str::to_string)
                    .or_else(|| o.starts_with("*.").then(|| o.clone()))
            })
            .collect()
    };
    // Every event the double sent has a documented counterpart of the same shape…
    for (t, p) in &actual {
        let ok = expected
            .iter()
            .any(|(et, ep)| et == t && diff(ep, p, &type_opt(t)).is_empty());
        assert!(ok, "undocumented shape for {t}: {p}");
    }
    // …and every documented event was produced.
    for (et, ep) in &expected {
        let ok = actual
            .iter()
            .any(|(t, p)| et == t && diff(ep, p, &type_opt(t)).is_empty());
        assert!(ok, "double never sent a {et} like {ep}");
    }
    let order: Vec<&str> = actual.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(order.first(), Some(&"messageStart"));
    assert_eq!(order.last(), Some(&"metadata"));
}

#[tokio::test]
async fn control_plane_responses_match_documented_shapes() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    check(
        "get_inference_profile.json",
        &bedrock(
            &d,
            "GET",
            "/inference-profiles/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0",
            "us-east-1",
            Value::Null,
        )
        .await,
    );
    let list = bedrock(
        &d,
        "GET",
        "/inference-profiles?maxResults=1",
        "us-east-1",
        Value::Null,
    )
    .await;
    assert!(list["nextToken"].is_string());
    check("list_inference_profiles.json", &list);
    check(
        "list_foundation_models.json",
        &bedrock(
            &d,
            "GET",
            "/foundation-models?byOutputModality=EMBEDDING",
            "us-east-1",
            Value::Null,
        )
        .await,
    );
    check(
        "get_foundation_model.json",
        &bedrock(
            &d,
            "GET",
            "/foundation-models/amazon.nova-pro-v1%3A0",
            "us-east-1",
            Value::Null,
        )
        .await,
    );
    check(
        "get_guardrail.json",
        &bedrock(
            &d,
            "GET",
            &format!("/guardrails/{TEST_GUARDRAIL_ID}?guardrailVersion=1"),
            "us-east-1",
            Value::Null,
        )
        .await,
    );
    check(
        "get_foundation_model_availability.json",
        &bedrock(
            &d,
            "GET",
            "/foundation-model-availability/amazon.nova-pro-v1%3A0",
            "us-east-1",
            Value::Null,
        )
        .await,
    );
}

#[tokio::test]
async fn credential_endpoints_match_documented_shapes() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let form = "application/x-www-form-urlencoded; charset=utf-8";
    let body = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=TestAR",
        TEST_ROLE_ARN.replace(':', "%3A").replace('/', "%2F")
    );
    let (status, _, resp) =
        signed(&d, "POST", "/", "sts", "us-east-1", form, body.as_bytes()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    check_xml("assume_role.xml", &resp);
    let (status, _, resp) = signed(
        &d,
        "POST",
        "/",
        "sts",
        "us-east-1",
        form,
        b"Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert_eq!(status, 200);
    check_xml("get_caller_identity.xml", &resp);
    let body = format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName=app1&WebIdentityToken={}",
        TEST_ROLE_ARN.replace(':', "%3A").replace('/', "%2F"),
        TEST_WEB_IDENTITY_TOKEN
    );
    let (status, _, resp) = raw(&d, "POST", "/", &[("content-type", form)], body.as_bytes()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    check_xml("assume_role_with_web_identity.xml", &resp);

    let (_, _, token) = raw(
        &d,
        "PUT",
        "/latest/api/token",
        &[("x-aws-ec2-metadata-token-ttl-seconds", "60")],
        b"",
    )
    .await;
    let token = String::from_utf8(token).expect("token");
    let path = format!("/latest/meta-data/iam/security-credentials/{TEST_IMDS_ROLE}");
    let (status, _, resp) = raw(
        &d,
        "GET",
        &path,
        &[("x-aws-ec2-metadata-token", &token)],
        b"",
    )
    .await;
    assert_eq!(status, 200);
    check(
        "imds_credentials.json",
        &serde_json::from_slice(&resp).expect("json"),
    );
    let (status, _, resp) = raw(&d, "GET", TEST_ECS_PATH, &[], b"").await;
    assert_eq!(status, 200);
    check(
        "ecs_credentials.json",
        &serde_json::from_slice(&resp).expect("json"),
    );
}

#[test]
fn shape_diff_detects_drift() {
    let f = fixture("converse.json");
    let opt: Vec<String> = serde_json::from_value(f["optional"].clone()).unwrap_or_default();
    let mut wrong = f["response"].clone();
    wrong["stopreason"] = wrong["stopReason"].take();
    if let Some(o) = wrong.as_object_mut() {
        o.remove("stopReason");
    }
    wrong["usage"]["inputTokens"] = json!("125");
    let d = diff(&f["response"], &wrong, &opt);
    assert!(
        d.contains(&"missing stopReason (string)".to_string()),
        "{d:?}"
    );
    assert!(
        d.contains(&"unexpected stopreason (string)".to_string()),
        "{d:?}"
    );
    assert!(
        d.contains(&"usage.inputTokens: expected number, got string".to_string()),
        "{d:?}"
    );
    // Optional fields may appear or not.
    let mut with_cache = f["response"].clone();
    with_cache["usage"]["cacheReadInputTokens"] = json!(3);
    assert!(diff(&f["response"], &with_cache, &opt).is_empty());
    assert_eq!(
        xml_elements("<A><B>x</B><!-- c --></A>"),
        ["A", "B"].iter().map(|s| s.to_string()).collect()
    );
}
