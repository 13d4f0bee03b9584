//! Bedrock control plane: inference profiles and foundation models, as seen
//! from the request's region.
//!
//! - GetInferenceProfile: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetInferenceProfile.html
//! - ListInferenceProfiles: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListInferenceProfiles.html
//! - GetFoundationModel: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetFoundationModel.html
//! - ListFoundationModels: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListFoundationModels.html
//! - GetFoundationModelAvailability: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetFoundationModelAvailability.html
//!   (model access: https://docs.aws.amazon.com/bedrock/latest/userguide/model-access.html)

use crate::catalog::{ApplicationProfile, ModelSpec, geo_regions};
use crate::error::AwsError;
use crate::server::{Call, Reply};
use base64::Engine;
use serde_json::{Value, json};

/// Fixed timestamps keep responses deterministic.
const CREATED_AT: &str = "2024-08-27T00:00:00Z";
const UPDATED_AT: &str = "2025-01-15T00:00:00Z";

fn geo_label(geo: &str) -> String {
    match geo {
        "apac" => "APAC".into(),
        "global" => "Global".into(),
        "us-gov" => "US-GOV".into(),
        g => g.to_uppercase(),
    }
}

/// Foundation-model ARNs a system profile routes to: the geography's regions
/// where the model is offered.
fn destination_arns(geo: &str, m: &ModelSpec) -> Vec<Value> {
    geo_regions(geo)
        .iter()
        .filter(|r| m.offered_in(r))
        .map(|r| json!({ "modelArn": m.arn(r) }))
        .collect()
}

fn system_profile(call: &Call<'_>, geo: &str, m: &ModelSpec) -> Value {
    let id = format!("{geo}.{}", m.id);
    json!({
        "inferenceProfileName": format!("{} {} {}", geo_label(geo), m.provider, m.name),
        "description": format!("Routes requests to {} {} in {} regions.", m.provider, m.name, geo_label(geo)),
        "createdAt": CREATED_AT,
        "updatedAt": UPDATED_AT,
        "inferenceProfileArn": call.state.catalog.system_profile_arn(&call.region, &id),
        "models": destination_arns(geo, m),
        "inferenceProfileId": id,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    })
}

fn app_profile(call: &Call<'_>, p: &ApplicationProfile) -> Value {
    let cat = &call.state.catalog;
    let models = match cat.system_profile(&p.model_id) {
        Some((geo, m)) => destination_arns(geo, m),
        None => cat
            .model(&p.model_id)
            .map(|m| vec![json!({ "modelArn": m.arn(&p.region) })])
            .unwrap_or_default(),
    };
    json!({
        "inferenceProfileName": p.name,
        "description": p.description,
        "createdAt": CREATED_AT,
        "updatedAt": UPDATED_AT,
        "inferenceProfileArn": p.arn(&cat.account),
        "models": models,
        "inferenceProfileId": p.id,
        "status": "ACTIVE",
        "type": "APPLICATION",
    })
}

/// Every profile callable from the request region, system ones first.
fn profiles(call: &Call<'_>, kind: Option<&str>) -> Vec<Value> {
    let cat = &call.state.catalog;
    let mut out = Vec::new();
    if kind.is_none_or(|k| k == "SYSTEM_DEFINED") {
        for m in &cat.models {
            for geo in &m.profile_geos {
                if geo_regions(geo).contains(&call.region.as_str()) {
                    out.push(system_profile(call, geo, m));
                }
            }
        }
    }
    if kind.is_none_or(|k| k == "APPLICATION") {
        for p in cat.app_profiles.iter().filter(|p| p.region == call.region) {
            out.push(app_profile(call, p));
        }
    }
    out
}

pub(crate) fn get_inference_profile(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let id = call.model_id.clone().unwrap_or_default();
    let cat = &call.state.catalog;
    let not_found = || {
        // Wording approximated.
        AwsError::not_found(format!("Inference profile {id} not found."))
    };
    // A system profile by id or ARN.
    let system_id = id
        .strip_prefix("arn:aws:bedrock:")
        .and_then(|rest| rest.split_once(":inference-profile/"))
        .filter(|(scope, _)| *scope == format!("{}:{}", call.region, cat.account))
        .map(|(_, pid)| pid.to_string())
        .or_else(|| (!id.starts_with("arn:")).then(|| id.clone()));
    if let Some(pid) = system_id
        && let Some((geo, m)) = cat.system_profile(&pid)
        && geo_regions(geo).contains(&call.region.as_str())
    {
        call.resolved = Some(m.id.clone());
        return Ok(Reply::json(&system_profile(call, geo, m)));
    }
    let p = cat.app_profile(&id, &call.region).ok_or_else(not_found)?;
    if let Some(m) = cat.app_profile_model(p) {
        call.resolved = Some(m.id.clone());
    }
    Ok(Reply::json(&app_profile(call, p)))
}

/// Pagination tokens are opaque to clients; the double encodes an offset.
fn decode_token(t: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::STANDARD.decode(t).ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

fn encode_token(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("offset:{offset}"))
}

pub(crate) fn list_inference_profiles(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let kind = call.query_param("type");
    if let Some(k) = kind.as_deref()
        && k != "SYSTEM_DEFINED"
        && k != "APPLICATION"
    {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{k}' at 'typeEquals' failed to satisfy \
                 constraint: Member must satisfy enum value set: [SYSTEM_DEFINED, APPLICATION]"
        )));
    }
    let max = match call.query_param("maxResults") {
        None => 1000,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(AwsError::validation(format!(
                    "1 validation error detected: Value '{m}' at 'maxResults' failed to satisfy \
                     constraint: Member must have value less than or equal to 1000 and greater \
                     than or equal to 1"
                )));
            }
        },
    };
    let start = match call.query_param("nextToken") {
        None => 0,
        // Wording approximated.
        Some(t) => {
            decode_token(&t).ok_or_else(|| AwsError::validation("Invalid pagination token."))?
        }
    };
    // AWS may return fewer than asked; a configured limit makes the double do so.
    let max = max.min(call.state.config.page_limit.unwrap_or(usize::MAX));
    let all = profiles(call, kind.as_deref());
    let page: Vec<Value> = all.iter().skip(start).take(max).cloned().collect();
    let mut out = json!({ "inferenceProfileSummaries": page });
    if start + max < all.len() {
        out["nextToken"] = json!(encode_token(start + max));
    }
    Ok(Reply::json(&out))
}

fn model_summary(call: &Call<'_>, m: &ModelSpec) -> Value {
    json!({
        "modelArn": m.arn(&call.region),
        "modelId": m.id,
        "modelName": m.name,
        "providerName": m.provider,
        "inputModalities": m.input_modalities,
        "outputModalities": m.output_modalities,
        "responseStreamingSupported": m.streaming,
        "customizationsSupported": [],
        "inferenceTypesSupported": [if m.on_demand { "ON_DEMAND" } else { "INFERENCE_PROFILE" }],
        "modelLifecycle": {"status": "ACTIVE"},
    })
}

pub(crate) fn list_foundation_models(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let provider = call.query_param("byProvider");
    let output = call.query_param("byOutputModality");
    let inference = call.query_param("byInferenceType");
    let customization = call.query_param("byCustomizationType");
    let summaries: Vec<Value> = call
        .state
        .catalog
        .models
        .iter()
        .filter(|m| m.offered_in(&call.region))
        .filter(|m| {
            provider
                .as_ref()
                .is_none_or(|p| m.provider.eq_ignore_ascii_case(p))
        })
        .filter(|m| {
            output
                .as_ref()
                .is_none_or(|o| m.output_modalities.contains(o))
        })
        .filter(|m| {
            inference.as_deref().is_none_or(|i| match i {
                "ON_DEMAND" => m.on_demand,
                _ => false,
            })
        })
        // No model of the double supports customization.
        .filter(|_| customization.is_none())
        .map(|m| model_summary(call, m))
        .collect();
    Ok(Reply::json(&json!({ "modelSummaries": summaries })))
}

pub(crate) fn get_foundation_model(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let id = call.model_id.clone().unwrap_or_default();
    let bare = id
        .strip_prefix(&format!(
            "arn:aws:bedrock:{}::foundation-model/",
            call.region
        ))
        .unwrap_or(&id)
        .to_string();
    let m = call
        .state
        .catalog
        .model(&bare)
        .filter(|m| m.offered_in(&call.region))
        .ok_or_else(AwsError::invalid_model)?;
    call.resolved = Some(m.id.clone());
    Ok(Reply::json(
        &json!({ "modelDetails": model_summary(call, m) }),
    ))
}

/// GetFoundationModelAvailability: what the account may do with a foundation model in
/// the request's region. Every model of the catalogue is open to the account (AWS enables
/// serverless models by default) unless the config takes its access away; the Region is
/// AVAILABLE where ListFoundationModels lists the model.
pub(crate) fn get_foundation_model_availability(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let id = call.model_id.clone().unwrap_or_default();
    let m = call.state.catalog.model(&id).ok_or_else(|| {
        // Wording approximated.
        AwsError::not_found(format!("Model {id} not found."))
    })?;
    call.resolved = Some(m.id.clone());
    let available = |yes: bool| if yes { "AVAILABLE" } else { "NOT_AVAILABLE" };
    let access = !call.state.config.models_without_access.contains(&m.id);
    Ok(Reply::json(&json!({
        "modelId": m.id,
        "agreementAvailability": {"status": available(access)},
        "authorizationStatus": if access { "AUTHORIZED" } else { "NOT_AUTHORIZED" },
        "entitlementAvailability": available(access),
        "regionAvailability": available(m.offered_in(&call.region)),
    })))
}
