//! Which Bedrock id a request calls, in one place: a predefined model's id or the
//! cross-region inference profile chosen for the user's region, or the id, profile or
//! ARN a customizable model names (an application profile's bare id becomes its ARN);
//! and which catalogue model stands behind a customizable model's id.

use super::client::Clients;
use super::ids::{self, IdKind, PROFILE_PREFIXES, Scope, classify, foundation_id};
use crate::declaration::{BedrockFacts, Catalog, ModelDecl, ModelType};
use crate::error::{ErrorKind, PluginError};

/// A chat model's Cross-region inference choice (its `cross-region` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossRegion {
    /// The model itself, in the user's region.
    Disabled,
    /// The profile of the geography the region belongs to.
    Geographic,
    /// One named profile (`global`, `jp`, `au`).
    Profile(&'static str),
}

impl CrossRegion {
    /// The choice a parameter option names; `None` for an option no rule may declare.
    pub fn parse(option: &str) -> Option<CrossRegion> {
        match option {
            "disabled" => Some(CrossRegion::Disabled),
            "geographic" => Some(CrossRegion::Geographic),
            other => PROFILE_PREFIXES
                .iter()
                .find(|(p, scope)| *p == other && *scope != Scope::Geographic)
                .map(|(p, _)| CrossRegion::Profile(p)),
        }
    }

    fn name(self) -> &'static str {
        match self {
            CrossRegion::Disabled => "disabled",
            CrossRegion::Geographic => "geographic",
            CrossRegion::Profile(p) => p,
        }
    }
}

/// What a request calls.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A catalogue model, with the user's cross-region choice for chat models.
    Predefined {
        decl: &'a ModelDecl,
        choice: Option<CrossRegion>,
    },
    /// A customizable model's id, profile or ARN, called as given.
    Custom(&'a str),
}

/// The id to pass to Bedrock for `target` from `region` (with the catalogue's advice for
/// a chat route it does not know to work).
pub async fn id_to_call(clients: &Clients, target: Target<'_>, region: &str) -> Routed {
    match target {
        Target::Custom(id) => Routed::plain(invocable(clients, id).await),
        predefined => id_without_lookup(predefined, region),
    }
}

/// As [`id_to_call`], without asking AWS: a customizable model's id is called as given
/// (an application profile's bare id stays bare).
pub fn id_without_lookup(target: Target<'_>, region: &str) -> Routed {
    match target {
        Target::Custom(id) => Routed::plain(id.to_string()),
        Target::Predefined { decl, choice } => predefined_route(decl, choice, region),
    }
}

/// The id to call for a catalogue model from `region`, with the user's cross-region
/// choice for chat models (the model's default without one), and the catalogue's advice
/// when it does not know that id to work from there.
pub fn predefined_route(decl: &ModelDecl, choice: Option<CrossRegion>, region: &str) -> Routed {
    match decl.model_type {
        ModelType::Llm => chat_route(decl, choice, region),
        ModelType::TextEmbedding => Routed::plain(embedding_id(decl, region)),
        _ => Routed::plain(decl.model.clone()),
    }
}

/// An application profile's bare id becomes its ARN (the form Bedrock documents for
/// invoking application profiles); anything else is called as given.
async fn invocable(clients: &Clients, id: &str) -> String {
    if id.starts_with("arn:") || classify(id) != IdKind::ApplicationProfile {
        return id.to_string();
    }
    match clients.inference_profile(id).await {
        Ok(info) => info.arn,
        Err(_) => id.to_string(),
    }
}

/// The profile prefix `choice` resolves to in `region`, if it exists there.
fn profile_for(facts: &BedrockFacts, choice: CrossRegion, region: &str) -> Option<&'static str> {
    let usable = |prefix: &str| {
        facts
            .profiles
            .get(prefix)
            .is_some_and(|regions| regions.iter().any(|r| r == region))
    };
    match choice {
        CrossRegion::Disabled => None,
        CrossRegion::Geographic => PROFILE_PREFIXES
            .iter()
            .find(|(p, scope)| *scope == Scope::Geographic && usable(p))
            .map(|(p, _)| *p),
        CrossRegion::Profile(p) => usable(p).then_some(p),
    }
}

fn works_in_region(facts: &BedrockFacts, choice: CrossRegion, region: &str) -> bool {
    match choice {
        CrossRegion::Disabled => {
            facts.on_demand
                && (facts.regions.is_empty() || facts.regions.iter().any(|r| r == region))
        }
        other => profile_for(facts, other, region).is_some(),
    }
}

/// The choices a chat model's `cross-region` parameter offers.
fn offered_choices(decl: &ModelDecl) -> Vec<(&str, CrossRegion)> {
    decl.parameter_rules
        .iter()
        .find(|r| r.name == "cross-region")
        .map(|r| {
            r.options
                .iter()
                .filter_map(|o| CrossRegion::parse(o).map(|c| (o.as_str(), c)))
                .collect()
        })
        .unwrap_or_default()
}

/// The id to call for a predefined chat model with the user's cross-region choice, and,
/// when the catalogue does not know that choice to work from `region`, its advice: the
/// call is made all the same (AWS may offer more than the catalogue knows), and the
/// advice explains AWS's refusal if one comes.
pub fn chat_route(decl: &ModelDecl, choice: Option<CrossRegion>, region: &str) -> Routed {
    let Some(facts) = &decl.bedrock else {
        return Routed::plain(decl.model.clone());
    };
    let choice = choice.unwrap_or(if facts.on_demand {
        CrossRegion::Disabled
    } else {
        CrossRegion::Geographic
    });
    if works_in_region(facts, choice, region) {
        return Routed::plain(match profile_for(facts, choice, region) {
            Some(prefix) => format!("{prefix}.{}", decl.model),
            None => decl.model.clone(),
        });
    }
    let prefix = match choice {
        CrossRegion::Disabled => None,
        CrossRegion::Geographic => geography_of(region),
        CrossRegion::Profile(p) => Some(p),
    };
    let id = match prefix {
        Some(p) => format!("{p}.{}", decl.model),
        None => decl.model.clone(),
    };
    let label = decl.label();
    let working: Vec<String> = offered_choices(decl)
        .into_iter()
        .filter(|(_, c)| works_in_region(facts, *c, region))
        .map(|(o, _)| format!("\"{o}\""))
        .collect();
    let why = match choice {
        CrossRegion::Disabled if !facts.on_demand => {
            format!("{label} can only be called through a cross-region inference profile")
        }
        CrossRegion::Disabled => format!("{label} is not offered in-region in {region}"),
        other => format!(
            "{label} has no \"{}\" cross-region inference profile that can be called from {region}",
            other.name()
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
    Routed {
        id,
        advice: Some(format!(
            "as far as this plugin's catalogue knows, {why}; {advice}"
        )),
    }
}

/// Advice on the service tier `tier` (priority or flex) asked for where the catalogue does
/// not know it to be offered; `None` where it is (or for the standard tier).
fn tier_advice(decl: &ModelDecl, tier: &str, region: &str) -> Option<String> {
    if tier == "default" {
        return None;
    }
    let label = decl.label();
    let regions = decl
        .bedrock
        .as_ref()
        .and_then(|f| f.service_tiers.get(tier))
        .filter(|rs| !rs.is_empty());
    match regions {
        Some(rs) if rs.iter().any(|r| r == region) => None,
        Some(rs) => Some(format!(
            "as far as this plugin's catalogue knows, AWS offers the {tier} service tier for {label} only in {}; choose the default tier, or one of those regions",
            rs.join(", ")
        )),
        None => Some(format!(
            "as far as this plugin's catalogue knows, AWS offers no {tier} service tier for {label}; choose the default tier"
        )),
    }
}

/// The geographic profile prefix of a region, from its name: a guess for the regions the
/// catalogue does not list.
fn geography_of(region: &str) -> Option<&'static str> {
    [
        ("us-gov-", "us-gov"),
        ("us-", "us"),
        ("eu-", "eu"),
        ("ap-", "apac"),
        ("ca-", "ca"),
    ]
    .into_iter()
    .find(|(start, _)| region.starts_with(start))
    .map(|(_, prefix)| prefix)
}

/// An id to call, and the catalogue's advice when it does not know the id to work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub id: String,
    pub advice: Option<String>,
}

impl Routed {
    fn plain(id: String) -> Routed {
        Routed { id, advice: None }
    }

    /// The same route with the catalogue's advice on a service tier added.
    pub fn with_tier(mut self, decl: &ModelDecl, tier: Option<&str>, region: &str) -> Routed {
        if let Some(more) = tier.and_then(|t| tier_advice(decl, t, region)) {
            self.advice = Some(match self.advice {
                Some(advice) => format!("{advice}; {more}"),
                None => more,
            });
        }
        self
    }

    /// AWS's refusal with the catalogue's advice added, when the refusal is about which
    /// model can be called from where (or by whom); other errors as they are.
    pub fn explain(&self, e: PluginError) -> PluginError {
        match &self.advice {
            Some(advice) if matches!(e.kind, ErrorKind::BadRequest | ErrorKind::Authorization) => {
                PluginError {
                    message: format!("{} ({advice})", e.message),
                    ..e
                }
            }
            _ => e,
        }
    }
}

/// Each cross-region choice of a chat model that works from `region`, with the id it
/// calls: for messages that say what to choose instead.
pub fn working_choices(decl: &ModelDecl, region: &str) -> Vec<(String, String)> {
    offered_choices(decl)
        .into_iter()
        .filter_map(|(o, c)| {
            let route = chat_route(decl, Some(c), region);
            route.advice.is_none().then(|| (o.to_string(), route.id))
        })
        .collect()
}

/// The id to call for a predefined embedding model from `region`: the model itself where
/// AWS documents it in-Region (or documents no Regions), else the first inference profile
/// that covers the region (geographic, then country, then global), else the model id,
/// for AWS to answer.
fn embedding_id(decl: &ModelDecl, region: &str) -> String {
    let Some(facts) = &decl.bedrock else {
        return decl.model.clone();
    };
    if facts.regions.is_empty() || facts.regions.iter().any(|r| r == region) {
        return decl.model.clone();
    }
    let covers = |prefix: &str| {
        facts
            .profiles
            .get(prefix)
            .is_some_and(|rs| rs.iter().any(|r| r == region))
    };
    PROFILE_PREFIXES
        .iter()
        .find(|(p, _)| covers(p))
        .map_or_else(
            || decl.model.clone(),
            |(p, _)| format!("{p}.{}", decl.model),
        )
}

/// The id that calls `model` the way `invoked` was called: with the same system
/// profile prefix, or bare; `None` for an ARN (its route cannot be read from the text).
pub fn same_route(invoked: &str, model: &str) -> Option<String> {
    if invoked.starts_with("arn:") {
        return None;
    }
    let bare = ids::strip_profile_prefix(invoked);
    let prefix = &invoked[..invoked.len() - bare.len()];
    Some(format!("{prefix}{model}"))
}

/// The catalogue model an id names when its text tells (a model id, a system profile id
/// or their ARNs).
pub fn known_from_text<'c>(
    catalog: &'c Catalog,
    model_type: ModelType,
    id: &str,
) -> Option<&'c ModelDecl> {
    match classify(id) {
        IdKind::Foundation(model) => catalog.model(model_type, &model),
        _ => None,
    }
}

/// The catalogue model behind `id`, looking application profiles up (cached per tenant);
/// `None` when it cannot be known (provisioned throughput, imported models) or is not in
/// the catalogue.
pub async fn underlying<'c>(
    catalog: &'c Catalog,
    clients: &Clients,
    model_type: ModelType,
    id: &str,
) -> Result<Option<&'c ModelDecl>, PluginError> {
    let model = match classify(id) {
        IdKind::Foundation(model) => Some(model),
        IdKind::Opaque => None,
        IdKind::ApplicationProfile => clients.inference_profile(id).await?.model,
    };
    Ok(model.and_then(|m| catalog.model(model_type, &m)))
}

/// The catalogue model a foundation id, profile id or their ARN names, of any type.
pub fn catalogue_entry<'c>(catalog: &'c Catalog, id: &str) -> Option<&'c ModelDecl> {
    let foundation = foundation_id(id)?;
    [ModelType::Llm, ModelType::TextEmbedding, ModelType::Rerank]
        .into_iter()
        .find_map(|t| catalog.model(t, &foundation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declaration::{I18n, ModelFamily, ParameterRule, expand_rule};
    use serde_json::json;

    /// The id when the catalogue knows it to work; its advice otherwise.
    fn chat(decl: &ModelDecl, choice: &str, region: &str) -> Result<String, String> {
        let route = chat_route(decl, CrossRegion::parse(choice), region);
        match route.advice {
            None => Ok(route.id),
            Some(advice) => Err(advice),
        }
    }

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
            let id = chat(decl, choice, region)
                .unwrap_or_else(|e| panic!("{choice} from {region}: {e}"));
            assert_eq!(
                id,
                format!("{expected}{}", decl.model),
                "{choice} from {region}"
            );
        }
        // Japan's profile keeps requests in Japan: never silently swapped for another.
        let e = chat(haiku, "jp", "ap-southeast-1").expect_err("no jp. from Singapore");
        assert!(
            e.contains("no \"jp\" cross-region inference profile"),
            "{e}"
        );
    }

    /// Every option a catalogue model declares is a choice the routing knows.
    #[test]
    fn every_declared_choice_is_known() {
        let catalog = Catalog::embedded().expect("catalog");
        for decl in catalog.models() {
            if let Some(rule) = decl
                .parameter_rules
                .iter()
                .find(|r| r.name == "cross-region")
            {
                for option in &rule.options {
                    assert!(
                        ["disabled", "geographic", "global", "jp", "au"].contains(&option.as_str())
                            && CrossRegion::parse(option).is_some(),
                        "{}: unknown cross-region option {option}",
                        decl.model
                    );
                }
            }
        }
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
                family: ModelFamily::AnthropicClaude,
                max_output_tokens: None,
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
                system_prompts: None,
                dimensions: Vec::new(),
                default_dimensions: None,
                max_input_tokens: None,
                multimodal: false,
                refusal_fallback: None,
                cache_ttl_1h: false,
                service_tiers: Default::default(),
                latency_optimized: Vec::new(),
            }),
        }
    }

    #[test]
    fn cross_region_prefixes_per_region() {
        let d = decl(true, &["disabled", "geographic", "global", "jp"]);
        assert_eq!(
            chat(&d, "disabled", "us-east-1").expect("in region"),
            "anthropic.claude-x-v1:0"
        );
        assert_eq!(
            chat(&d, "geographic", "us-west-2").expect("us"),
            "us.anthropic.claude-x-v1:0"
        );
        assert_eq!(
            chat(&d, "geographic", "eu-west-1").expect("eu"),
            "eu.anthropic.claude-x-v1:0"
        );
        assert_eq!(
            chat(&d, "global", "eu-west-1").expect("global"),
            "global.anthropic.claude-x-v1:0"
        );
        assert_eq!(
            chat(&d, "jp", "ap-northeast-1").expect("jp"),
            "jp.anthropic.claude-x-v1:0"
        );
        assert_eq!(
            working_choices(&d, "eu-west-1"),
            [
                (
                    "geographic".to_string(),
                    "eu.anthropic.claude-x-v1:0".to_string()
                ),
                (
                    "global".to_string(),
                    "global.anthropic.claude-x-v1:0".to_string()
                )
            ]
        );
    }

    /// A choice the catalogue does not know to work is still called (AWS decides), with
    /// the catalogue's advice kept to explain AWS's refusal.
    #[test]
    fn unknown_routes_are_called_with_the_catalogues_advice() {
        let d = decl(true, &["disabled", "geographic", "global", "jp"]);
        for (choice, region, id) in [
            ("global", "ap-northeast-1", "global.anthropic.claude-x-v1:0"),
            ("disabled", "us-west-2", "anthropic.claude-x-v1:0"),
            ("geographic", "sa-east-1", "anthropic.claude-x-v1:0"),
            ("geographic", "eu-south-3", "eu.anthropic.claude-x-v1:0"),
            ("jp", "us-east-1", "jp.anthropic.claude-x-v1:0"),
        ] {
            let route = chat_route(&d, CrossRegion::parse(choice), region);
            assert_eq!(route.id, id, "{choice} from {region}");
            assert!(route.advice.is_some(), "{choice} from {region}");
        }
        // The advice is added to AWS's refusals about routes, not to other errors.
        let route = chat_route(&d, CrossRegion::parse("jp"), "us-east-1");
        let e = route.explain(PluginError::bad_request("ValidationException: invalid"));
        assert!(
            e.message
                .starts_with("ValidationException: invalid (as far as"),
            "{e}"
        );
        assert!(e.message.contains("\"geographic\" or \"global\""), "{e}");
        let throttled = PluginError::new(ErrorKind::RateLimit, "slow down");
        assert_eq!(route.explain(throttled.clone()), throttled);
    }

    #[test]
    fn the_advice_names_what_works() {
        let d = decl(true, &["disabled", "geographic", "global", "jp"]);
        let e = chat(&d, "global", "ap-northeast-1").expect_err("no global from tokyo");
        assert!(e.contains("no \"global\"") && e.contains("\"jp\""), "{e}");
        let e = chat(&d, "disabled", "us-west-2").expect_err("not in region");
        assert!(
            e.contains("not offered in-region in us-west-2")
                && e.ends_with("choose Cross-region inference \"geographic\" instead"),
            "{e}"
        );
        let profile_only = decl(false, &["geographic", "global"]);
        let e = chat(&profile_only, "disabled", "us-east-1").expect_err("profile only");
        assert!(
            e.contains("only be called through a cross-region inference profile"),
            "{e}"
        );
        let e = chat(&d, "geographic", "sa-east-1").expect_err("nothing in sa");
        assert!(
            e.contains("no cross-region choice works from sa-east-1"),
            "{e}"
        );
    }

    #[test]
    fn a_fallback_model_is_called_the_same_way() {
        assert_eq!(
            same_route(
                "global.anthropic.claude-sonnet-5",
                "anthropic.claude-opus-4-8"
            )
            .as_deref(),
            Some("global.anthropic.claude-opus-4-8")
        );
        assert_eq!(
            same_route(
                "us-gov.anthropic.claude-sonnet-5",
                "anthropic.claude-opus-4-8"
            )
            .as_deref(),
            Some("us-gov.anthropic.claude-opus-4-8")
        );
        assert_eq!(
            same_route("anthropic.claude-sonnet-5", "anthropic.claude-opus-4-8").as_deref(),
            Some("anthropic.claude-opus-4-8")
        );
        assert_eq!(
            same_route(
                "arn:aws:bedrock:us-east-1:1:application-inference-profile/x",
                "m"
            ),
            None
        );
    }

    #[test]
    fn embedding_models_fall_back_to_a_covering_profile() {
        let mut d = decl(true, &[]);
        d.model_type = ModelType::TextEmbedding;
        assert_eq!(embedding_id(&d, "us-east-1"), "anthropic.claude-x-v1:0");
        assert_eq!(embedding_id(&d, "us-west-2"), "us.anthropic.claude-x-v1:0");
        assert_eq!(
            embedding_id(&d, "ap-northeast-1"),
            "jp.anthropic.claude-x-v1:0"
        );
        assert_eq!(embedding_id(&d, "sa-east-1"), "anthropic.claude-x-v1:0");
    }
}
