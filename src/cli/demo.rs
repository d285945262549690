//! `authtap demo` (to be written).

use std::process::ExitCode;

/// Arguments of `authtap demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `authtap demo`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("`authtap demo` is not implemented yet")
}
