//! The probes validation makes: one tiny real call per kind of model, each through the
//! same code as the action it stands for (a 1-token Converse, a small Responses call on
//! bedrock-mantle, a one-word embedding, a one-document rerank), so that what passes
//! here works there.

use std::sync::Arc;

use crate::bedrock::client::Clients;
use crate::bedrock::converse::{self, Capabilities, ChatEvent, ChatInput, Params};
use crate::bedrock::guardrail::Guardrail;
use crate::bedrock::ids::foundation_id;
use crate::bedrock::mantle::{self, MantleInput, MantleParams};
use crate::bedrock::{embedding, rerank};
use crate::declaration::ModelDecl;
use crate::error::PluginError;
use crate::prompt::{Content, PromptMessage, Role};

/// A 1-token Converse, with the guardrail every chat call sends.
pub(super) async fn probe_chat(
    clients: &Clients,
    id: &str,
    decl: Option<&ModelDecl>,
    guardrail: Option<Guardrail>,
    idle: std::time::Duration,
) -> Result<(), PluginError> {
    let caps = decl.map_or_else(Capabilities::generic, Capabilities::of);
    let messages = [hi()];
    let parts = converse::build(ChatInput {
        model_id: id.to_string(),
        caps,
        messages: &messages,
        tools: &[],
        tool_choice: None,
        stop: &[],
        params: Params {
            max_tokens: Some(1),
            ..Params::default()
        },
        request_metadata: None,
        guardrail,
    })?;
    let mut events = converse::start(clients, parts, false, idle).await?;
    while let Some(event) = events.next().await {
        if let ChatEvent::Stop(_) = event? {
            break;
        }
    }
    Ok(())
}

/// The probe's prompt: one word.
fn hi() -> PromptMessage {
    PromptMessage {
        role: Role::User,
        content: Some(Content::Text("Hi".into())),
        tool_calls: Vec::new(),
        tool_call_id: None,
        reasoning: Vec::new(),
    }
}

/// A tiny Responses call on bedrock-mantle, through the same code as `invoke_llm`.
pub(super) async fn probe_mantle(
    clients: &Clients,
    id: &str,
    idle: std::time::Duration,
) -> Result<(), PluginError> {
    let messages = [hi()];
    let request = mantle::build(
        MantleInput {
            model_id: id.to_string(),
            vision: false,
            tools_allowed: false,
            messages: &messages,
            tools: &[],
            tool_choice: None,
            // The Responses API's smallest max_output_tokens.
            params: MantleParams {
                max_output_tokens: Some(16),
                ..MantleParams::default()
            },
        },
        false,
    )?;
    let mut events = mantle::start(clients.mantle().await?, &request, idle).await?;
    while let Some(event) = events.next().await {
        if let ChatEvent::Stop(_) = event? {
            break;
        }
    }
    Ok(())
}

/// A one-word embedding, through the same code as `invoke_text_embedding`.
pub(super) async fn probe_embedding(clients: Arc<Clients>, id: &str) -> Result<(), PluginError> {
    let dialect = foundation_id(id)
        .as_deref()
        .and_then(embedding::Dialect::of)
        .ok_or_else(|| {
            PluginError::bad_request(format!(
                "{id} is not an embedding model this plugin knows, so it cannot be probed"
            ))
        })?;
    let plan = embedding::Plan {
        dialect,
        purpose: embedding::Purpose::Query,
        dimensions: None,
    };
    let inputs = [embedding::Input::Text("hi".into())];
    embedding::embed(
        clients,
        id,
        dialect,
        embedding::batches(&plan, &inputs),
        inputs.len(),
    )
    .await?;
    Ok(())
}

/// A one-document rerank, through the same code as `invoke_rerank`.
pub(super) async fn probe_rerank(
    clients: Arc<Clients>,
    id: &str,
    decl: Option<&ModelDecl>,
) -> Result<(), PluginError> {
    let dialect = decl
        .and_then(|d| d.bedrock.as_ref())
        .and_then(|f| rerank::RerankDialect::of_family(f.family))
        .ok_or_else(|| {
            PluginError::bad_request(format!(
                "{id} is not a rerank model this plugin knows, so it cannot be probed"
            ))
        })?;
    rerank::rerank(clients, id, dialect, "hi", &["hi"], None).await?;
    Ok(())
}
