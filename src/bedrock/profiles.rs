//! Inference profiles and ARNs: which foundation model a customizable model's id,
//! profile or ARN stands for. Application inference profiles are looked up with
//! GetInferenceProfile; answers are cached per tenant (the cache lives in that tenant's
//! clients, so credentials never share it) for a few minutes, and concurrent first
//! lookups of one profile make a single control-plane call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::access::AwsAccess;
use super::client::Clients;
use super::errors::from_sdk;
use super::models::foundation_id;
use crate::error::PluginError;

/// How long a looked-up profile is trusted: profiles rarely change, and a burst of
/// requests must not throttle the control plane.
const TTL: Duration = Duration::from_secs(300);

/// What GetInferenceProfile told about a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileInfo {
    pub arn: String,
    /// The foundation model it routes to.
    pub model: Option<String>,
}

type Lookup = Arc<OnceCell<(Instant, Result<ProfileInfo, PluginError>)>>;

/// One tenant's profile answers.
#[derive(Default)]
pub struct ProfileCache {
    entries: Mutex<HashMap<String, Lookup>>,
}

impl ProfileCache {
    fn cell(&self, id: &str) -> Lookup {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = |cell: &Lookup| cell.get().is_none_or(|(at, _)| at.elapsed() < TTL);
        match entries.get(id) {
            Some(cell) if fresh(cell) => cell.clone(),
            _ => {
                // Also forget other stale answers, so the map stays small.
                entries.retain(|_, c| fresh(c));
                let cell = Lookup::default();
                entries.insert(id.to_string(), cell.clone());
                cell
            }
        }
    }
}

/// What an id names, as far as its text tells.
#[derive(Debug, PartialEq, Eq)]
pub enum IdKind {
    /// A foundation model (given as id, system profile id or ARN).
    Foundation(String),
    /// An application inference profile (ARN, or its bare id): needs a lookup.
    ApplicationProfile,
    /// Provisioned throughput, an imported or a custom model: nothing to look up.
    Opaque,
}

pub fn classify(id: &str) -> IdKind {
    if id.starts_with("arn:") {
        let kind = id
            .splitn(6, ':')
            .nth(5)
            .and_then(|r| r.split('/').next())
            .unwrap_or("");
        return match kind {
            "application-inference-profile" => IdKind::ApplicationProfile,
            "foundation-model" | "inference-profile" => {
                foundation_id(id).map_or(IdKind::Opaque, IdKind::Foundation)
            }
            _ => IdKind::Opaque,
        };
    }
    // Model ids always name their provider (`vendor.model`); a bare alphanumeric id is
    // an application inference profile's id.
    if !id.contains('.') && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return IdKind::ApplicationProfile;
    }
    foundation_id(id).map_or(IdKind::Opaque, IdKind::Foundation)
}

/// The foundation model id behind `id`, or `None` when it cannot be known (provisioned
/// throughput, imported models).
pub async fn underlying_model(
    clients: &Clients,
    _access: &AwsAccess,
    id: &str,
) -> Result<Option<String>, PluginError> {
    match classify(id) {
        IdKind::Foundation(model) => Ok(Some(model)),
        IdKind::Opaque => Ok(None),
        IdKind::ApplicationProfile => Ok(profile(clients, id).await?.model),
    }
}

/// The id to pass to Bedrock: an application profile's bare id becomes its ARN (the
/// form Bedrock documents for invoking application profiles); anything else as given.
pub async fn invocable_id(clients: &Clients, id: &str) -> String {
    if id.starts_with("arn:") || classify(id) != IdKind::ApplicationProfile {
        return id.to_string();
    }
    match profile(clients, id).await {
        Ok(info) => info.arn,
        Err(_) => id.to_string(),
    }
}

/// GetInferenceProfile, once per tenant and profile within the TTL.
pub async fn profile(clients: &Clients, id: &str) -> Result<ProfileInfo, PluginError> {
    let cell = clients.profiles.cell(id);
    let (_, answer) = cell
        .get_or_init(|| async { (Instant::now(), lookup(clients, id).await) })
        .await;
    answer.clone()
}

async fn lookup(clients: &Clients, id: &str) -> Result<ProfileInfo, PluginError> {
    let out = clients
        .control
        .get_inference_profile()
        .inference_profile_identifier(id)
        .send()
        .await
        .map_err(|e| from_sdk(e, &clients.control_host))?;
    // A profile routes to copies of one model in several regions; any of them names it.
    Ok(ProfileInfo {
        arn: out.inference_profile_arn().to_string(),
        model: out
            .models()
            .iter()
            .filter_map(|m| m.model_arn())
            .find_map(foundation_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_classified_from_their_text() {
        assert_eq!(
            classify("amazon.nova-lite-v1:0"),
            IdKind::Foundation("amazon.nova-lite-v1:0".into())
        );
        assert_eq!(
            classify("us.amazon.nova-lite-v1:0"),
            IdKind::Foundation("amazon.nova-lite-v1:0".into())
        );
        assert_eq!(classify("0j6r4a8fn6ze"), IdKind::ApplicationProfile);
        assert_eq!(
            classify(
                "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/0j6r4a8fn6ze"
            ),
            IdKind::ApplicationProfile
        );
        assert_eq!(
            classify("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc"),
            IdKind::Opaque
        );
        assert_eq!(
            classify("arn:aws:bedrock:us-east-1:123456789012:imported-model/abc"),
            IdKind::Opaque
        );
        assert_eq!(
            classify(
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-x-v1:0"
            ),
            IdKind::Foundation("anthropic.claude-x-v1:0".into())
        );
    }
}
