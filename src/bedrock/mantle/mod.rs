//! bedrock-mantle's OpenAI-compatible Responses API, for the chat families Converse does
//! not serve (OpenAI's GPT-5.x): the request built from Dify's prompt (`request`), the
//! bearer token (`auth`: an API key, or a token derived from AWS credentials), the call
//! with its retries and errors (`transport`), and the answer as the same chat events
//! Converse yields (`answer`).

mod answer;
mod auth;
mod request;
mod transport;

pub use auth::{MantleAuth, TokenSource};
pub use request::{MantleInput, MantleParams, build};
pub use transport::{Limits, MantleClient, ResponseStream, start};
