//! Amazon Bedrock Guardrails on Converse: the guardrail a chat call names, as a type; its
//! two request shapes (Converse takes `GuardrailConfiguration`, ConverseStream
//! `GuardrailStreamConfiguration` with the stream processing mode); the control plane's
//! GetGuardrail, which says whether it exists and may be read; and its assessments, logged
//! at debug level only, since they can quote the user's text.
//!
//! Sources: <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_GuardrailConfiguration.html>,
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_GuardrailStreamConfiguration.html>,
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetGuardrail.html>.

use std::fmt;

use aws_sdk_bedrockruntime::types::{
    GuardrailConfiguration, GuardrailStreamConfiguration, GuardrailStreamProcessingMode,
    GuardrailTrace, GuardrailTraceAssessment,
};

use super::errors::from_sdk;
use crate::error::PluginError;

/// The guardrail one call applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Guardrail {
    /// Its ID (`abc123def456`) or ARN, as checked against AWS's pattern.
    pub identifier: String,
    pub version: GuardrailVersion,
    pub trace: Trace,
    /// ConverseStream only: whether chunks wait for the guardrail's scan.
    pub stream_mode: StreamMode,
}

/// A published version, or the working draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GuardrailVersion {
    Draft,
    /// 1 to 99999999 (AWS: `[1-9][0-9]{0,7}`).
    Number(u32),
}

impl fmt::Display for GuardrailVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardrailVersion::Draft => f.write_str("DRAFT"),
            GuardrailVersion::Number(n) => write!(f, "{n}"),
        }
    }
}

/// Whether the answer carries the guardrail's assessments (`trace`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Trace {
    #[default]
    Disabled,
    Enabled,
    /// Also the assessments of filters that did not fire.
    EnabledFull,
}

impl Trace {
    /// The values AWS takes, as the form and the model parameters offer them.
    pub(crate) const NAMES: &'static [&'static str] = &["disabled", "enabled", "enabled_full"];

    pub(crate) fn parse(s: &str) -> Option<Trace> {
        match s {
            "disabled" => Some(Trace::Disabled),
            "enabled" => Some(Trace::Enabled),
            "enabled_full" => Some(Trace::EnabledFull),
            _ => None,
        }
    }

    fn to_sdk(self) -> GuardrailTrace {
        match self {
            Trace::Disabled => GuardrailTrace::Disabled,
            Trace::Enabled => GuardrailTrace::Enabled,
            Trace::EnabledFull => GuardrailTrace::EnabledFull,
        }
    }
}

/// How ConverseStream applies the guardrail: `sync` holds chunks until they are scanned,
/// `async` sends them at once and scans in the background (no masking of sensitive
/// information then, AWS warns).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum StreamMode {
    #[default]
    Sync,
    Async,
}

impl StreamMode {
    pub(crate) const NAMES: &'static [&'static str] = &["sync", "async"];

    pub(crate) fn parse(s: &str) -> Option<StreamMode> {
        match s {
            "sync" => Some(StreamMode::Sync),
            "async" => Some(StreamMode::Async),
            _ => None,
        }
    }

    fn to_sdk(self) -> GuardrailStreamProcessingMode {
        match self {
            StreamMode::Sync => GuardrailStreamProcessingMode::Sync,
            StreamMode::Async => GuardrailStreamProcessingMode::Async,
        }
    }
}

impl Guardrail {
    /// Converse's `guardrailConfig`.
    pub(crate) fn converse(&self) -> GuardrailConfiguration {
        GuardrailConfiguration::builder()
            .guardrail_identifier(&self.identifier)
            .guardrail_version(self.version.to_string())
            .trace(self.trace.to_sdk())
            .build()
    }

    /// ConverseStream's `guardrailConfig`.
    pub(crate) fn stream(&self) -> GuardrailStreamConfiguration {
        GuardrailStreamConfiguration::builder()
            .guardrail_identifier(&self.identifier)
            .guardrail_version(self.version.to_string())
            .trace(self.trace.to_sdk())
            .stream_processing_mode(self.stream_mode.to_sdk())
            .build()
    }

    /// How messages name it: `abc123def456 (version DRAFT)`.
    pub(crate) fn describe(&self) -> String {
        format!("{} (version {})", self.identifier, self.version)
    }
}

/// What GetGuardrail told about a guardrail version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GuardrailInfo {
    pub name: String,
    pub arn: String,
    pub version: String,
    /// `READY`, or `CREATING`, `UPDATING`, `VERSIONING`, `FAILED`, `DELETING`.
    pub status: String,
}

impl GuardrailInfo {
    pub(crate) fn is_ready(&self) -> bool {
        self.status == "READY"
    }
}

/// GetGuardrail through `control` (whose endpoint is `host`).
pub(crate) async fn get(
    control: &aws_sdk_bedrock::Client,
    host: &str,
    guardrail: &Guardrail,
) -> Result<GuardrailInfo, PluginError> {
    // Without a version GetGuardrail answers for the working draft, which is what DRAFT
    // names; leaving it out keeps to the form AWS documents for the draft.
    let version = match guardrail.version {
        GuardrailVersion::Draft => None,
        GuardrailVersion::Number(n) => Some(n.to_string()),
    };
    let out = control
        .get_guardrail()
        .guardrail_identifier(&guardrail.identifier)
        .set_guardrail_version(version)
        .send()
        .await
        .map_err(|e| from_sdk(e, host))?;
    Ok(GuardrailInfo {
        name: out.name().to_string(),
        arn: out.guardrail_arn().to_string(),
        version: out.version().to_string(),
        status: out.status().as_str().to_string(),
    })
}

/// Logs a guardrail's assessments. Debug level only: a trace can quote the prompt and the
/// answer, which do not belong in an operator's logs by default, nor in any error.
pub(crate) fn log_trace(trace: &GuardrailTraceAssessment) {
    tracing::debug!(
        action_reason = trace.action_reason().unwrap_or(""),
        input = ?trace.input_assessment(),
        output = ?trace.output_assessments(),
        "guardrail assessment"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guardrail() -> Guardrail {
        Guardrail {
            identifier: "abc123".into(),
            version: GuardrailVersion::Number(3),
            trace: Trace::EnabledFull,
            stream_mode: StreamMode::Async,
        }
    }

    #[test]
    fn each_operation_gets_its_own_shape() {
        let g = guardrail();
        let c = g.converse();
        assert_eq!(
            (c.guardrail_identifier(), c.guardrail_version(), c.trace()),
            ("abc123", "3", &GuardrailTrace::EnabledFull)
        );
        let s = g.stream();
        assert_eq!(s.guardrail_version(), "3");
        assert_eq!(
            s.stream_processing_mode(),
            &GuardrailStreamProcessingMode::Async
        );
        assert_eq!(g.describe(), "abc123 (version 3)");
        assert_eq!(GuardrailVersion::Draft.to_string(), "DRAFT");
    }

    #[test]
    fn names_parse_back() {
        for name in Trace::NAMES {
            assert!(Trace::parse(name).is_some(), "{name}");
        }
        for name in StreamMode::NAMES {
            assert!(StreamMode::parse(name).is_some(), "{name}");
        }
        assert_eq!(Trace::parse("full"), None);
        assert_eq!(StreamMode::parse("SYNC"), None);
    }
}
