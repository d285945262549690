//! `authtap export` (to be written).

use std::process::ExitCode;

/// Arguments of `authtap export`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `authtap export`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("`authtap export` is not implemented yet")
}
