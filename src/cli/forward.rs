//! `authtap proxy --forward`: the long-running forward proxy with its persistent forward CA,
//! and what it shares with `authtap run` (the interception flags, the start-up notes and the
//! end-of-run summary and exports).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use authtap::ca::forward::{ForwardCa, ForwardCaKind};
use authtap::export::{ExportOptions, Target};
use authtap::intercept::scope::HostPattern;
use authtap::intercept::{ForwardProxyConfig, RunningForwardProxy};
use authtap::model::Record;

/// Which hosts forward mode decrypts (shared by `proxy --forward` and `run`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ScopeArgs {
    /// The MCP server URL: its host is intercepted, and so are the hosts its flow names
    /// (authorization servers, their endpoints).
    #[arg(long, value_name = "URL")]
    pub mcp: Option<url::Url>,
    /// Also intercept HOST[:PORT] (repeatable; `*.example.com` matches subdomains).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub intercept: Vec<String>,
}

impl ScopeArgs {
    /// Whether neither flag was given.
    pub fn is_empty(&self) -> bool {
        self.mcp.is_none() && self.intercept.is_empty()
    }

    /// The configured patterns (empty = intercept everything).
    pub fn patterns(&self) -> anyhow::Result<Vec<HostPattern>> {
        let mut patterns = Vec::new();
        if let Some(mcp) = &self.mcp {
            let host = mcp
                .host_str()
                .filter(|_| matches!(mcp.scheme(), "http" | "https"))
                .with_context(|| format!("--mcp {mcp}: expected an http(s) URL with a host"))?;
            let port = mcp.port_or_known_default().unwrap_or(443);
            patterns.push(HostPattern::exact(host, port));
        }
        for value in &self.intercept {
            patterns.push(HostPattern::parse(value)?);
        }
        Ok(patterns)
    }
}

/// The `proxy` flags of forward mode.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ForwardArgs {
    /// Run as a forward proxy (HTTPS_PROXY) instead of in front of one server; uses the
    /// persistent forward CA (forward-ca.pem in --certs-dir), not the localhost CA.
    #[arg(long, conflicts_with_all = ["upstream", "tls_cert", "plain_http", "public_url", "no_rewrite"])]
    pub forward: bool,
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// Runs `authtap proxy --forward` until Ctrl-C or SIGTERM.
pub async fn run_proxy(
    args: ForwardArgs,
    listen: SocketAddr,
    certs_dir: PathBuf,
    trace_path: PathBuf,
    upstream_ca: Option<PathBuf>,
    max_capture: usize,
    live: authtap::live::LiveOptions,
) -> anyhow::Result<ExitCode> {
    let ca = ForwardCa::load_or_create(&certs_dir).context("cannot use the forward CA")?;
    let ForwardCaKind::Persistent {
        cert_path, created, ..
    } = ca.kind().clone()
    else {
        anyhow::bail!("the forward CA is not persistent");
    };
    let config = ForwardProxyConfig {
        listen,
        trace_path,
        ca: Arc::new(ca),
        ca_cert_path: cert_path.clone(),
        intercept: args.scope.patterns()?,
        upstream_ca,
        max_capture,
        source: "proxy".into(),
        live: Some(live),
        extra: serde_json::Map::new(),
    };
    let fingerprint = config.ca.fingerprint_sha256();
    let proxy = authtap::intercept::start(config)
        .await
        .context("cannot start the forward proxy")?;
    let out = &mut std::io::stdout();
    let _ = writeln!(out, "authtap forward proxy on {}", proxy.proxy_url());
    let _ = writeln!(
        out,
        "  configure the client:  HTTPS_PROXY={0} HTTP_PROXY={0} (or let `authtap run -- CMD` do it)",
        proxy.proxy_url()
    );
    let cert = std::fs::canonicalize(&cert_path).unwrap_or(cert_path);
    let _ = writeln!(
        out,
        "  forward CA{}: {}\n  its SHA-256 fingerprint:  {fingerprint}\n  trust it (Node / Claude Code): NODE_EXTRA_CA_CERTS={}\n  it can sign certificates for ANY host: trust it only in the client you are debugging, \
         never system-wide; its key stays in {} (0600)",
        if created { " (created)" } else { "" },
        cert.display(),
        cert.display(),
        certs_dir.display()
    );
    scope_note(&proxy, out);
    let _ = writeln!(
        out,
        "  trace (holds live credentials, mode 0600): {}",
        proxy.trace_path().display()
    );
    let _ = writeln!(
        out,
        "  type an ofid_… (or any note) + Enter to mark the trace; Ctrl-C to stop"
    );
    super::recording::marks_until_stopped(|text| proxy.mark(text)).await?;
    eprintln!("\nauthtap: shutting down…");
    finish(proxy, None, out).await
}

/// Says on start what is intercepted, and warns when it is everything.
pub fn scope_note(proxy: &RunningForwardProxy, out: &mut dyn Write) {
    let scope = proxy.scope();
    if scope.intercepts_all() {
        let _ = writeln!(
            out,
            "  intercepting EVERY host (no --mcp, no --intercept): the client's other traffic, \
             credentials included, lands in the trace"
        );
    } else {
        let list: Vec<String> = scope.configured().iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  intercepting {} and the hosts their flow names; everything else is tunneled blind",
            list.join(", ")
        );
    }
}

/// Finishes the trace, prints the narratives and findings, and writes the exports (beside the
/// trace, or into `out_dir`).
pub async fn finish(
    proxy: RunningForwardProxy,
    out_dir: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let trace_path = proxy.trace_path().to_path_buf();
    let learned = proxy.scope().learned();
    let stats = proxy.shutdown().await.context("cannot finish the trace")?;
    let _ = writeln!(
        out,
        "authtap: {} exchanges recorded in {} ({} findings, {} dropped, {} write errors)",
        stats.exchanges,
        trace_path.display(),
        stats.findings,
        stats.dropped,
        stats.write_errors
    );
    if !learned.is_empty() {
        let list: Vec<String> = learned.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "authtap: learned from the flow: {}", list.join(", "));
    }
    summary(&trace_path, out);
    let mut options = ExportOptions::default();
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let stem = trace_path
            .file_stem()
            .map_or_else(|| "trace".into(), |s| s.to_string_lossy().into_owned());
        options.har = Target::Path(dir.join(format!("{stem}.har")));
        options.markdown = Target::Path(dir.join(format!("{stem}.md")));
        options.html = Target::Path(dir.join(format!("{stem}.html")));
    }
    match authtap::trace::load::export_trace(&trace_path, &options) {
        Ok(files) => {
            for path in files.paths() {
                let _ = writeln!(out, "authtap: exported {}", path.display());
            }
        }
        Err(err) => {
            let _ = writeln!(out, "authtap: export failed: {err:#}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The narratives and the blind tunnels of a trace (the live view has printed the findings).
fn summary(trace_path: &Path, out: &mut dyn Write) {
    let records = match authtap::trace::load::load_any(trace_path) {
        Ok(records) => records,
        Err(err) => {
            let _ = writeln!(out, "authtap: cannot read the trace back: {err}");
            return;
        }
    };
    let mut tunnels = 0usize;
    let mut refused = 0usize;
    for record in &records {
        match record {
            Record::FlowFindings(ff) => {
                if let Some(narrative) = &ff.narrative {
                    let _ = match ff.flow {
                        Some(flow) => writeln!(out, "{flow}: {narrative}"),
                        None => writeln!(out, "{narrative}"),
                    };
                }
            }
            Record::Tunnel(_) => tunnels += 1,
            Record::TlsHandshake(_) => refused += 1,
            _ => {}
        }
    }
    if tunnels > 0 {
        let _ = writeln!(
            out,
            "authtap: {tunnels} connection(s) to other hosts were tunneled blind (tunnel records, no content)"
        );
    }
    if refused > 0 {
        let _ = writeln!(
            out,
            "authtap: {refused} TLS handshake(s) failed (see the trace's tls_handshake records)"
        );
    }
}
