//! `authtap export`: a trace (JSONL or HAR) to HAR 1.2, Markdown and HTML, redacted by default.

use std::path::PathBuf;
use std::process::ExitCode;

use authtap::export::{ExportOptions, Target};
use authtap::trace::load::export_trace;

/// Arguments of `authtap export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace: an authtap JSONL trace, or a HAR file (Chrome DevTools, mitmproxy, authtap).
    pub trace: PathBuf,
    /// Write the HAR 1.2 file here. Without any format flag, all three formats are written
    /// next to the trace (TRACE.har, TRACE.md, TRACE.html).
    #[arg(long, value_name = "FILE")]
    pub har: Option<PathBuf>,
    /// Write the Markdown issue report here.
    #[arg(long, value_name = "FILE")]
    pub md: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Attach `ofid_…` error references (from Claude's error card); repeatable.
    #[arg(long = "ofid", value_name = "ID", num_args = 1..)]
    pub ofid: Vec<String>,
    /// Do NOT redact secrets. The exports will contain live tokens, codes and cookies.
    #[arg(long)]
    pub no_redact: bool,
    /// Keep binary bodies (as base64) in redacted exports instead of a placeholder. Binary
    /// bytes cannot be scanned for secrets: check them before sharing.
    #[arg(long)]
    pub keep_binary: bool,
}

fn target(path: Option<PathBuf>, any: bool) -> Target {
    match path {
        Some(p) => Target::Path(p),
        None if any => Target::Skip,
        None => Target::Beside,
    }
}

/// Runs `authtap export`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let any = args.har.is_some() || args.md.is_some() || args.html.is_some();
    if args.no_redact {
        eprintln!(
            "authtap: WARNING: --no-redact: the exports will contain live credentials \
             (tokens, codes, client secrets, cookies). Do not share them."
        );
    }
    let opts = ExportOptions {
        redact: !args.no_redact,
        keep_binary: args.keep_binary,
        ofids: args.ofid,
        har: target(args.har, any),
        markdown: target(args.md, any),
        html: target(args.html, any),
        ..ExportOptions::default()
    };
    let written = export_trace(&args.trace, &opts)?;
    let note = if opts.redact {
        "redacted"
    } else {
        "NOT redacted"
    };
    for path in written.paths() {
        println!("{} ({note})", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
