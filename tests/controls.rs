//! Bedrock's platform controls through the built binary and the Bedrock double: the
//! service tier (sent, priced as Bedrock reports it served, AWS's refusal explained with
//! the catalogue's regions), latency-optimized inference (through the cross-region
//! profile; a standard answer noted), and prompt caching completed (a checkpoint after
//! the tool definitions, the one-hour TTL on every checkpoint, writes priced per TTL).

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::aws::{converse_bodies, double, in_region, key_credentials, llm_request, user};
use support::{Plugin, Session};

const NOVA_PRO: &str = "amazon.nova-pro-v1:0";
const GPT_OSS: &str = "openai.gpt-oss-120b-1:0";
const LLAMA_70B: &str = "meta.llama3-1-70b-instruct-v1:0";
const SONNET: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const OPUS_41: &str = "anthropic.claude-opus-4-1-20250805-v1:0";

fn plugin() -> Plugin {
    let p = Plugin::start_with(&[("DIFY_BEDROCK_MAX_ATTEMPTS", "1")]);
    p.wait_first_heartbeat(Duration::from_secs(10));
    p
}

/// The usage of the answer's last chunk.
fn usage(s: &Session) -> Value {
    let items = s.items();
    let last = items.last().expect("a chunk");
    last["delta"]["usage"].clone()
}

fn schema_params(p: &mut Plugin, model: &str) -> Vec<String> {
    let s = p.call(
        "get_ai_model_schemas",
        json!({"provider": "bedrock", "model": model, "model_type": "llm", "credentials": {}}),
    );
    s.result()["model_schema"]["parameter_rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_service_tier_is_sent_as_chosen_and_nothing_when_unset() {
    let d = double();
    let mut p = plugin();
    for tier in ["default", "priority", "flex"] {
        for stream in [true, false] {
            d.clear_requests();
            let s = p.call(
                "invoke_llm",
                llm_request(
                    GPT_OSS,
                    &key_credentials(&d),
                    user("hello"),
                    stream,
                    json!({"service_tier": tier}),
                ),
            );
            assert!(s.error().is_none(), "{tier}: {s:#?}");
            let body = &converse_bodies(&d)[0].body;
            assert_eq!(body["serviceTier"], json!({"type": tier}), "{body:#}");
        }
    }
    d.clear_requests();
    let s = p.call(
        "invoke_llm",
        llm_request(
            GPT_OSS,
            &key_credentials(&d),
            user("hello"),
            true,
            json!({}),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert!(converse_bodies(&d)[0].body.get("serviceTier").is_none());
}

#[test]
fn the_tier_bedrock_reports_prices_the_answer() {
    let d = double();
    let mut p = plugin();
    // The catalogue prices only Claude, which AWS serves at Standard: the double reports
    // another tier to show the plugin prices what Bedrock says served the request.
    // Sonnet 4.5: $0.003 in, $0.015 out per 1K tokens at Standard.
    for (served, input_price, total) in [
        (None, "0.003", "0.0450000"),
        (Some("default"), "0.003", "0.0450000"),
        (Some("priority"), "0.00525", "0.0787500"),
        (Some("flex"), "0.0015", "0.0225000"),
        (Some("reserved"), "0.003", "0.0450000"),
    ] {
        for stream in [true, false] {
            let mut script =
                json!({"text": "ok", "usage": {"input_tokens": 5000, "output_tokens": 2000}});
            if let Some(tier) = served {
                script["served_tier"] = json!(tier);
            }
            let s = p.call(
                "invoke_llm",
                llm_request(
                    SONNET,
                    &key_credentials(&d),
                    user(&format!("hello [[double: {script}]]")),
                    stream,
                    json!({}),
                ),
            );
            assert!(s.error().is_none(), "{served:?}: {s:#?}");
            let u = usage(&s);
            assert_eq!(
                (u["prompt_unit_price"].as_str(), u["total_price"].as_str()),
                (Some(input_price), Some(total)),
                "{served:?} {stream}: {u}"
            );
        }
    }
}

#[test]
fn a_tier_aws_refuses_is_sent_and_explained_with_the_regions_that_offer_it() {
    let d = double();
    let mut p = plugin();
    // gpt-oss-120b runs in ap-southeast-2, but AWS lists no Flex tier for it there.
    let s = p.call(
        "invoke_llm",
        llm_request(
            GPT_OSS,
            &in_region(&key_credentials(&d), "ap-southeast-2"),
            user("hello"),
            true,
            json!({"service_tier": "flex"}),
        ),
    );
    let e = s.expect_error();
    assert_eq!(e["error_type"], "InvokeBadRequestError", "{e}");
    let message = e["message"].as_str().unwrap_or("");
    assert!(
        message.contains("The provided service tier is not supported for this model"),
        "AWS's words are kept: {message}"
    );
    assert!(
        message.contains("flex service tier for gpt-oss-120b only in us-east-1")
            && message.contains("choose the default tier"),
        "{message}"
    );
    assert_eq!(converse_bodies(&d).len(), 1, "the call was made");
}

#[test]
fn tiers_and_latency_are_offered_where_aws_documents_them() {
    let mut p = plugin();
    let gpt = schema_params(&mut p, GPT_OSS);
    assert!(gpt.contains(&"service_tier".to_string()), "{gpt:?}");
    assert!(!gpt.contains(&"performance_latency".to_string()));
    let nova = schema_params(&mut p, NOVA_PRO);
    for name in ["service_tier", "performance_latency"] {
        assert!(nova.contains(&name.to_string()), "{name}: {nova:?}");
    }
    let sonnet = schema_params(&mut p, SONNET);
    assert!(!sonnet.contains(&"service_tier".to_string()), "{sonnet:?}");
    for name in ["tools_cache_checkpoint", "cache_ttl"] {
        assert!(sonnet.contains(&name.to_string()), "{name}: {sonnet:?}");
    }
    // Opus 4.1 caches tools, for five minutes only.
    let opus = schema_params(&mut p, OPUS_41);
    assert!(opus.contains(&"tools_cache_checkpoint".to_string()));
    assert!(!opus.contains(&"cache_ttl".to_string()), "{opus:?}");
    let llama = schema_params(&mut p, LLAMA_70B);
    assert!(llama.contains(&"performance_latency".to_string()));
}

#[test]
fn optimized_latency_goes_through_the_profile_and_a_standard_answer_is_noted() {
    let d = double();
    let mut p = plugin();
    let ask = |p: &mut Plugin, region: &str| {
        d.clear_requests();
        let s = p.call(
            "invoke_llm",
            llm_request(
                NOVA_PRO,
                &in_region(&key_credentials(&d), region),
                user("hello"),
                true,
                json!({"performance_latency": "optimized", "cross-region": "geographic"}),
            ),
        );
        assert!(s.error().is_none(), "{region}: {s:#?}");
        let bodies = converse_bodies(&d);
        assert_eq!(
            bodies[0].model_id.as_deref(),
            Some("us.amazon.nova-pro-v1:0")
        );
        assert_eq!(
            bodies[0].body["performanceConfig"],
            json!({"latency": "optimized"})
        );
    };
    let noted = |p: &Plugin| {
        p.logs().iter().any(|l| {
            l["data"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("served this request at standard latency")
        })
    };
    ask(&mut p, "us-east-2");
    assert!(!noted(&p), "served optimized: nothing to note");
    // From us-west-2 the double (as AWS documents) serves Nova Pro at standard latency.
    ask(&mut p, "us-west-2");
    assert!(noted(&p), "{:#?}", p.logs());
}

fn tool() -> Value {
    json!([{"name": "lookup", "description": "Look a word up",
            "parameters": {"type": "object", "properties": {"word": {"type": "string"}}}}])
}

fn agent_turns(marker: &str) -> Value {
    json!([
        {"role": "system", "content": "Use the tool when asked."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": format!("second {marker}")}
    ])
}

#[test]
fn four_checkpoints_with_the_one_hour_ttl_and_writes_priced_per_ttl() {
    let d = double();
    let mut p = plugin();
    let marker = r#"[[double: {"text": "ok", "usage": {"input_tokens": 100, "output_tokens": 10, "cache_read_input_tokens": 1000, "cache_write_input_tokens": 2000}}]]"#;
    for (ttl, prompt_price) in [
        // 100 × 0.003 + 1000 × 0.0003 + 2000 × 0.006 (one hour), per 1K tokens.
        (Some("1h"), "0.0126000"),
        // … + 2000 × 0.00375 (five minutes).
        (Some("5m"), "0.0081000"),
        (None, "0.0081000"),
    ] {
        d.clear_requests();
        let mut params = json!({"system_cache_checkpoint": true,
            "latest_two_messages_cache_checkpoint": true, "tools_cache_checkpoint": true});
        if let Some(ttl) = ttl {
            params["cache_ttl"] = json!(ttl);
        }
        let mut request = llm_request(
            SONNET,
            &key_credentials(&d),
            agent_turns(marker),
            true,
            params,
        );
        request["tools"] = tool();
        let s = p.call("invoke_llm", request);
        assert!(s.error().is_none(), "{ttl:?}: {s:#?}");
        let body = &converse_bodies(&d)[0].body;
        let point = match ttl {
            Some(ttl) => json!({"cachePoint": {"type": "default", "ttl": ttl}}),
            None => json!({"cachePoint": {"type": "default"}}),
        };
        let tools = body["toolConfig"]["tools"].as_array().expect("tools");
        assert_eq!(tools.len(), 2, "{body:#}");
        assert_eq!(tools[0]["toolSpec"]["name"], "lookup");
        assert_eq!(tools[1], point, "the checkpoint follows the definitions");
        assert_eq!(body["system"].as_array().expect("system")[1], point);
        let points = body.to_string().matches("cachePoint").count();
        assert_eq!(
            points, 4,
            "Bedrock's limit, reached and not passed: {body:#}"
        );
        let u = usage(&s);
        assert_eq!(u["prompt_tokens"], 3100, "{u}");
        assert_eq!(u["prompt_price"], prompt_price, "{ttl:?}: {u}");
    }
}

#[test]
fn without_tools_the_tools_checkpoint_is_not_placed() {
    let d = double();
    let mut p = plugin();
    let s = p.call(
        "invoke_llm",
        llm_request(
            SONNET,
            &key_credentials(&d),
            user("hello"),
            false,
            json!({"tools_cache_checkpoint": true}),
        ),
    );
    assert!(s.error().is_none(), "{s:#?}");
    assert!(converse_bodies(&d)[0].body.get("toolConfig").is_none());
}
