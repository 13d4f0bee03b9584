//! InvokeModel through the real SDK for every modelled body family — Titan
//! v1/v2, Cohere v3/v4, Nova multimodal embeddings, Amazon and Cohere rerank,
//! Claude messages (plain and streamed) — with the token-count headers, body
//! validation, markers and scripted errors.

mod common;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use bedrock_double::{Double, DoubleConfig, Matcher, Operation, Script, StreamException};
use br::error::ProvideErrorMetadata;
use br::primitives::Blob;
use br::types::ResponseStream;
use common::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// Captures response headers (the SDK does not model the token counts).
#[derive(Debug, Clone, Default)]
struct Headers(Arc<Mutex<Vec<(String, String)>>>);

impl Intercept for Headers {
    fn name(&self) -> &'static str {
        "capture-headers"
    }
    fn read_after_transmit(
        &self,
        ctx: &BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut v = self.0.lock().map_err(|e| e.to_string())?;
        v.clear();
        for (k, val) in ctx.response().headers().iter() {
            v.push((k.to_string(), val.to_string()));
        }
        Ok(())
    }
}

impl Headers {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .lock()
            .ok()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

struct Invoked {
    body: Value,
    headers: Headers,
}

async fn invoke(
    c: &br::Client,
    model: &str,
    body: Value,
) -> Result<
    Invoked,
    br::error::SdkError<
        br::operation::invoke_model::InvokeModelError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
> {
    let h = Headers::default();
    let out = c
        .invoke_model()
        .model_id(model)
        .content_type("application/json")
        .accept("application/json")
        .body(Blob::new(serde_json::to_vec(&body).expect("json")))
        .customize()
        .interceptor(h.clone())
        .send()
        .await?;
    Ok(Invoked {
        body: serde_json::from_slice(out.body().as_ref()).expect("json body"),
        headers: h,
    })
}

fn len(v: &Value) -> usize {
    v.as_array().map(Vec::len).unwrap_or(0)
}

fn norm(v: &Value) -> f64 {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_f64)
                .map(|x| x * x)
                .sum::<f64>()
                .sqrt()
        })
        .unwrap_or(0.0)
}

#[tokio::test]
async fn titan_embeddings() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    let v1 = invoke(
        &c,
        "amazon.titan-embed-text-v1",
        json!({"inputText": "hello world"}),
    )
    .await
    .expect("v1");
    assert_eq!(len(&v1.body["embedding"]), 1536);
    assert_eq!(v1.body["inputTextTokenCount"], 3);
    assert_eq!(
        v1.headers
            .get("x-amzn-bedrock-input-token-count")
            .as_deref(),
        Some("3")
    );
    assert_eq!(v1.headers.get("x-amzn-bedrock-output-token-count"), None);

    let v2 = invoke(&c, "amazon.titan-embed-text-v2:0", json!({"inputText": "hello world", "dimensions": 256, "normalize": true, "embeddingTypes": ["float", "binary"]})).await.expect("v2");
    assert_eq!(len(&v2.body["embedding"]), 256);
    assert!((norm(&v2.body["embedding"]) - 1.0).abs() < 1e-3);
    assert_eq!(len(&v2.body["embeddingsByType"]["binary"]), 256);
    assert_eq!(v2.body["embeddingsByType"]["float"], v2.body["embedding"]);
    // Deterministic: same text, same vector; the default dimension is 1024.
    let again = invoke(
        &c,
        "amazon.titan-embed-text-v2:0",
        json!({"inputText": "hello world"}),
    )
    .await
    .expect("v2");
    assert_eq!(len(&again.body["embedding"]), 1024);
    assert!(
        again.body["embedding"]
            .as_array()
            .map(|a| a[..256].to_vec())
            .is_some()
    );
    let rec = d.last_request().expect("record");
    assert_eq!(rec.operation, Operation::InvokeModel);
    assert_eq!(rec.body, json!({"inputText": "hello world"}));
    assert_eq!(rec.header("accept"), Some("application/json"));

    let e = invoke(
        &c,
        "amazon.titan-embed-text-v2:0",
        json!({"inputText": "x", "dimensions": 300}),
    )
    .await
    .err()
    .expect("bad dim");
    assert_eq!(
        e.message(),
        Some(
            "Malformed input request: #/dimensions: 300 is not a valid enum value, please reformat your input and try again."
        )
    );
    assert!(e.into_service_error().is_validation_exception());
    let e = invoke(&c, "amazon.titan-embed-text-v1", json!({"texts": ["x"]}))
        .await
        .err()
        .expect("wrong family body");
    assert_eq!(
        e.message(),
        Some(
            "Malformed input request: #: extraneous key [texts] is not permitted, please reformat your input and try again."
        )
    );
}

#[tokio::test]
async fn cohere_embeddings_v3_and_v4() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    let floats = invoke(
        &c,
        "cohere.embed-english-v3",
        json!({"texts": ["a b", "c"], "input_type": "search_document"}),
    )
    .await
    .expect("v3");
    assert_eq!(floats.body["response_type"], "embeddings_floats");
    assert_eq!(len(&floats.body["embeddings"]), 2);
    assert_eq!(len(&floats.body["embeddings"][0]), 1024);
    assert_eq!(floats.body["texts"], json!(["a b", "c"]));
    assert_eq!(
        floats
            .headers
            .get("x-amzn-bedrock-input-token-count")
            .as_deref(),
        Some("2")
    );

    let typed = invoke(&c, "cohere.embed-multilingual-v3", json!({"texts": ["a"], "input_type": "search_query", "truncate": "END", "embedding_types": ["int8", "ubinary"]})).await.expect("v3 typed");
    assert_eq!(typed.body["response_type"], "embeddings_by_type");
    assert_eq!(len(&typed.body["embeddings"]["int8"][0]), 1024);
    assert_eq!(len(&typed.body["embeddings"]["ubinary"][0]), 128);

    let e = invoke(&c, "cohere.embed-english-v3", json!({"texts": ["a"]}))
        .await
        .err()
        .expect("no input_type");
    assert!(
        e.message()
            .is_some_and(|m| m.contains("required key [input_type] not found"))
    );

    let v4 = invoke(
        &c,
        "cohere.embed-v4:0",
        json!({"texts": ["doc"], "input_type": "search_document", "output_dimension": 512}),
    )
    .await
    .expect("v4");
    assert_eq!(v4.body["response_type"], "embeddings_by_type");
    assert_eq!(len(&v4.body["embeddings"]["float"][0]), 512);
    let png = "data:image/png;base64,iVBORw0KGgo=";
    let mm = invoke(&c, "cohere.embed-v4:0", json!({"input_type": "search_document", "inputs": [{"content": [{"type": "text", "text": "caption"}, {"type": "image_url", "image_url": png}]}]})).await.expect("v4 inputs");
    assert_eq!(len(&mm.body["embeddings"]["float"][0]), 1536);
    let e = invoke(
        &c,
        "cohere.embed-v4:0",
        json!({"texts": ["d"], "input_type": "search_document", "output_dimension": 100}),
    )
    .await
    .err()
    .expect("bad dim");
    assert!(
        e.message()
            .is_some_and(|m| m.contains("#/output_dimension: 100 is not a valid enum value"))
    );
}

#[tokio::test]
async fn nova_multimodal_embeddings() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    let body = json!({
        "schemaVersion": "nova-multimodal-embed-v1",
        "taskType": "SINGLE_EMBEDDING",
        "singleEmbeddingParams": {"embeddingPurpose": "GENERIC_INDEX", "embeddingDimension": 384,
            "text": {"truncationMode": "END", "value": "hello nova"}}
    });
    let out = invoke(&c, "amazon.nova-2-multimodal-embeddings-v1:0", body)
        .await
        .expect("nova");
    assert_eq!(out.body["embeddings"][0]["embeddingType"], "TEXT");
    assert_eq!(len(&out.body["embeddings"][0]["embedding"]), 384);
    let image = json!({"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": {"embeddingPurpose": "GENERIC_RETRIEVAL",
        "image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}});
    let out = invoke(&c, "amazon.nova-2-multimodal-embeddings-v1:0", image)
        .await
        .expect("image");
    assert_eq!(out.body["embeddings"][0]["embeddingType"], "IMAGE");
    assert_eq!(len(&out.body["embeddings"][0]["embedding"]), 3072);
    // The shape some clients send (inputText inside singleEmbeddingParams) is not Nova's.
    let wrong = json!({"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": {"embeddingPurpose": "GENERIC_INDEX", "embeddingDimension": 1024, "inputText": "x"}});
    let e = invoke(&c, "amazon.nova-2-multimodal-embeddings-v1:0", wrong)
        .await
        .err()
        .expect("invalid");
    assert!(
        e.message()
            .is_some_and(|m| m.contains("extraneous key [inputText]"))
    );
}

#[tokio::test]
async fn rerank_bodies_through_invoke_model() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime_with(
        &d,
        "us-west-2",
        bedrock_double::TEST_ACCESS_KEY,
        bedrock_double::TEST_SECRET_KEY,
        None,
    );
    let docs = json!([
        "Carson City is the capital city of Nevada.",
        "Washington, D.C. is the capital of the United States.",
        "Capital punishment exists."
    ]);
    let arn = "arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0";
    let out = invoke(&c, arn, json!({"query": "What is the capital of the United States?", "documents": docs, "top_n": 2})).await.expect("amazon rerank");
    let results = out.body["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["index"], 1);
    assert!(results[0]["relevance_score"].as_f64() > results[1]["relevance_score"].as_f64());
    assert!(
        out.headers
            .get("x-amzn-bedrock-input-token-count")
            .is_some()
    );
    assert_eq!(
        d.last_request().and_then(|r| r.model_id).as_deref(),
        Some(arn)
    );

    let cohere = invoke(
        &c,
        "cohere.rerank-v3-5:0",
        json!({"query": "capital of the United States", "documents": docs, "api_version": 2}),
    )
    .await
    .expect("cohere rerank");
    assert_eq!(len(&cohere.body["results"]), 3);
    assert!(cohere.body["id"].is_string());
    let e = invoke(
        &c,
        "cohere.rerank-v3-5:0",
        json!({"query": "q", "documents": ["d"]}),
    )
    .await
    .err()
    .expect("api_version");
    assert!(
        e.message()
            .is_some_and(|m| m.contains("required key [api_version] not found"))
    );
    // Rerank models are not offered in every region.
    let east = runtime(&d);
    let e = invoke(
        &east,
        "amazon.rerank-v1:0",
        json!({"query": "q", "documents": ["d"]}),
    )
    .await
    .err()
    .expect("region");
    assert_eq!(
        e.message(),
        Some("The provided model identifier is invalid.")
    );
    // Scripted scores through a marker in the query.
    let out = invoke(
        &c,
        "amazon.rerank-v1:0",
        json!({"query": r#"q [[double: {"scores":[0.1,0.9,0.5]}]]"#, "documents": docs}),
    )
    .await
    .expect("scores");
    let order: Vec<u64> = out.body["results"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["index"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(order, vec![1, 2, 0]);
}

#[tokio::test]
async fn embedding_errors_and_delays_by_marker_and_script() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    let marker = r#"text [[double: {"error":{"status":429,"type":"ThrottlingException","message":"Too many requests, please wait before trying again."}}]]"#;
    let e = invoke(
        &c,
        "amazon.titan-embed-text-v2:0",
        json!({"inputText": marker}),
    )
    .await
    .err()
    .expect("throttled");
    assert_eq!(e.code(), Some("ThrottlingException"));
    assert!(e.into_service_error().is_throttling_exception());
    // A marker in any Cohere text; the others are still embedded normally.
    let marker = r#"b [[double: {"first_byte_ms":200}]]"#;
    let started = std::time::Instant::now();
    let out = invoke(
        &c,
        "cohere.embed-english-v3",
        json!({"texts": ["a", marker], "input_type": "search_document"}),
    )
    .await
    .expect("delayed");
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert_eq!(out.body["texts"], json!(["a", "b"]));
    // Programmatic script for the next embedding call only.
    d.push_script(
        Matcher::model("amazon.titan-embed-text-v2:0"),
        Script::error(500, "InternalServerException", "boom"),
    );
    let e = invoke(
        &c,
        "amazon.titan-embed-text-v2:0",
        json!({"inputText": "x"}),
    )
    .await
    .err()
    .expect("scripted");
    assert_eq!(e.code(), Some("InternalServerException"));
    invoke(
        &c,
        "amazon.titan-embed-text-v2:0",
        json!({"inputText": "x"}),
    )
    .await
    .expect("back to normal");
    // A dropped connection before any response.
    d.script_next(Script {
        drop_after: Some(0),
        ..Script::default()
    });
    let e = invoke(
        &c,
        "amazon.titan-embed-text-v2:0",
        json!({"inputText": "x"}),
    )
    .await
    .err()
    .expect("dropped");
    assert!(
        matches!(
            e,
            br::error::SdkError::DispatchFailure(_) | br::error::SdkError::ResponseError(_)
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn claude_messages_invoke_and_stream() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    let model = "us.anthropic.claude-3-7-sonnet-20250219-v1:0";
    let body = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": [{"role": "user", "content": "Hello Claude"}]});
    let out = invoke(&c, model, body.clone()).await.expect("invoke");
    assert_eq!(out.body["content"][0]["text"], "You said: Hello Claude");
    assert_eq!(out.body["stop_reason"], "end_turn");
    let input = out.body["usage"]["input_tokens"]
        .as_u64()
        .map(|n| n.to_string());
    assert_eq!(out.headers.get("x-amzn-bedrock-input-token-count"), input);
    assert!(
        out.headers
            .get("x-amzn-bedrock-output-token-count")
            .is_some()
    );
    let e = invoke(
        &c,
        model,
        json!({"anthropic_version": "bedrock-2023-05-31", "messages": []}),
    )
    .await
    .err()
    .expect("missing max_tokens");
    assert_eq!(
        e.message(),
        Some(
            "Malformed input request: #: required key [max_tokens] not found, please reformat your input and try again."
        )
    );

    d.push_script(
        Matcher::operation(Operation::InvokeModelWithResponseStream),
        Script {
            text: Some("streamed!".into()),
            deltas: Some(3),
            exception: Some(StreamException {
                after: 6,
                exception_type: "modelStreamErrorException".into(),
                message: Some("boom".into()),
            }),
            ..Script::default()
        },
    );
    let mut s = c
        .invoke_model_with_response_stream()
        .model_id(model)
        .content_type("application/json")
        .body(Blob::new(serde_json::to_vec(&body).expect("json")))
        .send()
        .await
        .expect("stream")
        .body;
    let mut text = String::new();
    let mut events = 0;
    let err = loop {
        match s.recv().await {
            Ok(Some(ResponseStream::Chunk(p))) => {
                events += 1;
                let v: Value =
                    serde_json::from_slice(p.bytes().map(|b| b.as_ref()).unwrap_or_default())
                        .expect("chunk json");
                if v["type"] == "content_block_delta" {
                    text.push_str(v["delta"]["text"].as_str().unwrap_or_default());
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert_eq!(events, 6);
    assert_eq!(text, "streamed!");
    let e = err.expect("exception after 6 events");
    assert!(
        e.as_service_error()
            .is_some_and(|se| se.is_model_stream_error_exception())
    );

    // Embedding models do not stream.
    let e = c
        .invoke_model_with_response_stream()
        .model_id("amazon.titan-embed-text-v2:0")
        .body(Blob::new(b"{\"inputText\":\"x\"}".to_vec()))
        .send()
        .await
        .expect_err("no streaming");
    assert!(e.into_service_error().is_validation_exception());
}

#[tokio::test]
async fn count_tokens() {
    let d = Double::start(DoubleConfig::default()).expect("start");
    let c = runtime(&d);
    let req = br::types::ConverseTokensRequest::builder()
        .messages(user("count these tokens please"))
        .build();
    let out = c
        .count_tokens()
        .model_id("anthropic.claude-sonnet-4-5-20250929-v1:0")
        .input(br::types::CountTokensInput::Converse(req))
        .send()
        .await
        .expect("count tokens");
    assert!(out.input_tokens() > 0);
    let rec = d.last_request().expect("record");
    assert_eq!(rec.operation, Operation::CountTokens);
    assert_eq!(
        rec.body["input"]["converse"]["messages"][0]["content"][0]["text"],
        "count these tokens please"
    );
    let req = br::types::ConverseTokensRequest::builder()
        .messages(user("x"))
        .build();
    let e = c
        .count_tokens()
        .model_id("amazon.nova-micro-v1:0")
        .input(br::types::CountTokensInput::Converse(req))
        .send()
        .await
        .expect_err("unsupported");
    assert!(e.into_service_error().is_validation_exception());
}
