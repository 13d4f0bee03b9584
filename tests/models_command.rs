//! `dify-bedrock models` through the built binary against the Bedrock test double: the
//! listing for a region (catalogue models in-Region and profile-only, models the catalogue
//! does not know, access marks, the catalogue models the account cannot reach), the same
//! as JSON, the type filter, API keys, AWS's refusals in validation's words, the
//! control-plane endpoint option, paginated profiles, and bad usage.

use std::process::Command;

use bedrock_double::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_dify-bedrock");
const HAIKU: &str = "anthropic.claude-haiku-4-5-20251001-v1:0";
const NOVA_LITE: &str = "amazon.nova-lite-v1:0";
const NOVA_PRO: &str = "amazon.nova-pro-v1:0";
/// In the double's catalogue, not in the plugin's.
const CLAUDE_3_HAIKU: &str = "anthropic.claude-3-haiku-20240307-v1:0";

struct Run {
    code: Option<i32>,
    out: String,
    err: String,
}

/// `dify-bedrock models ARGS` with a clean environment plus `env`: no AWS profile, no
/// instance metadata, no `.env`, one attempt per call.
fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(BIN);
    command
        .arg("models")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("DIFY_BEDROCK_MAX_ATTEMPTS", "1")
        .env("DIFY_BEDROCK_CONNECT_TIMEOUT_SECS", "2")
        .current_dir(env!("CARGO_TARGET_TMPDIR"));
    for (k, v) in env {
        command.env(k, v);
    }
    let o = command.output().expect("run dify-bedrock models");
    Run {
        code: o.status.code(),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// `models` in `region` with the double's access keys, aimed at its control plane.
fn listing(d: &Double, region: &str, extra: &[&str]) -> Run {
    let url = d.url();
    let mut args = vec![
        "--region",
        region,
        "--access-key",
        TEST_ACCESS_KEY,
        "--secret-key",
        TEST_SECRET_KEY,
        "--control-endpoint-url",
        &url,
    ];
    args.extend_from_slice(extra);
    run(&args, &[])
}

/// The cells of a model's table row: id, name (provider), route, profiles, catalogue,
/// enabled. Cells are two or more spaces apart and never hold two spaces themselves.
fn row(out: &str, model: &str) -> Vec<String> {
    let line = out
        .lines()
        .find(|l| l.split("  ").next() == Some(model))
        .unwrap_or_else(|| panic!("no row for {model} in\n{out}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.out).unwrap_or_else(|e| panic!("{e}: {}", run.out))
}

fn model<'a>(listing: &'a Value, id: &str) -> &'a Value {
    listing["models"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["model_id"] == id))
        .unwrap_or_else(|| panic!("no {id} in {listing:#}"))
}

#[test]
fn lists_what_the_account_can_call_from_a_region() {
    let d = Double::start(DoubleConfig::default().without_model_access(NOVA_PRO)).expect("double");
    let r = listing(&d, "us-east-1", &[]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    let out = &r.out;
    assert!(
        out.starts_with("Amazon Bedrock models the credentials can see from us-east-1\n"),
        "{out}"
    );
    for heading in ["\nllm: ", "\ntext-embedding: ", "\nrerank: 1 model\n"] {
        assert!(out.contains(heading), "no {heading:?} in\n{out}");
    }
    // A catalogue model in-Region, also in the US profile.
    assert_eq!(
        row(out, NOVA_LITE),
        [
            NOVA_LITE,
            "Nova Lite (Amazon)",
            "in-Region",
            "us",
            "yes: disabled, geographic (us)",
            "yes"
        ]
    );
    // A profile-only catalogue model, with the prefixes callable from here.
    assert_eq!(
        row(out, HAIKU),
        [
            HAIKU,
            "Claude Haiku 4.5 (Anthropic)",
            "profile only",
            "global, us",
            "yes: geographic (us), global",
            "yes"
        ]
    );
    // A model the catalogue does not know.
    assert_eq!(
        row(out, CLAUDE_3_HAIKU),
        [
            CLAUDE_3_HAIKU,
            "Claude 3 Haiku (Anthropic)",
            "in-Region",
            "us",
            "no",
            "yes"
        ]
    );
    // Offered elsewhere, reached from here through profiles only.
    assert_eq!(
        row(out, "anthropic.claude-opus-4-6-v1")[2],
        "profile only, not listed in us-east-1"
    );
    // Embedding models: in the catalogue, the plugin calls them in-Region.
    assert_eq!(
        row(out, "cohere.embed-v4:0")[2..],
        ["in-Region", "us, global", "yes", "yes"]
    );
    // No access: marked, said why, and listed among what cannot be reached.
    assert_eq!(row(out, NOVA_PRO)[5], "no");
    assert!(
        out.contains(&format!(
            "  {NOVA_PRO}: enabled no: AWS says NOT_AUTHORIZED"
        )),
        "{out}"
    );
    let gaps = out
        .split("\nCatalogue models this account cannot reach from us-east-1: 2\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no gaps section in\n{out}"));
    assert!(
        gaps.contains("  amazon.rerank-v1:0 (Amazon Rerank 1.0, rerank): not offered in us-east-1: not listed there, and no inference profile callable from us-east-1 routes to it\n"),
        "{gaps}"
    );
    assert!(
        gaps.contains(&format!(
            "  {NOVA_PRO} (Nova Pro, llm): not enabled for this account: AWS says NOT_AUTHORIZED"
        )),
        "{gaps}"
    );
    assert!(
        out.contains("  openai.gpt-5.4 (GPT-5.4): served by bedrock-mantle"),
        "{out}"
    );

    // Every call went to the control-plane endpoint given, signed for us-east-1.
    let calls = d.requests();
    assert!(!calls.is_empty());
    for c in &calls {
        assert!(
            matches!(
                c.operation,
                Operation::ListFoundationModels
                    | Operation::ListInferenceProfiles
                    | Operation::GetFoundationModelAvailability
            ),
            "unexpected {:?}",
            c.operation
        );
        assert_eq!(c.identity, TEST_ACCESS_KEY);
        assert_eq!(c.region.as_deref(), Some("us-east-1"));
        assert_eq!(c.service.as_deref(), Some("bedrock"));
        assert_eq!(c.status, 200, "{c:?}");
    }
    assert_eq!(d.requests_for(Operation::ListFoundationModels).len(), 1);
    let profiles = d.requests_for(Operation::ListInferenceProfiles);
    assert_eq!(profiles.len(), 1);
    let query = profiles[0].query.as_deref().unwrap_or_default();
    assert!(query.contains("type=SYSTEM_DEFINED"), "{query}");
    // One availability question per model shown.
    let shown = out
        .lines()
        .filter(|l| l.contains("  ") && !l.starts_with("MODEL ID") && !l.starts_with("  "))
        .count();
    let asked = d.requests_for(Operation::GetFoundationModelAvailability);
    assert_eq!(asked.len(), shown, "{out}");
    assert!(asked.iter().any(|a| a.model_id.as_deref() == Some(HAIKU)));
}

#[test]
fn json_holds_the_same_listing() {
    let d = Double::start(DoubleConfig::default().without_model_access(NOVA_PRO)).expect("double");
    let r = listing(&d, "us-east-1", &["--json"]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    let l = json(&r);
    assert_eq!(l["region"], "us-east-1");
    let lite = model(&l, NOVA_LITE);
    assert_eq!(lite["type"], "llm");
    assert_eq!(lite["name"], "Nova Lite");
    assert_eq!(lite["provider"], "Amazon");
    assert_eq!(lite["route"], "in-region");
    assert_eq!(lite["listed"], true);
    assert_eq!(
        lite["profiles"],
        serde_json::json!([{"prefix": "us", "id": format!("us.{NOVA_LITE}")}])
    );
    assert_eq!(
        lite["catalogue"]["choices"],
        serde_json::json!([
            {"option": "disabled", "id": NOVA_LITE},
            {"option": "geographic", "id": format!("us.{NOVA_LITE}")},
        ])
    );
    assert_eq!(lite["enabled"], "yes");
    assert_eq!(lite["availability"]["authorization"], "AUTHORIZED");
    let haiku = model(&l, HAIKU);
    assert_eq!(haiku["route"], "profile-only");
    let prefixes: Vec<&str> = haiku["profiles"]
        .as_array()
        .map(|ps| ps.iter().filter_map(|p| p["prefix"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(prefixes, ["global", "us"]);
    assert_eq!(model(&l, CLAUDE_3_HAIKU)["catalogue"], Value::Null);
    let pro = model(&l, NOVA_PRO);
    assert_eq!(pro["enabled"], "no");
    assert_eq!(pro["availability"]["entitlement"], "NOT_AVAILABLE");
    let titan = model(&l, "amazon.titan-embed-text-v2:0");
    assert_eq!(titan["type"], "text-embedding");
    assert_eq!(titan["catalogue"]["calls"], "amazon.titan-embed-text-v2:0");

    let gaps = l["unreachable"].as_array().cloned().unwrap_or_default();
    let reasons: Vec<(&str, &str)> = gaps
        .iter()
        .filter_map(|g| Some((g["model_id"].as_str()?, g["reason"].as_str()?)))
        .collect();
    assert_eq!(
        reasons,
        [
            (NOVA_PRO, "not-enabled"),
            ("amazon.rerank-v1:0", "not-offered")
        ]
    );
    assert!(
        l["unchecked"]
            .as_array()
            .is_some_and(|u| u.iter().any(|m| m["model_id"] == "openai.gpt-5.4"))
    );
    assert_eq!(l["availability_note"], Value::Null);
}

#[test]
fn the_type_filter_keeps_one_kind() {
    let d = Double::start(DoubleConfig::default()).expect("double");
    let r = listing(&d, "us-west-2", &["--type", "rerank"]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    assert!(r.out.contains("\nrerank: 2 models\n"), "{}", r.out);
    assert!(
        !r.out.contains("\nllm: ") && !r.out.contains("\ntext-embedding: "),
        "{}",
        r.out
    );
    assert_eq!(
        row(&r.out, "amazon.rerank-v1:0"),
        [
            "amazon.rerank-v1:0",
            "Rerank 1.0 (Amazon)",
            "in-Region",
            "-",
            "yes",
            "yes"
        ]
    );
    // Only the models shown are asked about.
    let asked: Vec<String> = d
        .requests_for(Operation::GetFoundationModelAvailability)
        .into_iter()
        .filter_map(|r| r.model_id)
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");

    let r = listing(&d, "us-east-1", &["--type", "text-embedding", "--json"]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    let l = json(&r);
    let types: Vec<&Value> = l["models"]
        .as_array()
        .map(|ms| ms.iter().map(|m| &m["type"]).collect())
        .unwrap_or_default();
    assert!(
        !types.is_empty() && types.iter().all(|t| *t == "text-embedding"),
        "{types:?}"
    );
    // The rerank model missing from us-east-1 is not this type's business.
    assert_eq!(l["unreachable"], serde_json::json!([]));
    assert_eq!(l["unchecked"], serde_json::json!([]));
}

#[test]
fn a_bedrock_api_key_works_from_the_option_or_the_environment() {
    let d = Double::start(DoubleConfig::default()).expect("double");
    let url = d.url();
    let base = [
        "--region",
        "us-east-1",
        "--control-endpoint-url",
        &url,
        "--type",
        "rerank",
    ];
    let mut with_key = base.to_vec();
    with_key.extend_from_slice(&["--api-key", TEST_API_KEY]);
    let r = run(&with_key, &[]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    assert!(r.out.contains("cohere.rerank-v3-5:0"), "{}", r.out);
    let r = run(&base, &[("AWS_BEARER_TOKEN_BEDROCK", TEST_API_KEY)]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    let calls = d.requests();
    assert!(calls.len() >= 6, "{calls:?}");
    for c in calls {
        assert_eq!(c.identity, format!("bearer:{TEST_API_KEY_NAME}"), "{c:?}");
    }
    assert!(!r.out.contains(TEST_API_KEY) && !r.err.contains(TEST_API_KEY));
}

#[test]
fn refusals_are_explained_as_validation_explains_them() {
    let d = Double::start(DoubleConfig::default()).expect("double");
    let url = d.url();
    let with_secret = |secret: &str, extra: &[&str]| {
        let mut args = vec![
            "--region",
            "us-east-1",
            "--access-key",
            TEST_ACCESS_KEY,
            "--secret-key",
            secret,
            "--control-endpoint-url",
            &url,
        ];
        args.extend_from_slice(extra);
        run(&args, &[])
    };
    let r = with_secret("wrong", &[]);
    assert_eq!(r.code, Some(1), "{}{}", r.out, r.err);
    assert!(
        r.out.starts_with(
            "FAILED: The secret access key does not match the access key ID AKIA…MPLE"
        ),
        "{}",
        r.out
    );
    assert!(!r.out.contains("wrong"), "the secret is never printed");
    let r = with_secret("wrong", &["--json"]);
    assert_eq!(r.code, Some(1));
    assert!(
        json(&r)["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("The secret access key does not match")),
        "{}",
        r.out
    );
    let r = run(
        &[
            "--region",
            "us-east-1",
            "--access-key",
            "AKIAUNKNOWNKEY000000",
            "--secret-key",
            TEST_SECRET_KEY,
            "--control-endpoint-url",
            &url,
        ],
        &[],
    );
    assert_eq!(r.code, Some(1));
    assert!(
        r.out
            .contains("AWS does not recognise the access key ID AKIA…0000"),
        "{}",
        r.out
    );

    // The identity may not list models: nothing to show.
    let denied = Double::start(
        DoubleConfig::default().deny_operation(TEST_ACCESS_KEY, Operation::ListFoundationModels),
    )
    .expect("double");
    let r = listing(&denied, "us-east-1", &[]);
    assert_eq!(r.code, Some(1), "{}{}", r.out, r.err);
    assert!(
        r.out.contains(&format!(
            "FAILED: The credentials work, but the AWS identity {TEST_USER_ARN} may not call bedrock:ListFoundationModels"
        )),
        "{}",
        r.out
    );

    // The identity may not ask about access: the listing stands, every mark unknown.
    let no_access_question = Double::start(
        DoubleConfig::default()
            .deny_operation(TEST_ACCESS_KEY, Operation::GetFoundationModelAvailability),
    )
    .expect("double");
    let r = listing(&no_access_question, "us-east-1", &[]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    assert_eq!(row(&r.out, NOVA_LITE)[5], "unknown");
    assert!(
        r.out.contains(
            "\nEnabled is unknown for every model: The credentials work, but the AWS identity"
        ) && r.out.contains("bedrock:GetFoundationModelAvailability"),
        "{}",
        r.out
    );
    // One refusal is enough to know.
    assert_eq!(
        no_access_question
            .requests_for(Operation::GetFoundationModelAvailability)
            .len(),
        1
    );
}

#[test]
fn profiles_are_read_page_by_page() {
    let whole = Double::start(DoubleConfig::default()).expect("double");
    let paged = Double::start(DoubleConfig::default().page_limit(4)).expect("double");
    let a = listing(&whole, "eu-central-1", &["--json"]);
    let b = listing(&paged, "eu-central-1", &["--json"]);
    assert_eq!(a.code, Some(0), "{}", a.err);
    assert_eq!(b.code, Some(0), "{}", b.err);
    assert_eq!(json(&a), json(&b));
    let pages = paged.requests_for(Operation::ListInferenceProfiles);
    assert!(pages.len() > 2, "{} pages", pages.len());
    assert!(
        pages
            .iter()
            .skip(1)
            .all(|p| p.query.as_deref().is_some_and(|q| q.contains("nextToken="))),
        "{pages:?}"
    );
}

#[test]
fn bad_usage_exits_2_and_calls_nothing() {
    let d = Double::start(DoubleConfig::default()).expect("double");
    let url = d.url();
    for (args, needle) in [
        (
            vec!["--control-endpoint-url", url.as_str()],
            "--region is required",
        ),
        (
            vec!["--region", "us-east-1", "--type", "tts"],
            "[possible values: llm, text-embedding, rerank]",
        ),
        (vec!["--region", "us-east-1", "--bogus"], "--bogus"),
        (vec!["--region", "Frankfurt"], "is not a region name"),
        (
            vec!["--region", "us-east-1", "--access-key", TEST_ACCESS_KEY],
            "aws_secret_access_key",
        ),
    ] {
        let r = run(&args, &[]);
        assert_eq!(r.code, Some(2), "{args:?}: {}{}", r.out, r.err);
        assert!(
            r.err.contains(needle),
            "{args:?}: {needle:?} not in {}",
            r.err
        );
        assert!(r.out.is_empty(), "{args:?}: {}", r.out);
    }
    assert!(d.requests().is_empty());
}
