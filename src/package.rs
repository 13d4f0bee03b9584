//! `dify-bedrock package`: builds the installable `.difypkg` (not built yet).

use std::process::ExitCode;

pub fn run(_args: &[String]) -> ExitCode {
    eprintln!("dify-bedrock package: not implemented yet");
    ExitCode::from(2)
}
