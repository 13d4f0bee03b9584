//! Bedrock's own token count (CountTokens) for a Converse request: what the model will be
//! billed for the prompt, without invoking it.

use aws_sdk_bedrockruntime::types::{ConverseTokensRequest, CountTokensInput};

use super::request::ConverseParts;
use crate::bedrock::client::Clients;
use crate::bedrock::errors::from_sdk;
use crate::error::PluginError;

/// The input tokens of `parts` as the model counts them.
pub async fn count(clients: &Clients, parts: ConverseParts) -> Result<u64, PluginError> {
    let request = ConverseTokensRequest::builder()
        .set_messages(Some(parts.messages))
        .set_system((!parts.system.is_empty()).then_some(parts.system))
        .set_tool_config(parts.tool_config)
        .build();
    let out = clients
        .runtime
        .count_tokens()
        .model_id(parts.model_id)
        .input(CountTokensInput::Converse(request))
        .send()
        .await
        .map_err(|e| from_sdk(e, &clients.runtime_host))?;
    Ok(out.input_tokens().max(0) as u64)
}
