//! Which Bedrock id a request calls and what that model accepts: the cross-region
//! inference profile chosen for the user's region, or the id, profile or ARN a
//! customizable model names. Capabilities are always looked up on the bare model id, so
//! every prefix and ARN form works.

use serde_json::{Map, Value};

use super::converse::Capabilities;
use super::families::{Family, GENERIC, family_named};
use crate::declaration::{BedrockFacts, Catalog, ModelDecl, ModelType};
use crate::error::PluginError;

/// The prefixes of system inference profiles.
pub const PROFILE_PREFIXES: &[&str] = &["global", "us-gov", "us", "eu", "apac", "jp", "au", "ca"];

/// Profiles the `geographic` choice covers (`jp`, `au` and `global` are choices of their own).
const GEOGRAPHIC: &[&str] = &["us", "eu", "apac", "ca", "us-gov"];

/// The model id inside a system inference profile id or a Bedrock ARN, when it can be read
/// from the text alone (application profiles need a GetInferenceProfile call).
pub fn foundation_id(id: &str) -> Option<String> {
    if let Some(rest) = id.strip_prefix("arn:") {
        // arn:PARTITION:bedrock:REGION:ACCOUNT:RESOURCE-TYPE/ID
        let resource = rest.splitn(5, ':').nth(4)?;
        let (kind, name) = resource.split_once('/')?;
        return match kind {
            "foundation-model" => Some(name.to_string()),
            "inference-profile" => Some(strip_profile_prefix(name).to_string()),
            _ => None,
        };
    }
    Some(strip_profile_prefix(id).to_string())
}

/// `us.anthropic.claude-…` → `anthropic.claude-…`.
pub fn strip_profile_prefix(id: &str) -> &str {
    for prefix in PROFILE_PREFIXES {
        if let Some(rest) = id.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
            // A prefix is followed by a provider name, never by nothing.
            if rest.contains('.') {
                return rest;
            }
        }
    }
    id
}

/// The profile prefix `choice` resolves to in `region`, if it exists there.
fn profile_for(facts: &BedrockFacts, choice: &str, region: &str) -> Option<String> {
    let usable = |prefix: &str| {
        facts
            .profiles
            .get(prefix)
            .is_some_and(|regions| regions.iter().any(|r| r == region))
    };
    match choice {
        "geographic" => GEOGRAPHIC.iter().find(|p| usable(p)).map(|p| p.to_string()),
        "disabled" => None,
        other => usable(other).then(|| other.to_string()),
    }
}

fn works_in_region(facts: &BedrockFacts, choice: &str, region: &str) -> bool {
    match choice {
        "disabled" => {
            facts.on_demand
                && (facts.regions.is_empty() || facts.regions.iter().any(|r| r == region))
        }
        other => profile_for(facts, other, region).is_some(),
    }
}

/// The id to call for a predefined model with the user's `cross-region` choice.
pub fn invocation_id(
    decl: &ModelDecl,
    choice: Option<&str>,
    region: &str,
) -> Result<String, PluginError> {
    let Some(facts) = &decl.bedrock else {
        return Ok(decl.model.clone());
    };
    let label = decl
        .label
        .as_ref()
        .map_or(decl.model.as_str(), |l| l.en_us.as_str());
    let choice = choice.unwrap_or(if facts.on_demand {
        "disabled"
    } else {
        "geographic"
    });
    if works_in_region(facts, choice, region) {
        return Ok(match profile_for(facts, choice, region) {
            Some(prefix) => format!("{prefix}.{}", decl.model),
            None => decl.model.clone(),
        });
    }
    let options: Vec<String> = decl
        .parameter_rules
        .iter()
        .find(|r| r.name == "cross-region")
        .map(|r| r.options.clone())
        .unwrap_or_default();
    let working: Vec<String> = options
        .iter()
        .filter(|o| works_in_region(facts, o, region))
        .map(|o| format!("\"{o}\""))
        .collect();
    let why = match choice {
        "disabled" if !facts.on_demand => {
            format!("{label} can only be called through a cross-region inference profile")
        }
        "disabled" => format!("{label} is not offered in-region in {region}"),
        other => format!(
            "{label} has no \"{other}\" cross-region inference profile that can be called from {region}"
        ),
    };
    let advice = if working.is_empty() {
        format!(
            "no cross-region choice works from {region}; choose another region where AWS offers this model"
        )
    } else {
        format!(
            "choose Cross-region inference {} instead",
            working.join(" or ")
        )
    };
    Err(PluginError::bad_request(format!("{why}; {advice}")))
}

/// What a model accepts, from its YAML features and its family row.
pub fn capabilities(decl: &ModelDecl) -> Capabilities {
    let family: &'static Family = decl
        .bedrock
        .as_ref()
        .and_then(|f| family_named(&f.family))
        .unwrap_or(&GENERIC);
    Capabilities {
        family,
        system_prompts: decl
            .bedrock
            .as_ref()
            .and_then(|f| f.system_prompts)
            .unwrap_or(family.system_prompts),
        vision: decl.has_feature("vision"),
        documents: decl.has_feature("document"),
        tools: decl.has_feature("tool-call"),
    }
}

/// The predefined declaration behind a customizable model's id, profile or ARN, if known.
pub fn underlying<'a>(
    catalog: &'a Catalog,
    model_type: ModelType,
    id: &str,
) -> Option<&'a ModelDecl> {
    catalog.model(model_type, &foundation_id(id)?)
}

/// A customizable model's target id (from `inference_profile_id`).
pub fn custom_id(credentials: &Map<String, Value>) -> Option<String> {
    credentials
        .get("inference_profile_id")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Every model parameter a YAML may declare; each is consumed by the Converse mapping
/// (`converse::Params`) or by [`invocation_id`] (`cross-region`).
pub const IMPLEMENTED_PARAMETERS: &[&str] = &[
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "cross-region",
    "reasoning_type",
    "reasoning_budget",
    "system_cache_checkpoint",
    "latest_two_messages_cache_checkpoint",
    "response_format",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bedrock::families::{Reasoning, TopK};

    /// The prefix follows the region group, on the real catalogue.
    #[test]
    fn catalogue_prefixes_per_region_group() {
        let catalog = Catalog::embedded().expect("catalog");
        let llm = |m: &str| {
            catalog
                .model(ModelType::Llm, m)
                .unwrap_or_else(|| panic!("{m} in the catalogue"))
        };
        let haiku = llm("anthropic.claude-haiku-4-5-20251001-v1:0");
        let gpt = llm("openai.gpt-oss-120b-1:0");
        for (decl, choice, region, expected) in [
            (haiku, "geographic", "us-east-2", "us."),
            (haiku, "geographic", "eu-central-1", "eu."),
            (haiku, "global", "sa-east-1", "global."),
            (haiku, "jp", "ap-northeast-3", "jp."),
            (haiku, "au", "ap-southeast-2", "au."),
            (haiku, "geographic", "ca-central-1", "us."),
            (gpt, "geographic", "us-gov-east-1", "us-gov."),
            (gpt, "disabled", "us-gov-west-1", ""),
        ] {
            let id = invocation_id(decl, Some(choice), region)
                .unwrap_or_else(|e| panic!("{choice} from {region}: {e}"));
            assert_eq!(
                id,
                format!("{expected}{}", decl.model),
                "{choice} from {region}"
            );
        }
        // Japan's profile keeps requests in Japan: never silently swapped for another.
        let e =
            invocation_id(haiku, Some("jp"), "ap-southeast-1").expect_err("no jp. from Singapore");
        assert!(
            e.message
                .contains("no \"jp\" cross-region inference profile"),
            "{e}"
        );
    }

    /// No declared parameter is silently dropped: each is implemented, and the model's
    /// family takes it.
    #[test]
    fn every_declared_parameter_is_implemented_for_its_family() {
        let catalog = Catalog::embedded().expect("catalog");
        for decl in catalog
            .models()
            .iter()
            .filter(|m| m.model_type == ModelType::Llm)
        {
            let facts = decl
                .bedrock
                .as_ref()
                .unwrap_or_else(|| panic!("{} has no bedrock block", decl.model));
            let family = family_named(&facts.family)
                .unwrap_or_else(|| panic!("{}: unknown family {}", decl.model, facts.family));
            for rule in &decl.parameter_rules {
                let name = rule.name.as_str();
                assert!(
                    IMPLEMENTED_PARAMETERS.contains(&name),
                    "{}: parameter {name} is not implemented",
                    decl.model
                );
                let ok = match name {
                    "top_k" => family.top_k != TopK::Unsupported,
                    "reasoning_type" | "reasoning_budget" => {
                        family.reasoning == Reasoning::AnthropicBudget
                    }
                    "system_cache_checkpoint" | "latest_two_messages_cache_checkpoint" => {
                        family.prompt_caching
                    }
                    _ => true,
                };
                assert!(
                    ok,
                    "{}: family {} cannot take {name}",
                    decl.model, family.name
                );
            }
            if let Some(rule) = decl
                .parameter_rules
                .iter()
                .find(|r| r.name == "cross-region")
            {
                for option in &rule.options {
                    assert!(
                        ["disabled", "geographic", "global", "jp", "au"].contains(&option.as_str()),
                        "{}: unknown cross-region option {option}",
                        decl.model
                    );
                }
            }
        }
    }
    use crate::declaration::{I18n, ParameterRule, expand_rule};
    use serde_json::json;

    #[test]
    fn ids_inside_profiles_and_arns() {
        assert_eq!(
            strip_profile_prefix("us.anthropic.claude-3-5-haiku-20241022-v1:0"),
            "anthropic.claude-3-5-haiku-20241022-v1:0"
        );
        assert_eq!(
            strip_profile_prefix("us-gov.meta.llama3-8b"),
            "meta.llama3-8b"
        );
        assert_eq!(
            strip_profile_prefix("amazon.nova-lite-v1:0"),
            "amazon.nova-lite-v1:0"
        );
        assert_eq!(
            foundation_id("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0")
                .as_deref(),
            Some("amazon.nova-lite-v1:0")
        );
        assert_eq!(
            foundation_id(
                "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-lite-v1:0"
            )
            .as_deref(),
            Some("amazon.nova-lite-v1:0")
        );
        assert_eq!(
            foundation_id(
                "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
            ),
            None
        );
    }

    fn decl(on_demand: bool, options: &[&str]) -> ModelDecl {
        let rule: ParameterRule = serde_json::from_value(
            json!({"name": "cross-region", "type": "string", "options": options}),
        )
        .expect("rule");
        ModelDecl {
            model: "anthropic.claude-x-v1:0".into(),
            label: Some(I18n::en("Claude X")),
            model_type: ModelType::Llm,
            features: vec![],
            fetch_from: Default::default(),
            model_properties: Default::default(),
            deprecated: false,
            parameter_rules: vec![expand_rule(rule).expect("rule")],
            pricing: None,
            bedrock: Some(BedrockFacts {
                family: "anthropic-claude".into(),
                on_demand,
                regions: vec!["us-east-1".into()],
                profiles: [
                    (
                        "us".to_string(),
                        vec!["us-east-1".to_string(), "us-west-2".to_string()],
                    ),
                    ("eu".to_string(), vec!["eu-west-1".to_string()]),
                    (
                        "global".to_string(),
                        vec!["us-east-1".to_string(), "eu-west-1".to_string()],
                    ),
                    ("jp".to_string(), vec!["ap-northeast-1".to_string()]),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn cross_region_prefixes_per_region() {
        let d = decl(true, &["disabled", "geographic", "global", "jp"]);
        assert_eq!(
            invocation_id(&d, Some("disabled"), "us-east-1").expect("in region"),
            "anthropic.claude-x-v1:0"
        );
        assert_eq!(
            invocation_id(&d, Some("geographic"), "us-west-2").expect("us"),
            "us.anthropic.claude-x-v1:0"
        );
        assert_eq!(
            invocation_id(&d, Some("geographic"), "eu-west-1").expect("eu"),
            "eu.anthropic.claude-x-v1:0"
        );
        assert_eq!(
            invocation_id(&d, Some("global"), "eu-west-1").expect("global"),
            "global.anthropic.claude-x-v1:0"
        );
        assert_eq!(
            invocation_id(&d, Some("jp"), "ap-northeast-1").expect("jp"),
            "jp.anthropic.claude-x-v1:0"
        );
    }

    #[test]
    fn unavailable_choices_are_refused_with_what_works() {
        let d = decl(true, &["disabled", "geographic", "global", "jp"]);
        let e =
            invocation_id(&d, Some("global"), "ap-northeast-1").expect_err("no global from tokyo");
        assert!(
            e.message.contains("no \"global\"") && e.message.contains("\"jp\""),
            "{e}"
        );
        let e = invocation_id(&d, Some("disabled"), "us-west-2").expect_err("not in region");
        assert!(
            e.message.contains("not offered in-region in us-west-2")
                && e.message
                    .ends_with("choose Cross-region inference \"geographic\" instead"),
            "{e}"
        );
        let profile_only = decl(false, &["geographic", "global"]);
        let e =
            invocation_id(&profile_only, Some("disabled"), "us-east-1").expect_err("profile only");
        assert!(
            e.message
                .contains("only be called through a cross-region inference profile"),
            "{e}"
        );
        let e = invocation_id(&d, Some("geographic"), "sa-east-1").expect_err("nothing in sa");
        assert!(
            e.message
                .contains("no cross-region choice works from sa-east-1"),
            "{e}"
        );
    }
}
