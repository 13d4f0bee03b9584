//! `dify-bedrock models`: a terminal view of what an AWS account can call from a region,
//! so an admin knows before building an app. The foundation models and system inference
//! profiles the credentials see, marked against this plugin's catalogue and the account's
//! model access, then the catalogue models the account cannot reach; as tables or JSON.

use std::process::ExitCode;

use crate::actions::account::{self, Enabled, Failure, Kind, Listing, Route, Row};
use crate::check::{self, AwsArgs};
use crate::declaration::ModelType;

/// List the Bedrock models the credentials can call
///
/// Lists the foundation models and system inference profiles the credentials can see
/// from the region (the control plane's ListFoundationModels and ListInferenceProfiles),
/// marks which are in this plugin's catalogue and which the account may invoke
/// (GetFoundationModelAvailability), and names the catalogue models the account cannot
/// reach from there, with why. The marks are information: nothing is refused for them.
/// Credentials come from the usual AWS environment, or from the options, as for `check`.
#[derive(Debug, clap::Args)]
// A repeated option takes its last value, as for `check`.
#[command(
    args_override_self = true,
    after_help = "Exit status: 0 with the listing, 1 when AWS refuses or cannot be reached, 2 on bad usage."
)]
pub struct ModelsArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// Only models of this type
    #[arg(long = "type", value_name = "TYPE", value_enum)]
    model_type: Option<TypeFilter>,
    /// Print the listing as JSON
    #[arg(long)]
    json: bool,
}

/// The model types `--type` takes: those this plugin serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TypeFilter {
    Llm,
    TextEmbedding,
    Rerank,
}

impl TypeFilter {
    fn model_type(self) -> ModelType {
        match self {
            TypeFilter::Llm => ModelType::Llm,
            TypeFilter::TextEmbedding => ModelType::TextEmbedding,
            TypeFilter::Rerank => ModelType::Rerank,
        }
    }
}

/// `dify-bedrock models`: exit status 0 with the listing, 1 when AWS refuses, 2 on bad
/// usage (no region, options that make no usable access, settings that do not load).
pub fn run(args: ModelsArgs) -> ExitCode {
    if args.aws.region().is_none() {
        eprintln!(
            "dify-bedrock models: --region is required: the AWS region to list, e.g. us-east-1"
        );
        return ExitCode::from(2);
    }
    let form = check::form_from_env(&args.aws);
    let only: Vec<ModelType> = args
        .model_type
        .map(TypeFilter::model_type)
        .into_iter()
        .collect();
    let (rt, state) = match check::start("models") {
        Ok(started) => started,
        Err(code) => return code,
    };
    match rt.block_on(account::list(&state, &form, &only)) {
        Ok(listing) => {
            if args.json {
                match serde_json::to_string_pretty(&listing) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("dify-bedrock models: the listing does not serialise: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{}", render(&listing));
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(message)) => {
            eprintln!("dify-bedrock models: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Refused(message)) => {
            if args.json {
                println!("{}", serde_json::json!({ "error": message }));
            } else {
                println!("FAILED: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The listing as text: one table per model type, then the catalogue's gaps.
fn render(listing: &Listing) -> String {
    let region = &listing.region;
    let mut out = format!("Amazon Bedrock models the credentials can see from {region}\n");
    if listing.models.is_empty() {
        out.push_str("\nNo model of the types asked for.\n");
    }
    for kind in [Kind::Llm, Kind::TextEmbedding, Kind::Rerank, Kind::Other] {
        let rows: Vec<&Row> = listing.models.iter().filter(|r| r.kind == kind).collect();
        if rows.is_empty() {
            continue;
        }
        let title = match kind {
            Kind::Other => "other (image, video, speech: not served by this plugin)",
            k => k.as_str(),
        };
        let count = match rows.len() {
            1 => "1 model".to_string(),
            n => format!("{n} models"),
        };
        out.push_str(&format!("\n{title}: {count}\n"));
        let mut table = vec![[
            "MODEL ID".to_string(),
            "NAME (PROVIDER)".into(),
            "ROUTE".into(),
            "PROFILES".into(),
            "CATALOGUE".into(),
            "ENABLED".into(),
        ]];
        table.extend(rows.iter().map(|r| cells(r, region)));
        out.push_str(&columns(&table));
        let notes: Vec<String> = rows
            .iter()
            .filter_map(|r| {
                let why = r.enabled_why.as_deref()?;
                let mark = enabled_text(r.enabled);
                Some(format!("  {}: enabled {mark}: {why}\n", r.model_id))
            })
            .collect();
        for note in notes {
            out.push_str(&note);
        }
    }
    if let Some(note) = &listing.availability_note {
        out.push_str(&format!("\nEnabled is unknown for every model: {note}\n"));
    }
    if !listing.unreachable.is_empty() {
        out.push_str(&format!(
            "\nCatalogue models this account cannot reach from {region}: {}\n",
            listing.unreachable.len()
        ));
        for u in &listing.unreachable {
            out.push_str(&format!(
                "  {} ({}, {}): {}\n",
                u.model_id,
                u.label,
                u.kind.as_str(),
                u.why
            ));
        }
    }
    if !listing.unchecked.is_empty() {
        out.push_str("\nCatalogue models not checked here:\n");
        for u in &listing.unchecked {
            out.push_str(&format!("  {} ({}): {}\n", u.model_id, u.label, u.why));
        }
    }
    out
}

fn cells(r: &Row, region: &str) -> [String; 6] {
    let mut name = match (&r.name, &r.provider) {
        (Some(n), Some(p)) => format!("{n} ({p})"),
        (Some(n), None) => n.clone(),
        (None, Some(p)) => format!("({p})"),
        (None, None) => String::new(),
    };
    if r.lifecycle.as_deref() == Some("LEGACY") {
        name.push_str(" [legacy]");
    }
    let mut route = match r.route {
        Route::InRegion => "in-Region".to_string(),
        Route::ProfileOnly => "profile only".into(),
        Route::ProvisionedOnly => "provisioned only".into(),
        Route::None => "none".into(),
    };
    if !r.listed {
        route.push_str(&format!(", not listed in {region}"));
    }
    let profiles = if r.profiles.is_empty() {
        "-".to_string()
    } else {
        r.profiles
            .iter()
            .map(|p| p.prefix.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let catalogue = match &r.catalogue {
        None => "no".to_string(),
        Some(c) if !c.choices.is_empty() => {
            let choices: Vec<String> = c
                .choices
                .iter()
                .map(|ch| match ch.id.strip_suffix(r.model_id.as_str()) {
                    // "geographic" names no prefix: say which one it is here.
                    Some(prefix) if !prefix.is_empty() && ch.option == "geographic" => {
                        format!("geographic ({})", prefix.trim_end_matches('.'))
                    }
                    _ => ch.option.clone(),
                })
                .collect();
            format!("yes: {}", choices.join(", "))
        }
        // No Cross-region inference choice works (or the model has none): the plugin
        // calls its one default id.
        Some(c) => match c.calls.as_deref() {
            Some(id) if id != r.model_id => format!("yes: calls {id}"),
            Some(_) => "yes".to_string(),
            None => "yes: no route from here".to_string(),
        },
    };
    [
        r.model_id.clone(),
        name,
        route,
        profiles,
        catalogue,
        enabled_text(r.enabled).to_string(),
    ]
}

fn enabled_text(e: Enabled) -> &'static str {
    match e {
        Enabled::Yes => "yes",
        Enabled::No => "no",
        Enabled::Unknown => "unknown",
    }
}

/// Rows as left-aligned columns two spaces apart; the last column is not padded.
fn columns(rows: &[[String; 6]]) -> String {
    let mut widths = [0usize; 6];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            } else {
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `ModelsArgs` as the binary parses them.
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ModelsArgs,
    }

    fn parse(args: &[&str]) -> Result<ModelsArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("models").chain(args.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn options_are_checks_and_the_filters() {
        let a = parse(&[
            "--region",
            "eu-west-1",
            "--api-key",
            "-K",
            "--control-endpoint-url",
            "http://c",
            "--type",
            "text-embedding",
            "--json",
        ])
        .expect("parses");
        assert_eq!(a.model_type, Some(TypeFilter::TextEmbedding));
        assert!(a.json);
        let form = a.aws.form(None);
        assert_eq!(form["bedrock_api_key"], "-K");
        assert_eq!(form["auth_method"], "API_Key");
        assert_eq!(form["bedrock_control_endpoint_url"], "http://c");
        let err = parse(&["--type", "tts"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("'tts'") && err.contains("llm, text-embedding, rerank"),
            "{err}"
        );
    }

    #[test]
    fn columns_line_up() {
        let row = |a: &str, b: &str| [a, b, "c", "d", "e", "f"].map(str::to_string);
        assert_eq!(
            columns(&[row("MODEL", "N"), row("m", "name")]),
            "MODEL  N     c  d  e  f\nm      name  c  d  e  f\n"
        );
    }
}
