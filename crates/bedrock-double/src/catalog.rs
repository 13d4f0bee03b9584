//! The double's own catalogue of Bedrock foundation models and inference
//! profiles, and the resolution of a `modelId` (model id, profile id, or any
//! of their ARNs) to the foundation model that serves it.
//!
//! This list is deliberately independent of the plugin's model YAML: if the
//! plugin names a model that does not exist, calls it in a region where it is
//! not offered, or calls a profile-only model directly, the double answers as
//! Bedrock would and the mistake shows up in tests.
//!
//! Sources for ids, regions and profile prefixes (a realistic subset, not a
//! mirror of the live catalogue):
//! - https://docs.aws.amazon.com/bedrock/latest/userguide/models-supported.html
//! - https://docs.aws.amazon.com/bedrock/latest/userguide/models-regions.html
//! - https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html
//! - https://platform.claude.com/docs/en/build-with-claude/claude-on-amazon-bedrock-legacy
//!   (Claude model ids and which of global/us/eu/jp/apac profiles exist)
//! - Converse feature support per model (tool use, streaming tool use, system
//!   prompts): https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-supported-models-features.html
//! - The per-model "Models at a glance" cards
//!   (https://docs.aws.amazon.com/bedrock/latest/userguide/model-cards.html): in-Region
//!   rows, geo/global profile ids and image input for the Mistral, AI21, DeepSeek, Qwen,
//!   OpenAI open-weight, Writer and Moonshot entries; tool use only where the card lists
//!   client-side tool calling on bedrock-runtime (see MODELS.md).

use crate::controls::CacheSupport;
use crate::error::AwsError;
use serde::Serialize;

/// What a model does; decides which request bodies it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ModelKind {
    Text,
    Embedding,
    Rerank,
}

/// Request-shape family: which native body and which
/// `additionalModelRequestFields` rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Family {
    Anthropic,
    Nova,
    Meta,
    Mistral,
    Ai21,
    DeepSeek,
    CohereCommand,
    Qwen,
    OpenAi,
    Writer,
    Moonshot,
    TitanEmbedV1,
    TitanEmbedV2,
    CohereEmbedV3,
    CohereEmbedV4,
    NovaMultimodalEmbed,
    AmazonRerank,
    CohereRerank,
    /// Anything added by a test without a modelled family: bodies accepted as-is.
    Other,
}

/// One foundation model as the double knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpec {
    pub id: String,
    pub provider: String,
    pub name: String,
    pub kind: ModelKind,
    pub family: Family,
    /// Regions where the foundation model is offered.
    pub regions: Vec<String>,
    /// `false`: inference-profile only; a direct call gets the on-demand
    /// ValidationException.
    pub on_demand: bool,
    /// System inference-profile prefixes that exist for this model
    /// (`us`, `eu`, `apac`, `jp`, `au`, `global`, `us-gov`).
    pub profile_geos: Vec<String>,
    pub streaming: bool,
    pub tools: bool,
    pub streaming_tools: bool,
    pub system_prompts: bool,
    pub reasoning: bool,
    pub count_tokens: bool,
    /// Newer Claude models reject `temperature` together with `top_p`.
    pub temperature_top_p_exclusive: bool,
    pub input_modalities: Vec<String>,
    pub output_modalities: Vec<String>,
    /// Default embedding dimension (embedding models only).
    pub embedding_dimension: usize,
    /// Regions where the Priority and Flex tiers serve the model.
    pub tier_regions: Vec<String>,
    /// Source regions where its cross-region profile serves optimized latency.
    pub latency_optimized_regions: Vec<String>,
    pub cache: CacheSupport,
    pub cache_ttl_1h: bool,
}

impl ModelSpec {
    /// A text model with Converse defaults (system prompts, tools, streaming).
    pub fn text(id: &str, provider: &str, name: &str, family: Family) -> Self {
        Self {
            id: id.into(),
            provider: provider.into(),
            name: name.into(),
            kind: ModelKind::Text,
            family,
            regions: Vec::new(),
            on_demand: true,
            profile_geos: Vec::new(),
            streaming: true,
            tools: true,
            streaming_tools: true,
            system_prompts: true,
            reasoning: false,
            count_tokens: false,
            temperature_top_p_exclusive: false,
            input_modalities: vec!["TEXT".into()],
            output_modalities: vec!["TEXT".into()],
            embedding_dimension: 0,
            tier_regions: Vec::new(),
            latency_optimized_regions: Vec::new(),
            cache: CacheSupport::Unchecked,
            cache_ttl_1h: false,
        }
    }

    /// An embedding model producing vectors of `dimension` by default.
    pub fn embedding(
        id: &str,
        provider: &str,
        name: &str,
        family: Family,
        dimension: usize,
    ) -> Self {
        Self {
            kind: ModelKind::Embedding,
            streaming: false,
            tools: false,
            streaming_tools: false,
            system_prompts: false,
            output_modalities: vec!["EMBEDDING".into()],
            embedding_dimension: dimension,
            ..Self::text(id, provider, name, family)
        }
    }

    /// A rerank model.
    pub fn rerank(id: &str, provider: &str, name: &str, family: Family) -> Self {
        Self {
            kind: ModelKind::Rerank,
            streaming: false,
            tools: false,
            streaming_tools: false,
            system_prompts: false,
            output_modalities: vec!["TEXT".into()],
            ..Self::text(id, provider, name, family)
        }
    }

    pub fn regions(mut self, regions: &[&str]) -> Self {
        self.regions = regions.iter().map(|r| r.to_string()).collect();
        self
    }

    pub fn profile_only(mut self) -> Self {
        self.on_demand = false;
        self
    }

    pub fn geos(mut self, geos: &[&str]) -> Self {
        self.profile_geos = geos.iter().map(|g| g.to_string()).collect();
        self
    }

    pub fn inputs(mut self, m: &[&str]) -> Self {
        self.input_modalities = m.iter().map(|s| s.to_string()).collect();
        self
    }

    fn no_tools(mut self) -> Self {
        self.tools = false;
        self.streaming_tools = false;
        self
    }

    fn no_streaming_tools(mut self) -> Self {
        self.streaming_tools = false;
        self
    }

    fn no_system(mut self) -> Self {
        self.system_prompts = false;
        self
    }

    fn claude(mut self, modern: bool) -> Self {
        self.count_tokens = true;
        self.temperature_top_p_exclusive = modern;
        self.reasoning = true;
        self.input_modalities = vec!["TEXT".into(), "IMAGE".into()];
        self
    }

    fn with_reasoning(mut self) -> Self {
        self.reasoning = true;
        self
    }

    /// `arn:aws:bedrock:{region}::foundation-model/{id}`.
    pub fn arn(&self, region: &str) -> String {
        format!("arn:aws:bedrock:{region}::foundation-model/{}", self.id)
    }

    pub fn offered_in(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r == region)
    }
}

/// Source regions from which a system inference profile with this prefix can
/// be called.
pub fn geo_regions(geo: &str) -> &'static [&'static str] {
    match geo {
        "us" => US,
        "eu" => EU,
        "apac" => APAC,
        "jp" => &["ap-northeast-1", "ap-northeast-3"],
        "au" => &["ap-southeast-2", "ap-southeast-4"],
        "us-gov" => &["us-gov-west-1", "us-gov-east-1"],
        "global" => GLOBAL,
        _ => &[],
    }
}

/// Geo prefixes the double recognises in system profile ids. `us-gov` must be
/// tried before `us`.
pub const GEO_PREFIXES: &[&str] = &["us-gov", "us", "eu", "apac", "jp", "au", "global"];

const US: &[&str] = &["us-east-1", "us-east-2", "us-west-1", "us-west-2"];
const EU: &[&str] = &[
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
];
const APAC: &[&str] = &[
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-4",
];
const GLOBAL: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-4",
];

fn all_of(groups: &[&[&'static str]]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    v.dedup();
    v
}

/// The built-in catalogue.
pub fn builtin_models() -> Vec<ModelSpec> {
    use Family::*;
    let usw = &["us-east-1", "us-west-2"];
    let us_eu_ap = all_of(&[US, EU, APAC]);
    let everywhere = all_of(&[GLOBAL]);
    let t = ModelSpec::text;
    let mut models = vec![
        // Anthropic Claude (Converse: system, tools, streaming tools, images).
        t(
            "anthropic.claude-3-haiku-20240307-v1:0",
            "Anthropic",
            "Claude 3 Haiku",
            Anthropic,
        )
        .claude(false)
        .regions(&[
            "us-east-1",
            "us-west-2",
            "ca-central-1",
            "eu-central-1",
            "eu-west-1",
            "eu-west-3",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
        ])
        .geos(&["us", "eu", "apac"]),
        t(
            "anthropic.claude-3-sonnet-20240229-v1:0",
            "Anthropic",
            "Claude 3 Sonnet",
            Anthropic,
        )
        .claude(false)
        .regions(usw)
        .geos(&["us"]),
        t(
            "anthropic.claude-3-opus-20240229-v1:0",
            "Anthropic",
            "Claude 3 Opus",
            Anthropic,
        )
        .claude(false)
        .regions(&["us-west-2"])
        .geos(&["us"]),
        t(
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "Anthropic",
            "Claude 3.5 Sonnet",
            Anthropic,
        )
        .claude(false)
        .regions(&["us-east-1", "us-west-2", "eu-central-1", "ap-northeast-1"])
        .geos(&["us", "eu", "apac"]),
        t(
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            "Anthropic",
            "Claude 3.5 Sonnet v2",
            Anthropic,
        )
        .claude(false)
        .regions(&all_of(&[US, APAC]))
        .profile_only()
        .geos(&["us", "apac"]),
        t(
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "Anthropic",
            "Claude 3.5 Haiku",
            Anthropic,
        )
        .claude(false)
        .regions(&["us-west-2", "us-east-1", "us-east-2"])
        .profile_only()
        .geos(&["us"]),
        t(
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
            "Anthropic",
            "Claude 3.7 Sonnet",
            Anthropic,
        )
        .claude(false)
        .regions(&us_eu_ap)
        .profile_only()
        .geos(&["us", "eu", "apac"]),
        t(
            "anthropic.claude-sonnet-4-20250514-v1:0",
            "Anthropic",
            "Claude Sonnet 4",
            Anthropic,
        )
        .claude(false)
        .regions(&everywhere)
        .profile_only()
        .geos(&["global", "us", "eu", "apac"]),
        t(
            "anthropic.claude-opus-4-20250514-v1:0",
            "Anthropic",
            "Claude Opus 4",
            Anthropic,
        )
        .claude(false)
        .regions(US)
        .profile_only()
        .geos(&["us"]),
        t(
            "anthropic.claude-opus-4-1-20250805-v1:0",
            "Anthropic",
            "Claude Opus 4.1",
            Anthropic,
        )
        .claude(true)
        .regions(US)
        .profile_only()
        .geos(&["us"]),
        t(
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "Anthropic",
            "Claude Sonnet 4.5",
            Anthropic,
        )
        .claude(true)
        .regions(&everywhere)
        .profile_only()
        .geos(&["global", "us", "eu", "jp"]),
        t(
            "anthropic.claude-haiku-4-5-20251001-v1:0",
            "Anthropic",
            "Claude Haiku 4.5",
            Anthropic,
        )
        .claude(true)
        .regions(&everywhere)
        .profile_only()
        .geos(&["global", "us", "eu", "jp"]),
        t(
            "anthropic.claude-opus-4-5-20251101-v1:0",
            "Anthropic",
            "Claude Opus 4.5",
            Anthropic,
        )
        .claude(true)
        .regions(&everywhere)
        .profile_only()
        .geos(&["global", "us", "eu"]),
        t(
            "anthropic.claude-sonnet-4-6",
            "Anthropic",
            "Claude Sonnet 4.6",
            Anthropic,
        )
        .claude(true)
        .regions(&["eu-west-2"])
        .geos(&["global", "us", "eu", "jp"]),
        t(
            "anthropic.claude-opus-4-6-v1",
            "Anthropic",
            "Claude Opus 4.6",
            Anthropic,
        )
        .claude(true)
        .regions(&["eu-west-2"])
        .geos(&["global", "us", "eu", "jp", "apac"]),
        // Claude Opus 4.7 and later, from their model cards (model-card-anthropic-claude-*.html).
        t(
            "anthropic.claude-opus-4-7",
            "Anthropic",
            "Claude Opus 4.7",
            Anthropic,
        )
        .claude(true)
        .regions(&["us-east-1", "eu-north-1", "eu-west-1"])
        .geos(&["global", "us", "eu", "jp", "au"]),
        t(
            "anthropic.claude-opus-4-8",
            "Anthropic",
            "Claude Opus 4.8",
            Anthropic,
        )
        .claude(true)
        .regions(&[
            "us-east-1",
            "us-gov-west-1",
            "eu-north-1",
            "eu-west-1",
            "ap-northeast-1",
            "ap-southeast-4",
        ])
        .geos(&["global", "us", "eu", "jp", "au"]),
        t(
            "anthropic.claude-opus-5",
            "Anthropic",
            "Claude Opus 5",
            Anthropic,
        )
        .claude(true)
        .regions(&["us-east-1", "eu-north-1", "eu-west-1", "ap-southeast-4"])
        .geos(&["global", "us", "eu", "au"]),
        t(
            "anthropic.claude-sonnet-5",
            "Anthropic",
            "Claude Sonnet 5",
            Anthropic,
        )
        .claude(true)
        .regions(&everywhere)
        .profile_only()
        .geos(&["global", "us", "eu", "au"]),
        t(
            "anthropic.claude-fable-5",
            "Anthropic",
            "Claude Fable 5",
            Anthropic,
        )
        .claude(true)
        .regions(&everywhere)
        .profile_only()
        .geos(&["global", "us"]),
        // Amazon Nova.
        t("amazon.nova-micro-v1:0", "Amazon", "Nova Micro", Nova)
            .regions(&[
                "us-east-1",
                "us-west-2",
                "eu-central-1",
                "eu-west-1",
                "ap-northeast-1",
                "ap-southeast-2",
            ])
            .geos(&["us", "eu", "apac"]),
        t("amazon.nova-lite-v1:0", "Amazon", "Nova Lite", Nova)
            .inputs(&["TEXT", "IMAGE", "VIDEO"])
            .regions(&[
                "us-east-1",
                "us-west-2",
                "eu-central-1",
                "eu-west-1",
                "ap-northeast-1",
                "ap-southeast-2",
            ])
            .geos(&["us", "eu", "apac"]),
        t("amazon.nova-pro-v1:0", "Amazon", "Nova Pro", Nova)
            .inputs(&["TEXT", "IMAGE", "VIDEO"])
            .regions(&[
                "us-east-1",
                "us-west-2",
                "eu-central-1",
                "eu-west-1",
                "ap-northeast-1",
                "ap-southeast-2",
            ])
            .geos(&["us", "eu", "apac"]),
        t("amazon.nova-premier-v1:0", "Amazon", "Nova Premier", Nova)
            .inputs(&["TEXT", "IMAGE", "VIDEO"])
            .regions(US)
            .profile_only()
            .geos(&["us"]),
        t("amazon.nova-2-lite-v1:0", "Amazon", "Nova 2 Lite", Nova)
            .inputs(&["TEXT", "IMAGE", "VIDEO"])
            .with_reasoning()
            .regions(&everywhere)
            .profile_only()
            .geos(&["global", "us", "eu", "jp"]),
        // Meta Llama.
        t(
            "meta.llama3-8b-instruct-v1:0",
            "Meta",
            "Llama 3 8B Instruct",
            Meta,
        )
        .no_tools()
        .regions(&[
            "us-east-1",
            "us-west-2",
            "ca-central-1",
            "eu-west-2",
            "ap-south-1",
        ]),
        t(
            "meta.llama3-70b-instruct-v1:0",
            "Meta",
            "Llama 3 70B Instruct",
            Meta,
        )
        .no_tools()
        .regions(&[
            "us-east-1",
            "us-west-2",
            "ca-central-1",
            "eu-west-2",
            "ap-south-1",
        ]),
        t(
            "meta.llama3-1-8b-instruct-v1:0",
            "Meta",
            "Llama 3.1 8B Instruct",
            Meta,
        )
        .no_streaming_tools()
        .regions(&["us-west-2", "us-east-1", "us-east-2"])
        .geos(&["us"]),
        // Llama 3.3 and 4, from their model cards (model-card-meta-llama-*.html).
        t(
            "meta.llama3-3-70b-instruct-v1:0",
            "Meta",
            "Llama 3.3 70B Instruct",
            Meta,
        )
        .no_streaming_tools()
        .regions(&["us-east-2"])
        .geos(&["us"]),
        t(
            "meta.llama4-maverick-17b-instruct-v1:0",
            "Meta",
            "Llama 4 Maverick 17B Instruct",
            Meta,
        )
        .no_streaming_tools()
        .regions(&["us-east-1", "us-east-2", "us-west-1", "us-west-2"])
        .profile_only()
        .geos(&["us"]),
        t(
            "meta.llama4-scout-17b-instruct-v1:0",
            "Meta",
            "Llama 4 Scout 17B Instruct",
            Meta,
        )
        .no_streaming_tools()
        .regions(&["us-east-1", "us-east-2", "us-west-1", "us-west-2"])
        .profile_only()
        .geos(&["us"]),
        t(
            "meta.llama3-1-70b-instruct-v1:0",
            "Meta",
            "Llama 3.1 70B Instruct",
            Meta,
        )
        .no_streaming_tools()
        .regions(&["us-west-2", "us-east-1", "us-east-2"])
        .geos(&["us"]),
        t(
            "meta.llama3-1-405b-instruct-v1:0",
            "Meta",
            "Llama 3.1 405B Instruct",
            Meta,
        )
        .no_streaming_tools()
        .regions(&["us-west-2"]),
        t(
            "meta.llama3-2-11b-instruct-v1:0",
            "Meta",
            "Llama 3.2 11B Instruct",
            Meta,
        )
        .no_streaming_tools()
        .inputs(&["TEXT", "IMAGE"])
        .regions(US)
        .profile_only()
        .geos(&["us"]),
        t(
            "meta.llama3-2-90b-instruct-v1:0",
            "Meta",
            "Llama 3.2 90B Instruct",
            Meta,
        )
        .no_streaming_tools()
        .inputs(&["TEXT", "IMAGE"])
        .regions(US)
        .profile_only()
        .geos(&["us"]),
        // Mistral. 7B and Mixtral: no system prompts, no tools (Converse table).
        t(
            "mistral.mistral-7b-instruct-v0:2",
            "Mistral AI",
            "Mistral 7B Instruct",
            Mistral,
        )
        .no_tools()
        .no_system()
        .regions(&[
            "us-east-1",
            "us-west-2",
            "ca-central-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "ap-south-1",
            "ap-southeast-2",
            "sa-east-1",
        ]),
        t(
            "mistral.mixtral-8x7b-instruct-v0:1",
            "Mistral AI",
            "Mixtral 8x7B Instruct",
            Mistral,
        )
        .no_tools()
        .no_system()
        .regions(&[
            "us-east-1",
            "us-west-2",
            "ca-central-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "ap-south-1",
            "ap-southeast-2",
            "sa-east-1",
        ]),
        t(
            "mistral.mistral-large-2402-v1:0",
            "Mistral AI",
            "Mistral Large (24.02)",
            Mistral,
        )
        .no_streaming_tools()
        .regions(&[
            "us-east-1",
            "us-west-2",
            "ca-central-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "ap-south-1",
            "ap-southeast-2",
            "sa-east-1",
        ]),
        t(
            "mistral.mistral-small-2402-v1:0",
            "Mistral AI",
            "Mistral Small (24.02)",
            Mistral,
        )
        .no_streaming_tools()
        .regions(&["us-east-1"]),
        // Pixtral Large: inference profiles only (us., eu.).
        t(
            "mistral.pixtral-large-2502-v1:0",
            "Mistral AI",
            "Pixtral Large (25.02)",
            Mistral,
        )
        .no_streaming_tools()
        .inputs(&["TEXT", "IMAGE"])
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-central-1",
            "eu-north-1",
            "eu-west-1",
            "eu-west-3",
        ])
        .profile_only()
        .geos(&["us", "eu"]),
        t(
            "mistral.mistral-large-3-675b-instruct",
            "Mistral AI",
            "Mistral Large 3",
            Mistral,
        )
        .no_tools()
        .inputs(&["TEXT", "IMAGE"])
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
            "sa-east-1",
        ]),
        t(
            "mistral.magistral-small-2509",
            "Mistral AI",
            "Magistral Small 2509",
            Mistral,
        )
        .no_tools()
        .with_reasoning()
        .inputs(&["TEXT", "IMAGE"])
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "eu-west-1",
            "eu-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "sa-east-1",
        ]),
        t(
            "mistral.ministral-3-14b-instruct",
            "Mistral AI",
            "Ministral 14B 3.0",
            Mistral,
        )
        .no_tools()
        .inputs(&["TEXT", "IMAGE"])
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "eu-west-1",
            "eu-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "sa-east-1",
        ]),
        t(
            "mistral.ministral-3-8b-instruct",
            "Mistral AI",
            "Ministral 3 8B",
            Mistral,
        )
        .no_tools()
        .inputs(&["TEXT", "IMAGE"])
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-south-1",
            "eu-west-1",
            "eu-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
            "sa-east-1",
        ]),
        t(
            "mistral.ministral-3-3b-instruct",
            "Mistral AI",
            "Ministral 3B",
            Mistral,
        )
        .no_tools()
        .inputs(&["TEXT", "IMAGE"])
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "eu-west-1",
            "eu-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "sa-east-1",
        ]),
        // AI21 Jamba.
        t(
            "ai21.jamba-1-5-mini-v1:0",
            "AI21 Labs",
            "Jamba 1.5 Mini",
            Ai21,
        )
        .regions(&["us-east-1"]),
        t(
            "ai21.jamba-1-5-large-v1:0",
            "AI21 Labs",
            "Jamba 1.5 Large",
            Ai21,
        )
        .regions(&["us-east-1"]),
        // DeepSeek.
        t("deepseek.r1-v1:0", "DeepSeek", "DeepSeek-R1", DeepSeek)
            .no_tools()
            .with_reasoning()
            .regions(US)
            .profile_only()
            .geos(&["us"]),
        // Regions as the model card lists them (model-card-deepseek-deepseek-v3-1.html).
        t("deepseek.v3-v1:0", "DeepSeek", "DeepSeek-V3.1", DeepSeek).regions(&[
            "us-east-1",
            "us-west-2",
            "us-east-2",
            "ap-northeast-1",
            "ap-south-1",
            "eu-north-1",
            "eu-west-2",
            "ap-southeast-2",
            "ap-southeast-3",
        ]),
        t("deepseek.v3.2", "DeepSeek", "DeepSeek V3.2", DeepSeek)
            .no_tools()
            .regions(&[
                "us-east-1",
                "us-east-2",
                "us-west-2",
                "eu-north-1",
                "eu-west-2",
                "ap-northeast-1",
                "ap-south-1",
                "ap-southeast-2",
                "ap-southeast-3",
                "sa-east-1",
            ]),
        // Cohere Command.
        t(
            "cohere.command-r-v1:0",
            "Cohere",
            "Command R",
            CohereCommand,
        )
        .no_streaming_tools()
        .regions(usw),
        t(
            "cohere.command-r-plus-v1:0",
            "Cohere",
            "Command R+",
            CohereCommand,
        )
        .no_streaming_tools()
        .regions(usw),
        // Qwen. Tool use only where the card lists it on bedrock-runtime.
        t("qwen.qwen3-32b-v1:0", "Qwen", "Qwen3 32B (dense)", Qwen)
            .no_tools()
            .with_reasoning()
            .regions(&[
                "us-east-1",
                "us-east-2",
                "us-west-2",
                "eu-central-1",
                "eu-north-1",
                "eu-south-1",
                "eu-west-1",
                "eu-west-2",
                "ap-northeast-1",
                "ap-south-1",
                "ap-southeast-2",
                "ap-southeast-3",
                "sa-east-1",
            ]),
        t(
            "qwen.qwen3-235b-a22b-2507-v1:0",
            "Qwen",
            "Qwen3 235B A22B 2507",
            Qwen,
        )
        .no_streaming_tools()
        .with_reasoning()
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "eu-west-1",
            "eu-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "sa-east-1",
        ]),
        t(
            "qwen.qwen3-coder-480b-a35b-v1:0",
            "Qwen",
            "Qwen3 Coder 480B A35B Instruct",
            Qwen,
        )
        .no_streaming_tools()
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-north-1",
            "eu-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "sa-east-1",
        ]),
        t(
            "qwen.qwen3-coder-30b-a3b-v1:0",
            "Qwen",
            "Qwen3 Coder 30B A3B Instruct",
            Qwen,
        )
        .no_tools()
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "eu-west-1",
            "eu-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "sa-east-1",
        ]),
        t(
            "qwen.qwen3-next-80b-a3b",
            "Qwen",
            "Qwen3 Next 80B A3B",
            Qwen,
        )
        .no_tools()
        .with_reasoning()
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-south-1",
            "eu-west-1",
            "eu-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
            "sa-east-1",
        ]),
        t(
            "qwen.qwen3-vl-235b-a22b",
            "Qwen",
            "Qwen3 VL 235B A22B",
            Qwen,
        )
        .no_tools()
        .inputs(&["TEXT", "IMAGE"])
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-south-1",
            "eu-west-1",
            "eu-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
            "sa-east-1",
        ]),
        t("qwen.qwen3-coder-next", "Qwen", "Qwen3 Coder Next", Qwen)
            .no_tools()
            .regions(&["us-east-1", "eu-west-2", "ap-southeast-2"]),
        // OpenAI open-weight models.
        // gpt-oss-120b and -20b: in-Region, plus the us-gov. profile; no tool use on
        // bedrock-runtime.
        t("openai.gpt-oss-120b-1:0", "OpenAI", "gpt-oss-120b", OpenAi)
            .no_tools()
            .regions(&[
                "us-east-1",
                "us-east-2",
                "us-west-2",
                "us-gov-west-1",
                "eu-central-1",
                "eu-north-1",
                "eu-south-1",
                "eu-west-1",
                "eu-west-2",
                "ap-northeast-1",
                "ap-south-1",
                "ap-southeast-2",
                "ap-southeast-3",
                "ap-southeast-4",
                "sa-east-1",
            ])
            .geos(&["us-gov"]),
        t("openai.gpt-oss-20b-1:0", "OpenAI", "gpt-oss-20b", OpenAi)
            .no_tools()
            .regions(&[
                "us-east-1",
                "us-east-2",
                "us-west-2",
                "us-gov-west-1",
                "eu-central-1",
                "eu-north-1",
                "eu-south-1",
                "eu-west-1",
                "eu-west-2",
                "ap-northeast-1",
                "ap-south-1",
                "ap-southeast-2",
                "ap-southeast-3",
                "ap-southeast-4",
                "sa-east-1",
            ])
            .geos(&["us-gov"]),
        t(
            "openai.gpt-oss-safeguard-120b",
            "OpenAI",
            "GPT OSS Safeguard 120B",
            OpenAi,
        )
        .no_tools()
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "eu-west-1",
            "eu-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "sa-east-1",
        ]),
        t(
            "openai.gpt-oss-safeguard-20b",
            "OpenAI",
            "GPT OSS Safeguard 20B",
            OpenAi,
        )
        .no_tools()
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "eu-west-1",
            "eu-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "sa-east-1",
        ]),
        // Writer. Palmyra X4/X5: the us. profile only.
        t("writer.palmyra-x4-v1:0", "Writer", "Palmyra X4", Writer)
            .no_streaming_tools()
            .regions(&["us-east-1", "us-east-2", "us-west-1", "us-west-2"])
            .profile_only()
            .geos(&["us"]),
        t("writer.palmyra-x5-v1:0", "Writer", "Palmyra X5", Writer)
            .no_streaming_tools()
            .regions(&["us-east-1", "us-east-2", "us-west-1", "us-west-2"])
            .profile_only()
            .geos(&["us"]),
        t(
            "writer.palmyra-vision-7b",
            "Writer",
            "Palmyra Vision 7B",
            Writer,
        )
        .no_tools()
        .inputs(&["TEXT", "IMAGE"])
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "eu-west-1",
            "eu-west-2",
            "ap-northeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "sa-east-1",
        ]),
        // Moonshot AI. Kimi K3: us. and global. profiles only.
        t("moonshotai.kimi-k3", "Moonshot AI", "Kimi K3", Moonshot)
            .no_streaming_tools()
            .inputs(&["TEXT", "IMAGE"])
            .regions(&everywhere)
            .profile_only()
            .geos(&["global", "us"]),
        t("moonshotai.kimi-k2.5", "Moonshot AI", "Kimi K2.5", Moonshot)
            .no_tools()
            .inputs(&["TEXT", "IMAGE"])
            .regions(&[
                "us-east-1",
                "us-east-2",
                "us-west-2",
                "eu-north-1",
                "eu-west-2",
                "ap-northeast-1",
                "ap-south-1",
                "ap-southeast-2",
                "ap-southeast-3",
                "ap-southeast-4",
                "sa-east-1",
            ]),
        // Embeddings.
        ModelSpec::embedding(
            "amazon.titan-embed-text-v1",
            "Amazon",
            "Titan Embeddings G1 - Text",
            TitanEmbedV1,
            1536,
        )
        .regions(&["us-east-1", "us-west-2", "ap-northeast-1", "eu-central-1"]),
        ModelSpec::embedding(
            "amazon.titan-embed-text-v2:0",
            "Amazon",
            "Titan Text Embeddings V2",
            TitanEmbedV2,
            1024,
        )
        .regions(&[
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "ca-central-1",
            "sa-east-1",
            "eu-central-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-2",
        ]),
        ModelSpec::embedding(
            "cohere.embed-english-v3",
            "Cohere",
            "Embed English",
            CohereEmbedV3,
            1024,
        )
        .regions(&[
            "us-east-1",
            "us-west-2",
            "ca-central-1",
            "sa-east-1",
            "eu-central-1",
            "eu-west-1",
            "eu-west-3",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
        ]),
        ModelSpec::embedding(
            "cohere.embed-multilingual-v3",
            "Cohere",
            "Embed Multilingual",
            CohereEmbedV3,
            1024,
        )
        .regions(&[
            "us-east-1",
            "us-west-2",
            "ca-central-1",
            "sa-east-1",
            "eu-central-1",
            "eu-west-1",
            "eu-west-3",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
        ]),
        ModelSpec::embedding(
            "cohere.embed-v4:0",
            "Cohere",
            "Embed v4",
            CohereEmbedV4,
            1536,
        )
        .inputs(&["TEXT", "IMAGE"])
        .regions(&["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"])
        .geos(&["us", "eu", "apac", "global"]),
        ModelSpec::embedding(
            "amazon.nova-2-multimodal-embeddings-v1:0",
            "Amazon",
            "Nova Multimodal Embeddings",
            NovaMultimodalEmbed,
            3072,
        )
        .inputs(&["TEXT", "IMAGE", "AUDIO", "VIDEO"])
        .regions(&["us-east-1"]),
        // Rerank.
        ModelSpec::rerank("amazon.rerank-v1:0", "Amazon", "Rerank 1.0", AmazonRerank).regions(&[
            "us-west-2",
            "ca-central-1",
            "eu-central-1",
            "ap-northeast-1",
        ]),
        ModelSpec::rerank("cohere.rerank-v3-5:0", "Cohere", "Rerank 3.5", CohereRerank).regions(&[
            "us-east-1",
            "us-west-2",
            "ca-central-1",
            "eu-central-1",
            "ap-northeast-1",
        ]),
    ];
    crate::controls::apply_facts(&mut models);
    models
}

/// An application inference profile (created by a customer; ARN
/// `arn:aws:bedrock:REGION:ACCOUNT:application-inference-profile/ID`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplicationProfile {
    pub id: String,
    pub name: String,
    pub region: String,
    /// The foundation model (or system profile id) the profile copies from.
    pub model_id: String,
    pub description: String,
}

impl ApplicationProfile {
    pub fn new(id: &str, name: &str, region: &str, model_id: &str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            region: region.into(),
            model_id: model_id.into(),
            description: format!("Application inference profile {name}"),
        }
    }

    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:bedrock:{}:{account}:application-inference-profile/{}",
            self.region, self.id
        )
    }
}

/// How a request reached its foundation model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Route {
    /// The model id or its foundation-model ARN.
    Direct,
    /// A system-defined inference profile (`us.…`, `global.…`).
    SystemProfile { id: String, arn: String },
    /// An application inference profile.
    ApplicationProfile { id: String, arn: String },
}

/// A resolved `modelId`.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub model: ModelSpec,
    pub route: Route,
    /// The ARN IAM would check: the profile's ARN when called through one,
    /// otherwise the foundation model's ARN in the request region.
    pub resource_arn: String,
}

/// Catalogue lookups.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub models: Vec<ModelSpec>,
    pub app_profiles: Vec<ApplicationProfile>,
    pub account: String,
}

impl Catalog {
    pub fn model(&self, id: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.id == id)
    }

    /// Splits `us.anthropic…` into (`us`, model) when that system profile exists.
    pub fn system_profile(&self, id: &str) -> Option<(&'static str, &ModelSpec)> {
        for geo in GEO_PREFIXES {
            if let Some(rest) = id.strip_prefix(geo).and_then(|r| r.strip_prefix('.')) {
                if let Some(m) = self.model(rest)
                    && m.profile_geos.iter().any(|g| g == geo)
                {
                    return Some((geo, m));
                }
                return None;
            }
        }
        None
    }

    pub fn system_profile_arn(&self, region: &str, profile_id: &str) -> String {
        format!(
            "arn:aws:bedrock:{region}:{}:inference-profile/{profile_id}",
            self.account
        )
    }

    /// An application profile by id or ARN, in `region`.
    pub fn app_profile(&self, id_or_arn: &str, region: &str) -> Option<&ApplicationProfile> {
        self.app_profiles.iter().find(|p| {
            p.region == region && (p.id == id_or_arn || p.arn(&self.account) == id_or_arn)
        })
    }

    /// The foundation model behind an application profile.
    pub fn app_profile_model(&self, p: &ApplicationProfile) -> Option<&ModelSpec> {
        self.model(&p.model_id)
            .or_else(|| self.system_profile(&p.model_id).map(|(_, m)| m))
    }

    /// Resolves a decoded `modelId` as bedrock-runtime does for an invocation
    /// in `region`: unknown ids and models not offered in the region are
    /// "The provided model identifier is invalid."; profile-only models
    /// called directly get the on-demand error.
    pub fn resolve(&self, model_id: &str, region: &str) -> Result<Resolved, AwsError> {
        self.resolve_with(model_id, region, true)
    }

    /// Like [`Catalog::resolve`], but a profile-only model may be named
    /// directly (CountTokens counts for a foundation model without invoking it).
    pub fn resolve_for_counting(&self, model_id: &str, region: &str) -> Result<Resolved, AwsError> {
        self.resolve_with(model_id, region, false)
    }

    fn resolve_with(
        &self,
        model_id: &str,
        region: &str,
        on_demand_rule: bool,
    ) -> Result<Resolved, AwsError> {
        if let Some(arn) = model_id.strip_prefix("arn:") {
            return self.resolve_arn(model_id, arn, region, on_demand_rule);
        }
        if let Some((geo, m)) = self.system_profile(model_id) {
            if !geo_regions(geo).contains(&region) {
                return Err(AwsError::invalid_model());
            }
            let arn = self.system_profile_arn(region, model_id);
            return Ok(Resolved {
                model: m.clone(),
                route: Route::SystemProfile {
                    id: model_id.to_string(),
                    arn: arn.clone(),
                },
                resource_arn: arn,
            });
        }
        self.resolve_direct(model_id, region, on_demand_rule)
    }

    fn resolve_direct(
        &self,
        id: &str,
        region: &str,
        on_demand_rule: bool,
    ) -> Result<Resolved, AwsError> {
        let m = self.model(id).ok_or_else(AwsError::invalid_model)?;
        if !m.offered_in(region) {
            return Err(AwsError::invalid_model());
        }
        if on_demand_rule && !m.on_demand {
            return Err(AwsError::on_demand_unsupported(id));
        }
        Ok(Resolved {
            model: m.clone(),
            route: Route::Direct,
            resource_arn: m.arn(region),
        })
    }

    fn resolve_arn(
        &self,
        full: &str,
        arn: &str,
        region: &str,
        on_demand_rule: bool,
    ) -> Result<Resolved, AwsError> {
        // arn:PARTITION:bedrock:REGION:ACCOUNT:RESOURCE
        let parts: Vec<&str> = arn.splitn(5, ':').collect();
        let [partition, service, arn_region, account, resource] = parts.as_slice() else {
            return Err(AwsError::invalid_model());
        };
        if !partition.starts_with("aws") || *service != "bedrock" || *arn_region != region {
            return Err(AwsError::invalid_model());
        }
        let Some((kind, rest)) = resource.split_once('/') else {
            return Err(AwsError::invalid_model());
        };
        match kind {
            "foundation-model" if account.is_empty() => {
                self.resolve_direct(rest, region, on_demand_rule)
            }
            "inference-profile" if *account == self.account => {
                let Some((geo, m)) = self.system_profile(rest) else {
                    return Err(AwsError::invalid_model());
                };
                if !geo_regions(geo).contains(&region) {
                    return Err(AwsError::invalid_model());
                }
                Ok(Resolved {
                    model: m.clone(),
                    route: Route::SystemProfile {
                        id: rest.to_string(),
                        arn: full.to_string(),
                    },
                    resource_arn: full.to_string(),
                })
            }
            "application-inference-profile" if *account == self.account => {
                let p = self
                    .app_profile(rest, region)
                    .ok_or_else(AwsError::invalid_model)?;
                let m = self
                    .app_profile_model(p)
                    .ok_or_else(AwsError::invalid_model)?;
                Ok(Resolved {
                    model: m.clone(),
                    route: Route::ApplicationProfile {
                        id: p.id.clone(),
                        arn: full.to_string(),
                    },
                    resource_arn: full.to_string(),
                })
            }
            _ => Err(AwsError::invalid_model()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> Catalog {
        Catalog {
            models: builtin_models(),
            app_profiles: vec![ApplicationProfile::new(
                "abc123def456",
                "tagged",
                "us-east-1",
                "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
            )],
            account: "123456789012".into(),
        }
    }

    #[test]
    fn resolves_every_route() {
        let c = cat();
        let r = c
            .resolve("amazon.titan-embed-text-v2:0", "us-east-1")
            .map(|r| r.route);
        assert_eq!(r, Ok(Route::Direct));
        let r = c
            .resolve("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-west-2")
            .map(|r| r.model.id);
        assert_eq!(
            r.as_deref(),
            Ok("anthropic.claude-sonnet-4-5-20250929-v1:0")
        );
        let e = c.resolve("anthropic.claude-sonnet-4-5-20250929-v1:0", "us-east-1");
        assert!(matches!(e, Err(ref e) if e.message.contains("on-demand throughput")));
        assert_eq!(
            c.resolve("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-east-1")
                .err(),
            Some(AwsError::invalid_model())
        );
        assert_eq!(
            c.resolve("anthropic.claude-9", "us-east-1").err(),
            Some(AwsError::invalid_model())
        );
        let arn =
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123def456";
        let r = c.resolve(arn, "us-east-1").map(|r| r.model.id);
        assert_eq!(
            r.as_deref(),
            Ok("anthropic.claude-3-7-sonnet-20250219-v1:0")
        );
        let fm = "arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-v4:0";
        assert!(c.resolve(fm, "us-east-1").is_ok());
        assert!(c.resolve(fm, "us-west-1").is_err());
    }

    /// Models from the cards: in-Region only, profile-only, GovCloud and global profiles.
    #[test]
    fn resolves_models_from_the_cards() {
        let c = cat();
        let direct = |id: &str, region: &str| c.resolve(id, region).map(|r| r.route);
        assert_eq!(
            direct("qwen.qwen3-coder-next", "eu-west-2"),
            Ok(Route::Direct)
        );
        assert_eq!(
            direct("qwen.qwen3-coder-next", "us-west-2").err(),
            Some(AwsError::invalid_model())
        );
        assert_eq!(direct("deepseek.v3.2", "sa-east-1"), Ok(Route::Direct));
        assert!(
            c.resolve("eu.mistral.pixtral-large-2502-v1:0", "eu-west-3")
                .is_ok()
        );
        let e = c.resolve("mistral.pixtral-large-2502-v1:0", "us-east-1");
        assert!(matches!(e, Err(ref e) if e.message.contains("on-demand throughput")));
        assert!(c.resolve("us.writer.palmyra-x5-v1:0", "us-west-1").is_ok());
        assert!(
            c.resolve("global.moonshotai.kimi-k3", "eu-central-1")
                .is_ok()
        );
        assert!(c.resolve("eu.moonshotai.kimi-k3", "eu-central-1").is_err());
        assert!(
            c.resolve("us-gov.openai.gpt-oss-20b-1:0", "us-gov-east-1")
                .is_ok()
        );
        let mistral = c.model("mistral.mistral-7b-instruct-v0:2").expect("listed");
        assert!(!mistral.system_prompts && !mistral.tools);
        let pixtral = c.model("mistral.pixtral-large-2502-v1:0").expect("listed");
        assert!(pixtral.tools && !pixtral.streaming_tools);
    }
}
