//! The `dify-bedrock` command: serves Dify's plugin protocol (the mode chosen by
//! INSTALL_METHOD, as the daemon and the Python SDK do), and the tools around it.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dify_bedrock::check::CheckArgs;
use dify_bedrock::models::ModelsArgs;
use dify_bedrock::package::PackageArgs;
use dify_bedrock::serve::ServeArgs;

const ENVIRONMENT: &str = "\
Environment (or a .env file in the working directory; see .env.example):
  INSTALL_METHOD      local (default), remote or serverless
  REMOTE_INSTALL_URL  remote: the daemon's debugging address, host:port
  REMOTE_INSTALL_KEY  remote: the debugging key Dify shows
  SERVERLESS_HOST     serverless: address to listen on (0.0.0.0)
  SERVERLESS_PORT     serverless: port to listen on (8080)
  HEARTBEAT_INTERVAL  seconds between heartbeats (10, at most 30)
  MAX_WORKER          requests served at once (1000)
  MAX_REQUEST_TIMEOUT seconds a request may stay silent (300)
  RUST_LOG            log level and filters (info)";

/// dify-bedrock — the Amazon Bedrock model provider for Dify
#[derive(Parser)]
#[command(name = "dify-bedrock", version, after_help = ENVIRONMENT)]
struct Cli {
    // None: serve the plugin protocol, as the daemon runs it (no arguments).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the plugin protocol (the default); the mode comes from INSTALL_METHOD
    ///
    /// Serve the plugin protocol; the mode comes from INSTALL_METHOD or --install-method:
    /// local (stdin/stdout, as the Dify plugin daemon runs an installed plugin), remote
    /// (TCP to Dify's remote-debugging port) or serverless (an HTTP server).
    Serve(ServeArgs),
    Package(PackageArgs),
    Check(CheckArgs),
    Models(ModelsArgs),
    /// `dify-bedrock version`, as `--version` (kept from the hand-written parser).
    #[command(hide = true)]
    Version,
}

/// jemalloc as the allocator, with its settings, read at its first allocation: one
/// background thread returns pages unused for a second to the system, so memory falls
/// back near idle once a burst of streams ends, even when no further allocation happens.
#[cfg(feature = "jemalloc")]
mod allocator {
    #[global_allocator]
    static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

    #[repr(transparent)]
    pub struct MallocConf(*const std::ffi::c_char);
    // SAFETY: a pointer to a static, immutable C string.
    unsafe impl Sync for MallocConf {}

    #[unsafe(export_name = "_rjem_malloc_conf")]
    pub static MALLOC_CONF: MallocConf = MallocConf(
        c"background_thread:true,max_background_threads:1,dirty_decay_ms:1000,muzzy_decay_ms:0"
            .as_ptr(),
    );
}

fn main() -> ExitCode {
    // Read first, so a parent that dies during start-up is still noticed.
    let parent = std::os::unix::process::parent_id();
    match Cli::parse().command {
        None => dify_bedrock::serve::run(ServeArgs::default(), parent),
        Some(Command::Serve(args)) => dify_bedrock::serve::run(args, parent),
        Some(Command::Package(args)) => dify_bedrock::package::run(args),
        Some(Command::Check(args)) => dify_bedrock::check::run(args),
        Some(Command::Models(args)) => dify_bedrock::models::run(args),
        Some(Command::Version) => {
            println!("dify-bedrock {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}
