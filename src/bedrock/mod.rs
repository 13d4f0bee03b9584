//! Amazon Bedrock: AWS access and clients, and (in later issues) the adapters per model
//! family. Knows nothing of the plugin protocol.

pub mod access;
pub mod client;
pub mod secret;
