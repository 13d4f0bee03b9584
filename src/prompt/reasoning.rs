//! Signed reasoning carried across turns in `opaque_body`: the reasoning blocks an answer
//! had (text with its signature, or redacted reasoning) go out on the assistant message,
//! and come back on that message in the next request of the agent run, to be replayed
//! to the model — Claude requires them to keep thinking through a tool loop. The shape
//! is this plugin's own, under one key, so other plugins' opaque bodies are left alone.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

/// The key of `opaque_body` this plugin writes and reads.
const KEY: &str = "bedrock_reasoning";

/// One reasoning block as the model returned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReasoningBlock {
    /// Reasoning text and the signature that proves it is the model's.
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// Reasoning the model returned encrypted (base64).
    Redacted { redacted: String },
}

/// The `opaque_body` of an answer with these blocks; `None` without any.
pub fn opaque_body(blocks: &[ReasoningBlock]) -> Option<Value> {
    (!blocks.is_empty()).then(|| json!({ KEY: blocks }))
}

/// The blocks an incoming message's `opaque_body` carries; anything else (another
/// plugin's body, a malformed one) is none.
pub fn from_opaque_body<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ReasoningBlock>, D::Error> {
    let body = Option::<Value>::deserialize(d)?;
    Ok(body
        .and_then(|mut b| b.get_mut(KEY).map(Value::take))
        .and_then(|blocks| serde_json::from_value(blocks).ok())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Message {
        #[serde(default, rename = "opaque_body", deserialize_with = "from_opaque_body")]
        reasoning: Vec<ReasoningBlock>,
    }

    #[test]
    fn blocks_go_out_and_come_back() {
        let blocks = vec![
            ReasoningBlock::Text {
                text: "hmm".into(),
                signature: Some("c2ln".into()),
            },
            ReasoningBlock::Redacted {
                redacted: "AAEC".into(),
            },
        ];
        let body = opaque_body(&blocks).expect("a body");
        let m: Message = serde_json::from_value(json!({ "opaque_body": body })).expect("parses");
        assert_eq!(m.reasoning, blocks);
        for foreign in [
            json!(null),
            json!({"reasoning_content": "x"}),
            json!({KEY: 3}),
        ] {
            let m: Message =
                serde_json::from_value(json!({ "opaque_body": foreign })).expect("parses");
            assert!(m.reasoning.is_empty());
        }
        assert_eq!(opaque_body(&[]), None);
    }
}
