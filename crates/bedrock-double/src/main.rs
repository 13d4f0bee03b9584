//! The standalone `bedrock-double` binary: runs the double until Ctrl-C and
//! prints its URL on stdout once it is listening, so scripts can start it and
//! read where to point their clients.

use bedrock_double::{ApiKey, Double, DoubleConfig, KeyPair};
use std::io::Write;
use std::process::ExitCode;

const USAGE: &str =
    "usage: bedrock-double [--port N] [--access-key AK --secret-key SK [--session-token T]] \
[--api-key KEY] [--api-key-region REGION] [--log FILE]

Defaults: a free port; the built-in test credentials (see the crate README) are always accepted.";

fn parse(args: &[String]) -> Result<DoubleConfig, String> {
    let mut config = DoubleConfig::default();
    let (mut ak, mut sk, mut token, mut api_key) = (None, None, None, None);
    let mut api_region = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--port" => {
                let v = value()?;
                config.port = v.parse().map_err(|_| format!("invalid port: {v}"))?;
            }
            "--access-key" => ak = Some(value()?),
            "--secret-key" => sk = Some(value()?),
            "--session-token" => token = Some(value()?),
            "--api-key" => api_key = Some(value()?),
            "--api-key-region" => api_region = Some(value()?),
            "--log" => config.log_path = Some(value()?.into()),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument: {other}\n{USAGE}")),
        }
    }
    match (ak, sk) {
        (Some(ak), Some(sk)) => {
            let mut pair = KeyPair::new(&ak, &sk);
            pair.session_token = token;
            config = config.with_key_pair(pair);
        }
        (None, None) => {}
        _ => return Err("--access-key and --secret-key go together".into()),
    }
    if let Some(key) = api_key {
        let mut k = ApiKey::new("cli", &key);
        if let Some(r) = api_region {
            k = k.in_region(&r);
        }
        config = config.with_api_key(k);
    }
    Ok(config)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let double = match Double::start(config) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bedrock-double: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", double.url());
    let _ = out.flush();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bedrock-double: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _ = rt.block_on(tokio::signal::ctrl_c());
    double.shutdown();
    ExitCode::SUCCESS
}
