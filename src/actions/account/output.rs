//! What `dify-bedrock models` shows, as the command prints it (a table, or `--json`):
//! one row per model the account can see from the region (its type, route, profiles,
//! catalogue entry and access mark), the catalogue models it cannot reach and why, those
//! the lists do not cover, and why there is no listing at all.

use serde::Serialize;

use crate::bedrock::listing::{Availability, FoundationModel};
use crate::declaration::ModelType;

/// The kind of model a row is: the catalogue's type, else read from what AWS lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Kind {
    Llm,
    TextEmbedding,
    Rerank,
    /// Image, video or speech models, which this plugin does not serve.
    Other,
}

impl Kind {
    pub(super) fn of(model_type: ModelType) -> Kind {
        match model_type {
            ModelType::Llm => Kind::Llm,
            ModelType::TextEmbedding => Kind::TextEmbedding,
            ModelType::Rerank => Kind::Rerank,
            _ => Kind::Other,
        }
    }

    /// A model the catalogue does not know, by what AWS says it outputs.
    pub(super) fn guess(model: &FoundationModel) -> Kind {
        let outputs = |m: &str| model.output_modalities.iter().any(|o| o == m);
        if outputs("EMBEDDING") {
            Kind::TextEmbedding
        } else if model.id.contains("rerank") {
            Kind::Rerank
        } else if outputs("TEXT") {
            Kind::Llm
        } else {
            Kind::Other
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Llm => "llm",
            Kind::TextEmbedding => "text-embedding",
            Kind::Rerank => "rerank",
            Kind::Other => "other",
        }
    }
}

/// How a model can be called from the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Route {
    /// On demand in the region (its profiles work too).
    InRegion,
    /// Only through an inference profile.
    ProfileOnly,
    /// Only with provisioned throughput.
    ProvisionedOnly,
    /// Listed, but neither on demand nor through a profile callable from here.
    None,
}

/// Whether the account may invoke a model, as far as AWS says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Enabled {
    Yes,
    No,
    Unknown,
}

/// A system profile that routes to a model, callable from the region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ProfileRef {
    pub prefix: String,
    pub id: String,
}

/// A catalogue chat model's cross-region choice that works from the region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Choice {
    pub option: String,
    pub id: String,
}

/// What the catalogue says about a listed model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CatalogueRef {
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The Cross-region inference choices that work from the region (chat models that
    /// have the parameter).
    pub choices: Vec<Choice>,
    /// The id the plugin calls from the region by default, when it has one.
    pub calls: Option<String>,
}

/// One model the account can see from the region.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    #[serde(rename = "type")]
    pub kind: Kind,
    pub model_id: String,
    pub name: Option<String>,
    pub provider: Option<String>,
    pub route: Route,
    /// ListFoundationModels lists it in the region (else only a profile reaches it).
    pub listed: bool,
    /// `ACTIVE` or `LEGACY`, as AWS lists it.
    pub lifecycle: Option<String>,
    pub profiles: Vec<ProfileRef>,
    pub catalogue: Option<CatalogueRef>,
    pub enabled: Enabled,
    /// Why `enabled` is not a plain yes.
    pub enabled_why: Option<String>,
    /// GetFoundationModelAvailability's answer, when it was given.
    pub availability: Option<Availability>,
}

impl Row {
    /// The ids AWS lets the account call the model by from the region.
    pub(super) fn routes(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.profiles.iter().map(|p| p.id.clone()).collect();
        if self.route == Route::InRegion {
            ids.insert(0, self.model_id.clone());
        }
        ids
    }
}

/// Why a catalogue model cannot be used from the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Reason {
    /// Neither listed in the region nor in a profile callable from it.
    NotOffered,
    /// Listed for profiles only, and no profile callable from here routes to it.
    NoProfile,
    /// Listed with provisioned throughput only.
    ProvisionedOnly,
    /// AWS offers it, but through ids none of the catalogue's choices call.
    ChoicesMiss,
    /// Reachable, but AWS says the account may not invoke it.
    NotEnabled,
}

/// A catalogue model the account cannot reach from the region.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Unreachable {
    #[serde(rename = "type")]
    pub kind: Kind,
    pub model_id: String,
    pub label: String,
    pub reason: Reason,
    pub why: String,
}

/// A catalogue model these lists do not cover.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Unchecked {
    #[serde(rename = "type")]
    pub kind: Kind,
    pub model_id: String,
    pub label: String,
    pub why: String,
}

/// Everything `dify-bedrock models` shows.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Listing {
    pub region: String,
    /// The models the account can see, by type, then id.
    pub models: Vec<Row>,
    pub unreachable: Vec<Unreachable>,
    pub unchecked: Vec<Unchecked>,
    /// Why every access mark is unknown, when AWS would not say.
    pub availability_note: Option<String>,
}

/// Why there is no listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The options do not make a usable AWS access.
    Usage(String),
    /// AWS refused, or could not be reached: what is wrong, in plain words.
    Refused(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_models_are_typed_by_what_they_output() {
        let m = |id: &str, outputs: &[&str]| FoundationModel {
            id: id.into(),
            name: None,
            provider: None,
            output_modalities: outputs.iter().map(|o| o.to_string()).collect(),
            inference_types: vec!["ON_DEMAND".into()],
            lifecycle: None,
        };
        assert_eq!(
            Kind::guess(&m("x.embed", &["EMBEDDING"])),
            Kind::TextEmbedding
        );
        assert_eq!(Kind::guess(&m("x.rerank-v9", &["TEXT"])), Kind::Rerank);
        assert_eq!(Kind::guess(&m("x.chat", &["TEXT"])), Kind::Llm);
        assert_eq!(Kind::guess(&m("x.canvas", &["IMAGE"])), Kind::Other);
    }
}
