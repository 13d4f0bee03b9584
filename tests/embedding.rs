//! End-to-end tests of `invoke_text_embedding`, `invoke_multimodal_embedding` and
//! `get_text_embedding_num_tokens` through the built binary and the real AWS SDK against
//! the Bedrock test double: the bodies each model was sent (batching, input_type,
//! dimensions, truncate), vector order and count, usage from Bedrock's header, prices,
//! errors, and what the plugin emitted (checked against the daemon's rules).

mod support;

use std::time::{Duration, Instant};

use base64::Engine;
use bedrock_double::{Double, DoubleConfig, Operation, RecordedRequest, TEST_ACCOUNT_ID};
use serde_json::{Value, json};
use support::aws::{
    api_key_credentials, double, embedding_request, in_region, key_credentials, with,
};
use support::{Plugin, Session};

const TITAN_V1: &str = "amazon.titan-embed-text-v1";
const TITAN_V2: &str = "amazon.titan-embed-text-v2:0";
const COHERE_EN: &str = "cohere.embed-english-v3";
const COHERE_MULTI: &str = "cohere.embed-multilingual-v3";
const COHERE_V4: &str = "cohere.embed-v4:0";
const NOVA: &str = "amazon.nova-2-multimodal-embeddings-v1:0";
const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn plugin() -> Plugin {
    // One attempt keeps error tests fast and makes each scripted error final.
    let p = Plugin::start_with(&[("DIFY_BEDROCK_MAX_ATTEMPTS", "1")]);
    p.wait_first_heartbeat(Duration::from_secs(10));
    p
}

fn invokes(d: &Double) -> Vec<RecordedRequest> {
    d.requests_for(Operation::InvokeModel)
}

fn vectors(s: &Session) -> Vec<Value> {
    assert!(s.error().is_none(), "{s:#?}");
    s.result()["embeddings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn dims(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

fn norm(v: &Value) -> f64 {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_f64)
                .map(|x| x * x)
                .sum::<f64>()
        })
        .unwrap_or(0.0)
        .sqrt()
}

/// The double counts about four characters per token, at least one per input.
fn double_tokens(texts: &[&str]) -> u64 {
    texts
        .iter()
        .map(|t| (t.chars().count() as u64).div_ceil(4).max(1))
        .sum()
}

fn error_type(s: &Session) -> String {
    s.expect_error()["error_type"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn message(s: &Session) -> String {
    s.expect_error()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn titan_v2_one_text_per_call_eight_at_a_time_in_input_order() {
    let d = double();
    let mut p = plugin();
    let creds = key_credentials(&d);
    // Each call waits 300 ms before answering: serial would take 4.8 s, unbounded 0.3 s,
    // eight at a time two waves.
    let texts: Vec<String> = (0..16)
        .map(|i| format!(r#"passage number {i} [[double: {{"first_byte_ms": 300}}]]"#))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let started = Instant::now();
    let s = p.call(
        "invoke_text_embedding",
        embedding_request(TITAN_V2, &creds, &refs, "document"),
    );
    let elapsed = started.elapsed();
    let forward = vectors(&s);
    assert_eq!(forward.len(), 16);
    assert!(
        elapsed >= Duration::from_millis(550) && elapsed < Duration::from_millis(2400),
        "16 calls of 300 ms, 8 in flight, took {elapsed:?}"
    );
    let sent = invokes(&d);
    assert_eq!(sent.len(), 16);
    let mut bodies: Vec<Value> = sent.iter().map(|r| r.body.clone()).collect();
    bodies.sort_by_key(|b| b["inputText"].as_str().map(str::to_string));
    let mut expected: Vec<Value> = texts
        .iter()
        .map(|t| json!({"inputText": t, "dimensions": 1024, "normalize": true}))
        .collect();
    expected.sort_by_key(|b| b["inputText"].as_str().map(str::to_string));
    assert_eq!(bodies, expected);
    assert!(sent.iter().all(|r| r.model_id.as_deref() == Some(TITAN_V2)));
    for v in &forward {
        assert_eq!(dims(v), 1024);
        assert!((norm(v) - 1.0).abs() < 1e-3, "normalized");
    }
    // The same texts (the double drops the marker) with the first call now the slowest:
    // calls finish in reverse order, vectors still come back in input order.
    let slow_first: Vec<String> = (0..16)
        .map(|i| {
            format!(
                r#"passage number {i} [[double: {{"first_byte_ms": {}}}]]"#,
                50 + (15 - i) * 40
            )
        })
        .collect();
    let refs: Vec<&str> = slow_first.iter().map(String::as_str).collect();
    let again = vectors(&p.call(
        "invoke_text_embedding",
        embedding_request(TITAN_V2, &creds, &refs, "document"),
    ));
    assert_eq!(again, forward, "vectors are in input order");
    assert_ne!(forward[0], forward[1]);
}

#[test]
fn titan_usage_comes_from_bedrock_and_is_priced_from_the_yaml() {
    let d = double();
    let mut p = plugin();
    // The double bills about a token per four characters, which no tokenizer estimate
    // of these texts matches: the count must be the one Bedrock reported.
    let texts = [
        "aaaaaaaaaaaaaaaaaaaaaaaa",
        "The quick brown fox jumps over the lazy dog",
    ];
    let s = p.call(
        "invoke_text_embedding",
        embedding_request(TITAN_V2, &key_credentials(&d), &texts, "document"),
    );
    let usage = &s.result()["usage"];
    let tokens = double_tokens(&texts);
    assert_eq!(tokens, 17);
    assert_eq!(usage["tokens"], tokens);
    assert_eq!(usage["total_tokens"], tokens);
    assert_eq!(usage["unit_price"], "0.00002");
    assert_eq!(usage["price_unit"], "0.001");
    // 17 × 0.00002 × 0.001 = 0.00000034 → 0.0000003 at seven places.
    assert_eq!(usage["total_price"], "0.0000003");
    assert_eq!(usage["currency"], "USD");
    assert!(usage["latency"].as_f64().is_some_and(|l| l > 0.0));
    assert_eq!(s.result()["model"], TITAN_V2);
}

#[test]
fn titan_v1_takes_only_the_text() {
    let d = double();
    let mut p = plugin();
    let s = p.call(
        "invoke_text_embedding",
        embedding_request(TITAN_V1, &key_credentials(&d), &["hello", ""], "query"),
    );
    let v = vectors(&s);
    assert_eq!((v.len(), dims(&v[0]), dims(&v[1])), (2, 1536, 1536));
    let mut bodies: Vec<Value> = invokes(&d).into_iter().map(|r| r.body).collect();
    bodies.sort_by_key(|b| b.to_string());
    // An empty text still gets its vector: Titan refuses "", so a space is sent.
    assert_eq!(
        bodies,
        vec![json!({"inputText": " "}), json!({"inputText": "hello"})]
    );
    // 0.0001 per 1K tokens: 2 + 1 tokens.
    assert_eq!(s.result()["usage"]["tokens"], 3);
    assert_eq!(s.result()["usage"]["total_price"], "0.0000003");
}

#[test]
fn cohere_v3_batches_96_texts_with_input_type_and_truncate() {
    let d = double();
    let mut p = plugin();
    let creds = key_credentials(&d);
    // The first batch answers last, so batch order cannot pass for input order.
    let mut texts: Vec<String> = (0..200).map(|i| format!("query number {i}")).collect();
    texts[0] = r#"query number 0 [[double: {"first_byte_ms": 400}]]"#.to_string();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let s = p.call(
        "invoke_text_embedding",
        embedding_request(COHERE_MULTI, &creds, &refs, "query"),
    );
    let forward = vectors(&s);
    assert_eq!(forward.len(), 200);
    assert!(forward.iter().all(|v| dims(v) == 1024));
    let mut sent = invokes(&d);
    sent.sort_by_key(|r| {
        r.body["texts"][0]
            .as_str()
            .map(|t| refs.iter().position(|x| *x == t))
    });
    assert_eq!(sent.len(), 3, "96 + 96 + 8");
    let mut all = Vec::new();
    for r in &sent {
        let b = r.body.as_object().expect("object body");
        assert_eq!(b["input_type"], "search_query");
        assert_eq!(b["truncate"], "END");
        assert_eq!(b["embedding_types"], json!(["float"]));
        assert_eq!(b.len(), 4, "no other keys: {b:?}");
        all.extend(b["texts"].as_array().cloned().unwrap_or_default());
    }
    assert_eq!(
        sent.iter()
            .map(|r| r.body["texts"].as_array().map_or(0, Vec::len))
            .collect::<Vec<_>>(),
        vec![96, 96, 8]
    );
    assert_eq!(all, refs.iter().map(|t| json!(t)).collect::<Vec<_>>());
    // Usage is what Bedrock reported for the three calls (the double drops its marker).
    let mut billed = refs.clone();
    billed[0] = "query number 0";
    assert_eq!(s.result()["usage"]["tokens"], double_tokens(&billed));
    // Vector i belongs to text i whatever the batch: the same texts, reversed.
    let reversed: Vec<&str> = refs.iter().rev().copied().collect();
    let back = vectors(&p.call(
        "invoke_text_embedding",
        embedding_request(COHERE_MULTI, &creds, &reversed, "query"),
    ));
    for (i, v) in forward.iter().enumerate() {
        assert_eq!(v, &back[199 - i], "vector {i}");
    }
}

#[test]
fn cohere_v3_documents_and_long_texts_clipped_to_2048_characters() {
    let d = double();
    let mut p = plugin();
    let long = "é".repeat(3000);
    let s = p.call(
        "invoke_text_embedding",
        embedding_request(
            COHERE_EN,
            &key_credentials(&d),
            &[&long, "short"],
            "document",
        ),
    );
    assert_eq!(vectors(&s).len(), 2);
    let sent = invokes(&d);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["input_type"], "search_document");
    let first = sent[0].body["texts"][0].as_str().unwrap_or_default();
    assert_eq!(first.chars().count(), 2048);
}

#[test]
fn cohere_v4_output_dimension_in_region_and_through_a_profile() {
    let d = double();
    let mut p = plugin();
    let s = p.call(
        "invoke_text_embedding",
        embedding_request(COHERE_V4, &key_credentials(&d), &["a", "b"], "document"),
    );
    let v = vectors(&s);
    assert!(v.iter().all(|x| dims(x) == 1536));
    let sent = invokes(&d);
    assert_eq!(sent[0].model_id.as_deref(), Some(COHERE_V4));
    assert_eq!(
        sent[0].body,
        json!({"texts": ["a", "b"], "input_type": "search_document", "truncate": "RIGHT",
               "embedding_types": ["float"], "output_dimension": 1536})
    );
    // Priced at 0.00012 per 1K tokens.
    assert_eq!(s.result()["usage"]["unit_price"], "0.00012");
    // us-west-2 is not an in-Region Region of Embed v4: its US profile is called.
    d.clear_requests();
    let s = p.call(
        "invoke_text_embedding",
        embedding_request(
            COHERE_V4,
            &in_region(&key_credentials(&d), "us-west-2"),
            &["a"],
            "query",
        ),
    );
    assert_eq!(vectors(&s).len(), 1);
    let sent = invokes(&d);
    assert_eq!(sent[0].model_id.as_deref(), Some("us.cohere.embed-v4:0"));
    assert_eq!(sent[0].body["input_type"], "search_query");
}

#[test]
fn nova_purposes_and_dimension() {
    let d = double();
    let mut p = plugin();
    let creds = key_credentials(&d);
    for (input_type, purpose) in [
        ("query", "GENERIC_RETRIEVAL"),
        ("document", "GENERIC_INDEX"),
    ] {
        d.clear_requests();
        let s = p.call(
            "invoke_text_embedding",
            embedding_request(NOVA, &creds, &["find me"], input_type),
        );
        let v = vectors(&s);
        assert_eq!(dims(&v[0]), 1024);
        let sent = invokes(&d);
        assert_eq!(
            sent[0].body,
            json!({"schemaVersion": "nova-multimodal-embed-v1", "taskType": "SINGLE_EMBEDDING",
                   "singleEmbeddingParams": {"embeddingPurpose": purpose, "embeddingDimension": 1024,
                                             "text": {"truncationMode": "END", "value": "find me"}}})
        );
        // Nova's body reports no tokens: the header's count is used.
        assert_eq!(s.result()["usage"]["tokens"], 2);
    }
}

#[test]
fn customizable_models_use_their_id_and_form_dimensions() {
    let d = Double::start(DoubleConfig::default().application_profile(
        "embprof01",
        "tagged-embeddings",
        "us-east-1",
        COHERE_V4,
    ))
    .expect("double");
    let mut p = plugin();
    let custom = |id: &str, extra: Value| {
        with(
            with(key_credentials(&d), json!({"inference_profile_id": id})),
            extra,
        )
    };
    let request =
        |creds: Value, texts: &[&str]| embedding_request("my-embedder", &creds, texts, "document");
    // A model id with a form size.
    let s = p.call(
        "invoke_text_embedding",
        request(custom(TITAN_V2, json!({"dimensions": "256"})), &["x"]),
    );
    assert_eq!(dims(&vectors(&s)[0]), 256);
    assert_eq!(invokes(&d)[0].body["dimensions"], 256);
    assert_eq!(s.result()["model"], "my-embedder");
    // Priced as the underlying model.
    assert_eq!(s.result()["usage"]["unit_price"], "0.00002");

    // A size the model does not offer is refused before any call.
    d.clear_requests();
    let s = p.call(
        "invoke_text_embedding",
        request(custom(TITAN_V2, json!({"dimensions": "300"})), &["x"]),
    );
    assert_eq!(error_type(&s), "InvokeBadRequestError");
    assert!(message(&s).contains("256, 512, 1024"), "{}", message(&s));
    assert!(invokes(&d).is_empty());

    // A system inference profile ARN is invoked as is, with the body of the model inside.
    let arn = format!(
        "arn:aws:bedrock:us-east-1:{TEST_ACCOUNT_ID}:inference-profile/us.cohere.embed-v4:0"
    );
    let s = p.call(
        "invoke_text_embedding",
        request(custom(&arn, json!({"dimensions": "512"})), &["x", "y"]),
    );
    assert!(vectors(&s).iter().all(|v| dims(v) == 512));
    let sent = invokes(&d);
    assert_eq!(sent[0].model_id.as_deref(), Some(arn.as_str()));
    assert_eq!(sent[0].body["output_dimension"], 512);
    assert_eq!(sent[0].body["texts"], json!(["x", "y"]));

    // An application inference profile is looked up, then invoked by its ARN.
    d.clear_requests();
    let app = format!(
        "arn:aws:bedrock:us-east-1:{TEST_ACCOUNT_ID}:application-inference-profile/embprof01"
    );
    let s = p.call(
        "invoke_text_embedding",
        request(custom(&app, json!({})), &["z"]),
    );
    assert_eq!(dims(&vectors(&s)[0]), 1536);
    assert_eq!(invokes(&d)[0].model_id.as_deref(), Some(app.as_str()));
    assert_eq!(invokes(&d)[0].body["embedding_types"], json!(["float"]));

    // An id whose model cannot be known, or that is no embedding model, is refused clearly.
    d.clear_requests();
    for id in [
        format!("arn:aws:bedrock:us-east-1:{TEST_ACCOUNT_ID}:provisioned-model/abc123"),
        "anthropic.claude-haiku-4-5-20251001-v1:0".to_string(),
    ] {
        let s = p.call(
            "invoke_text_embedding",
            request(custom(&id, json!({})), &["x"]),
        );
        assert_eq!(error_type(&s), "InvokeBadRequestError");
        assert!(
            message(&s).contains("cannot tell which embedding model")
                && message(&s).contains(TITAN_V2),
            "{}",
            message(&s)
        );
    }
    assert!(invokes(&d).is_empty());
}

fn document(content: &str, content_type: &str) -> Value {
    json!({"content": content, "content_type": content_type})
}

fn multimodal(model: &str, creds: &Value, documents: Value, input_type: &str) -> Value {
    json!({
        "provider": "bedrock",
        "model": model,
        "model_type": "text-embedding",
        "credentials": creds,
        "documents": documents,
        "input_type": input_type,
    })
}

fn gif() -> String {
    base64::engine::general_purpose::STANDARD.encode(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
}

#[test]
fn multimodal_documents_with_images_typed_by_their_bytes() {
    let d = double();
    let mut p = plugin();
    let creds = key_credentials(&d);
    // Cohere Embed v4: one call, interleaved inputs.
    let s = p.call(
        "invoke_multimodal_embedding",
        multimodal(
            COHERE_V4,
            &creds,
            json!([
                document("a caption", "text"),
                document(PNG_1X1, "image"),
                document(&format!("data:image/gif;base64,{}", gif()), "image")
            ]),
            "document",
        ),
    );
    let v = vectors(&s);
    assert_eq!(v.len(), 3);
    assert!(v.iter().all(|x| dims(x) == 1536));
    let sent = invokes(&d);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].body["inputs"],
        json!([
            {"content": [{"type": "text", "text": "a caption"}]},
            {"content": [{"type": "image_url", "image_url": format!("data:image/png;base64,{PNG_1X1}")}]},
            {"content": [{"type": "image_url", "image_url": format!("data:image/gif;base64,{}", gif())}]},
        ])
    );
    // Nova: one document per call; the image's format from its bytes.
    d.clear_requests();
    let s = p.call(
        "invoke_multimodal_embedding",
        multimodal(
            NOVA,
            &creds,
            json!([document(PNG_1X1, "image"), document("text", "text")]),
            "query",
        ),
    );
    assert_eq!(vectors(&s).len(), 2);
    let mut bodies: Vec<Value> = invokes(&d).into_iter().map(|r| r.body).collect();
    bodies.sort_by_key(|b| b.to_string());
    let params: Vec<&Value> = bodies.iter().map(|b| &b["singleEmbeddingParams"]).collect();
    assert!(
        params.contains(
            &&json!({"embeddingPurpose": "GENERIC_RETRIEVAL", "embeddingDimension": 1024,
        "image": {"format": "png", "source": {"bytes": PNG_1X1}}})
        ),
        "{params:#?}"
    );
    // A text-only model answers text documents and refuses images by name.
    let s = p.call(
        "invoke_multimodal_embedding",
        multimodal(
            TITAN_V2,
            &creds,
            json!([document("just text", "text")]),
            "document",
        ),
    );
    assert_eq!(vectors(&s).len(), 1);
    d.clear_requests();
    let s = p.call(
        "invoke_multimodal_embedding",
        multimodal(
            TITAN_V2,
            &creds,
            json!([document("t", "text"), document(PNG_1X1, "image")]),
            "document",
        ),
    );
    assert_eq!(error_type(&s), "InvokeBadRequestError");
    assert!(
        message(&s).contains("embeds text only, and document 1 is an image"),
        "{}",
        message(&s)
    );
    // An image in a format Bedrock does not take.
    let bmp = base64::engine::general_purpose::STANDARD.encode(b"BM\x1e\x00\x00\x00\x00\x00");
    let s = p.call(
        "invoke_multimodal_embedding",
        multimodal(NOVA, &creds, json!([document(&bmp, "image")]), "document"),
    );
    assert_eq!(error_type(&s), "InvokeBadRequestError");
    assert!(
        message(&s).contains("document 0: the image is not PNG, JPEG, GIF or WebP"),
        "{}",
        message(&s)
    );
    assert!(invokes(&d).is_empty(), "refusals never reach AWS");
}

#[test]
fn aws_errors_become_dify_errors() {
    let d = double();
    let mut p = plugin();
    let creds = key_credentials(&d);
    for (status, code, kind) in [
        (429, "ThrottlingException", "InvokeRateLimitError"),
        (403, "AccessDeniedException", "InvokeAuthorizationError"),
        (400, "ValidationException", "InvokeBadRequestError"),
        (
            500,
            "InternalServerException",
            "InvokeServerUnavailableError",
        ),
        (
            503,
            "ServiceUnavailableException",
            "InvokeServerUnavailableError",
        ),
    ] {
        let bad = format!(
            r#"fails [[double: {{"error": {{"status": {status}, "type": "{code}", "message": "scripted"}}}}]]"#
        );
        // One failing text among several fails the request, for batched and single-text models.
        for model in [COHERE_EN, TITAN_V2] {
            let s = p.call(
                "invoke_text_embedding",
                embedding_request(model, &creds, &["fine", &bad, "fine too"], "document"),
            );
            assert_eq!(error_type(&s), kind, "{code} on {model}: {s:#?}");
            assert!(
                message(&s).contains(code) && message(&s).contains("scripted"),
                "{}",
                message(&s)
            );
        }
    }
}

#[test]
fn a_model_outside_its_regions_is_answered_with_where_it_runs() {
    let d = double();
    let mut p = plugin();
    let s = p.call(
        "invoke_text_embedding",
        embedding_request(
            NOVA,
            &in_region(&key_credentials(&d), "eu-west-1"),
            &["x"],
            "document",
        ),
    );
    let m = message(&s);
    assert!(
        m.contains("AWS documents Nova Multimodal Embeddings in us-east-1")
            && m.contains("eu-west-1"),
        "{m}"
    );
}

#[test]
fn api_key_authentication() {
    let d = double();
    let mut p = plugin();
    let s = p.call(
        "invoke_text_embedding",
        embedding_request(TITAN_V2, &api_key_credentials(&d), &["x"], "document"),
    );
    assert_eq!(vectors(&s).len(), 1);
    assert!(
        invokes(&d)[0].identity.starts_with("bearer:"),
        "{:?}",
        invokes(&d)[0].identity
    );
}

#[test]
fn answers_that_cannot_fit_in_one_line_are_refused_and_the_largest_that_can_fits() {
    let d = double();
    let mut p = plugin();
    let creds = key_credentials(&d);
    // Titan v1: 1536 floats a vector; 5,000,000 / (1536 × 20) = 162.
    let texts: Vec<String> = (0..163).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let s = p.call(
        "invoke_text_embedding",
        embedding_request(TITAN_V1, &creds, &refs, "document"),
    );
    assert_eq!(error_type(&s), "InvokeBadRequestError");
    assert!(
        message(&s).contains("5 MiB") && message(&s).contains("at most 162"),
        "{}",
        message(&s)
    );
    assert!(invokes(&d).is_empty());
    // max_chunks (160) fits: the driver checks the line is under 5 MiB.
    let s = p.call(
        "invoke_text_embedding",
        embedding_request(TITAN_V1, &creds, &refs[..160], "document"),
    );
    assert_eq!(vectors(&s).len(), 160);
    let schema = p.call(
        "get_ai_model_schemas",
        json!({"provider": "bedrock", "model": TITAN_V1, "model_type": "text-embedding", "credentials": {}}),
    );
    assert_eq!(
        schema.result()["model_schema"]["model_properties"]["max_chunks"],
        160
    );
}

#[test]
fn no_texts_no_call() {
    let d = double();
    let mut p = plugin();
    let s = p.call(
        "invoke_text_embedding",
        embedding_request(COHERE_EN, &key_credentials(&d), &[], "document"),
    );
    assert_eq!(s.result()["embeddings"], json!([]));
    assert_eq!(s.result()["usage"]["tokens"], 0);
    assert!(invokes(&d).is_empty());
}

#[test]
fn token_counts_one_per_text() {
    let mut p = plugin();
    let s = p.call(
        "get_text_embedding_num_tokens",
        json!({"provider": "bedrock", "model": COHERE_V4, "model_type": "text-embedding",
               "credentials": {}, "texts": ["Hello, world!", "", "a b c"]}),
    );
    assert_eq!(s.result()["num_tokens"], json!([4, 0, 3]));
    let s = p.call(
        "get_text_embedding_num_tokens",
        json!({"provider": "bedrock", "model": "no-such-model", "model_type": "text-embedding",
               "credentials": {}, "texts": ["x"]}),
    );
    assert_eq!(error_type(&s), "InvokeBadRequestError");
}
