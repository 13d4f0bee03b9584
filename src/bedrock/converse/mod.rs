//! Converse and ConverseStream: the one path every Bedrock text model is called through.

mod count;
mod request;
mod stream;

pub use count::count;

pub use request::{Capabilities, ChatInput, ConverseParts, Params, build};
pub use stream::{ChatEvent, ChatStream, Usage, start};
