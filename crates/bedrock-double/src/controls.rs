//! Converse's platform controls: the service tier (`serviceTier`), latency-optimized
//! inference (`performanceConfig`) and prompt-cache checkpoints (`cachePoint`, their
//! TTLs and limits), checked per model and region as AWS documents them, and the
//! response fields that report them (the tier and latency that served the request,
//! cache writes per TTL in `usage.cacheDetails`).
//!
//! Service tiers: https://docs.aws.amazon.com/bedrock/latest/userguide/service-tiers-inference.html
//! (the Priority and Flex table; one table for both, so a model has both or neither).
//! Latency-optimized inference: https://docs.aws.amazon.com/bedrock/latest/userguide/latency-optimized-inference.html
//! (through cross-region inference profiles only; elsewhere the request is served at
//! standard latency, as it is when the optimized quota runs out).
//! Prompt caching: https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html
//! (at most 4 checkpoints; Nova takes them in system and messages only; the 1-hour TTL
//! on the Claude models listed there; longer TTLs before shorter ones, in the order
//! tools → system → messages).

use crate::catalog::{Family, ModelSpec, Route};
use crate::error::AwsError;
use serde_json::{Value, json};

/// Where a model takes `cachePoint` blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum CacheSupport {
    /// Nothing documented: checkpoints are not checked (AWS ignores or refuses them per
    /// model; the double keeps its earlier leniency).
    Unchecked,
    /// Nova: system and messages.
    SystemAndMessages,
    /// Claude: tools, system and messages.
    Everywhere,
}

const MAX_CACHE_POINTS: usize = 4;

/// The 12 regions of the gpt-oss row of the tier table.
const TIERS_12: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "eu-west-1",
    "eu-west-2",
    "sa-east-1",
];

/// The 17 regions of the newer open-weight models' rows.
const TIERS_17: &[&str] = &[
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ca-central-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-2",
];

const TIERS_7: &[&str] = &[
    "us-east-2",
    "us-west-2",
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-3",
    "eu-north-1",
    "eu-west-2",
];

/// Priority and Flex: model → the regions of its row.
fn tier_regions(id: &str) -> Option<Vec<&'static str>> {
    let regions: &[&str] = match id {
        "openai.gpt-oss-120b-1:0"
        | "openai.gpt-oss-20b-1:0"
        | "qwen.qwen3-coder-30b-a3b-v1:0"
        | "qwen.qwen3-32b-v1:0" => TIERS_12,
        "openai.gpt-oss-safeguard-20b"
        | "openai.gpt-oss-safeguard-120b"
        | "qwen.qwen3-next-80b-a3b"
        | "qwen.qwen3-vl-235b-a22b"
        | "mistral.magistral-small-2509"
        | "mistral.ministral-3-3b-instruct"
        | "mistral.ministral-3-8b-instruct"
        | "mistral.ministral-3-14b-instruct"
        | "mistral.mistral-large-3-675b-instruct" => TIERS_17,
        "qwen.qwen3-235b-a22b-2507-v1:0" => &[
            "us-east-2",
            "us-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-3",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "eu-west-2",
        ],
        "qwen.qwen3-coder-480b-a35b-v1:0" | "deepseek.v3-v1:0" => TIERS_7,
        "amazon.nova-premier-v1:0" => &["us-east-1", "us-east-2", "us-west-2"],
        "amazon.nova-pro-v1:0" => &[
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
            "ap-east-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-7",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
        ],
        "amazon.nova-2-lite-v1:0" => &[
            "ap-east-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-7",
            "ca-central-1",
            "ca-west-1",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        ],
        _ => return None,
    };
    Some(regions.to_vec())
}

/// Latency-optimized inference: model → the source regions of its cross-region row.
fn latency_regions(id: &str) -> &'static [&'static str] {
    match id {
        "amazon.nova-pro-v1:0" => &["us-east-1", "us-east-2"],
        "anthropic.claude-3-5-haiku-20241022-v1:0" => &["us-east-2", "us-west-2"],
        "meta.llama3-1-405b-instruct-v1:0" => &["us-east-2"],
        "meta.llama3-1-70b-instruct-v1:0" => &["us-east-2", "us-west-2"],
        _ => &[],
    }
}

/// The Claude models whose checkpoints may last an hour.
const ONE_HOUR_TTL: &[&str] = &[
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "anthropic.claude-opus-4-5-20251101-v1:0",
    "anthropic.claude-sonnet-4-6",
    "anthropic.claude-opus-4-6-v1",
    "anthropic.claude-opus-4-7",
    "anthropic.claude-opus-4-8",
    "anthropic.claude-sonnet-5",
    "anthropic.claude-opus-5",
    "anthropic.claude-fable-5",
];

/// Fills in each catalogue model's control facts from the tables above.
pub(crate) fn apply_facts(models: &mut [ModelSpec]) {
    for m in models {
        m.tier_regions = tier_regions(&m.id)
            .unwrap_or_default()
            .into_iter()
            .map(str::to_string)
            .collect();
        m.latency_optimized_regions = latency_regions(&m.id)
            .iter()
            .map(|r| r.to_string())
            .collect();
        m.cache_ttl_1h = ONE_HOUR_TTL.contains(&m.id.as_str());
        m.cache = match m.family {
            Family::Anthropic => CacheSupport::Everywhere,
            Family::Nova => CacheSupport::SystemAndMessages,
            _ => CacheSupport::Unchecked,
        };
    }
}

/// What served the request, for the response (`serviceTier`, `performanceConfig`) and
/// the usage (`cacheDetails`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Served {
    pub service_tier: Option<String>,
    pub latency: Option<String>,
    /// The longest TTL among the request's checkpoints (`None` without checkpoints).
    pub cache_ttl: Option<String>,
}

impl Served {
    /// The top-level response fields reporting the tier and latency used.
    pub fn response_fields(&self) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        if let Some(t) = &self.service_tier {
            out.push(("serviceTier", json!({"type": t})));
        }
        if let Some(l) = &self.latency {
            out.push(("performanceConfig", json!({"latency": l})));
        }
        out
    }

    /// Adds `cacheDetails` to a usage that reports cache writes: all of them at the
    /// request's longest TTL (real Bedrock splits them per checkpoint).
    pub fn add_cache_details(&self, usage: &mut Value) {
        let written = usage.get("cacheWriteInputTokens").and_then(Value::as_u64);
        if let (Some(ttl), Some(n)) = (&self.cache_ttl, written)
            && usage.get("cacheDetails").is_none()
        {
            usage["cacheDetails"] = if n == 0 {
                json!([])
            } else {
                json!([{"ttl": ttl, "inputTokens": n}])
            };
        }
    }
}

/// Checks the controls of a Converse body for the resolved model, called from
/// `region` by `route`; returns what serves the request.
pub fn check(
    body: &Value,
    model: &ModelSpec,
    route: &Route,
    region: &str,
) -> Result<Served, AwsError> {
    let mut served = Served::default();
    if let Some(tier) = body.get("serviceTier") {
        served.service_tier = Some(service_tier(tier, model, region)?);
    }
    if let Some(pc) = body.get("performanceConfig") {
        served.latency = Some(latency(pc, model, route, region)?);
    }
    served.cache_ttl = cache_points(body, model)?;
    Ok(served)
}

fn service_tier(v: &Value, model: &ModelSpec, region: &str) -> Result<String, AwsError> {
    let t = v.get("type").and_then(Value::as_str).unwrap_or_default();
    match t {
        "default" => Ok(t.into()),
        "priority" | "flex" if model.tier_regions.iter().any(|r| r == region) => Ok(t.into()),
        // The message AWS users report for a model or region without the tier.
        "priority" | "flex" => Err(AwsError::validation(
            "The provided service tier is not supported for this model.",
        )),
        // No reservation exists in the double.
        "reserved" => Err(AwsError::validation("Reservation not found.")),
        other => Err(AwsError::validation(format!(
            "1 validation error detected: Value '{other}' at 'serviceTier.type' failed to satisfy constraint: Member must satisfy enum value set: [priority, default, flex, reserved]"
        ))),
    }
}

fn latency(v: &Value, model: &ModelSpec, route: &Route, region: &str) -> Result<String, AwsError> {
    match v.get("latency").and_then(Value::as_str).unwrap_or_default() {
        "standard" => Ok("standard".into()),
        "optimized" => {
            let through_profile = matches!(route, Route::SystemProfile { .. });
            let offered =
                through_profile && model.latency_optimized_regions.iter().any(|r| r == region);
            // Behaviour assumed (AWS documents only the quota fallback): served at
            // standard latency where the optimized path does not exist.
            Ok(if offered { "optimized" } else { "standard" }.into())
        }
        other => Err(AwsError::validation(format!(
            "1 validation error detected: Value '{other}' at 'performanceConfig.latency' failed to satisfy constraint: Member must satisfy enum value set: [optimized, standard]"
        ))),
    }
}

/// The checkpoints in AWS's order (tools, system, messages), each with its TTL.
fn checkpoints(body: &Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let ttl_of = |cp: &Value| cp["ttl"].as_str().unwrap_or("5m").to_string();
    let blocks = |v: &Value| v.as_array().cloned().unwrap_or_default();
    for t in blocks(&body["toolConfig"]["tools"]) {
        if let Some(cp) = t.get("cachePoint") {
            out.push(("tools", ttl_of(cp)));
        }
    }
    for s in blocks(&body["system"]) {
        if let Some(cp) = s.get("cachePoint") {
            out.push(("system", ttl_of(cp)));
        }
    }
    for m in blocks(&body["messages"]) {
        for b in blocks(&m["content"]) {
            if let Some(cp) = b.get("cachePoint") {
                out.push(("messages", ttl_of(cp)));
            }
        }
    }
    out
}

fn ttl_minutes(ttl: &str) -> u32 {
    if ttl == "1h" { 60 } else { 5 }
}

/// Wording approximated for every refusal here (AWS relays Anthropic's messages for
/// Claude; these follow them).
fn cache_points(body: &Value, model: &ModelSpec) -> Result<Option<String>, AwsError> {
    let points = checkpoints(body);
    if points.is_empty() {
        return Ok(None);
    }
    for (_, ttl) in &points {
        if ttl != "5m" && ttl != "1h" {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{ttl}' at 'cachePoint.ttl' failed to satisfy constraint: Member must satisfy enum value set: [5m, 1h]"
            )));
        }
    }
    if model.cache == CacheSupport::Unchecked {
        return Ok(points
            .iter()
            .map(|(_, t)| t.clone())
            .max_by_key(|t| ttl_minutes(t)));
    }
    if points.len() > MAX_CACHE_POINTS {
        return Err(AwsError::validation(format!(
            "A maximum of {MAX_CACHE_POINTS} blocks with cache_control may be provided. Found {}.",
            points.len()
        )));
    }
    if model.cache == CacheSupport::SystemAndMessages && points.iter().any(|(f, _)| *f == "tools") {
        return Err(AwsError::validation(
            "This model doesn't support cache points in the tool configuration.",
        ));
    }
    if !model.cache_ttl_1h && points.iter().any(|(_, t)| t == "1h") {
        return Err(AwsError::validation(
            "This model doesn't support the 1h TTL for prompt caching. Use the default 5m TTL.",
        ));
    }
    for pair in points.windows(2) {
        if ttl_minutes(&pair[1].1) > ttl_minutes(&pair[0].1) {
            return Err(AwsError::validation(
                "A cache_control block with ttl='1h' cannot come after a cache_control block with ttl='5m'. Cache entries with a longer TTL must appear before shorter TTLs.",
            ));
        }
    }
    Ok(points.first().map(|(_, t)| t.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: &str, family: Family) -> ModelSpec {
        let mut m = vec![ModelSpec::text(id, "P", "N", family)];
        apply_facts(&mut m);
        m.remove(0)
    }

    fn profile() -> Route {
        Route::SystemProfile {
            id: "us.x".into(),
            arn: "arn".into(),
        }
    }

    #[test]
    fn tiers_where_the_table_has_them() {
        let oss = model("openai.gpt-oss-120b-1:0", Family::OpenAi);
        let body = json!({"serviceTier": {"type": "flex"}});
        let served = check(&body, &oss, &Route::Direct, "us-east-1").expect("flex");
        assert_eq!(served.service_tier.as_deref(), Some("flex"));
        let e = check(&body, &oss, &Route::Direct, "ca-central-1").expect_err("region");
        assert!(e.message.contains("service tier is not supported"), "{e:?}");
        let claude = model(
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            Family::Anthropic,
        );
        let body = json!({"serviceTier": {"type": "priority"}});
        assert!(check(&body, &claude, &profile(), "us-east-1").is_err());
        let body = json!({"serviceTier": {"type": "default"}});
        assert!(check(&body, &claude, &profile(), "us-east-1").is_ok());
    }

    #[test]
    fn optimized_latency_only_through_profiles_in_its_regions() {
        let nova = model("amazon.nova-pro-v1:0", Family::Nova);
        let body = json!({"performanceConfig": {"latency": "optimized"}});
        let served = |route: &Route, region: &str| {
            check(&body, &nova, route, region)
                .expect("accepted")
                .latency
                .unwrap_or_default()
        };
        assert_eq!(served(&profile(), "us-east-2"), "optimized");
        assert_eq!(served(&Route::Direct, "us-east-2"), "standard");
        assert_eq!(served(&profile(), "us-west-1"), "standard");
    }

    #[test]
    fn checkpoints_limit_places_and_ttls() {
        let claude = model("anthropic.claude-opus-4-1-20250805-v1:0", Family::Anthropic);
        let cp = |ttl: &str| json!({"cachePoint": {"type": "default", "ttl": ttl}});
        let user = |n: usize| json!({"role": "user", "content": (0..n).map(|_| cp("5m")).collect::<Vec<_>>()});
        let ok = json!({"system": [cp("5m")], "messages": [user(3)]});
        assert_eq!(
            check(&ok, &claude, &profile(), "us-east-1")
                .expect("four")
                .cache_ttl
                .as_deref(),
            Some("5m")
        );
        let five = json!({"system": [cp("5m")], "messages": [user(4)]});
        assert!(check(&five, &claude, &profile(), "us-east-1").is_err());
        let hour = json!({"system": [cp("1h")], "messages": [user(1)]});
        assert!(check(&hour, &claude, &profile(), "us-east-1").is_err());
        let sonnet = model(
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            Family::Anthropic,
        );
        let served = check(&hour, &sonnet, &profile(), "us-east-1").expect("1h then 5m");
        assert_eq!(served.cache_ttl.as_deref(), Some("1h"));
        let wrong_order =
            json!({"system": [cp("5m")], "messages": [{"role": "user", "content": [cp("1h")]}]});
        assert!(check(&wrong_order, &sonnet, &profile(), "us-east-1").is_err());
        let nova = model("amazon.nova-lite-v1:0", Family::Nova);
        let tools = json!({"toolConfig": {"tools": [cp("5m")]}});
        assert!(check(&tools, &nova, &Route::Direct, "us-east-1").is_err());
        assert!(check(&tools, &sonnet, &profile(), "us-east-1").is_ok());
    }

    #[test]
    fn cache_writes_are_reported_at_the_requests_ttl() {
        let served = Served {
            cache_ttl: Some("1h".into()),
            ..Served::default()
        };
        let mut usage = json!({"inputTokens": 1, "cacheWriteInputTokens": 2048});
        served.add_cache_details(&mut usage);
        assert_eq!(
            usage["cacheDetails"],
            json!([{"ttl": "1h", "inputTokens": 2048}])
        );
        let mut no_writes = json!({"inputTokens": 1});
        served.add_cache_details(&mut no_writes);
        assert!(no_writes.get("cacheDetails").is_none());
    }
}
