//! dify-bedrock: the Amazon Bedrock model provider for Dify.
//!
//! Data flows one way: `wire` (the daemon's protocol) → `runtime` (sessions, the single
//! writer) → `actions` (typed requests and answers) → Bedrock → back out the same way.
//! `declaration` holds the manifest, provider and model YAML as typed data.

pub mod actions;
pub mod bedrock;
pub mod check;
pub mod declaration;
pub mod error;
pub mod logging;
pub mod package;
pub mod prompt;
pub mod runtime;
pub mod serve;
pub mod session;
pub mod settings;
pub mod wire;
