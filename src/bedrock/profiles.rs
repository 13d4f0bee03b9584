//! Inference profiles and ARNs: which foundation model a customizable model's id,
//! profile or ARN stands for.

use super::access::AwsAccess;
use super::client::Clients;
use super::models::foundation_id;
use crate::error::PluginError;

/// The foundation model id behind `id` (a model id, a system profile id, or an ARN of a
/// foundation model, an inference profile or an application inference profile), or
/// `None` when it cannot be known (provisioned throughput, imported models).
pub async fn underlying_model(
    _clients: &Clients,
    _access: &AwsAccess,
    id: &str,
) -> Result<Option<String>, PluginError> {
    Ok(foundation_id(id))
}
