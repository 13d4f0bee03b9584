//! Amazon Bedrock: AWS access and clients (`network`: how their connections are made),
//! which id to call (`routing`), the family table, the Converse path for chat (and
//! `mantle`, bedrock-mantle's Responses API, for the families Converse does not serve),
//! both yielding `events`, Bedrock Guardrails on Converse (`guardrail`), InvokeModel for
//! embedding and rerank, and the control plane's lists of what an account can see
//! (`listing`).
//! Knows nothing of the plugin protocol or sessions.

pub(crate) mod access;
pub(crate) mod client;
pub(crate) mod converse;
pub(crate) mod embedding;
pub(crate) mod errors;
pub(crate) mod events;
pub mod families;
pub(crate) mod guardrail;
pub(crate) mod ids;
pub(crate) mod invoke;
pub(crate) mod json;
pub(crate) mod listing;
pub(crate) mod mantle;
pub(crate) mod network;
pub(crate) mod profiles;
pub(crate) mod rerank;
pub(crate) mod routing;
pub(crate) mod secret;
