//! `trellis`: the one binary. Commands live in `commands.rs`; this file only starts them.

mod commands;
mod demo;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc rather than the system allocator: pages allocate and free many small values, and
/// glibc's malloc was a sixth of a learner page's CPU time (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    trellis_integrations::oidc::install_crypto_provider();
    let cli = commands::Cli::parse();
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
