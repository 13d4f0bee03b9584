//! The catalogue's side of `dify-bedrock models`: the catalogue models the account
//! cannot reach from the region and why (not offered, no profile, offered only through
//! ids the plugin does not call, not enabled), those the control plane's lists do not
//! cover, and the ids the plugin would call for each.

use std::collections::{BTreeMap, BTreeSet};

use super::super::AppState;
use super::output::{Enabled, Kind, Reason, Route, Row, Unchecked, Unreachable};
use crate::bedrock::listing::{FoundationModel, SystemProfile};
use crate::bedrock::routing;
use crate::declaration::{ChatApi, ModelDecl, ModelType};

/// The catalogue models of the wanted types the account cannot use from the region, and
/// those the lists do not cover.
pub(super) fn catalogue_gaps(
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
pub(super) fn known_to_work(decl: &ModelDecl, region: &str) -> Option<String> {
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
