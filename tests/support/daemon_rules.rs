//! The daemon's rules for what a plugin writes (Go, validated strictly; reference
//! dify-protocol.md §1.2 and §4), checked on every session a test collects.

use serde_json::Value;

const MAX_LINE_BYTES: usize = 5 * 1024 * 1024;
const LLM_USAGE_KEYS: [&str; 12] = [
    "prompt_tokens",
    "prompt_unit_price",
    "prompt_price_unit",
    "prompt_price",
    "completion_tokens",
    "completion_unit_price",
    "completion_price_unit",
    "completion_price",
    "total_tokens",
    "total_price",
    "currency",
    "latency",
];
const EMBEDDING_USAGE_KEYS: [&str; 7] = [
    "tokens",
    "total_tokens",
    "unit_price",
    "price_unit",
    "total_price",
    "currency",
    "latency",
];

pub fn check_session(action: &str, lines: &[Value]) -> Result<(), String> {
    let mut streams = 0;
    let mut errored = false;
    for (i, line) in lines.iter().enumerate() {
        let size = line.to_string().len();
        if size >= MAX_LINE_BYTES {
            return Err(format!(
                "line {i} is {size} bytes, over the daemon's 5 MiB limit"
            ));
        }
        if line["event"] != "session" {
            return Err(format!("line {i}: event is {}, not session", line["event"]));
        }
        let data = &line["data"]["data"];
        if data.is_null() {
            return Err(format!(
                "line {i}: data.data is null; the daemon requires it"
            ));
        }
        let last = i + 1 == lines.len();
        match line["data"]["type"].as_str() {
            Some("end") => {
                if !last {
                    return Err(format!(
                        "line {i}: end is not the last message of the session"
                    ));
                }
            }
            Some("error") => {
                if errored {
                    return Err(format!("line {i}: a second error"));
                }
                errored = true;
                if lines.get(i + 1).map(|l| &l["data"]["type"]) != Some(&Value::from("end")) {
                    return Err(format!("line {i}: error not followed by end"));
                }
                for key in ["error_type", "message"] {
                    if !data[key].is_string() {
                        return Err(format!("line {i}: error.{key} is not a string"));
                    }
                }
                match data["args"].as_object() {
                    Some(args) if args.len() <= 10 => {}
                    _ => {
                        return Err(format!(
                            "line {i}: error.args must be an object of at most 10 keys"
                        ));
                    }
                }
            }
            Some("stream") => {
                if errored {
                    return Err(format!("line {i}: stream after error"));
                }
                streams += 1;
                check_item(action, data).map_err(|e| format!("line {i} ({action}): {e}"))?;
            }
            other => return Err(format!("line {i}: unknown session message type {other:?}")),
        }
    }
    if lines.last().map(|l| &l["data"]["type"]) != Some(&Value::from("end")) {
        return Err("the session has no end".into());
    }
    if action != "invoke_llm" && !action.is_empty() && streams > 1 {
        return Err(format!(
            "{action} sent {streams} results; the daemon reads exactly one"
        ));
    }
    if action != "invoke_llm" && !action.is_empty() && !errored && streams != 1 {
        return Err(format!("{action} ended without a result or an error"));
    }
    Ok(())
}

fn check_item(action: &str, data: &Value) -> Result<(), String> {
    match action {
        "invoke_llm" => {
            if data["model"].as_str().is_none_or(str::is_empty) {
                return Err("model must be a non-empty string".into());
            }
            if !data["prompt_messages"].is_array() {
                return Err("prompt_messages must be present (a list)".into());
            }
            let delta = &data["delta"];
            if !delta["index"].is_u64() {
                return Err("delta.index must be present".into());
            }
            let message = &delta["message"];
            if !(message["content"].is_string() || message["content"].is_array()) {
                return Err(format!(
                    "delta.message.content must be a string or list, got {}",
                    message["content"]
                ));
            }
            if !matches!(
                message["role"].as_str(),
                Some("system" | "user" | "assistant" | "tool")
            ) {
                return Err(format!(
                    "delta.message.role {} is not a known role",
                    message["role"]
                ));
            }
            if !delta["usage"].is_null() {
                require_keys(&delta["usage"], &LLM_USAGE_KEYS, "delta.usage")?;
            }
        }
        "invoke_text_embedding" | "invoke_multimodal_embedding" => {
            if !data["embeddings"].is_array() {
                return Err("embeddings must be a list".into());
            }
            require_keys(&data["usage"], &EMBEDDING_USAGE_KEYS, "usage")?;
        }
        "invoke_rerank" | "invoke_multimodal_rerank" => {
            let docs = data["docs"].as_array().ok_or("docs must be a list")?;
            for d in docs {
                if !(d["index"].is_u64() && d["text"].is_string() && d["score"].is_number()) {
                    return Err(format!("rerank doc {d} needs index, text and score"));
                }
            }
        }
        "get_text_embedding_num_tokens"
            if !data["num_tokens"]
                .as_array()
                .is_some_and(|v| v.iter().all(Value::is_u64)) =>
        {
            return Err("num_tokens must be a list of counts".into());
        }
        "get_llm_num_tokens" if !data["num_tokens"].is_u64() => {
            return Err("num_tokens must be a count".into());
        }
        "validate_provider_credentials" | "validate_model_credentials"
            if data["result"] != Value::Bool(true) || !data["credentials"].is_object() =>
        {
            return Err("a validation answer is {result: true, credentials: {…}}".into());
        }
        "get_ai_model_schemas" if data.get("model_schema").is_none() => {
            return Err("model_schema must be present (null for an unknown model)".into());
        }
        _ => {}
    }
    Ok(())
}

fn require_keys(obj: &Value, keys: &[&str], what: &str) -> Result<(), String> {
    for key in keys {
        if obj.get(*key).is_none_or(Value::is_null) {
            return Err(format!("{what}.{key} is missing"));
        }
    }
    Ok(())
}
