//! `dify-bedrock models`: what an AWS account can call from its region, set against the
//! catalogue. The control plane's lists (the foundation models offered in the region, the
//! system inference profiles callable from it) and each model's access
//! (GetFoundationModelAvailability) are joined with the catalogue's models and their
//! cross-region choices. Information only: nothing here refuses a call, and a mark AWS's
//! answer does not settle is "unknown", never "no".

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::AppState;
use super::form::Credentials;
use super::validate::explain_refusal;
use crate::bedrock::access::AwsAccess;
use crate::bedrock::client::Clients;
use crate::bedrock::listing::{Availability, FoundationModel, SystemProfile};
use crate::bedrock::routing::{self, catalogue_entry};
use crate::declaration::{ChatApi, ModelDecl, ModelType};
use crate::error::{ErrorKind, PluginError};

/// Availability look-ups in flight at once: quick, yet gentle on the control plane's
/// request rate (the SDK retries a throttled one).
const AVAILABILITY_CALLS_AT_ONCE: usize = 4;

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
    fn of(model_type: ModelType) -> Kind {
        match model_type {
            ModelType::Llm => Kind::Llm,
            ModelType::TextEmbedding => Kind::TextEmbedding,
            ModelType::Rerank => Kind::Rerank,
            _ => Kind::Other,
        }
    }

    /// A model the catalogue does not know, by what AWS says it outputs.
    fn guess(model: &FoundationModel) -> Kind {
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
    fn routes(&self) -> Vec<String> {
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

/// Lists what the credential form's account can call from its region, for the types in
/// `only` (all when empty).
pub(crate) async fn list(
    state: &AppState,
    form: &Map<String, Value>,
    only: &[ModelType],
) -> Result<Listing, Failure> {
    let credentials = Credentials::parse(form.clone());
    let access = credentials
        .access
        .as_ref()
        .map_err(|e| Failure::Usage(e.message.clone()))?;
    let clients = state
        .clients
        .get(access)
        .await
        .map_err(|e| Failure::Refused(e.display_message()))?;
    let refused = |operation: &str, e: PluginError| {
        Failure::Refused(explain_refusal(state, access, operation, &e))
    };
    let listed = clients
        .foundation_models()
        .await
        .map_err(|e| refused("ListFoundationModels", e))?;
    let profiles = clients
        .system_profiles()
        .await
        .map_err(|e| refused("ListInferenceProfiles", e))?;
    let wanted = |kind: Kind| only.is_empty() || only.iter().any(|t| Kind::of(*t) == kind);
    let mut rows: Vec<Row> = rows(state, &access.region, &listed, &profiles)
        .into_iter()
        .filter(|r| wanted(r.kind))
        .collect();
    let availability_note = mark_access(state, access, &clients, &mut rows).await;
    let (unreachable, unchecked) =
        catalogue_gaps(state, &access.region, &rows, &listed, &profiles, &wanted);
    Ok(Listing {
        region: access.region.clone(),
        models: rows,
        unreachable,
        unchecked,
        availability_note,
    })
}

/// One row per model listed in the region or reached by a profile from it.
fn rows(
    state: &AppState,
    region: &str,
    listed: &[FoundationModel],
    profiles: &[SystemProfile],
) -> Vec<Row> {
    let mut by_model: BTreeMap<&str, Vec<ProfileRef>> = BTreeMap::new();
    for p in profiles {
        by_model.entry(&p.model).or_default().push(ProfileRef {
            prefix: p.prefix().to_string(),
            id: p.id.clone(),
        });
    }
    let mut rows = Vec::new();
    for m in listed {
        let profiles = by_model.remove(m.id.as_str()).unwrap_or_default();
        let route = if m.on_demand() {
            Route::InRegion
        } else if !profiles.is_empty() {
            Route::ProfileOnly
        } else if m.inference_types.iter().any(|t| t == "PROVISIONED") {
            Route::ProvisionedOnly
        } else {
            Route::None
        };
        rows.push(row(state, region, m.id.clone(), Some(m), route, profiles));
    }
    // Models offered elsewhere that a profile from this region routes to.
    for (model, profiles) in by_model {
        rows.push(row(
            state,
            region,
            model.to_string(),
            None,
            Route::ProfileOnly,
            profiles,
        ));
    }
    rows.sort_by(|a, b| (a.kind, &a.model_id).cmp(&(b.kind, &b.model_id)));
    rows
}

fn row(
    state: &AppState,
    region: &str,
    model_id: String,
    listed: Option<&FoundationModel>,
    route: Route,
    profiles: Vec<ProfileRef>,
) -> Row {
    let decl = catalogue_entry(&state.catalog, &model_id);
    let kind = match (decl, listed) {
        (Some(d), _) => Kind::of(d.model_type),
        (None, Some(m)) => Kind::guess(m),
        // Reached through a profile only, and unknown here: profiles serve chat models
        // above all.
        (None, None) => Kind::Llm,
    };
    Row {
        kind,
        name: listed
            .and_then(|m| m.name.clone())
            .or_else(|| decl.map(|d| d.label().to_string())),
        provider: listed.and_then(|m| m.provider.clone()),
        route,
        listed: listed.is_some(),
        lifecycle: listed.and_then(|m| m.lifecycle.clone()),
        profiles,
        catalogue: decl.map(|d| catalogue_ref(d, region)),
        enabled: Enabled::Unknown,
        enabled_why: None,
        availability: None,
        model_id,
    }
}

fn catalogue_ref(decl: &ModelDecl, region: &str) -> CatalogueRef {
    CatalogueRef {
        kind: Kind::of(decl.model_type),
        choices: match decl.model_type {
            ModelType::Llm => routing::working_choices(decl, region)
                .into_iter()
                .map(|(option, id)| Choice { option, id })
                .collect(),
            _ => Vec::new(),
        },
        calls: known_to_work(decl, region),
    }
}

/// Asks AWS whether the account may invoke each row's model. Returns a note when AWS
/// would not say at all (then every mark stays unknown).
async fn mark_access(
    state: &AppState,
    access: &AwsAccess,
    clients: &Arc<Clients>,
    rows: &mut [Row],
) -> Option<String> {
    let first = rows.first_mut()?;
    // One call first: when the identity may not ask, one refusal says so for all.
    match clients.model_availability(&first.model_id).await {
        Ok(a) => first.set_availability(a),
        Err(e) if e.kind == ErrorKind::Authorization => {
            return Some(explain_refusal(
                state,
                access,
                "GetFoundationModelAvailability",
                &e,
            ));
        }
        Err(e) => first.enabled_why = Some(e.message),
    }
    let gate = Arc::new(Semaphore::new(AVAILABILITY_CALLS_AT_ONCE));
    let mut calls = JoinSet::new();
    for (i, row) in rows.iter().enumerate().skip(1) {
        let (clients, gate, model) = (clients.clone(), gate.clone(), row.model_id.clone());
        calls.spawn(async move {
            // The semaphore is never closed, so a permit always comes.
            let _permit = gate.acquire_owned().await.ok();
            (i, clients.model_availability(&model).await)
        });
    }
    while let Some(done) = calls.join_next().await {
        let Ok((i, answer)) = done else { continue };
        let Some(row) = rows.get_mut(i) else { continue };
        match answer {
            Ok(a) => row.set_availability(a),
            Err(e) => row.enabled_why = Some(e.message),
        }
    }
    None
}

impl Row {
    fn set_availability(&mut self, a: Availability) {
        let (enabled, why) = judge(&a);
        self.enabled = enabled;
        self.enabled_why = why;
        self.availability = Some(a);
    }
}

/// Whether GetFoundationModelAvailability's answer lets the account invoke the model.
/// "no" only where AWS says a call would be refused; where the first call may still
/// settle it (a Marketplace agreement not made yet, or pending), "unknown". Whether the
/// model runs in the region is the lists' business, not this answer's.
fn judge(a: &Availability) -> (Enabled, Option<String>) {
    if a.authorization == "NOT_AUTHORIZED" {
        return (
            Enabled::No,
            Some("AWS says NOT_AUTHORIZED (for Anthropic models: submit the use-case form in the Bedrock console's model catalogue)".into()),
        );
    }
    match a.agreement.as_deref() {
        Some("ERROR") => {
            let detail = a
                .agreement_error
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            return (
                Enabled::No,
                Some(format!("the Marketplace agreement failed{detail}")),
            );
        }
        Some("PENDING") => {
            return (
                Enabled::Unknown,
                Some("the Marketplace agreement is being made (it takes up to 15 minutes)".into()),
            );
        }
        Some("NOT_AVAILABLE") => {
            return (
                Enabled::Unknown,
                Some("no Marketplace agreement yet: the first call makes one if the caller may subscribe (aws-marketplace:Subscribe)".into()),
            );
        }
        Some("AVAILABLE") | None => {}
        Some(other) => return (Enabled::Unknown, Some(format!("agreement status {other}"))),
    }
    match (a.authorization.as_str(), a.entitlement.as_str()) {
        ("AUTHORIZED", "AVAILABLE") => (Enabled::Yes, None),
        (_, "NOT_AVAILABLE") => (
            Enabled::No,
            Some("AWS says the account's entitlement is NOT_AVAILABLE".into()),
        ),
        (auth, entitlement) => (
            Enabled::Unknown,
            Some(format!("authorization {auth}, entitlement {entitlement}")),
        ),
    }
}

/// The catalogue models of the wanted types the account cannot use from the region, and
/// those the lists do not cover.
fn catalogue_gaps(
    state: &AppState,
    region: &str,
    rows: &[Row],
    listed: &[FoundationModel],
    profiles: &[SystemProfile],
    wanted: &dyn Fn(Kind) -> bool,
) -> (Vec<Unreachable>, Vec<Unchecked>) {
    let row_of: BTreeMap<&str, &Row> = rows.iter().map(|r| (r.model_id.as_str(), r)).collect();
    let listed_ids: BTreeSet<&str> = listed.iter().map(|m| m.id.as_str()).collect();
    let profiled: BTreeSet<&str> = profiles.iter().map(|p| p.model.as_str()).collect();
    let (mut unreachable, mut unchecked) = (Vec::new(), Vec::new());
    for decl in state.catalog.models() {
        let kind = Kind::of(decl.model_type);
        if !wanted(kind) || decl.bedrock.is_none() {
            continue;
        }
        let (model_id, label) = (decl.model.clone(), decl.label().to_string());
        if decl.chat_api() == ChatApi::MantleResponses {
            unchecked.push(Unchecked {
                kind,
                model_id,
                label,
                why: "served by bedrock-mantle, which the control plane's lists do not cover"
                    .into(),
            });
            continue;
        }
        let gap = |reason, why: String| Unreachable {
            kind,
            model_id: decl.model.clone(),
            label: decl.label().to_string(),
            reason,
            why,
        };
        let Some(row) = row_of.get(decl.model.as_str()) else {
            let why = if listed_ids.contains(decl.model.as_str())
                || profiled.contains(decl.model.as_str())
            {
                // Listed, but filtered out by its type: not a gap.
                continue;
            } else {
                format!(
                    "not offered in {region}: not listed there, and no inference profile callable from {region} routes to it"
                )
            };
            unreachable.push(gap(Reason::NotOffered, why));
            continue;
        };
        let routes = row.routes();
        if routes.is_empty() {
            unreachable.push(match row.route {
                Route::ProvisionedOnly => gap(
                    Reason::ProvisionedOnly,
                    format!("offered in {region} with provisioned throughput only"),
                ),
                _ => gap(
                    Reason::NoProfile,
                    format!("listed in {region} for inference profiles only, and no profile callable from {region} routes to it"),
                ),
            });
            continue;
        }
        let plugin_ids = plugin_ids(decl, region);
        if !plugin_ids.iter().any(|id| routes.contains(id)) {
            let plugin = if plugin_ids.is_empty() {
                format!("the catalogue has no route for it from {region}")
            } else {
                format!("the plugin would call {}", plugin_ids.join(" or "))
            };
            unreachable.push(gap(
                Reason::ChoicesMiss,
                format!(
                    "AWS offers it from {region} as {}, but {plugin}; add it as a customizable model with the id {}",
                    routes.join(", "),
                    routes[0]
                ),
            ));
            continue;
        }
        if row.enabled == Enabled::No {
            let why = row.enabled_why.clone().unwrap_or_default();
            unreachable.push(gap(
                Reason::NotEnabled,
                format!("not enabled for this account: {why}"),
            ));
        }
    }
    (unreachable, unchecked)
}

/// The id the plugin calls by default for a catalogue model from the region, when the
/// catalogue knows it to work there (the plugin calls it anyway, for AWS to judge).
fn known_to_work(decl: &ModelDecl, region: &str) -> Option<String> {
    let route = routing::predefined_route(decl, None, region);
    route.advice.is_none().then_some(route.id)
}

/// The ids the plugin may call for a catalogue model from the region: its default, and
/// each working cross-region choice of a chat model.
fn plugin_ids(decl: &ModelDecl, region: &str) -> Vec<String> {
    // The default first: a model without Cross-region inference has only that.
    let mut ids: Vec<String> = known_to_work(decl, region).into_iter().collect();
    if decl.model_type == ModelType::Llm {
        for (_, id) in routing::working_choices(decl, region) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn availability(
        agreement: Option<&str>,
        authorization: &str,
        entitlement: &str,
    ) -> Availability {
        Availability {
            agreement: agreement.map(str::to_string),
            agreement_error: None,
            authorization: authorization.into(),
            entitlement: entitlement.into(),
            region: "AVAILABLE".into(),
        }
    }

    #[test]
    fn access_is_no_only_where_aws_says_a_call_is_refused() {
        let judged = |ag, au, en| judge(&availability(ag, au, en)).0;
        assert_eq!(
            judged(Some("AVAILABLE"), "AUTHORIZED", "AVAILABLE"),
            Enabled::Yes
        );
        assert_eq!(judged(None, "AUTHORIZED", "AVAILABLE"), Enabled::Yes);
        assert_eq!(
            judged(Some("AVAILABLE"), "NOT_AUTHORIZED", "AVAILABLE"),
            Enabled::No
        );
        assert_eq!(
            judged(Some("ERROR"), "AUTHORIZED", "AVAILABLE"),
            Enabled::No
        );
        assert_eq!(
            judged(Some("AVAILABLE"), "AUTHORIZED", "NOT_AVAILABLE"),
            Enabled::No
        );
        // The first call makes the agreement: not a refusal.
        assert_eq!(
            judged(Some("NOT_AVAILABLE"), "AUTHORIZED", "NOT_AVAILABLE"),
            Enabled::Unknown
        );
        assert_eq!(
            judged(Some("PENDING"), "AUTHORIZED", "AVAILABLE"),
            Enabled::Unknown
        );
        // Values AWS adds later are not guessed at.
        assert_eq!(
            judged(Some("AVAILABLE"), "SOMETHING_NEW", "AVAILABLE"),
            Enabled::Unknown
        );
        let (_, why) = judge(&Availability {
            agreement_error: Some("payment method missing".into()),
            ..availability(Some("ERROR"), "AUTHORIZED", "AVAILABLE")
        });
        assert_eq!(
            why.as_deref(),
            Some("the Marketplace agreement failed: payment method missing")
        );
    }

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
