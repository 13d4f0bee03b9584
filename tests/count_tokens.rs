//! Token counts from Bedrock itself: with the provider setting on, `get_llm_num_tokens`
//! asks CountTokens for the models it serves (Claude), through the built binary and the
//! Bedrock double; off (the default), for other families, or when the call fails, it is
//! the offline estimate.

mod support;

use std::time::Duration;

use bedrock_double::Operation;
use serde_json::{Value, json};
use support::Plugin;
use support::aws::{double, key_credentials, with};

const HAIKU: &str = "anthropic.claude-haiku-4-5-20251001-v1:0";
const NOVA: &str = "amazon.nova-lite-v1:0";
/// 47 characters: the double counts 12 tokens (a token per 4 characters); the offline
/// estimate (cl100k) counts 24.
const TEXT: &str = "a a a a a a a a a a a a a a a a a a a a a a a a";

fn plugin() -> Plugin {
    let p = Plugin::start_with(&[("DIFY_BEDROCK_MAX_ATTEMPTS", "1")]);
    p.wait_first_heartbeat(Duration::from_secs(10));
    p
}

fn count(p: &mut Plugin, model: &str, credentials: Value) -> u64 {
    let s = p.call(
        "get_llm_num_tokens",
        json!({"provider": "bedrock", "model": model, "model_type": "llm", "credentials": credentials,
               "prompt_messages": [{"role": "user", "content": TEXT}], "tools": []}),
    );
    s.result()["num_tokens"].as_u64().expect("a count")
}

fn count_calls(d: &bedrock_double::Double) -> usize {
    d.requests()
        .iter()
        .filter(|r| r.operation == Operation::CountTokens)
        .count()
}

#[test]
fn bedrock_counts_when_asked_and_the_estimate_stays_the_default() {
    let d = double();
    let mut p = plugin();
    let creds = key_credentials(&d);
    let estimate = count(&mut p, HAIKU, creds.clone());
    assert_eq!(count_calls(&d), 0, "off by default: no call");
    let on = with(
        creds.clone(),
        json!({"count_tokens_with_bedrock": "enabled"}),
    );
    let counted = count(&mut p, HAIKU, on.clone());
    assert_eq!(count_calls(&d), 1);
    assert_eq!(counted, 12, "Bedrock's count");
    assert_ne!(counted, estimate);
    let sent = d
        .requests()
        .into_iter()
        .find(|r| r.operation == Operation::CountTokens)
        .expect("a CountTokens request");
    assert_eq!(sent.model_id.as_deref(), Some(HAIKU));
    assert_eq!(
        sent.body["input"]["converse"]["messages"][0]["content"][0]["text"],
        TEXT
    );
    // A family CountTokens does not serve is estimated without a call.
    d.clear_requests();
    assert_eq!(count(&mut p, NOVA, on), estimate);
    assert_eq!(count_calls(&d), 0);
}

#[test]
fn a_failed_count_falls_back_to_the_estimate() {
    let d = double();
    let mut p = plugin();
    let creds = key_credentials(&d);
    let estimate = count(&mut p, HAIKU, creds.clone());
    // A wrong secret: Bedrock refuses, and the count is the estimate, not an error.
    let refused = with(
        creds,
        json!({"count_tokens_with_bedrock": "enabled", "aws_secret_access_key": "wrong-secret"}),
    );
    assert_eq!(count(&mut p, HAIKU, refused), estimate);
    assert!(count_calls(&d) <= 1);
}
