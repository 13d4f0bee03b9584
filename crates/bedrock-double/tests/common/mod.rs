//! Shared helpers for the integration tests: hermetic SDK clients (explicit
//! region, credentials, ring-based HTTP client and the double's endpoint —
//! never the default chain, never a real AWS host) and JSON <-> Document.
#![allow(dead_code)]

use aws_smithy_types::{Document, Number};
use bedrock_double::{Double, TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY};
use serde_json::Value;
use std::collections::HashMap;

pub use aws_sdk_bedrock as bedrock;
pub use aws_sdk_bedrockagentruntime as agent;
pub use aws_sdk_bedrockruntime as br;

/// The hyper 1 + rustls(ring) client; it also speaks plain http.
pub fn http() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

pub fn creds(ak: &str, sk: &str, token: Option<&str>) -> br::config::Credentials {
    br::config::Credentials::new(ak, sk, token.map(str::to_string), None, "test")
}

/// A bedrock-runtime config builder aimed at the double, retries off.
pub fn runtime_builder(d: &Double, region: &str) -> br::config::Builder {
    br::Config::builder()
        .behavior_version(br::config::BehaviorVersion::latest())
        .http_client(http())
        .region(br::config::Region::new(region.to_string()))
        .endpoint_url(d.url())
        .retry_config(br::config::retry::RetryConfig::disabled())
}

pub fn runtime_with(
    d: &Double,
    region: &str,
    ak: &str,
    sk: &str,
    token: Option<&str>,
) -> br::Client {
    br::Client::from_conf(
        runtime_builder(d, region)
            .credentials_provider(creds(ak, sk, token))
            .build(),
    )
}

/// bedrock-runtime signed with the default test key pair in us-east-1.
pub fn runtime(d: &Double) -> br::Client {
    runtime_with(d, TEST_REGION, TEST_ACCESS_KEY, TEST_SECRET_KEY, None)
}

/// bedrock-runtime authenticated with a Bedrock API key (bearer).
pub fn runtime_bearer(d: &Double, key: &str) -> br::Client {
    br::Client::from_conf(
        runtime_builder(d, TEST_REGION)
            .bearer_token(br::config::Token::new(key, None))
            .auth_scheme_preference([
                aws_smithy_runtime_api::client::auth::http::HTTP_BEARER_AUTH_SCHEME_ID,
            ])
            .build(),
    )
}

pub fn agent(d: &Double, region: &str) -> agent::Client {
    agent::Client::from_conf(
        agent::Config::builder()
            .behavior_version(agent::config::BehaviorVersion::latest())
            .http_client(http())
            .region(agent::config::Region::new(region.to_string()))
            .endpoint_url(d.url())
            .credentials_provider(creds(TEST_ACCESS_KEY, TEST_SECRET_KEY, None))
            .retry_config(agent::config::retry::RetryConfig::disabled())
            .build(),
    )
}

pub fn control(d: &Double, region: &str) -> bedrock::Client {
    bedrock::Client::from_conf(
        bedrock::Config::builder()
            .behavior_version(bedrock::config::BehaviorVersion::latest())
            .http_client(http())
            .region(bedrock::config::Region::new(region.to_string()))
            .endpoint_url(d.url())
            .credentials_provider(creds(TEST_ACCESS_KEY, TEST_SECRET_KEY, None))
            .retry_config(bedrock::config::retry::RetryConfig::disabled())
            .build(),
    )
}

pub fn control_bearer(d: &Double, key: &str) -> bedrock::Client {
    bedrock::Client::from_conf(
        bedrock::Config::builder()
            .behavior_version(bedrock::config::BehaviorVersion::latest())
            .http_client(http())
            .region(bedrock::config::Region::new(TEST_REGION))
            .endpoint_url(d.url())
            .bearer_token(bedrock::config::Token::new(key, None))
            .auth_scheme_preference([
                aws_smithy_runtime_api::client::auth::http::HTTP_BEARER_AUTH_SCHEME_ID,
            ])
            .retry_config(bedrock::config::retry::RetryConfig::disabled())
            .build(),
    )
}

pub fn json_to_doc(v: &Value) -> Document {
    match v {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Document::Number(Number::PosInt(u))
            } else if let Some(i) = n.as_i64() {
                Document::Number(Number::NegInt(i))
            } else {
                Document::Number(Number::Float(n.as_f64().unwrap_or_default()))
            }
        }
        Value::String(s) => Document::String(s.clone()),
        Value::Array(a) => Document::Array(a.iter().map(json_to_doc).collect()),
        Value::Object(o) => Document::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_doc(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

pub fn doc_to_json(d: &Document) -> Value {
    match d {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => serde_json::json!(f),
        Document::String(s) => Value::String(s.clone()),
        Document::Array(a) => Value::Array(a.iter().map(doc_to_json).collect()),
        Document::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), doc_to_json(v))).collect())
        }
    }
}

/// A user message with one text block.
pub fn user(text: &str) -> br::types::Message {
    br::types::Message::builder()
        .role(br::types::ConversationRole::User)
        .content(br::types::ContentBlock::Text(text.into()))
        .build()
        .expect("message")
}

/// Sends a raw HTTP/1.1 request and returns (status, headers, body).
pub async fn raw(
    d: &Double,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(d.addr())
        .await
        .expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
        d.addr(),
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    s.write_all(body).await.expect("write body");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, head, buf[split + 4..].to_vec())
}
