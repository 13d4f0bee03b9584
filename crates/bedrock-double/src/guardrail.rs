//! Amazon Bedrock Guardrails: the guardrails the double knows, GetGuardrail on the
//! control plane, the `guardrailConfig` of Converse and ConverseStream (checked against
//! the documented shapes, then looked up), and what a guardrail adds to an answer: its
//! blocked message when it intervenes, and its trace when asked for.
//!
//! - GetGuardrail: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetGuardrail.html
//! - GuardrailConfiguration (Converse): https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_GuardrailConfiguration.html
//! - GuardrailStreamConfiguration (ConverseStream): https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_GuardrailStreamConfiguration.html
//! - The trace: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_GuardrailTraceAssessment.html
//! - Using a guardrail with Converse: https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-use-converse-api.html
//!
//! A Converse call naming a guardrail (or version) that does not exist in its region gets
//! "The guardrail identifier or version provided in the request does not exist.", the
//! ValidationException real calls report.

use crate::converse::{as_obj, as_str, only_keys, required};
use crate::error::AwsError;
use crate::script::{GuardrailAction, GuardrailScript, GuardrailSource};
use crate::server::{Call, Reply};
use serde_json::{Map, Value, json};

/// Fixed timestamps keep responses deterministic.
const CREATED_AT: &str = "2025-03-01T00:00:00Z";
const UPDATED_AT: &str = "2025-03-02T00:00:00Z";

/// AWS's pattern for a guardrail identifier (an ID or an ARN).
pub const IDENTIFIER_PATTERN: &str =
    "^(([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+))$";
/// AWS's pattern for a guardrail version.
pub const VERSION_PATTERN: &str = "^(([1-9][0-9]{0,7})|(DRAFT))$";

/// A guardrail of the double's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardrailSpec {
    /// `[a-z0-9]+`.
    pub id: String,
    pub name: String,
    /// Guardrails belong to one region.
    pub region: String,
    /// Published versions are 1..=this; DRAFT always exists.
    pub published_versions: u32,
    /// `READY`, `CREATING`, `UPDATING`, `VERSIONING`, `FAILED`, `DELETING`.
    pub status: String,
    /// The answer when it blocks a prompt.
    pub blocked_input_messaging: String,
    /// The answer when it blocks the model's output.
    pub blocked_outputs_messaging: String,
}

impl GuardrailSpec {
    /// A ready guardrail with one published version and AWS's default blocked messages.
    pub fn new(id: &str, name: &str, region: &str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            region: region.into(),
            published_versions: 1,
            status: "READY".into(),
            blocked_input_messaging: "Sorry, the model cannot answer this question.".into(),
            blocked_outputs_messaging: "Sorry, the model cannot answer this question.".into(),
        }
    }

    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:bedrock:{}:{account}:guardrail/{}",
            self.region, self.id
        )
    }

    fn has_version(&self, version: &str) -> bool {
        version == "DRAFT"
            || version
                .parse::<u32>()
                .is_ok_and(|n| (1..=self.published_versions).contains(&n))
    }
}

fn bare_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

fn valid_identifier(id: &str) -> bool {
    if id.len() > 2048 {
        return false;
    }
    let Some(rest) = id.strip_prefix("arn:") else {
        return bare_id(id);
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [partition, service, region, account, resource] = parts.as_slice() else {
        return false;
    };
    (*partition == "aws" || partition.starts_with("aws-") && partition.len() > 4)
        && *service == "bedrock"
        && (1..=20).contains(&region.len())
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && resource.strip_prefix("guardrail/").is_some_and(bare_id)
}

fn valid_version(v: &str) -> bool {
    v == "DRAFT"
        || ((1..=8).contains(&v.len())
            && !v.starts_with('0')
            && v.chars().all(|c| c.is_ascii_digit()))
}

fn pattern_error(value: &str, at: &str, pattern: &str) -> AwsError {
    AwsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: {pattern}"
    ))
}

fn enum_error(value: &str, at: &str, allowed: &str) -> AwsError {
    AwsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: \
         Member must satisfy enum value set: [{allowed}]"
    ))
}

/// The guardrail a known id or ARN names in `region`.
fn find<'a>(
    guardrails: &'a [GuardrailSpec],
    account: &str,
    region: &str,
    identifier: &str,
) -> Option<&'a GuardrailSpec> {
    guardrails
        .iter()
        .find(|g| g.region == region && (g.id == identifier || g.arn(account) == identifier))
}

/// What a Converse request's `guardrailConfig` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardrailRequest {
    pub identifier: String,
    pub version: String,
    /// `disabled` (the default), `enabled` or `enabled_full`.
    pub trace: String,
    /// ConverseStream only: `sync` (the default) or `async`.
    pub stream_processing_mode: Option<String>,
}

/// Checks `guardrailConfig`: Converse takes GuardrailConfiguration, ConverseStream
/// GuardrailStreamConfiguration (the same members and `streamProcessingMode`).
pub fn validate_config(v: &Value, streaming: bool) -> Result<GuardrailRequest, AwsError> {
    let p = "#/guardrailConfig";
    let o = as_obj(v, p)?;
    let allowed: &[&str] = if streaming {
        &[
            "guardrailIdentifier",
            "guardrailVersion",
            "trace",
            "streamProcessingMode",
        ]
    } else {
        &["guardrailIdentifier", "guardrailVersion", "trace"]
    };
    only_keys(o, allowed, p)?;
    let identifier = as_str(
        required(o, "guardrailIdentifier", p)?,
        &format!("{p}/guardrailIdentifier"),
    )?;
    if !valid_identifier(identifier) {
        return Err(pattern_error(
            identifier,
            "guardrailConfig.guardrailIdentifier",
            IDENTIFIER_PATTERN,
        ));
    }
    let version = as_str(
        required(o, "guardrailVersion", p)?,
        &format!("{p}/guardrailVersion"),
    )?;
    if !valid_version(version) {
        return Err(pattern_error(
            version,
            "guardrailConfig.guardrailVersion",
            VERSION_PATTERN,
        ));
    }
    let trace = match o.get("trace") {
        None => "disabled".to_string(),
        Some(t) => {
            let t = as_str(t, &format!("{p}/trace"))?;
            if !["enabled", "disabled", "enabled_full"].contains(&t) {
                return Err(enum_error(
                    t,
                    "guardrailConfig.trace",
                    "enabled, disabled, enabled_full",
                ));
            }
            t.to_string()
        }
    };
    let stream_processing_mode = match o.get("streamProcessingMode") {
        None => None,
        Some(m) => {
            let m = as_str(m, &format!("{p}/streamProcessingMode"))?;
            if m != "sync" && m != "async" {
                return Err(enum_error(
                    m,
                    "guardrailConfig.streamProcessingMode",
                    "sync, async",
                ));
            }
            Some(m.to_string())
        }
    };
    Ok(GuardrailRequest {
        identifier: identifier.to_string(),
        version: version.to_string(),
        trace,
        stream_processing_mode,
    })
}

/// The guardrail a Converse call names, as the call's region knows it.
pub(crate) fn resolve(call: &Call<'_>, req: &GuardrailRequest) -> Result<GuardrailSpec, AwsError> {
    let cfg = &call.state.config;
    find(
        &cfg.guardrails,
        &cfg.account_id,
        &call.region,
        &req.identifier,
    )
    .filter(|g| g.has_version(&req.version))
    .cloned()
    .ok_or_else(|| {
        AwsError::validation(
            "The guardrail identifier or version provided in the request does not exist.",
        )
    })
    .and_then(|g| {
        let denied = cfg
            .denied_guardrails
            .iter()
            .any(|(who, id)| *id == g.id && call.identity.is(who));
        if !denied {
            return Ok(g);
        }
        let principal = call.identity.principal_arn.clone().unwrap_or_default();
        let resource = g.arn(&cfg.account_id);
        Err(AwsError::access_denied(format!(
            "User: {principal} is not authorized to perform: bedrock:ApplyGuardrail on resource: {resource} \
             because no identity-based policy allows the bedrock:ApplyGuardrail action"
        )))
    })
}

/// GetGuardrail: `GET /guardrails/{guardrailIdentifier}?guardrailVersion=…` (DRAFT when
/// no version is given).
pub(crate) fn get_guardrail(call: &mut Call<'_>) -> Result<Reply, AwsError> {
    let id = call.model_id.clone().unwrap_or_default();
    if !valid_identifier(&id) {
        return Err(pattern_error(
            &id,
            "guardrailIdentifier",
            IDENTIFIER_PATTERN,
        ));
    }
    let version = call
        .query_param("guardrailVersion")
        .unwrap_or_else(|| "DRAFT".into());
    if !valid_version(&version) {
        return Err(pattern_error(&version, "guardrailVersion", VERSION_PATTERN));
    }
    let cfg = &call.state.config;
    // Wording approximated.
    let not_found = || {
        AwsError::not_found(format!(
            "The guardrail {id} with version {version} was not found."
        ))
    };
    let g = find(&cfg.guardrails, &cfg.account_id, &call.region, &id)
        .filter(|g| g.has_version(&version))
        .ok_or_else(not_found)?;
    Ok(Reply::json(&json!({
        "name": g.name,
        "description": format!("{} (bedrock-double)", g.name),
        "guardrailId": g.id,
        "guardrailArn": g.arn(&cfg.account_id),
        "version": version,
        "status": g.status,
        "contentPolicy": {"filters": [
            {"type": "VIOLENCE", "inputStrength": "HIGH", "outputStrength": "HIGH"},
            {"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "NONE"},
        ]},
        "statusReasons": [],
        "failureRecommendations": [],
        "createdAt": CREATED_AT,
        "updatedAt": UPDATED_AT,
        "blockedInputMessaging": g.blocked_input_messaging,
        "blockedOutputsMessaging": g.blocked_outputs_messaging,
    })))
}

/// What the guardrail does to one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardrailOutcome {
    /// The guardrail's blocked message, when it intervened (it becomes the answer).
    pub blocked: Option<String>,
    /// `trace.guardrail` of the answer, when the request asked for a trace.
    pub trace: Option<Value>,
}

/// The guardrail's effect, from its spec, the request and the script's `guardrail` key
/// (nothing scripted: it lets the answer through). `model_output` is the text the model
/// would have answered.
pub fn outcome(
    spec: &GuardrailSpec,
    req: &GuardrailRequest,
    script: Option<&GuardrailScript>,
    input_chars: usize,
    model_output: &str,
) -> GuardrailOutcome {
    let intervened = script.filter(|s| s.action == GuardrailAction::Intervened);
    let source = intervened.map(|s| s.source.unwrap_or_default());
    let blocked = intervened.map(|s| {
        s.message.clone().unwrap_or_else(|| match source {
            Some(GuardrailSource::Output) => spec.blocked_outputs_messaging.clone(),
            _ => spec.blocked_input_messaging.clone(),
        })
    });
    let trace = (req.trace != "disabled").then(|| {
        let full = req.trace == "enabled_full";
        let input_blocked = source == Some(GuardrailSource::Input);
        let output_blocked = source == Some(GuardrailSource::Output);
        let mut t = Map::new();
        t.insert(
            "inputAssessment".into(),
            json!({ spec.id.clone(): assessment(input_blocked, full, input_chars) }),
        );
        // A blocked prompt never reaches the model: there is no output to assess.
        if !input_blocked {
            t.insert(
                "outputAssessments".into(),
                json!({ spec.id.clone(): [assessment(output_blocked, full, model_output.chars().count())] }),
            );
        }
        if output_blocked {
            t.insert("modelOutput".into(), json!([model_output]));
        }
        let reason = if intervened.is_some() {
            "Guardrail blocked."
        } else {
            "No action."
        };
        t.insert("actionReason".into(), json!(reason));
        json!({ "guardrail": Value::Object(t) })
    });
    GuardrailOutcome { blocked, trace }
}

/// One GuardrailAssessment: a content filter that fired (or, for `enabled_full`, the one
/// that did not), and the invocation metrics.
fn assessment(blocked: bool, full: bool, chars: usize) -> Value {
    let mut a = Map::new();
    if blocked {
        a.insert(
            "contentPolicy".into(),
            json!({"filters": [{"type": "VIOLENCE", "confidence": "HIGH", "filterStrength": "HIGH", "action": "BLOCKED", "detected": true}]}),
        );
    } else if full {
        a.insert(
            "contentPolicy".into(),
            json!({"filters": [{"type": "VIOLENCE", "confidence": "NONE", "filterStrength": "HIGH", "action": "NONE", "detected": false}]}),
        );
    }
    a.insert(
        "invocationMetrics".into(),
        json!({
            "guardrailProcessingLatency": 50,
            "usage": {
                "topicPolicyUnits": 0,
                "contentPolicyUnits": 1,
                "wordPolicyUnits": 0,
                "sensitiveInformationPolicyUnits": 0,
                "sensitiveInformationPolicyFreeUnits": 0,
                "contextualGroundingPolicyUnits": 0,
            },
            "guardrailCoverage": {"textCharacters": {"guarded": chars, "total": chars}},
        }),
    );
    Value::Object(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_checked_per_operation() {
        let ok = json!({"guardrailIdentifier": "abc123", "guardrailVersion": "DRAFT", "trace": "enabled"});
        let r = validate_config(&ok, false).expect("converse");
        assert_eq!((r.version.as_str(), r.trace.as_str()), ("DRAFT", "enabled"));
        let stream = json!({"guardrailIdentifier": "arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123",
            "guardrailVersion": "12", "streamProcessingMode": "async"});
        assert_eq!(
            validate_config(&stream, true)
                .expect("stream")
                .stream_processing_mode
                .as_deref(),
            Some("async")
        );
        let e = validate_config(&stream, false).expect_err("no mode on Converse");
        assert!(
            e.message.contains("extraneous key [streamProcessingMode]"),
            "{e:?}"
        );
        let bad_version = json!({"guardrailIdentifier": "abc123", "guardrailVersion": "v1"});
        assert!(
            validate_config(&bad_version, false)
                .expect_err("version")
                .message
                .contains("guardrailConfig.guardrailVersion")
        );
        let no_version = json!({"guardrailIdentifier": "abc123"});
        assert!(
            validate_config(&no_version, true)
                .expect_err("required")
                .message
                .contains("required key [guardrailVersion]")
        );
        let bad_mode = json!({"guardrailIdentifier": "abc123", "guardrailVersion": "1", "streamProcessingMode": "later"});
        assert!(
            validate_config(&bad_mode, true)
                .expect_err("mode")
                .message
                .contains("enum value set: [sync, async]")
        );
        let bad_id = json!({"guardrailIdentifier": "ABC", "guardrailVersion": "1"});
        assert!(validate_config(&bad_id, true).is_err());
    }

    #[test]
    fn an_intervention_brings_the_blocked_message_and_a_trace() {
        let spec = GuardrailSpec::new("abc123", "g", "us-east-1");
        let req = GuardrailRequest {
            identifier: "abc123".into(),
            version: "1".into(),
            trace: "enabled".into(),
            stream_processing_mode: None,
        };
        let script = GuardrailScript {
            action: GuardrailAction::Intervened,
            message: None,
            source: Some(GuardrailSource::Output),
        };
        let o = outcome(&spec, &req, Some(&script), 5, "bad words");
        assert_eq!(
            o.blocked.as_deref(),
            Some(spec.blocked_outputs_messaging.as_str())
        );
        let t = o.trace.expect("trace");
        assert_eq!(t["guardrail"]["modelOutput"], json!(["bad words"]));
        assert_eq!(
            t["guardrail"]["outputAssessments"]["abc123"][0]["contentPolicy"]["filters"][0]["action"],
            "BLOCKED"
        );
        let quiet = GuardrailRequest {
            trace: "disabled".into(),
            ..req
        };
        let o = outcome(&spec, &quiet, None, 5, "fine");
        assert_eq!(
            o,
            GuardrailOutcome {
                blocked: None,
                trace: None
            }
        );
    }
}
