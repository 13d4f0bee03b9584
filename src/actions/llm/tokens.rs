//! `get_llm_num_tokens`: how many tokens a prompt takes. A local estimate (cl100k), or,
//! when the form asks for it and the model's family has it, Bedrock's own count
//! (CountTokens), falling back to the estimate when that call fails.

use serde::Serialize;
use serde_json::Value;

use super::super::AppState;
use super::super::model::resolve;
use super::super::requests::LlmNumTokens;
use crate::bedrock::converse::{self, Capabilities, ChatInput, Params};
use crate::bedrock::routing;
use crate::declaration::{ChatApi, ModelDecl, ModelType};
use crate::error::PluginError;
use crate::prompt::{PromptMessage, Tool};
use crate::session::SessionSink;

#[derive(Serialize)]
struct NumTokens {
    num_tokens: u64,
}

/// Counts the text of every message, tool call and tool definition with the cl100k BPE
/// (shipped inside the tokenizer crate: no download, no network): an honest estimate
/// for every family, since Bedrock models do not share one tokenizer.
pub fn count_tokens(messages: &[PromptMessage], tools: &[Tool]) -> u64 {
    let bpe = tiktoken_rs::cl100k_base_singleton();
    let mut text = String::new();
    for m in messages {
        text.push_str(&m.text());
        for call in &m.tool_calls {
            text.push_str(&call.function.name);
            text.push_str(&call.function.arguments);
        }
        text.push('\n');
    }
    for t in tools {
        text.push_str(&t.name);
        text.push_str(&t.description);
        text.push_str(&Value::Object(t.parameters.clone()).to_string());
    }
    bpe.encode_ordinary(&text).len() as u64
}

pub async fn num_tokens(
    state: &AppState,
    req: LlmNumTokens,
    sink: &SessionSink,
) -> Result<(), PluginError> {
    let decl = resolve(state, &req.base, ModelType::Llm)?;
    // Bedrock's count costs a call, and Dify counts often: only when the form asks for
    // it, for the families CountTokens serves; any failure falls back to the estimate.
    let counted = match bedrock_counts_for(state, &req, &decl) {
        Some(model_id) => match count_with_bedrock(state, &req, &decl, model_id).await {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::debug!("CountTokens failed, so the count is an estimate: {e}");
                None
            }
        },
        None => None,
    };
    let num_tokens = counted.unwrap_or_else(|| count_tokens(&req.prompt_messages, &req.tools));
    sink.stream(&NumTokens { num_tokens }).await
}

/// The foundation model to count with, when the form asks for Bedrock's counts and the
/// model's family has them.
fn bedrock_counts_for(state: &AppState, req: &LlmNumTokens, decl: &ModelDecl) -> Option<String> {
    if !req.base.credentials.count_tokens || decl.chat_api() != ChatApi::Converse {
        return None;
    }
    let caps = Capabilities::of(decl);
    if !caps.family.count_tokens {
        return None;
    }
    // CountTokens names a foundation model: a customizable model's when its id tells.
    match &req.base.credentials.custom {
        None => Some(decl.model.clone()),
        Some(custom) => routing::known_from_text(&state.catalog, ModelType::Llm, &custom.target)
            .map(|m| m.model.clone()),
    }
}

async fn count_with_bedrock(
    state: &AppState,
    req: &LlmNumTokens,
    decl: &ModelDecl,
    model_id: String,
) -> Result<u64, PluginError> {
    let access = req.base.credentials.access()?;
    let clients = state.clients.get(access).await?;
    let parts = converse::build(ChatInput {
        model_id,
        caps: Capabilities::of(decl),
        messages: &req.prompt_messages,
        tools: &req.tools,
        tool_choice: None,
        stop: &[],
        params: Params::default(),
        request_metadata: None,
        // CountTokens takes no guardrail.
        guardrail: None,
    })?;
    converse::count(&clients, parts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_counted_with_a_real_bpe() {
        let messages: Vec<PromptMessage> = serde_json::from_value(
            serde_json::json!([{"role": "user", "content": "Hello, world!"}]),
        )
        .expect("messages");
        // cl100k: "Hello", ",", " world", "!\n".
        assert_eq!(count_tokens(&messages, &[]), 4);
    }
}
