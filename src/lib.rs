//! dify-bedrock: the Amazon Bedrock model provider for Dify.
//!
//! Data flows one way: `wire` (the daemon's protocol) → `runtime` (sessions) →
//! `actions` (typed requests and answers) → `bedrock` (AWS) → back out through
//! `session` (the single writer). `declaration` holds the manifest, provider and model
//! YAML as typed data; `prompt` and `media` are Dify's prompt model and the files in it.
//! The binary's commands are `serve`, `check`, `models` and `package`.

pub(crate) mod actions;
pub mod bedrock;
pub mod check;
pub(crate) mod declaration;
pub(crate) mod error;
#[doc(hidden)]
pub mod internals;
pub(crate) mod logging;
pub(crate) mod media;
pub mod models;
pub mod package;
pub(crate) mod prompt;
pub(crate) mod runtime;
pub mod serve;
pub(crate) mod session;
pub(crate) mod settings;
pub(crate) mod wire;
