//! End-to-end tests of `invoke_rerank` and `invoke_multimodal_rerank` through the built
//! binary and the real AWS SDK against the Bedrock test double: InvokeModel bodies per
//! model, ordering, `top_n` and `score_threshold`, regions, API keys, profile ARNs and
//! errors, with every answer checked against the daemon's rules.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use bedrock_double::{Double, DoubleConfig, Operation, RecordedRequest, TEST_ACCOUNT_ID};
use serde_json::{Value, json};
use support::aws::{api_key_credentials, double, in_region, key_credentials, rerank_request, with};
use support::{Plugin, Session};

const AMAZON: &str = "amazon.rerank-v1:0";
const COHERE: &str = "cohere.rerank-v3-5:0";
const DOCS: [&str; 3] = [
    "Carson City is the capital city of Nevada.",
    "Saipan is the capital of the Northern Mariana Islands.",
    "Washington, D.C. is the capital of the United States.",
];

fn plugin() -> Plugin {
    let p = Plugin::start_with(&[("DIFY_BEDROCK_MAX_ATTEMPTS", "1")]);
    p.wait_first_heartbeat(Duration::from_secs(10));
    p
}

fn invokes(d: &Double) -> Vec<RecordedRequest> {
    d.requests_for(Operation::InvokeModel)
}

fn ranked(s: &Session) -> Vec<(u64, String, f64)> {
    assert!(s.error().is_none(), "{s:#?}");
    s.result()["docs"]
        .as_array()
        .map(|docs| {
            docs.iter()
                .map(|d| {
                    (
                        d["index"].as_u64().unwrap_or(u64::MAX),
                        d["text"].as_str().unwrap_or_default().to_string(),
                        d["score"].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn scored(scores: &str) -> String {
    format!(r#"What is the capital of the United States? [[double: {{"scores": {scores}}}]]"#)
}

fn error_of(s: &Session) -> (String, String) {
    let e = s.expect_error();
    (
        e["error_type"].as_str().unwrap_or_default().to_string(),
        e["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn results_are_sorted_by_score_with_their_index_and_text() {
    let d = double();
    let mut p = plugin();
    let query = scored("[0.2, 0.9, 0.5]");
    let s = p.call(
        "invoke_rerank",
        rerank_request(COHERE, &key_credentials(&d), &query, &DOCS, 0, 0.0),
    );
    assert_eq!(
        ranked(&s),
        vec![
            (1, DOCS[1].to_string(), 0.9),
            (2, DOCS[2].to_string(), 0.5),
            (0, DOCS[0].to_string(), 0.2),
        ]
    );
    assert_eq!(s.result()["model"], COHERE);
    // One call; every document sent once; no top_n when unset; Cohere's api_version.
    let sent = invokes(&d);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].model_id.as_deref(), Some(COHERE));
    assert_eq!(
        sent[0].body,
        json!({"query": query, "documents": DOCS, "api_version": 2})
    );
    assert!(
        d.requests_for(Operation::Rerank).is_empty(),
        "never the agent-runtime Rerank API"
    );
}

#[test]
fn top_n_and_score_threshold_with_zero_meaning_unset() {
    let d = double();
    let mut p = plugin();
    let creds = key_credentials(&d);
    let query = scored("[0.01, 0.9, 0.5]");
    let call = |p: &mut Plugin, top_n: u64, threshold: f64| {
        p.call(
            "invoke_rerank",
            rerank_request(COHERE, &creds, &query, &DOCS, top_n, threshold),
        )
    };
    let indices = |s: &Session| ranked(s).into_iter().map(|(i, _, _)| i).collect::<Vec<_>>();
    // top_n goes to Bedrock and bounds the answer.
    let s = call(&mut p, 2, 0.0);
    assert_eq!(indices(&s), vec![1, 2]);
    assert_eq!(
        invokes(&d).last().map(|r| r.body["top_n"].clone()),
        Some(json!(2))
    );
    // More than there are documents is asked as all of them (Bedrock refuses more).
    let s = call(&mut p, 10, 0.0);
    assert_eq!(indices(&s), vec![1, 2, 0]);
    assert_eq!(
        invokes(&d).last().map(|r| r.body["top_n"].clone()),
        Some(json!(3))
    );
    // A threshold keeps scores at or above it.
    let s = call(&mut p, 0, 0.5);
    assert_eq!(indices(&s), vec![1, 2]);
    assert!(
        invokes(&d)
            .last()
            .is_some_and(|r| r.body.get("top_n").is_none())
    );
    // Both: the best n, then the threshold.
    let s = call(&mut p, 1, 0.95);
    assert_eq!(indices(&s), Vec::<u64>::new());
    // Zero threshold keeps even the lowest score.
    let s = call(&mut p, 0, 0.0);
    assert_eq!(indices(&s), vec![1, 2, 0]);
}

#[test]
fn amazon_rerank_runs_in_its_regions_and_is_refused_elsewhere_by_name() {
    let d = double();
    let mut p = plugin();
    let west = in_region(&key_credentials(&d), "us-west-2");
    let s = p.call(
        "invoke_rerank",
        rerank_request(AMAZON, &west, "capital of the United States", &DOCS, 0, 0.0),
    );
    let r = ranked(&s);
    assert_eq!(r.len(), 3);
    assert_eq!(
        r[0].0, 2,
        "the overlap ranking puts the US document first: {r:?}"
    );
    assert!(r.windows(2).all(|w| w[0].2 >= w[1].2), "sorted: {r:?}");
    let sent = invokes(&d);
    assert_eq!(
        sent[0].body,
        json!({"query": "capital of the United States", "documents": DOCS})
    );
    assert_eq!(sent[0].region.as_deref(), Some("us-west-2"));

    // us-east-1 has Cohere Rerank only, as far as the catalogue knows: the call is made
    // (AWS decides), and its refusal comes back with the regions that work.
    d.clear_requests();
    let s = p.call(
        "invoke_rerank",
        rerank_request(AMAZON, &key_credentials(&d), "q", &DOCS, 0, 0.0),
    );
    let (kind, message) = error_of(&s);
    assert_eq!(kind, "InvokeBadRequestError");
    assert!(
        message.contains("Amazon Rerank 1.0 is not offered in us-east-1")
            && message.contains("ap-northeast-1, ca-central-1, eu-central-1, us-west-2"),
        "{message}"
    );
    assert!(message.contains("ValidationException"), "{message}");
    assert_eq!(invokes(&d).len(), 1);
}

#[test]
fn no_documents_no_call() {
    let d = double();
    let mut p = plugin();
    let s = p.call(
        "invoke_rerank",
        rerank_request(COHERE, &key_credentials(&d), "anything", &[], 3, 0.5),
    );
    assert_eq!(s.result()["docs"], json!([]));
    assert!(d.requests().is_empty());
}

#[test]
fn bedrock_api_keys_work_because_rerank_goes_through_invoke_model() {
    let d = double();
    let mut p = plugin();
    let s = p.call(
        "invoke_rerank",
        rerank_request(
            COHERE,
            &api_key_credentials(&d),
            &scored("[0.3, 0.1, 0.2]"),
            &DOCS,
            0,
            0.0,
        ),
    );
    assert_eq!(
        ranked(&s).iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![0, 2, 1]
    );
    let sent = invokes(&d);
    assert!(
        sent[0].identity.starts_with("bearer:"),
        "{}",
        sent[0].identity
    );
}

#[test]
fn customizable_rerank_models_invoke_their_profile_arn() {
    let d = Double::start(DoubleConfig::default().application_profile(
        "rrprof01",
        "tagged-rerank",
        "us-west-2",
        AMAZON,
    ))
    .expect("double");
    let mut p = plugin();
    let custom = |id: &str, region: &str| {
        with(
            in_region(&key_credentials(&d), region),
            json!({"inference_profile_id": id}),
        )
    };
    let request = |creds: Value| {
        rerank_request(
            "my-reranker",
            &creds,
            &scored("[0.1, 0.2, 0.3]"),
            &DOCS,
            2,
            0.0,
        )
    };
    // An application inference profile: looked up, then invoked by its ARN with Amazon's body.
    let app = format!(
        "arn:aws:bedrock:us-west-2:{TEST_ACCOUNT_ID}:application-inference-profile/rrprof01"
    );
    let s = p.call("invoke_rerank", request(custom(&app, "us-west-2")));
    assert_eq!(
        ranked(&s).iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(s.result()["model"], "my-reranker");
    let sent = invokes(&d);
    assert_eq!(sent[0].model_id.as_deref(), Some(app.as_str()));
    assert!(sent[0].body.get("api_version").is_none());
    assert_eq!(sent[0].body["top_n"], 2);
    // A foundation-model ARN of Cohere Rerank gets Cohere's body.
    d.clear_requests();
    let arn = format!("arn:aws:bedrock:us-east-1::foundation-model/{COHERE}");
    let s = p.call("invoke_rerank", request(custom(&arn, "us-east-1")));
    assert_eq!(ranked(&s).len(), 2);
    assert_eq!(invokes(&d)[0].model_id.as_deref(), Some(arn.as_str()));
    assert_eq!(invokes(&d)[0].body["api_version"], 2);
    // A model that does not rerank is refused, naming the ones that do and where.
    d.clear_requests();
    let s = p.call(
        "invoke_rerank",
        request(custom("cohere.embed-v4:0", "us-east-1")),
    );
    let (kind, message) = error_of(&s);
    assert_eq!(kind, "InvokeBadRequestError");
    assert!(
        message.contains("cohere.embed-v4:0 is not a rerank model")
            && message.contains(
                "amazon.rerank-v1:0 (ap-northeast-1, ca-central-1, eu-central-1, us-west-2)"
            ),
        "{message}"
    );
    assert!(invokes(&d).is_empty());
}

#[test]
fn aws_errors_become_dify_errors() {
    let d = double();
    let mut p = plugin();
    for (status, code, kind) in [
        (429, "ThrottlingException", "InvokeRateLimitError"),
        (403, "AccessDeniedException", "InvokeAuthorizationError"),
        (400, "ValidationException", "InvokeBadRequestError"),
        (
            500,
            "InternalServerException",
            "InvokeServerUnavailableError",
        ),
    ] {
        let query = format!(
            r#"q [[double: {{"error": {{"status": {status}, "type": "{code}", "message": "scripted"}}}}]]"#
        );
        let s = p.call(
            "invoke_rerank",
            rerank_request(COHERE, &key_credentials(&d), &query, &DOCS, 0, 0.0),
        );
        let (got, message) = error_of(&s);
        assert_eq!(got, kind, "{code}");
        assert!(
            message.contains(code) && message.contains("scripted"),
            "{message}"
        );
    }
}

#[test]
fn more_than_a_thousand_documents_are_ranked_in_parts_each_sent_once() {
    let d = double();
    let mut p = plugin();
    let docs: Vec<String> = (0..1500)
        .map(|i| format!("document {i} about topic {}", i % 7))
        .collect();
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let s = p.call(
        "invoke_rerank",
        rerank_request(COHERE, &key_credentials(&d), "topic 3", &refs, 0, 0.0),
    );
    let r = ranked(&s);
    assert_eq!(r.len(), 1500);
    assert!(r.windows(2).all(|w| w[0].2 >= w[1].2), "sorted by score");
    assert_eq!(r.iter().map(|x| x.0).collect::<BTreeSet<_>>().len(), 1500);
    assert!(r.iter().all(|(i, text, _)| refs[*i as usize] == text));
    let sent = invokes(&d);
    let mut sizes: Vec<usize> = sent
        .iter()
        .map(|x| x.body["documents"].as_array().map_or(0, Vec::len))
        .collect();
    sizes.sort();
    assert_eq!(sizes, vec![500, 1000]);
    let all: BTreeSet<String> = sent
        .iter()
        .flat_map(|x| x.body["documents"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    assert_eq!(all.len(), 1500);
}

fn mm(content: &str, content_type: &str) -> Value {
    json!({"content": content, "content_type": content_type})
}

#[test]
fn multimodal_rerank_takes_text_and_refuses_images() {
    let d = double();
    let mut p = plugin();
    let creds = key_credentials(&d);
    let request = |query: Value, docs: Value| {
        json!({"provider": "bedrock", "model": COHERE, "model_type": "rerank", "credentials": creds,
               "query": query, "docs": docs, "score_threshold": 0.0, "top_n": 0})
    };
    let s = p.call(
        "invoke_multimodal_rerank",
        request(
            mm(&scored("[0.4, 0.6]"), "text"),
            json!([mm(DOCS[0], "text"), mm(DOCS[1], "text")]),
        ),
    );
    assert_eq!(
        ranked(&s).iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![1, 0]
    );
    d.clear_requests();
    let s = p.call(
        "invoke_multimodal_rerank",
        request(
            mm("q", "text"),
            json!([mm(DOCS[0], "text"), mm("iVBORw0KGgo=", "image")]),
        ),
    );
    let (kind, message) = error_of(&s);
    assert_eq!(kind, "InvokeBadRequestError");
    assert!(
        message.contains("document 1 is image content") && message.contains("rank text only"),
        "{message}"
    );
    let s = p.call(
        "invoke_multimodal_rerank",
        request(mm("iVBORw0KGgo=", "image"), json!([mm(DOCS[0], "text")])),
    );
    assert!(error_of(&s).1.contains("the query is image content"));
    assert!(invokes(&d).is_empty());
}
