//! `authtap demo`: the main job on the embedded default. Starts the reference upstream (with
//! any `--fault`s) on a free loopback port, the recording proxy in front of it over TLS with the
//! local CA, runs the built-in client through the proxy (the live view shows each exchange and
//! its findings; steps that warned or failed are printed as they happen), then reads the trace
//! back and prints a summary with the findings. With `--direct` the client talks to the server
//! itself and its recording hook feeds the same pipeline (engine and live view, no trace).
//!
//! Exit status: 0 when the demo ran and recorded its trace — with faults a failed flow is the
//! point and is printed as such; 1 when the *clean* flow (no faults) did not complete, which is
//! a bug in the server, client or proxy; 2 for runtime errors (from `main`).
//!
//! `authtap demo --serve` runs the reference upstream alone until Ctrl-C so any real client
//! (Claude Code, MCP Inspector, an SDK) can be pointed at it, directly or via `authtap proxy`.
//! `--protocol REV` (repeatable) limits the MCP revisions the server speaks for the run
//! (default: 2026-07-28, 2025-11-25, 2025-06-18 and 2025-03-26, dual-era).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use authtap::client::{self, ClientConfig, ClientProfile, FlowReport, Outcome, Step};
use authtap::demo::{
    self, CATALOG, ClientNeed, DemoConfig, Fault, FaultSet, Revision, Revisions, RunningDemo,
};
use authtap::live::{LiveOptions, LiveView};
use authtap::model::Finding;
use authtap::model::Record;
use authtap::rules::Engine;
use authtap::session::{HookEntry, Session, feed_from_hook};

/// Arguments of `authtap demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Turn on a fault of the reference server (repeatable; see --list-faults).
    #[arg(long = "fault", value_name = "NAME")]
    faults: Vec<String>,
    /// Print the fault catalog and exit.
    #[arg(long)]
    list_faults: bool,
    /// Output directory for the trace and its exports: `trace.jsonl` (`trace-2.jsonl`, … when
    /// an earlier run's trace is there; a trace is never overwritten).
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    /// Where the local CA lives (created if missing).
    #[arg(long, default_value = "certs")]
    certs: PathBuf,
    /// Serve the authorization server on its own origin (port).
    #[arg(long)]
    separate_as: bool,
    /// The AS sends the browser through a sign-in page on its own origin (signs in at once),
    /// as real authorization servers do: the callback then comes back through authtap's bounce.
    #[arg(long)]
    login_page: bool,
    /// Run only the reference server and print its URLs until Ctrl-C.
    #[arg(long)]
    serve: bool,
    /// Port of the reference server with --serve (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// With --serve: serve HTTPS with this certificate chain (PEM); it must name 127.0.0.1.
    #[arg(long, value_name = "FILE", requires_all = ["tls_key", "serve"])]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Client profile: `native` (Claude Code-like) or `claude-ai` (client_secret_post).
    /// Default: native, or claude-ai when a fault needs it.
    #[arg(long)]
    profile: Option<String>,
    /// Act as a browser client with this Origin (CORS). Default: none, or
    /// http://localhost:6274 (the Inspector) when a fault needs it.
    #[arg(long)]
    origin: Option<String>,
    /// Stop where strict clients (TS SDK v2, Copilot CLI) stop.
    #[arg(long)]
    strict: bool,
    /// Run the client straight against the server, without the proxy (the client's own
    /// recording feeds the live view and the findings; no trace is written).
    #[arg(long)]
    direct: bool,
    /// Delay between the countdown tool's SSE events, in milliseconds.
    #[arg(long, default_value_t = 400)]
    sse_delay_ms: u64,
    /// MCP protocol revision the server speaks (repeatable: 2026-07-28, 2025-11-25,
    /// 2025-06-18, 2025-03-26). Default: all of them (a dual-era server).
    #[arg(long = "protocol", value_name = "REV")]
    protocols: Vec<Revision>,
}

/// Runs `authtap demo`.
pub fn run(args: Args, live: LiveOptions) -> anyhow::Result<ExitCode> {
    if args.list_faults {
        print_catalog();
        return Ok(ExitCode::SUCCESS);
    }
    let faults: FaultSet = args
        .faults
        .iter()
        .map(|name| name.parse::<Fault>())
        .collect::<Result<_, _>>()?;
    if !args.serve && Revisions::of(&args.protocols).legacy().next().is_none() {
        anyhow::bail!(
            "the built-in client speaks the initialize-based revisions only; with \
             --protocol 2026-07-28 alone, run `authtap demo --serve --protocol 2026-07-28` and \
             point a 2026-07-28 client at it"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.serve {
        runtime.block_on(serve(&args, faults))
    } else {
        runtime.block_on(demo_run(&args, faults, live))
    }
}

fn print_catalog() {
    println!(
        "{:<28} {:<44} WHAT THE SERVER DOES",
        "FAULT", "EXPECTED RULES"
    );
    for info in CATALOG {
        let need = match info.client_need {
            ClientNeed::Nothing => "",
            ClientNeed::BrowserOrigin => " [client acts as a browser: --origin]",
            ClientNeed::ClaudeAiProfile => {
                " [client registers like claude.ai: --profile claude-ai]"
            }
        };
        println!(
            "{:<28} {:<44} {}{need}",
            info.name,
            info.rules.join(", "),
            info.description
        );
        println!("{:<28} {:<44} from: {}", "", "", info.reported_in);
        if info.browser_leg_only {
            println!(
                "{:<28} {:<44} browser leg only: visible in the client's steps, not through a reverse proxy",
                "", ""
            );
        }
    }
}

fn demo_config(args: &Args, faults: FaultSet) -> DemoConfig {
    DemoConfig {
        faults,
        separate_as: args.separate_as,
        login_page: args.login_page,
        port: args.port,
        sse_step_delay: Duration::from_millis(args.sse_delay_ms),
        revisions: Revisions::of(&args.protocols),
        ..DemoConfig::default()
    }
}

async fn serve(args: &Args, faults: FaultSet) -> anyhow::Result<ExitCode> {
    let mut config = demo_config(args, faults);
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(
            authtap::listen::tls_from_files(cert, key)
                .context("cannot use --tls-cert/--tls-key")?,
        );
    }
    let server = demo::start(config)
        .await
        .context("cannot start the reference server")?;
    println!("authtap reference MCP server (Ctrl-C to stop)");
    println!("  MCP URL:            {}", server.mcp_url());
    println!("  resource metadata:  {}", server.resource_metadata_url());
    println!("  authorization srv:  {}", server.as_issuer());
    println!("  MCP revisions:      {}", server.revisions());
    print_faults(server.faults());
    println!();
    println!("Point a client at it, for example:");
    println!(
        "  claude mcp add --transport http authtap-demo {}",
        server.mcp_url()
    );
    println!("  npx @modelcontextprotocol/inspector   (Streamable HTTP, URL above)");
    println!(
        "  authtap proxy --upstream {}   (to record it)",
        server.base_url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    server.shutdown().await;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn print_faults(faults: &FaultSet) {
    if faults.is_empty() {
        println!("  faults:             none (clean, spec-compliant)");
    }
    for fault in faults.iter() {
        let info = fault.info();
        println!(
            "  fault:              {} → expect {}",
            info.name,
            info.rules.join(", ")
        );
    }
}

fn client_config(args: &Args, faults: &FaultSet, mcp_url: String) -> anyhow::Result<ClientConfig> {
    let mut config = ClientConfig::new(mcp_url);
    let needs: Vec<ClientNeed> = faults.iter().map(|f| f.info().client_need).collect();
    config.profile = match &args.profile {
        Some(name) => ClientProfile::by_name(name)
            .with_context(|| format!("unknown profile {name} (native, claude-ai)"))?,
        None if needs.contains(&ClientNeed::ClaudeAiProfile) => ClientProfile::claude_ai(),
        None => ClientProfile::native(),
    };
    // The built-in client opens with `initialize`: it asks for the newest legacy revision on
    // (`run` refused a run without one).
    if let Some(legacy) = Revisions::of(&args.protocols).legacy().next() {
        config.profile.protocol_version = legacy.as_str().to_string();
    }
    config.origin = match &args.origin {
        Some(o) => Some(o.clone()),
        None if needs.contains(&ClientNeed::BrowserOrigin) => Some("http://localhost:6274".into()),
        None => None,
    };
    config.strict = args.strict;
    Ok(config)
}

async fn demo_run(args: &Args, faults: FaultSet, live: LiveOptions) -> anyhow::Result<ExitCode> {
    let server = demo::start(demo_config(args, faults.clone()))
        .await
        .context("cannot start the reference server")?;
    println!(
        "reference server: {} (AS {})",
        server.mcp_url(),
        server.as_issuer()
    );
    print_faults(server.faults());
    let result = if args.direct {
        run_direct(args, &faults, &server, live).await
    } else {
        run_proxied(args, &faults, &server, live).await
    };
    server.shutdown().await;
    let (report, findings) = result?;
    summary(&report, &findings, &faults);
    if report.completed || !faults.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "\nThe clean flow did not complete: this is a bug in authtap (server, client or proxy)."
        );
        Ok(ExitCode::from(1))
    }
}

/// No proxy: the client's own recording hook feeds the pipeline (engine and live view; no
/// trace is written).
async fn run_direct(
    args: &Args,
    faults: &FaultSet,
    server: &RunningDemo,
    live: LiveOptions,
) -> anyhow::Result<(FlowReport, Vec<Finding>)> {
    let mut config = client_config(args, faults, server.mcp_url().to_string())?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let hook_tx = tx.clone();
    config.hook = Some(client::ExchangeHook::new(move |step, exchange| {
        let _ = hook_tx.send(HookEntry::Exchange {
            step: step.to_string(),
            exchange: Box::new(exchange),
        });
    }));
    let mut session = Session::new(Engine::default())
        .with_live(Box::new(LiveView::new(live)))
        .keep_records();
    let feeder = tokio::spawn(async move {
        feed_from_hook(&mut session, &mut rx).await;
        session
    });
    let report = run_client(config).await;
    let _ = tx.send(HookEntry::End);
    let session = feeder.await.context("the recording task failed")?;
    let finished = session.finish(time::OffsetDateTime::now_utc(), 0);
    Ok((report, findings_of(finished.records)))
}

async fn run_proxied(
    args: &Args,
    faults: &FaultSet,
    server: &RunningDemo,
    live: LiveOptions,
) -> anyhow::Result<(FlowReport, Vec<Finding>)> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let trace_path = super::recording::free_path(args.out.join("trace.jsonl"), |n| {
        args.out.join(format!("trace-{n}.jsonl"))
    });
    let upstream = url::Url::parse(server.base_url()).context("reference server URL")?;
    let mut proxy_config = authtap::proxy::ProxyConfig::new(upstream, trace_path.clone());
    proxy_config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    proxy_config.certs_dir = args.certs.clone();
    proxy_config.source = "demo".into();
    proxy_config.live = Some(live);
    let proxy = authtap::proxy::start(proxy_config)
        .await
        .context("cannot start the proxy")?;
    let mcp_url = format!("{}/mcp", proxy.base_url().as_str().trim_end_matches('/'));
    println!(
        "proxy:            {mcp_url} → {} (trace {})",
        server.base_url(),
        trace_path.display()
    );
    if args.separate_as {
        println!(
            "note: the separate AS origin {} is reached directly, not through the proxy",
            server.as_issuer()
        );
    }
    let mut config = client_config(args, faults, mcp_url)?;
    config.ca_pem = proxy.ca_pem_path().map(Path::to_path_buf);
    let report = run_client(config).await;
    let stats = proxy.shutdown().await.context("cannot finish the trace")?;
    println!(
        "\nrecorded {} exchanges into {}",
        stats.exchanges,
        trace_path.display()
    );
    // Export call site: HAR, Markdown and HTML next to the trace, redacted.
    match authtap::trace::load::export_trace(
        &trace_path,
        &authtap::export::ExportOptions::default(),
    ) {
        Ok(files) => {
            for path in files.paths() {
                println!("exported {}", path.display());
            }
        }
        Err(err) => println!("export failed: {err:#}"),
    }
    Ok((report, read_findings(&trace_path)?))
}

/// Runs the built-in client; steps that warned or failed are printed as they happen (the live
/// view shows each exchange).
async fn run_client(mut config: ClientConfig) -> FlowReport {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Step>();
    config.progress = Some(tx);
    println!(
        "client:           profile {}{}{}\n",
        config.profile.name,
        config
            .origin
            .as_deref()
            .map(|o| format!(", browser Origin {o}"))
            .unwrap_or_default(),
        if config.strict { ", strict" } else { "" }
    );
    let printer = tokio::spawn(async move {
        while let Some(step) = rx.recv().await {
            if step.outcome != Outcome::Ok {
                print_step(&step);
            }
        }
    });
    let report = client::run_flow(config).await;
    let _ = printer.await;
    report
}

fn short_url(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn print_step(step: &Step) {
    let status = step
        .status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "---".into());
    println!(
        "  [{:<4}] {:<26} {:<13} {:<6} {} {}",
        step.outcome.as_str(),
        step.name,
        step.phase.as_str(),
        step.method,
        status,
        short_url(&step.url)
    );
    if !step.note.is_empty() {
        println!("         {}", step.note);
    }
}

/// Every finding in the trace: per exchange (with its id) and per flow.
fn read_findings(path: &Path) -> anyhow::Result<Vec<Finding>> {
    let read = authtap::trace::reader::read_trace(path)
        .with_context(|| format!("cannot read back {}", path.display()))?;
    Ok(findings_of(read.records))
}

/// Every finding in these records: per exchange and per flow.
fn findings_of(records: Vec<Record>) -> Vec<Finding> {
    let mut out = Vec::new();
    for record in records {
        match record {
            Record::Exchange(ex) => out.extend(ex.findings.iter().cloned()),
            Record::FlowFindings(ff) => out.extend(ff.findings),
            _ => {}
        }
    }
    out
}

fn summary(report: &FlowReport, findings: &[Finding], faults: &FaultSet) {
    println!("\n== summary ==");
    let count = |o: Outcome| report.with_outcome(o).count();
    println!(
        "client: {} ({} steps: {} ok, {} warn, {} fail)",
        if report.completed {
            "completed the flow".to_string()
        } else {
            format!(
                "stopped at `{}`",
                report.stopped_at.as_deref().unwrap_or("?")
            )
        },
        report.steps.len(),
        count(Outcome::Ok),
        count(Outcome::Warn),
        count(Outcome::Fail)
    );
    for step in report.steps.iter().filter(|s| s.outcome != Outcome::Ok) {
        println!("  {} {}: {}", step.outcome.as_str(), step.name, step.note);
    }
    let seen_rules: BTreeSet<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    // The findings themselves were printed by the live view, with its summary.
    for fault in faults.iter() {
        let info = fault.info();
        let verdicts: Vec<String> = info
            .rules
            .iter()
            .map(|r| {
                format!(
                    "{r} {}",
                    if seen_rules.contains(r) {
                        "seen"
                    } else {
                        "NOT seen"
                    }
                )
            })
            .collect();
        println!("fault {}: {}", info.name, verdicts.join(", "));
        if info.browser_leg_only && info.rules.iter().any(|r| !seen_rules.contains(*r)) {
            println!(
                "  (this failure happens in the browser's consent leg, which reverse mode keeps \
                 out of the proxy on purpose; the client's step report above shows it)"
            );
        }
    }
}
