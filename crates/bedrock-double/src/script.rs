//! Scripted behaviour: what the double should do for one request instead of
//! its deterministic default answer.
//!
//! A [`Script`] comes from one of two places, with the same meaning:
//! - a marker in the request, `[[double: {…JSON…}]]`, placed in the last user
//!   text (chat), in an input text (embeddings) or in the query (rerank): for
//!   black-box tests that only control what the client sends;
//! - the programmatic queue ([`crate::Double::push_script`]): for in-process tests.
//!
//! A marker wins over the queue; the queue is consulted in FIFO order and the
//! first rule whose [`Matcher`] fits is consumed. The JSON keys are the field
//! names below (snake_case); unknown keys are an error, so a typo fails loudly.

use crate::error::AwsError;
use crate::record::Operation;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The opening of a marker. The JSON object follows, then `]]`.
pub const MARKER_OPEN: &str = "[[double:";

/// What to do for one request. Every field is optional; unset fields keep the
/// deterministic default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Script {
    /// Reply text (chat). Default: derived from the last user text.
    pub text: Option<String>,
    /// Converse: the reply is `text` this many times, each copy numbered in front
    /// (`[1]…[2]…`), so a large answer needs no large prompt and every piece of it is
    /// distinct (lost or reordered chunks show). Default: once, unnumbered.
    pub repeat: Option<usize>,
    /// Number of text deltas in a stream (default 3, fewer for short text).
    pub deltas: Option<usize>,
    /// Delay between stream events, in ms (default 0).
    pub delay_ms: Option<u64>,
    /// Delay before the response headers (any operation), in ms.
    pub first_byte_ms: Option<u64>,
    /// Tool calls to make (in order, as parallel tool-use blocks).
    pub tool_calls: Vec<ToolCall>,
    /// Reasoning text, streamed before the answer.
    pub reasoning: Option<String>,
    /// Signature of the reasoning block.
    pub signature: Option<String>,
    /// A redacted reasoning block: base64 of the opaque bytes.
    pub redacted: Option<String>,
    /// Any stop reason (`end_turn`, `tool_use`, `max_tokens`,
    /// `stop_sequence`, `guardrail_intervened`, `content_filtered`, …).
    pub stop_reason: Option<String>,
    /// Usage numbers to report instead of the computed ones.
    pub usage: Option<Usage>,
    /// `metrics.latencyMs` (default 100).
    pub latency_ms: Option<u64>,
    /// Answer with this HTTP error instead (any operation).
    pub error: Option<ErrorScript>,
    /// A stream exception frame after `after` events (streams only).
    pub exception: Option<StreamException>,
    /// Drop the connection after this many events (streams), or before
    /// answering (other operations).
    pub drop_after: Option<usize>,
    /// Stop sending for `ms` after `after` events, then continue (streams);
    /// other operations wait `ms` before answering.
    pub stall: Option<Stall>,
    /// Rerank: the score of each document, by input index.
    pub scores: Option<Vec<f64>>,
    /// The service tier the response reports as having served the request (as when
    /// Reserved capacity overflows to Standard). Default: the tier asked for.
    pub served_tier: Option<String>,
    /// The script applies only to these models (foundation ids, as resolved from
    /// profiles and ARNs); any other model gives the default answer. Empty: all.
    pub only_models: Vec<String>,
    /// Converse with a `guardrailConfig`: what the guardrail does. Ignored without one
    /// (no guardrail runs then).
    pub guardrail: Option<GuardrailScript>,
}

/// What a request's guardrail does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailScript {
    /// `intervened`, or `none` (it lets the answer through, as unscripted).
    pub action: GuardrailAction,
    /// The answer it gives instead (default: the guardrail's blocked message for the
    /// source).
    #[serde(default)]
    pub message: Option<String>,
    /// What it blocked: `input` (the prompt, the default) or `output` (the model's answer).
    #[serde(default)]
    pub source: Option<GuardrailSource>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailAction {
    Intervened,
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailSource {
    #[default]
    Input,
    Output,
}

/// One tool call the model makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    pub name: String,
    /// The tool input (a JSON object).
    #[serde(default = "empty_object")]
    pub input: Value,
    /// Default `tooluse_<n>` derived from the request.
    #[serde(default)]
    pub id: Option<String>,
    /// How many deltas the input JSON is split into (default 2).
    #[serde(default)]
    pub chunks: Option<usize>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl ToolCall {
    pub fn new(name: &str, input: Value) -> Self {
        Self {
            name: name.into(),
            input,
            id: None,
            chunks: None,
        }
    }
}

/// Token usage to report. Unset fields keep the computed value; cache fields
/// are only reported when set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Usage {
    pub input_tokens: Option<u32>,
    pub output_tokens: Option<u32>,
    pub cache_read_input_tokens: Option<u32>,
    pub cache_write_input_tokens: Option<u32>,
}

/// An HTTP error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorScript {
    pub status: u16,
    /// The AWS error code, e.g. `ThrottlingException`.
    #[serde(rename = "type")]
    pub error_type: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// An exception frame in the middle of an event stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamException {
    /// Number of events sent before the exception.
    pub after: usize,
    /// The exception's member name as Bedrock sends it in `:exception-type`,
    /// e.g. `throttlingException`, `modelStreamErrorException`,
    /// `validationException`, `internalServerException`,
    /// `serviceUnavailableException`, `modelTimeoutException`.
    #[serde(rename = "type")]
    pub exception_type: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// A pause in the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stall {
    pub after: usize,
    pub ms: u64,
}

impl Script {
    /// Parses the JSON of a marker (or any script written as JSON).
    pub fn from_json(json: &str) -> Result<Script, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    /// The marker text for this script: `[[double: {…}]]`.
    pub fn to_marker(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_else(|_| "{}".into());
        format!("{MARKER_OPEN} {json}]]")
    }

    /// An HTTP error script.
    pub fn error(status: u16, error_type: &str, message: &str) -> Self {
        Self {
            error: Some(ErrorScript {
                status,
                error_type: error_type.into(),
                message: Some(message.into()),
            }),
            ..Self::default()
        }
    }

    /// The scripted reply text, with [`Script::repeat`] applied.
    pub fn reply_text(&self) -> Option<String> {
        let text = self.text.as_ref()?;
        Some(match self.repeat {
            None => text.clone(),
            Some(n) => (1..=n.min(1_000_000))
                .map(|i| format!("[{i}]{text}"))
                .collect(),
        })
    }

    pub(crate) fn http_error(&self) -> Option<AwsError> {
        self.error.as_ref().map(|e| {
            AwsError::new(
                e.status,
                e.error_type.clone(),
                e.message
                    .clone()
                    .unwrap_or_else(|| format!("{} (scripted by bedrock-double)", e.error_type)),
            )
        })
    }
}

/// Finds the first marker in `text`. Returns the text with the marker removed
/// and the parsed script; `Ok(None)` when there is no marker. A malformed
/// marker is an error (answered as a labelled ValidationException).
pub fn extract_marker(text: &str) -> Result<Option<(String, Script)>, AwsError> {
    let Some(start) = text.find(MARKER_OPEN) else {
        return Ok(None);
    };
    let after = &text[start + MARKER_OPEN.len()..];
    let mut stream = serde_json::Deserializer::from_str(after).into_iter::<Value>();
    let value = match stream.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(bad_marker(&e.to_string())),
        None => return Err(bad_marker("missing JSON object")),
    };
    let consumed = stream.byte_offset();
    let rest = after[consumed..].trim_start();
    let Some(tail) = rest.strip_prefix("]]") else {
        return Err(bad_marker("expected `]]` after the JSON object"));
    };
    let script: Script = serde_json::from_value(value).map_err(|e| bad_marker(&e.to_string()))?;
    let cleaned = format!("{}{}", &text[..start], tail);
    Ok(Some((cleaned.trim().to_string(), script)))
}

fn bad_marker(why: &str) -> AwsError {
    AwsError::validation(format!(
        "bedrock-double: invalid [[double: …]] marker: {why}"
    ))
}

/// Which requests a queued script applies to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matcher {
    pub operation: Option<Operation>,
    /// Matches the requested model id, or the foundation model it resolves to.
    pub model: Option<String>,
}

impl Matcher {
    /// Any request.
    pub fn any() -> Self {
        Self::default()
    }

    /// Requests of one operation.
    pub fn operation(op: Operation) -> Self {
        Self {
            operation: Some(op),
            model: None,
        }
    }

    /// Requests for one model (any operation).
    pub fn model(model: &str) -> Self {
        Self {
            operation: None,
            model: Some(model.into()),
        }
    }

    pub fn and_model(mut self, model: &str) -> Self {
        self.model = Some(model.into());
        self
    }

    pub fn matches(&self, op: Operation, requested: Option<&str>, resolved: Option<&str>) -> bool {
        if self.operation.is_some_and(|o| o != op) {
            return false;
        }
        match &self.model {
            None => true,
            Some(m) => requested == Some(m.as_str()) || resolved == Some(m.as_str()),
        }
    }
}

/// A queued script with its remaining uses.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub matcher: Matcher,
    pub script: Script,
    pub remaining: usize,
}

/// The FIFO script queue.
#[derive(Debug, Default)]
pub(crate) struct ScriptQueue {
    rules: Vec<Rule>,
}

impl ScriptQueue {
    pub fn push(&mut self, matcher: Matcher, script: Script, times: usize) {
        if times > 0 {
            self.rules.push(Rule {
                matcher,
                script,
                remaining: times,
            });
        }
    }

    /// Takes one use of the first matching rule.
    pub fn take(
        &mut self,
        op: Operation,
        requested: Option<&str>,
        resolved: Option<&str>,
    ) -> Option<Script> {
        let i = self
            .rules
            .iter()
            .position(|r| r.matcher.matches(op, requested, resolved))?;
        let rule = &mut self.rules[i];
        rule.remaining -= 1;
        let script = rule.script.clone();
        if rule.remaining == 0 {
            self.rules.remove(i);
        }
        Some(script)
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trip() {
        let text =
            r#"Hello [[double: {"deltas":5,"delay_ms":20,"usage":{"input_tokens":[1][0]}}]] there"#;
        assert!(extract_marker(text).is_err());
        let text = r#"Hello [[double: {"deltas":5,"tool_calls":[{"name":"t","input":{"a":[[1]]}}]}]] there"#;
        let (clean, s) = extract_marker(text).ok().flatten().unwrap_or_default();
        assert_eq!(clean, "Hello  there");
        assert_eq!(s.deltas, Some(5));
        assert_eq!(s.tool_calls[0].input, serde_json::json!({"a":[[1]]}));
        assert!(extract_marker("no marker").ok().flatten().is_none());
        assert!(extract_marker(r#"[[double: {"nope":1}]]"#).is_err());
        let s = Script::error(429, "ThrottlingException", "slow down");
        let (_, back) = extract_marker(&s.to_marker())
            .ok()
            .flatten()
            .unwrap_or_default();
        assert_eq!(back, s);
    }

    #[test]
    fn repeat_numbers_each_copy() {
        let s = Script::from_json(r#"{"text": "ab", "repeat": 3}"#).unwrap_or_default();
        assert_eq!(s.reply_text().as_deref(), Some("[1]ab[2]ab[3]ab"));
        let once = Script::from_json(r#"{"text": "ab"}"#).unwrap_or_default();
        assert_eq!(once.reply_text().as_deref(), Some("ab"));
        assert_eq!(Script::default().reply_text(), None);
    }

    #[test]
    fn queue_is_fifo_and_counts() {
        let mut q = ScriptQueue::default();
        q.push(
            Matcher::operation(Operation::Converse),
            Script::error(500, "A", "a"),
            2,
        );
        q.push(Matcher::any(), Script::error(500, "B", "b"), 1);
        let code = |s: Option<Script>| s.and_then(|s| s.error).map(|e| e.error_type);
        assert_eq!(
            code(q.take(Operation::InvokeModel, None, None)).as_deref(),
            Some("B")
        );
        assert_eq!(
            code(q.take(Operation::Converse, None, None)).as_deref(),
            Some("A")
        );
        assert_eq!(
            code(q.take(Operation::Converse, None, None)).as_deref(),
            Some("A")
        );
        assert_eq!(q.take(Operation::Converse, None, None), None);
        assert_eq!(q.len(), 0);
    }
}
