//! The guardrail fields: `guardrail_identifier`, `guardrail_version`, `guardrail_trace`
//! and `guardrail_stream_processing_mode`, on the credential form (the provider's
//! guardrail, for every Converse model) and among an app's model parameters (its own, which
//! wins). Each field is read with one rule and named in its own error; the two sources are
//! then combined into the [`Guardrail`] a call sends.
//!
//! AWS's rules (GuardrailConfiguration): the identifier is an ID `[a-z0-9]+` or an ARN
//! `arn:aws(-…)?:bedrock:<region>:<account>:guardrail/<id>`, at most 2048 characters; the
//! version is `DRAFT` or `[1-9][0-9]{0,7}` and is required. A guardrail named without a
//! version gets `DRAFT` (the working draft, what GetGuardrail also answers for without a
//! version); production guardrails should name a published version.

use serde_json::{Map, Value};

use super::{Fields, FormError, form_err, text};
use crate::bedrock::guardrail::{Guardrail, GuardrailVersion, StreamMode, Trace};
use crate::error::PluginError;

pub(crate) const IDENTIFIER: &str = "guardrail_identifier";
pub(crate) const VERSION: &str = "guardrail_version";
pub(crate) const TRACE: &str = "guardrail_trace";
pub(crate) const STREAM_MODE: &str = "guardrail_stream_processing_mode";

/// Every guardrail field, by its variable name.
pub(crate) const FIELDS: &[&str] = &[IDENTIFIER, VERSION, TRACE, STREAM_MODE];

/// What one source says about the guardrail; `None` where it says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GuardrailSettings {
    pub identifier: Option<String>,
    pub version: Option<GuardrailVersion>,
    pub trace: Option<Trace>,
    pub stream_mode: Option<StreamMode>,
}

/// How a source's fields are named in its messages.
#[derive(Clone, Copy)]
enum Source {
    Form,
    Parameters,
}

impl Source {
    fn name(self, key: &str) -> String {
        let label = match key {
            IDENTIFIER => "Guardrail ID or ARN",
            VERSION => "Guardrail version",
            TRACE => "Guardrail trace",
            _ => "Guardrail stream processing mode",
        };
        match self {
            Source::Form => format!("{label} ({key})"),
            Source::Parameters => format!("Model parameter {key}"),
        }
    }
}

fn parse(
    source: Source,
    get: impl Fn(&str) -> Option<String>,
) -> Result<GuardrailSettings, FormError> {
    let err = |key: &'static str, why: String| form_err(key, format!("{} {why}", source.name(key)));
    let identifier = match get(IDENTIFIER) {
        None => None,
        Some(id) if is_identifier(&id) => Some(id),
        Some(id) => {
            return Err(err(
                IDENTIFIER,
                format!(
                    "{id:?} is not a guardrail ID (lowercase letters and digits, such as abc123def456) or a guardrail ARN (arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123def456): copy it from the Bedrock console (Guardrails)"
                ),
            ));
        }
    };
    let version = match get(VERSION) {
        None => None,
        Some(v) => Some(parse_version(&v).ok_or_else(|| {
            err(
                VERSION,
                format!("must be DRAFT or a published version number (1, 2, …), got {v:?}"),
            )
        })?),
    };
    let trace = match get(TRACE) {
        None => None,
        Some(t) => Some(Trace::parse(&t).ok_or_else(|| {
            err(
                TRACE,
                format!("must be one of {}, got {t:?}", Trace::NAMES.join(", ")),
            )
        })?),
    };
    let stream_mode = match get(STREAM_MODE) {
        None => None,
        Some(m) => Some(StreamMode::parse(&m).ok_or_else(|| {
            err(
                STREAM_MODE,
                format!("must be one of {}, got {m:?}", StreamMode::NAMES.join(", ")),
            )
        })?),
    };
    Ok(GuardrailSettings {
        identifier,
        version,
        trace,
        stream_mode,
    })
}

/// The credential form's guardrail. A version without a guardrail is a mistake the admin
/// can fix at once; a trace or mode without one only repeats the form's defaults.
pub(super) fn parse_form(fields: &Fields) -> Result<GuardrailSettings, FormError> {
    let settings = parse(Source::Form, |k| text(fields, k).map(str::to_string))?;
    if settings.identifier.is_none() && settings.version.is_some() {
        return Err(form_err(
            VERSION,
            format!(
                "{} is set, but no guardrail is named: fill in {}, or clear the version",
                Source::Form.name(VERSION),
                Source::Form.name(IDENTIFIER)
            ),
        ));
    }
    Ok(settings)
}

/// An app's own guardrail, from its checked model parameters.
pub(crate) fn from_parameters(
    parameters: &Map<String, Value>,
) -> Result<GuardrailSettings, PluginError> {
    Ok(parse(Source::Parameters, |k| parameter(parameters, k))?)
}

/// The guardrail parameters an app sets (with a value), by name: models that take no
/// guardrail refuse them.
pub(crate) fn named_in(parameters: &Map<String, Value>) -> Vec<&'static str> {
    FIELDS
        .iter()
        .copied()
        .filter(|k| parameter(parameters, k).is_some())
        .collect()
}

fn parameter(parameters: &Map<String, Value>, key: &str) -> Option<String> {
    let text = match parameters.get(key)? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// The guardrail a call sends: the app's settings over the form's, field by field. An app
/// that names its own guardrail does not inherit the form's version (a version belongs to
/// one guardrail); without one it may pin the provider's guardrail to a version, or change
/// its trace or stream mode. `None`: no guardrail anywhere.
pub(crate) fn combine(
    form: &GuardrailSettings,
    app: &GuardrailSettings,
) -> Result<Option<Guardrail>, PluginError> {
    let (identifier, version) = match (&app.identifier, &form.identifier) {
        (Some(id), _) => (id.clone(), app.version),
        (None, Some(id)) => (id.clone(), app.version.or(form.version)),
        (None, None) if app.version.is_some() => {
            return Err(PluginError::bad_request(format!(
                "Model parameter {VERSION} is set, but no guardrail is named: set {IDENTIFIER} in the app's model parameters or on the provider's settings, or clear the version"
            )));
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(Guardrail {
        identifier,
        version: version.unwrap_or(GuardrailVersion::Draft),
        trace: app.trace.or(form.trace).unwrap_or_default(),
        stream_mode: app.stream_mode.or(form.stream_mode).unwrap_or_default(),
    }))
}

/// AWS: `[a-z0-9]+` or `arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+`,
/// at most 2048 characters.
fn is_identifier(id: &str) -> bool {
    let bare = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    if id.len() > 2048 {
        return false;
    }
    let Some(rest) = id.strip_prefix("arn:") else {
        return bare(id);
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [partition, service, region, account, resource] = parts.as_slice() else {
        return false;
    };
    let partition_ok = *partition == "aws"
        || partition
            .strip_prefix("aws-")
            .is_some_and(|p| !p.is_empty() && !p.contains(':'));
    partition_ok
        && *service == "bedrock"
        && (1..=20).contains(&region.len())
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && resource.strip_prefix("guardrail/").is_some_and(bare)
}

/// `DRAFT` (any case: it is typed by hand) or `[1-9][0-9]{0,7}`.
fn parse_version(v: &str) -> Option<GuardrailVersion> {
    if v.eq_ignore_ascii_case("draft") {
        return Some(GuardrailVersion::Draft);
    }
    let valid =
        (1..=8).contains(&v.len()) && !v.starts_with('0') && v.chars().all(|c| c.is_ascii_digit());
    valid
        .then(|| v.parse().ok().map(GuardrailVersion::Number))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(v: Value) -> Result<GuardrailSettings, FormError> {
        parse_form(&Fields::of(v.as_object().expect("object")))
    }

    fn params(v: Value) -> GuardrailSettings {
        from_parameters(v.as_object().expect("object")).expect("valid parameters")
    }

    #[test]
    fn each_field_has_one_rule_and_its_own_error() {
        let s = form(
            json!({"guardrail_identifier": " gr0abc1 ", "guardrail_version": 12,
            "guardrail_trace": "enabled_full", "guardrail_stream_processing_mode": "async"}),
        )
        .expect("valid");
        assert_eq!(s.identifier.as_deref(), Some("gr0abc1"));
        assert_eq!(s.version, Some(GuardrailVersion::Number(12)));
        assert_eq!(
            (s.trace, s.stream_mode),
            (Some(Trace::EnabledFull), Some(StreamMode::Async))
        );
        assert_eq!(
            form(json!({"guardrail_identifier": "arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:guardrail/gr0abc1", "guardrail_version": "draft"}))
                .expect("ARN").version,
            Some(GuardrailVersion::Draft)
        );
        let cases = [
            (json!({"guardrail_identifier": "My-Guardrail"}), IDENTIFIER),
            (
                json!({"guardrail_identifier": "arn:aws:bedrock:us-east-1:12345:guardrail/x"}),
                IDENTIFIER,
            ),
            (
                json!({"guardrail_identifier": "arn:aws:s3:us-east-1:123456789012:guardrail/x"}),
                IDENTIFIER,
            ),
            (
                json!({"guardrail_identifier": "gr0abc1", "guardrail_version": "v2"}),
                VERSION,
            ),
            (
                json!({"guardrail_identifier": "gr0abc1", "guardrail_version": 0}),
                VERSION,
            ),
            (
                json!({"guardrail_identifier": "gr0abc1", "guardrail_version": "123456789"}),
                VERSION,
            ),
            (
                json!({"guardrail_identifier": "gr0abc1", "guardrail_version": "1.5"}),
                VERSION,
            ),
            (
                json!({"guardrail_identifier": "gr0abc1", "guardrail_trace": "on"}),
                TRACE,
            ),
            (
                json!({"guardrail_identifier": "gr0abc1", "guardrail_stream_processing_mode": "later"}),
                STREAM_MODE,
            ),
            (json!({"guardrail_version": "2"}), VERSION),
        ];
        for (fields, field) in cases {
            let e = form(fields.clone()).expect_err(&fields.to_string());
            assert_eq!(e.field, field, "{fields}: {e}");
            assert!(e.message.contains(field), "{fields}: {e}");
        }
        // The form's defaults for trace and mode alone name no guardrail.
        assert_eq!(
            form(
                json!({"guardrail_trace": "disabled", "guardrail_stream_processing_mode": "sync"})
            )
            .expect("defaults")
            .identifier,
            None
        );
    }

    #[test]
    fn an_apps_parameters_win_field_by_field() {
        let provider = form(
            json!({"guardrail_identifier": "provider1", "guardrail_version": "4",
            "guardrail_trace": "enabled"}),
        )
        .expect("form");
        let g = combine(&provider, &GuardrailSettings::default())
            .expect("ok")
            .expect("the provider's");
        assert_eq!(
            (g.identifier.as_str(), g.version, g.trace, g.stream_mode),
            (
                "provider1",
                GuardrailVersion::Number(4),
                Trace::Enabled,
                StreamMode::Sync
            )
        );
        // Its own guardrail: the provider's version does not follow it.
        let own = params(json!({"guardrail_identifier": "app1",
            "guardrail_stream_processing_mode": "async"}));
        let g = combine(&provider, &own).expect("ok").expect("the app's");
        assert_eq!(
            (g.identifier.as_str(), g.version, g.trace, g.stream_mode),
            (
                "app1",
                GuardrailVersion::Draft,
                Trace::Enabled,
                StreamMode::Async
            )
        );
        // The provider's guardrail, pinned to another version.
        let pinned = params(json!({"guardrail_version": "7", "guardrail_trace": "disabled"}));
        let g = combine(&provider, &pinned).expect("ok").expect("pinned");
        assert_eq!(
            (g.identifier.as_str(), g.version, g.trace),
            ("provider1", GuardrailVersion::Number(7), Trace::Disabled)
        );
        let none = GuardrailSettings::default();
        assert_eq!(combine(&none, &none).expect("ok"), None);
        assert_eq!(
            combine(&none, &params(json!({"guardrail_trace": "enabled"}))).expect("ok"),
            None
        );
        let e = combine(&none, &params(json!({"guardrail_version": "2"}))).expect_err("orphan");
        assert!(e.message.contains("guardrail_identifier"), "{e}");
        let e = from_parameters(
            json!({"guardrail_version": "latest"})
                .as_object()
                .expect("object"),
        )
        .expect_err("bad version");
        assert!(
            e.message
                .starts_with("Model parameter guardrail_version must be DRAFT"),
            "{e}"
        );
        assert_eq!(
            named_in(
                json!({"guardrail_identifier": "x", "guardrail_trace": "", "temperature": 1})
                    .as_object()
                    .expect("object")
            ),
            [IDENTIFIER]
        );
    }
}
