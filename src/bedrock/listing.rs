//! What an account can see from its region, as the control plane lists it: the foundation
//! models offered there (ListFoundationModels), the system inference profiles callable
//! from there (ListInferenceProfiles, page by page), and the account's access to one model
//! (GetFoundationModelAvailability). Plain data out; what it means is for the caller.
//!
//! - https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListFoundationModels.html
//! - https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListInferenceProfiles.html
//! - https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetFoundationModelAvailability.html

use aws_sdk_bedrock::types::InferenceProfileType;
use serde::Serialize;

use super::errors::from_sdk;
use super::ids::foundation_id;
use crate::error::PluginError;

/// Profiles asked for per page: the API's largest page, so a region takes few calls.
const PROFILES_PER_PAGE: i32 = 1000;

/// One model ListFoundationModels lists in the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundationModel {
    pub id: String,
    pub name: Option<String>,
    pub provider: Option<String>,
    /// `TEXT`, `IMAGE`, `EMBEDDING`, … as AWS names them.
    pub output_modalities: Vec<String>,
    /// `ON_DEMAND`, `PROVISIONED`, `INFERENCE_PROFILE`, … as AWS names them.
    pub inference_types: Vec<String>,
    /// `ACTIVE` or `LEGACY`.
    pub lifecycle: Option<String>,
}

impl FoundationModel {
    /// Whether the model takes on-demand calls in the region (not only through profiles).
    pub fn on_demand(&self) -> bool {
        self.inference_types.iter().any(|t| t == "ON_DEMAND")
    }
}

/// A system inference profile callable from the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SystemProfile {
    /// `us.anthropic.claude-…`.
    pub id: String,
    /// The foundation model it routes to (read from its destinations' ARNs, else its id).
    pub model: String,
}

impl SystemProfile {
    /// The profile's prefix (`us`, `global`, …): its id before the model's.
    pub fn prefix(&self) -> &str {
        self.id
            .strip_suffix(self.model.as_str())
            .and_then(|p| p.strip_suffix('.'))
            .unwrap_or(&self.id)
    }
}

/// What GetFoundationModelAvailability says about one model, values as AWS names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Availability {
    /// `AVAILABLE`, `PENDING`, `NOT_AVAILABLE` or `ERROR`; `None` when not sent.
    pub agreement: Option<String>,
    pub agreement_error: Option<String>,
    /// `AUTHORIZED` or `NOT_AUTHORIZED`.
    pub authorization: String,
    /// `AVAILABLE` or `NOT_AVAILABLE`.
    pub entitlement: String,
    /// `AVAILABLE` or `NOT_AVAILABLE`.
    pub region: String,
}

/// ListFoundationModels, unfiltered. The API has no pagination: one answer holds all.
pub(crate) async fn foundation_models(
    control: &aws_sdk_bedrock::Client,
    host: &str,
) -> Result<Vec<FoundationModel>, PluginError> {
    let out = control
        .list_foundation_models()
        .send()
        .await
        .map_err(|e| from_sdk(e, host))?;
    Ok(out
        .model_summaries()
        .iter()
        .map(|m| FoundationModel {
            id: m.model_id().to_string(),
            name: m.model_name().map(str::to_string),
            provider: m.provider_name().map(str::to_string),
            output_modalities: m
                .output_modalities()
                .iter()
                .map(|o| o.as_str().to_string())
                .collect(),
            inference_types: m
                .inference_types_supported()
                .iter()
                .map(|t| t.as_str().to_string())
                .collect(),
            lifecycle: m.model_lifecycle().map(|l| l.status().as_str().to_string()),
        })
        .collect())
}

/// ListInferenceProfiles of type SYSTEM_DEFINED, every page.
pub(crate) async fn system_profiles(
    control: &aws_sdk_bedrock::Client,
    host: &str,
) -> Result<Vec<SystemProfile>, PluginError> {
    let mut pages = control
        .list_inference_profiles()
        .type_equals(InferenceProfileType::SystemDefined)
        .max_results(PROFILES_PER_PAGE)
        .into_paginator()
        .send();
    let mut profiles = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| from_sdk(e, host))?;
        for p in page.inference_profile_summaries() {
            let id = p.inference_profile_id().to_string();
            // A profile routes to copies of one model; any destination names it.
            let model = p
                .models()
                .iter()
                .filter_map(|m| m.model_arn())
                .find_map(foundation_id)
                .or_else(|| foundation_id(&id))
                .unwrap_or_else(|| id.clone());
            profiles.push(SystemProfile { id, model });
        }
    }
    Ok(profiles)
}

/// GetFoundationModelAvailability for a foundation model id.
pub(crate) async fn availability(
    control: &aws_sdk_bedrock::Client,
    host: &str,
    model: &str,
) -> Result<Availability, PluginError> {
    let out = control
        .get_foundation_model_availability()
        .model_id(model)
        .send()
        .await
        .map_err(|e| from_sdk(e, host))?;
    let agreement = out.agreement_availability();
    Ok(Availability {
        agreement: agreement.map(|a| a.status().as_str().to_string()),
        agreement_error: agreement
            .and_then(|a| a.error_message())
            .map(str::to_string),
        authorization: out.authorization_status().as_str().to_string(),
        entitlement: out.entitlement_availability().as_str().to_string(),
        region: out.region_availability().as_str().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_prefix_is_its_id_before_the_model() {
        let p = |id: &str, model: &str| SystemProfile {
            id: id.into(),
            model: model.into(),
        };
        assert_eq!(
            p("us.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0").prefix(),
            "us"
        );
        assert_eq!(
            p("us-gov.meta.llama3-8b", "meta.llama3-8b").prefix(),
            "us-gov"
        );
        // A prefix AWS adds later is read the same way.
        assert_eq!(
            p("mx.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0").prefix(),
            "mx"
        );
        assert_eq!(p("odd", "amazon.nova-lite-v1:0").prefix(), "odd");
    }
}
