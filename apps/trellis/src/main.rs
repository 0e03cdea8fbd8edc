//! `trellis`: the one binary. Commands live in `commands.rs`; this file only starts them.

mod commands;
mod demo;

use clap::Parser;
use std::process::ExitCode;

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
