//! `authtap check MCP_URL [--client …] [--register] [--login] [--origin …]
//! [--format text|json|junit|sarif] [--fail-on error|warning] [--trace FILE] [--upstream-ca F]`:
//! probes a server's OAuth setup directly (or through the proxy `HTTPS_PROXY`/`HTTP_PROXY`
//! name, as curl would), as the chosen client would, and prints a checklist.
//! Exit 0 when nothing reaches the `--fail-on` level (default: error), 1 when something does,
//! 2 when the check itself could not run.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc::UnboundedReceiver;

use authtap::check::{self, CheckConfig, CheckProfile, Opener, render};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A checklist with findings and fixes (each exchange live on stderr).
    Text,
    /// One JSON document: steps, findings, verdict, trace path.
    Json,
    /// JUnit XML: one testcase per step, failures for error findings.
    Junit,
    /// SARIF 2.1.0 for code-scanning dashboards: one result per finding.
    Sarif,
}

/// The lowest severity that makes the check exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Exit 1 on a failed step (an error finding, or a step the client could not complete).
    Error,
    /// Also exit 1 on warnings.
    Warning,
}

/// Arguments of `authtap check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The MCP server URL, as you would give it to a client.
    pub mcp_url: String,
    /// The client to behave like: generic, claude-ai, claude-code, inspector.
    #[arg(long, default_value = "generic")]
    pub client: String,
    /// Also perform dynamic client registration (creates a client on the server).
    #[arg(long)]
    pub register: bool,
    /// Sign in for real in your browser, then call initialize and tools/list with the token.
    #[arg(long)]
    pub login: bool,
    /// With --login: call this tool after tools/list.
    #[arg(long, value_name = "NAME", requires = "login")]
    pub call_tool: Option<String>,
    /// Arguments for --call-tool, as a JSON object.
    #[arg(
        long,
        value_name = "JSON",
        requires = "call_tool",
        default_value = "{}"
    )]
    pub tool_args: String,
    /// Behave as a browser client with this Origin (CORS preflights).
    #[arg(long)]
    pub origin: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Exit 1 from this level on (for CI): `error` (default) or `warning`.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Where to write the JSONL trace (default: authtap-check-<time>.jsonl here). An existing
    /// file is never overwritten: the check refuses to run.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Trust this extra CA (PEM) besides the public roots (default: the bundle `SSL_CERT_FILE`
    /// names, when set — as under `authtap run`).
    #[arg(long, value_name = "F", env = "SSL_CERT_FILE")]
    pub upstream_ca: Option<PathBuf>,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// With --login: seconds to wait for the browser to come back.
    #[arg(long, default_value_t = 300)]
    pub login_timeout: u64,
    /// With --login: do not open a browser, only print the URL.
    #[arg(long)]
    pub no_browser: bool,
}

/// Runs `authtap check`; errors before the check ran exit with 2 (via `main`).
pub fn run(args: Args, live: authtap::live::LiveOptions) -> anyhow::Result<ExitCode> {
    let (config, notice_rx) = check_config(&args, live)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let report = runtime.block_on(async move {
        let printer = tokio::spawn(async move {
            // Login prompts go to stderr whatever the format: the user must see them.
            let mut notice_rx = notice_rx;
            while let Some(line) = notice_rx.recv().await {
                eprintln!("authtap: {line}");
            }
        });
        let report = check::run(config).await;
        // The senders are gone once the check returns; let the last lines out.
        let _ = tokio::time::timeout(Duration::from_millis(500), printer).await;
        report
    })?;
    print_report(&report, args.format)?;
    if report.trace_write_errors > 0 {
        anyhow::bail!(
            "{} trace line(s) could not be written to {}; the trace is incomplete",
            report.trace_write_errors,
            report.trace.display()
        );
    }
    let threshold = match args.fail_on {
        FailOn::Error => check::StepStatus::Fail,
        FailOn::Warning => check::StepStatus::Warn,
    };
    Ok(if report.verdict.status >= threshold {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The check's configuration from the arguments, and the receiver of the lines the check has
/// for the user while it runs.
fn check_config(
    args: &Args,
    live: authtap::live::LiveOptions,
) -> anyhow::Result<(CheckConfig, UnboundedReceiver<String>)> {
    let profile = CheckProfile::by_name(&args.client)?;
    check::parse_mcp_url(&args.mcp_url)?;
    let call_tool = tool_call(args)?;
    let trace = args
        .trace
        .clone()
        .unwrap_or_else(|| default_trace_path(time::OffsetDateTime::now_utc()));
    let mut config = CheckConfig::new(args.mcp_url.clone(), profile, trace);
    config.origin = args.origin.clone();
    config.register = args.register;
    config.login = args.login;
    config.call_tool = call_tool;
    config.ca_pem = args.upstream_ca.clone();
    // Like curl and the SDK clients: HTTPS_PROXY/HTTP_PROXY/NO_PROXY decide the route.
    config.route = authtap::client::Route::EnvironmentProxy;
    config.timeout = Duration::from_secs(args.timeout.max(1));
    config.login_wait = Duration::from_secs(args.login_timeout.max(1));
    config.opener = if args.no_browser {
        Opener::PrintOnly
    } else {
        Opener::System
    };
    let (notice_tx, notice_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    config.notices = Some(notice_tx);
    // The checklist goes to stdout; the live view of each exchange to stderr, in text mode.
    if args.format == OutputFormat::Text {
        config.live = Some(authtap::live::LiveOptions {
            stream: authtap::live::Stream::Stderr,
            ..live
        });
    }
    Ok((config, notice_rx))
}

/// The tool `--call-tool` names with its `--tool-args` (a JSON object), if any.
fn tool_call(args: &Args) -> anyhow::Result<Option<(String, serde_json::Value)>> {
    let Some(name) = &args.call_tool else {
        return Ok(None);
    };
    let value: serde_json::Value =
        serde_json::from_str(&args.tool_args).context("--tool-args must be a JSON object")?;
    anyhow::ensure!(value.is_object(), "--tool-args must be a JSON object");
    Ok(Some((name.clone(), value)))
}

/// Prints the report on stdout in `format` (a closed pipe is not an error).
fn print_report(report: &check::CheckReport, format: OutputFormat) -> anyhow::Result<()> {
    let rendered = match format {
        OutputFormat::Text => render::text(report),
        OutputFormat::Json => render::json(report),
        OutputFormat::Junit => render::junit(report),
        OutputFormat::Sarif => check::sarif::sarif(report),
    };
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    if let Err(e) = w.write_all(rendered.as_bytes()).and_then(|()| w.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).context("cannot write the check output");
        }
    }
    Ok(())
}

/// `authtap-check-<time>.jsonl` in the working directory; when a check in the same second
/// already wrote that file, `-2`, `-3`, … are appended (a trace is never overwritten).
fn default_trace_path(now: time::OffsetDateTime) -> PathBuf {
    let stem = format!(
        "authtap-check-{:04}{:02}{:02}-{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    super::recording::free_path(PathBuf::from(format!("{stem}.jsonl")), |n| {
        PathBuf::from(format!("{stem}-{n}.jsonl"))
    })
}
