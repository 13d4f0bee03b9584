//! `dify-bedrock check`: the credential validation Dify runs when settings are saved, for
//! users and operators outside Dify — same probe, same verdict and message, exit 0 or 1.
//! Its AWS options (`AwsArgs`) and start-up are shared with `dify-bedrock models`.

use std::process::ExitCode;

use serde_json::{Map, Value};

use crate::actions::{AppState, validate};
use crate::declaration::{Catalog, ModelType};
use crate::settings::Settings;

/// Help headings of `check --help` and `models --help`.
const CREDENTIALS: &str = "Credentials (default: the usual AWS environment)";
const NETWORK: &str = "Network";
const GUARDRAIL: &str = "Guardrail";

/// Validate AWS credentials as Dify does
///
/// Probes Amazon Bedrock as the Dify plugin does when its settings are saved, and prints
/// the verdict. Credentials come from the usual AWS environment (environment variables,
/// shared profiles, SSO, web identity, container or instance roles), or from the options.
#[derive(Debug, clap::Args)]
// A repeated option takes its last value, as with the hand-written parser before.
#[command(
    args_override_self = true,
    after_help = "Exit status: 0 when the credentials work, 1 when they do not, 2 on bad usage."
)]
pub struct CheckArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// The model to probe (default: one this plugin knows in the region)
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// MODEL's type, when it is not one this plugin knows: llm, text-embedding or rerank
    #[arg(long, value_name = "TYPE", value_parser = parse_model_type)]
    model_type: Option<ModelType>,
}

/// The AWS access options of the commands that call AWS (`check`, `models`): the same
/// fields as the provider form, so a command sees what Dify would.
#[derive(Debug, clap::Args)]
pub(crate) struct AwsArgs {
    /// AWS region, e.g. us-east-1
    #[arg(long, value_name = "REGION")]
    region: Option<String>,

    // Credential values are opaque and may start with '-': never taken for an option.
    /// Access key ID, with --secret-key [--session-token]
    #[arg(long, value_name = "ID", allow_hyphen_values = true, help_heading = CREDENTIALS)]
    access_key: Option<String>,
    /// Secret access key
    #[arg(long, value_name = "SECRET", allow_hyphen_values = true, help_heading = CREDENTIALS)]
    secret_key: Option<String>,
    /// Session token of temporary credentials
    #[arg(long, value_name = "TOKEN", allow_hyphen_values = true, help_heading = CREDENTIALS)]
    session_token: Option<String>,
    /// Bedrock API key (or AWS_BEARER_TOKEN_BEDROCK in the environment)
    #[arg(long, value_name = "KEY", allow_hyphen_values = true, help_heading = CREDENTIALS)]
    api_key: Option<String>,
    /// Role to assume with the access key or the environment's credentials
    #[arg(long, value_name = "ARN", help_heading = CREDENTIALS)]
    role_arn: Option<String>,
    /// External ID for --role-arn
    #[arg(long, value_name = "ID", allow_hyphen_values = true, help_heading = CREDENTIALS)]
    external_id: Option<String>,

    /// bedrock-runtime endpoint (VPC endpoint, gateway)
    #[arg(long, value_name = "URL", help_heading = NETWORK)]
    endpoint_url: Option<String>,
    /// Bedrock control-plane endpoint
    #[arg(long, value_name = "URL", help_heading = NETWORK)]
    control_endpoint_url: Option<String>,
    /// bedrock-mantle endpoint (OpenAI GPT-5.x models)
    #[arg(long, value_name = "URL", help_heading = NETWORK)]
    mantle_endpoint_url: Option<String>,
    /// Proxy for the calls to AWS
    #[arg(long, value_name = "URL", help_heading = NETWORK)]
    proxy: Option<String>,

    /// Guardrail ID or ARN: looked up with GetGuardrail and sent with the probe
    #[arg(long, value_name = "ID_OR_ARN", help_heading = GUARDRAIL)]
    guardrail: Option<String>,
    /// The guardrail's version: DRAFT (the default) or a version number
    #[arg(long, value_name = "VERSION", help_heading = GUARDRAIL)]
    guardrail_version: Option<String>,
}

/// A `--model-type` that names no model type.
#[derive(Debug)]
struct UnknownModelType(String);

impl std::fmt::Display for UnknownModelType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown model type {:?}", self.0)
    }
}

impl std::error::Error for UnknownModelType {}

fn parse_model_type(value: &str) -> Result<ModelType, UnknownModelType> {
    ModelType::parse(value).ok_or_else(|| UnknownModelType(value.into()))
}

impl AwsArgs {
    /// `--region`, when given.
    pub(crate) fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The credential form Dify would send for these options; `env_api_key` is
    /// AWS_BEARER_TOKEN_BEDROCK, used when no --api-key is given.
    pub(crate) fn form(&self, env_api_key: Option<String>) -> Map<String, Value> {
        let fields = [
            ("aws_region", &self.region),
            ("aws_access_key_id", &self.access_key),
            ("aws_secret_access_key", &self.secret_key),
            ("aws_session_token", &self.session_token),
            ("bedrock_api_key", &self.api_key),
            ("aws_role_arn", &self.role_arn),
            ("aws_external_id", &self.external_id),
            ("bedrock_endpoint_url", &self.endpoint_url),
            ("bedrock_control_endpoint_url", &self.control_endpoint_url),
            ("bedrock_mantle_endpoint_url", &self.mantle_endpoint_url),
            ("bedrock_proxy_url", &self.proxy),
            ("guardrail_identifier", &self.guardrail),
            ("guardrail_version", &self.guardrail_version),
        ];
        let mut form: Map<String, Value> = fields
            .into_iter()
            .filter_map(|(field, v)| Some((field.to_string(), Value::String(v.clone()?))))
            .collect();
        if !form.contains_key("bedrock_api_key")
            && let Some(key) = env_api_key.filter(|k| !k.is_empty())
        {
            form.insert("bedrock_api_key".into(), Value::String(key));
        }
        let method = if form.contains_key("aws_access_key_id") {
            "Access_Secret_Key"
        } else if form.contains_key("bedrock_api_key") {
            "API_Key"
        } else {
            "IAM_Role"
        };
        form.insert("auth_method".into(), Value::String(method.into()));
        form
    }
}

/// The credential form of the options, with AWS_BEARER_TOKEN_BEDROCK from the environment.
pub(crate) fn form_from_env(aws: &AwsArgs) -> Map<String, Value> {
    aws.form(std::env::var("AWS_BEARER_TOKEN_BEDROCK").ok())
}

/// What a command that calls AWS runs on: the settings' logging and network, the
/// embedded declarations, an async runtime. `Err` is the exit status, after the message
/// (2 when the settings do not load, 1 otherwise).
pub(crate) fn start(command: &str) -> Result<(tokio::runtime::Runtime, AppState), ExitCode> {
    let settings = Settings::load(&[]).map_err(|e| {
        eprintln!("dify-bedrock {command}: {e}");
        ExitCode::from(2)
    })?;
    let catalog = Catalog::embedded().map_err(|e| {
        eprintln!("dify-bedrock {command}: the embedded declarations do not load: {e}");
        ExitCode::FAILURE
    })?;
    crate::logging::init_stderr(settings.log_filter.as_deref());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("dify-bedrock {command}: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        })?;
    Ok((rt, AppState::new(catalog, settings.network)))
}

/// `dify-bedrock check`: exit status 0 when the credentials work, 1 when they do not, 2
/// when the settings do not load.
pub fn run(args: CheckArgs) -> ExitCode {
    let form = form_from_env(&args.aws);
    let CheckArgs {
        model, model_type, ..
    } = args;
    let (rt, state) = match start("check") {
        Ok(started) => started,
        Err(code) => return code,
    };
    let verdict = rt.block_on(validate::check(&state, &form, model.as_deref(), model_type));
    match verdict {
        Ok(probed) => {
            println!("OK: the credentials work ({probed} answered).");
            ExitCode::SUCCESS
        }
        Err(message) => {
            println!("FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use serde_json::json;

    use super::*;

    /// `CheckArgs` as the binary parses them.
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CheckArgs,
    }

    fn parse(args: &[&str]) -> Result<CheckArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("check").chain(args.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn options_map_to_the_credential_form() {
        let a = parse(&[
            "--region",
            "us-east-1",
            "--access-key",
            "AKID",
            "--secret-key",
            "-starts-with-dash",
            "--session-token",
            "T",
            "--role-arn",
            "arn:r",
            "--external-id",
            "X",
            "--endpoint-url",
            "http://e",
            "--control-endpoint-url",
            "http://c",
            "--mantle-endpoint-url",
            "http://m",
            "--proxy",
            "http://p",
            "--guardrail",
            "g1",
            "--guardrail-version",
            "2",
            "--model",
            "m",
            "--model-type",
            "text_embedding",
        ])
        .unwrap();
        assert_eq!(
            (a.model.as_deref(), a.model_type),
            (Some("m"), Some(ModelType::TextEmbedding))
        );
        assert_eq!(
            Value::Object(a.aws.form(Some("E".into()))),
            json!({
                "aws_region": "us-east-1", "aws_access_key_id": "AKID",
                "aws_secret_access_key": "-starts-with-dash", "aws_session_token": "T",
                "aws_role_arn": "arn:r", "aws_external_id": "X",
                "bedrock_endpoint_url": "http://e", "bedrock_control_endpoint_url": "http://c",
                "bedrock_mantle_endpoint_url": "http://m", "bedrock_proxy_url": "http://p", "bedrock_api_key": "E",
                "guardrail_identifier": "g1", "guardrail_version": "2",
                "auth_method": "Access_Secret_Key",
            })
        );
    }

    #[test]
    fn the_api_key_comes_from_the_option_else_the_environment() {
        let a = parse(&["--api-key", "K", "--region", "r"]).unwrap();
        assert_eq!(a.aws.form(Some("E".into()))["bedrock_api_key"], "K");
        assert_eq!(a.aws.form(None)["auth_method"], "API_Key");
        let a = parse(&["--region", "r"]).unwrap();
        assert_eq!(a.aws.form(Some("E".into()))["bedrock_api_key"], "E");
        assert_eq!(a.aws.form(Some("E".into()))["auth_method"], "API_Key");
        assert_eq!(
            Value::Object(a.aws.form(Some(String::new()))),
            json!({"aws_region": "r", "auth_method": "IAM_Role"})
        );
    }

    #[test]
    fn bad_usage_is_refused() {
        let err = |args: &[&str]| parse(args).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(&["--model-type", "video"]).contains("unknown model type \"video\""));
        assert!(err(&["--bogus"]).contains("--bogus"));
        assert!(err(&["--region"]).contains("--region"));
    }
}
