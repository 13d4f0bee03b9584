//! The model catalogue: every model YAML under `models/`, its `_position.yaml` and MODELS.md
//! agree with each other and with the rules the code relies on (cross-region choices that
//! match the `bedrock` block, max_tokens equal to the documented max output, decimal prices),
//! and every model id the existing Python plugin offered is either shipped or accounted for.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// Every Bedrock model id of the existing plugin (reference notes §3.2, `model_ids.py`).
const PLUGIN_IDS: &[&str] = &[
    "anthropic.claude-opus-5",
    "anthropic.claude-sonnet-5",
    "anthropic.claude-fable-5",
    "anthropic.claude-opus-4-8",
    "anthropic.claude-opus-4-7",
    "anthropic.claude-sonnet-4-6",
    "anthropic.claude-opus-4-6-v1",
    "anthropic.claude-opus-4-5-20251101-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-sonnet-4-20250514-v1:0",
    "anthropic.claude-opus-4-20250514-v1:0",
    "anthropic.claude-opus-4-1-20250805-v1:0",
    "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "anthropic.claude-3-5-haiku-20241022-v1:0",
    "anthropic.claude-3-sonnet-20240229-v1:0",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "anthropic.claude-3-opus-20240229-v1:0",
    "amazon.nova-pro-v1:0",
    "amazon.nova-lite-v1:0",
    "amazon.nova-2-lite-v1:0",
    "amazon.nova-micro-v1:0",
    "amazon.nova-premier-v1:0",
    "meta.llama3-8b-instruct-v1:0",
    "meta.llama3-70b-instruct-v1:0",
    "meta.llama3-1-8b-instruct-v1:0",
    "meta.llama3-1-70b-instruct-v1:0",
    "meta.llama3-1-405b-instruct-v1:0",
    "meta.llama3-2-11b-instruct-v1:0",
    "meta.llama3-2-90b-instruct-v1:0",
    "mistral.mistral-7b-instruct-v0:2",
    "mistral.mistral-large-2402-v1:0",
    "mistral.mistral-small-2402-v1:0",
    "mistral.mixtral-8x7b-instruct-v0:1",
    "ai21.jamba-1-5-mini-v1:0",
    "ai21.jamba-1-5-large-v1:0",
    "deepseek.r1-v1:0",
    "deepseek.v3-v1:0",
    "deepseek.v3.2",
    "cohere.command-text-v14",
    "cohere.command-light-text-v14",
    "cohere.command-r-v1:0",
    "cohere.command-r-plus-v1:0",
    "qwen.qwen3-235b-a22b-2507-v1:0",
    "qwen.qwen3-32b-v1:0",
    "qwen.qwen3-coder-480b-a35b-v1:0",
    "qwen.qwen3-coder-30b-a3b-v1:0",
    "openai.gpt-5.6-sol",
    "openai.gpt-5.6-terra",
    "openai.gpt-5.6-luna",
    "openai.gpt-5.5",
    "openai.gpt-5.4",
    "openai.gpt-oss-120b-1:0",
    "openai.gpt-oss-20b-1:0",
    // Embedding and rerank models of the existing plugin (§3.4, §3.5).
    "amazon.titan-embed-text-v1",
    "amazon.titan-embed-text-v2:0",
    "amazon.nova-2-multimodal-embeddings-v1:0",
    "cohere.embed-english-v3",
    "cohere.embed-multilingual-v3",
    "cohere.embed-v4:0",
    "amazon.rerank-v1:0",
    "cohere.rerank-v3-5:0",
];

const FAMILIES: &[&str] = &[
    "anthropic-claude",
    "amazon-nova",
    "meta-llama",
    "mistral",
    "ai21-jamba",
    "cohere-command",
    "deepseek",
    "qwen",
    "openai-gpt-oss",
    "openai-mantle",
    "writer-palmyra",
    "moonshot-kimi",
    "amazon-titan-embed",
    "cohere-embed",
    "amazon-nova-embed",
    "amazon-rerank",
    "cohere-rerank",
];

/// Families served by bedrock-mantle, whose models run where the mantle endpoint and the
/// model are offered; their in-Region rows are recorded where AWS lists them.
const MANTLE_FAMILIES: &[&str] = &["openai-mantle"];

const GEOGRAPHIC_PREFIXES: &[&str] = &["us", "eu", "apac", "ca", "us-gov"];

/// MODELS.md sections that account for a plugin id without a YAML.
const ACCOUNTING_SECTIONS: &[&str] = &[
    "## Retired",
    "## Not found in AWS documentation",
    "## Not shipped",
];

const TYPES: &[(&str, &str)] = &[
    ("llm", "llm"),
    ("text_embedding", "text-embedding"),
    ("rerank", "rerank"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Model {
    file: String,
    dir: &'static str,
    doc: Value,
}

impl Model {
    fn id(&self) -> &str {
        self.doc["model"].as_str().unwrap_or_default()
    }
    fn bedrock(&self) -> &Value {
        &self.doc["bedrock"]
    }
    fn rule(&self, name: &str) -> Option<&Value> {
        self.doc["parameter_rules"]
            .as_sequence()?
            .iter()
            .find(|r| r["name"].as_str() == Some(name))
    }
}

fn models() -> Vec<Model> {
    let mut out = Vec::new();
    for (dir, _) in TYPES {
        let path = root().join("models").join(dir);
        let mut names: Vec<_> = fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|n| n.ends_with(".yaml") && n != "_position.yaml")
            .collect();
        names.sort();
        for name in names {
            let text = fs::read_to_string(path.join(&name)).expect("read model yaml");
            let doc: Value = serde_yaml::from_str(&text)
                .unwrap_or_else(|e| panic!("models/{dir}/{name} does not parse: {e}"));
            out.push(Model {
                file: name,
                dir,
                doc,
            });
        }
    }
    out
}

fn models_md() -> String {
    fs::read_to_string(root().join("MODELS.md")).expect("MODELS.md exists at the repository root")
}

/// The text of one `## ` section of MODELS.md (up to the next `## ` heading).
fn section<'a>(md: &'a str, heading: &str) -> &'a str {
    let Some(start) = md.find(&format!("\n{heading}")) else {
        return "";
    };
    let rest = &md[start + 1..];
    let end = rest[3..].find("\n## ").map(|i| i + 3).unwrap_or(rest.len());
    &rest[..end]
}

fn mentions(text: &str, id: &str) -> bool {
    text.contains(&format!("`{id}`"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_plugin_model_is_shipped_or_accounted_for() {
    let shipped: BTreeSet<String> = models().iter().map(|m| m.id().to_owned()).collect();
    let md = models_md();
    let accounted: Vec<&str> = ACCOUNTING_SECTIONS
        .iter()
        .map(|h| section(&md, h))
        .collect();
    let mut missing = Vec::new();
    for id in PLUGIN_IDS {
        if shipped.contains(*id) {
            continue;
        }
        if !accounted.iter().any(|s| mentions(s, id)) {
            missing.push(*id);
        }
    }
    assert!(
        missing.is_empty(),
        "model ids of the existing plugin with neither a YAML nor a Retired / Not found / Not shipped entry in MODELS.md: {missing:?}"
    );
    for id in &shipped {
        for (h, s) in ACCOUNTING_SECTIONS.iter().zip(&accounted) {
            assert!(
                !mentions(s, id),
                "{id} has a YAML but is also listed under {h:?} in MODELS.md"
            );
        }
    }
}

#[test]
fn file_names_positions_and_families() {
    let all = models();
    assert!(!all.is_empty());
    for (dir, model_type) in TYPES {
        let pos_path = root().join("models").join(dir).join("_position.yaml");
        let positions: Vec<String> =
            serde_yaml::from_str(&fs::read_to_string(&pos_path).expect("read _position.yaml"))
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", pos_path.display()));
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for p in &positions {
            *counts.entry(p.as_str()).or_default() += 1;
        }
        let of_type: Vec<&Model> = all.iter().filter(|m| m.dir == *dir).collect();
        for m in &of_type {
            let id = m.id();
            assert_eq!(
                m.file,
                format!("{}.yaml", id.replace(':', "_")),
                "models/{dir}/{}: file name does not follow the model id {id:?}",
                m.file
            );
            assert_eq!(
                m.doc["model_type"].as_str(),
                Some(*model_type),
                "{id}: model_type"
            );
            assert_eq!(
                counts.get(id).copied(),
                Some(1),
                "{id} must appear exactly once in models/{dir}/_position.yaml"
            );
            let family = m.bedrock()["family"].as_str().unwrap_or_default();
            assert!(
                FAMILIES.contains(&family),
                "{id}: bedrock.family {family:?} is not one of {FAMILIES:?}"
            );
        }
        for p in &positions {
            assert!(
                of_type.iter().any(|m| m.id() == p),
                "models/{dir}/_position.yaml names {p:?}, which has no YAML"
            );
        }
    }
}

#[test]
fn cross_region_choices_match_the_bedrock_block() {
    for m in models().iter().filter(|m| m.dir == "llm") {
        let id = m.id();
        let b = m.bedrock();
        let on_demand = b["on_demand"]
            .as_bool()
            .unwrap_or_else(|| panic!("{id}: bedrock.on_demand must be a boolean"));
        let profiles: BTreeSet<String> = b["profiles"]
            .as_mapping()
            .map(|p| {
                p.keys()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let regions = strings(&b["regions"]);
        let mantle = MANTLE_FAMILIES.contains(&b["family"].as_str().unwrap_or_default());
        if on_demand && !mantle {
            assert!(
                !regions.is_empty(),
                "{id}: on_demand but no bedrock.regions"
            );
        }
        let Some(rule) = m.rule("cross-region") else {
            assert!(
                profiles.is_empty(),
                "{id}: has inference profiles {profiles:?} but no cross-region parameter"
            );
            assert!(on_demand, "{id}: neither in-Region nor any profile");
            continue;
        };
        let options = strings(&rule["options"]);
        assert!(!options.is_empty(), "{id}: cross-region without options");
        for o in &options {
            let ok = match o.as_str() {
                // Offered everywhere: AWS may run a model in more Regions than the
                // catalogue knows (never stricter than AWS); its refusal explains.
                "disabled" => true,
                "global" => profiles.contains("global"),
                "geographic" => GEOGRAPHIC_PREFIXES.iter().any(|p| profiles.contains(*p)),
                "jp" => profiles.contains("jp"),
                "au" => profiles.contains("au"),
                other => panic!("{id}: unknown cross-region option {other:?}"),
            };
            assert!(
                ok,
                "{id}: cross-region option {o:?} is not backed by the bedrock block"
            );
        }
        assert!(
            options.iter().any(|o| o == "disabled"),
            "{id}: 'disabled' (the model itself) must always be a choice"
        );
        if !on_demand {
            assert_ne!(
                rule["default"].as_str(),
                Some("disabled"),
                "{id}: a profile-only model must not default to 'disabled'"
            );
        }
        for p in &profiles {
            let option = match p.as_str() {
                "global" => "global",
                "jp" => "jp",
                "au" => "au",
                g if GEOGRAPHIC_PREFIXES.contains(&g) => "geographic",
                other => panic!("{id}: unknown profile prefix {other:?}"),
            };
            assert!(
                options.iter().any(|o| o == option),
                "{id}: profile {p:?} exists but option {option:?} is missing"
            );
            assert!(
                !strings(&b["profiles"][p.as_str()]).is_empty(),
                "{id}: profile {p:?} without source regions"
            );
        }
        let default = rule["default"].as_str().unwrap_or_default();
        assert!(
            options.iter().any(|o| o == default),
            "{id}: cross-region default {default:?} is not among {options:?}"
        );
        assert_eq!(
            rule["required"].as_bool(),
            Some(true),
            "{id}: cross-region must be required"
        );
    }
}

#[test]
fn max_tokens_is_the_documented_max_output() {
    for m in models().iter().filter(|m| m.dir == "llm") {
        let id = m.id();
        let rule = m
            .rule("max_tokens")
            .unwrap_or_else(|| panic!("{id}: no max_tokens rule"));
        let max = rule["max"]
            .as_u64()
            .unwrap_or_else(|| panic!("{id}: max_tokens.max"));
        let documented = m.bedrock()["max_output_tokens"]
            .as_u64()
            .unwrap_or_else(|| panic!("{id}: bedrock.max_output_tokens"));
        assert_eq!(
            max, documented,
            "{id}: max_tokens.max != bedrock.max_output_tokens"
        );
        assert_eq!(
            rule["required"].as_bool(),
            Some(true),
            "{id}: max_tokens must be required"
        );
        let default = rule["default"]
            .as_u64()
            .unwrap_or_else(|| panic!("{id}: max_tokens.default"));
        assert!(
            default >= 1 && default <= max,
            "{id}: max_tokens.default out of range"
        );
        if let Some(budget) = m.rule("reasoning_budget") {
            let bmax = budget["max"].as_u64().unwrap_or_default();
            assert!(
                bmax <= documented,
                "{id}: reasoning_budget.max above max output"
            );
        }
        let ctx = m.doc["model_properties"]["context_size"]
            .as_u64()
            .unwrap_or_default();
        assert!(ctx > 0, "{id}: context_size");
        assert_eq!(
            m.doc["model_properties"]["mode"].as_str(),
            Some("chat"),
            "{id}: mode"
        );
    }
}

fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let mut parts = s.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let frac = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

#[test]
fn prices_are_decimals() {
    for m in models() {
        let id = m.id().to_owned();
        let Some(pricing) = m.doc["pricing"].as_mapping() else {
            continue;
        };
        for key in ["input", "output", "cache_read", "cache_write", "unit"] {
            if let Some(v) = pricing.get(key) {
                let s = v.as_str().unwrap_or_else(|| {
                    panic!("{id}: pricing.{key} must be a quoted decimal string")
                });
                assert!(
                    is_decimal(s),
                    "{id}: pricing.{key} = {s:?} is not a decimal"
                );
            }
        }
        assert!(
            pricing.get("input").is_some(),
            "{id}: pricing without input"
        );
        assert_eq!(
            pricing.get("currency").and_then(|c| c.as_str()),
            Some("USD"),
            "{id}: currency"
        );
    }
}

#[test]
fn embedding_blocks_are_complete() {
    for m in models().iter().filter(|m| m.dir == "text_embedding") {
        let id = m.id();
        let b = m.bedrock();
        let dims: Vec<u64> = b["dimensions"]
            .as_sequence()
            .map(|s| s.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let default = b["default_dimensions"].as_u64().unwrap_or_default();
        assert!(
            dims.contains(&default),
            "{id}: default_dimensions not among dimensions"
        );
        let chunks = m.doc["model_properties"]["max_chunks"]
            .as_u64()
            .unwrap_or_default();
        let widest = dims.iter().copied().max().unwrap_or_default();
        assert!(chunks >= 1, "{id}: max_chunks");
        assert!(
            chunks * widest * 20 < 5_000_000,
            "{id}: {chunks} vectors of {widest} floats may exceed the daemon's 5 MiB line"
        );
        assert!(
            b["multimodal"].as_bool().is_some(),
            "{id}: bedrock.multimodal"
        );
    }
}

#[test]
fn every_yaml_is_in_models_md() {
    let md = models_md();
    for m in models() {
        assert!(
            mentions(&md, m.id()),
            "{} (models/{}/{}) is not listed in MODELS.md",
            m.id(),
            m.dir,
            m.file
        );
    }
}

#[test]
fn the_catalogue_directory_layout_is_what_the_provider_globs() {
    let provider = fs::read_to_string(root().join("provider/bedrock.yaml")).expect("provider yaml");
    for (dir, _) in TYPES {
        assert!(
            provider.contains(&format!("models/{dir}/*.yaml")),
            "provider/bedrock.yaml no longer globs models/{dir}"
        );
        assert!(Path::new(&root().join("models").join(dir)).is_dir());
    }
}
