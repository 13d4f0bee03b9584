//! Helpers for tests that point the plugin at the Bedrock test double.

use bedrock_double::{
    Double, DoubleConfig, Operation, RecordedRequest, TEST_ACCESS_KEY, TEST_API_KEY,
    TEST_SECRET_KEY,
};
use serde_json::{Value, json};

pub fn double() -> Double {
    Double::start(DoubleConfig::default()).expect("start the Bedrock test double")
}

/// Access-key credentials aimed at the double.
pub fn key_credentials(double: &Double) -> Value {
    json!({
        "auth_method": "Access_Secret_Key",
        "aws_access_key_id": TEST_ACCESS_KEY,
        "aws_secret_access_key": TEST_SECRET_KEY,
        "aws_region": "us-east-1",
        "bedrock_endpoint_url": double.url(),
        "bedrock_control_endpoint_url": double.url(),
        "bedrock_mantle_endpoint_url": double.url(),
    })
}

/// Bedrock API key credentials aimed at the double.
pub fn api_key_credentials(double: &Double) -> Value {
    json!({
        "auth_method": "API_Key",
        "bedrock_api_key": TEST_API_KEY,
        "aws_region": "us-east-1",
        "bedrock_endpoint_url": double.url(),
        "bedrock_control_endpoint_url": double.url(),
        "bedrock_mantle_endpoint_url": double.url(),
    })
}

/// An `invoke_llm` payload.
pub fn llm_request(
    model: &str,
    credentials: &Value,
    messages: Value,
    stream: bool,
    parameters: Value,
) -> Value {
    json!({
        "provider": "bedrock",
        "model": model,
        "model_type": "llm",
        "credentials": credentials,
        "model_parameters": parameters,
        "prompt_messages": messages,
        "tools": null,
        "stop": null,
        "stream": stream,
    })
}

/// A single user message.
pub fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text, "name": "", "tool_calls": null, "tool_call_id": ""}])
}

/// Merges `extra` into the object `base`.
pub fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

/// `credentials` with another region.
pub fn in_region(credentials: &Value, region: &str) -> Value {
    with(credentials.clone(), json!({ "aws_region": region }))
}

/// An `invoke_text_embedding` payload.
pub fn embedding_request(
    model: &str,
    credentials: &Value,
    texts: &[&str],
    input_type: &str,
) -> Value {
    json!({
        "provider": "bedrock",
        "model": model,
        "model_type": "text-embedding",
        "credentials": credentials,
        "texts": texts,
        "input_type": input_type,
    })
}

/// An `invoke_rerank` payload; `top_n` and `score_threshold` 0 mean unset, as the daemon sends them.
pub fn rerank_request(
    model: &str,
    credentials: &Value,
    query: &str,
    docs: &[&str],
    top_n: u64,
    score_threshold: f64,
) -> Value {
    json!({
        "provider": "bedrock",
        "model": model,
        "model_type": "rerank",
        "credentials": credentials,
        "query": query,
        "docs": docs,
        "top_n": top_n,
        "score_threshold": score_threshold,
    })
}

/// The Converse and ConverseStream requests the double received, in order.
pub fn converse_bodies(double: &Double) -> Vec<RecordedRequest> {
    double
        .requests()
        .into_iter()
        .filter(|r| matches!(r.operation, Operation::Converse | Operation::ConverseStream))
        .collect()
}
