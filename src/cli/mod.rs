//! Command-line parsing (clap derive) and dispatch: one file per subcommand, each turning its
//! arguments into one library call. Only this module and `main.rs` print or use anyhow.

use std::process::ExitCode;

use authtap::live::{ColorChoice, LiveOptions};
use clap::{Parser, Subcommand};

mod ca;
mod check;
mod demo;
mod export;
mod forward;
mod lint;
mod proxy;
mod recording;
mod rules;
mod run;
mod run_env;

/// authtap — see why an MCP connector's OAuth sign-in fails.
#[derive(Debug, Parser)]
#[command(name = "authtap", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Color the live view: auto (only on a terminal, off with NO_COLOR), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
    /// Print only findings and the summary (no line per exchange).
    #[arg(long, short, global = true)]
    quiet: bool,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

impl From<ColorArg> for ColorChoice {
    fn from(arg: ColorArg) -> Self {
        match arg {
            ColorArg::Auto => ColorChoice::Auto,
            ColorArg::Always => ColorChoice::Always,
            ColorArg::Never => ColorChoice::Never,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the TLS-terminating recording proxy in front of an MCP server.
    Proxy(Box<proxy::Args>),
    /// Run a command (Claude Code, an SDK client, the MCP Inspector…) behind a forward proxy
    /// that records its MCP OAuth flow with nothing rewritten.
    Run(run::Args),
    /// Print (and create if missing) the local CA and how to trust it.
    Ca(ca::Args),
    /// Run the whole job on the embedded reference server (or serve it alone).
    Demo(demo::Args),
    /// Re-run all rules over a recorded trace (JSONL or HAR).
    Lint(lint::Args),
    /// Export a trace as HAR 1.2, Markdown and HTML (redacted by default).
    Export(export::Args),
    /// Probe an MCP server's OAuth setup with no client at all.
    Check(check::Args),
    /// List the rule catalog, or explain one rule (`authtap rules WWWAUTH-MISSING`).
    Rules(rules::Args),
}

/// Parses the command line and runs the chosen subcommand.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    // The local offset is read here, before any thread exists (it cannot be read soundly later).
    let live = LiveOptions {
        color: cli.color.into(),
        quiet: cli.quiet,
        ..LiveOptions::local()
    };
    init_tracing(live.color);
    match cli.command {
        Command::Proxy(args) => proxy::run(*args, live),
        Command::Run(args) => run::run(args, live),
        Command::Ca(args) => ca::run(args),
        Command::Demo(args) => demo::run(args, live),
        Command::Lint(args) => lint::run(args, live),
        Command::Export(args) => export::run(args),
        Command::Check(args) => check::run(args, live),
        Command::Rules(args) => rules::run(args),
    }
}

/// Diagnostics on stderr, filtered by `RUST_LOG` (default `warn`: a normal run prints no
/// log lines; the live view is not logging and shows whatever the level). Colors as `--color`.
fn init_tracing(color: ColorChoice) {
    use std::io::IsTerminal;
    let color = color.enabled(std::io::stderr().is_terminal());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(color)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}
