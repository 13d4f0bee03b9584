//! Application inference profiles, looked up with GetInferenceProfile: which foundation
//! model a profile routes to, and its ARN. Answers are cached per tenant (the cache lives
//! in that tenant's clients, so credentials never share it) for a few minutes, and
//! concurrent first lookups of one profile make a single control-plane call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::errors::from_sdk;
use super::ids::foundation_id;
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

    /// GetInferenceProfile through `control` (whose endpoint is `host`), once per
    /// profile within the TTL.
    pub async fn get(
        &self,
        control: &aws_sdk_bedrock::Client,
        host: &str,
        id: &str,
    ) -> Result<ProfileInfo, PluginError> {
        let cell = self.cell(id);
        let (_, answer) = cell
            .get_or_init(|| async { (Instant::now(), lookup(control, host, id).await) })
            .await;
        answer.clone()
    }
}

async fn lookup(
    control: &aws_sdk_bedrock::Client,
    host: &str,
    id: &str,
) -> Result<ProfileInfo, PluginError> {
    let out = control
        .get_inference_profile()
        .inference_profile_identifier(id)
        .send()
        .await
        .map_err(|e| from_sdk(e, host))?;
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
