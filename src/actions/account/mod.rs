//! `dify-bedrock models`: what an AWS account can call from its region, set against the
//! catalogue. The control plane's lists (the foundation models offered in the region, the
//! system inference profiles callable from it) and each model's access
//! (GetFoundationModelAvailability) are joined with the catalogue's models and their
//! cross-region choices. Information only: nothing here refuses a call, and a mark AWS's
//! answer does not settle is "unknown", never "no". Here: the calls, and a row per model
//! AWS lists; the access marks are `enabled`'s, the catalogue's gaps `gaps`', the shape
//! of it all `output`'s.

mod enabled;
mod gaps;
mod output;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::AppState;
use super::form::Credentials;
use super::validate::explain_refusal;
use crate::bedrock::listing::{FoundationModel, SystemProfile};
use crate::bedrock::routing::{self, catalogue_entry};
use crate::declaration::{ModelDecl, ModelType};
use crate::error::PluginError;
use enabled::mark_access;
use gaps::{catalogue_gaps, known_to_work};
use output::{CatalogueRef, Choice, ProfileRef};

pub(crate) use output::{Enabled, Failure, Kind, Listing, Route, Row};

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
