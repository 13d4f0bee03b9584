//! `dify-bedrock check`: the credential validation Dify runs when settings are saved, for
//! users and operators outside Dify — same probe, same verdict and message, exit 0 or 1.

use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::actions::{AppState, validate};
use crate::declaration::{Catalog, ModelType};
use crate::settings::Settings;

pub const USAGE: &str = "\
dify-bedrock check --region REGION [--model MODEL] [options]

Probes Amazon Bedrock as the Dify plugin does when its settings are saved, and prints the
verdict. Credentials come from the usual AWS environment (environment variables, shared
profiles, SSO, web identity, container or instance roles), or from the options:
    --access-key ID --secret-key SECRET [--session-token TOKEN]
    --api-key KEY            (or AWS_BEARER_TOKEN_BEDROCK in the environment)
    --role-arn ARN [--external-id ID]
    --endpoint-url URL       bedrock-runtime endpoint (VPC endpoint, gateway)
    --control-endpoint-url URL
    --proxy URL
    --model-type llm|text-embedding|rerank   (when MODEL is not one this plugin knows)
Exit status: 0 when the credentials work, 1 when they do not, 2 on bad usage.";

/// What the command line asks to check.
struct Request {
    /// The credential form's fields.
    form: Map<String, Value>,
    model: Option<String>,
    model_type: Option<ModelType>,
}

/// Maps command-line options to the credential form's fields.
fn parse(args: &[String]) -> Result<Request, String> {
    let mut form = Map::new();
    let mut model = None;
    let mut model_type = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let field = match flag.as_str() {
            "--region" => "aws_region",
            "--access-key" => "aws_access_key_id",
            "--secret-key" => "aws_secret_access_key",
            "--session-token" => "aws_session_token",
            "--api-key" => "bedrock_api_key",
            "--role-arn" => "aws_role_arn",
            "--external-id" => "aws_external_id",
            "--endpoint-url" => "bedrock_endpoint_url",
            "--control-endpoint-url" => "bedrock_control_endpoint_url",
            "--proxy" => "bedrock_proxy_url",
            "--model" => {
                model = Some(value()?);
                continue;
            }
            "--model-type" => {
                let v = value()?;
                model_type =
                    Some(ModelType::parse(&v).ok_or_else(|| format!("unknown model type {v:?}"))?);
                continue;
            }
            other => return Err(format!("unknown option {other:?}")),
        };
        form.insert(field.into(), Value::String(value()?));
    }
    if !form.contains_key("bedrock_api_key")
        && let Ok(key) = std::env::var("AWS_BEARER_TOKEN_BEDROCK")
        && !key.is_empty()
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
    Ok(Request {
        form,
        model,
        model_type,
    })
}

pub fn run(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let Request {
        form,
        model,
        model_type,
    } = match parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dify-bedrock check: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dify-bedrock check: {e}");
            return ExitCode::from(2);
        }
    };
    let catalog = match Catalog::embedded() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dify-bedrock check: the embedded declarations do not load: {e}");
            return ExitCode::FAILURE;
        }
    };
    crate::logging::init_stderr();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dify-bedrock check: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let state = Arc::new(AppState::new(catalog, settings.network));
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
