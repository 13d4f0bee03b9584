//! Amazon Bedrock: AWS access and clients, the family table, and the Converse path.
//! Knows nothing of the plugin protocol or sessions.

pub mod access;
pub mod client;
pub mod converse;
pub mod document;
pub mod embedding;
pub mod errors;
pub mod families;
pub mod models;
pub mod profiles;
pub mod rerank;
pub mod secret;
