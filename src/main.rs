//! The `dify-bedrock` command: serves Dify's plugin protocol (the mode chosen by
//! INSTALL_METHOD, as the daemon and the Python SDK do).

use std::process::ExitCode;

const USAGE: &str = "\
dify-bedrock — the Amazon Bedrock model provider for Dify

USAGE:
    dify-bedrock [serve]     serve the plugin protocol; the mode comes from INSTALL_METHOD
                             (local: stdin/stdout, as the Dify plugin daemon runs it)
    dify-bedrock package     build the installable .difypkg
    dify-bedrock check --region R [--model M]
                             validate AWS credentials as Dify does (see check --help)
    dify-bedrock --version
    dify-bedrock --help

ENVIRONMENT (or a .env file in the working directory):
    INSTALL_METHOD        local (default)
    HEARTBEAT_INTERVAL    seconds between heartbeats (10)
    MAX_WORKER            requests served at once (1000)
    RUST_LOG              log level and filters (info)
";

fn main() -> ExitCode {
    // Read first, so a parent that dies during start-up is still noticed.
    let parent = std::os::unix::process::parent_id();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("serve") => dify_bedrock::serve::run(parent),
        Some("package") => dify_bedrock::package::run(&args[1..]),
        Some("check") => dify_bedrock::check::run(&args[1..]),
        Some("--version" | "-V" | "version") => {
            println!("dify-bedrock {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("--help" | "-h" | "help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("dify-bedrock: unknown command {other:?}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
