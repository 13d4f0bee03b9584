//! InvokeModel, the call embedding and rerank models answer: a JSON body in, a JSON
//! body out, and the input tokens Bedrock billed, which it reports only in a response
//! header that the SDK's output does not expose.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_bedrockruntime::primitives::Blob;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use super::client::Clients;
use super::errors::from_sdk;
use crate::error::PluginError;

/// The response header in which Bedrock reports the input tokens it billed
/// (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html>).
const INPUT_TOKENS_HEADER: &str = "x-amzn-bedrock-input-token-count";

/// Reads Bedrock's input-token header of a response into a cell the caller holds. Retries overwrite it, so the answer
/// that is kept is the one counted.
#[derive(Debug, Clone, Default)]
struct InputTokenHeader(Arc<AtomicU64>);

const ABSENT: u64 = u64::MAX;

impl InputTokenHeader {
    fn new() -> InputTokenHeader {
        InputTokenHeader(Arc::new(AtomicU64::new(ABSENT)))
    }

    fn get(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|v| *v != ABSENT)
    }
}

impl Intercept for InputTokenHeader {
    fn name(&self) -> &'static str {
        "InputTokenHeader"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let count = context
            .response()
            .headers()
            .get(INPUT_TOKENS_HEADER)
            .and_then(|v| v.trim().parse::<u64>().ok());
        self.0.store(count.unwrap_or(ABSENT), Ordering::Relaxed);
        Ok(())
    }
}

/// One InvokeModel call: the response body and the input tokens of its header.
pub async fn invoke(
    clients: &Clients,
    model_id: &str,
    body: Vec<u8>,
) -> Result<(Vec<u8>, Option<u64>), PluginError> {
    let header = InputTokenHeader::new();
    let out = clients
        .runtime
        .invoke_model()
        .model_id(model_id)
        .content_type("application/json")
        .accept("application/json")
        .body(Blob::new(body))
        .customize()
        .interceptor(header.clone())
        .send()
        .await
        .map_err(|e| from_sdk(e, &clients.runtime_host))?;
    Ok((out.body.into_inner(), header.get()))
}
