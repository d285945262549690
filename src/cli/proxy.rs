//! `authtap proxy`: runs the recording proxy until Ctrl-C or SIGTERM (stdin lines become marks),
//! then prints the flow narratives and writes the redacted HAR/Markdown/HTML exports.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use authtap::proxy::{self, ProxyConfig, RunningProxy, TlsMode};

use super::recording::{default_trace_path, marks_until_stopped};

/// Arguments of `authtap proxy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The MCP server (or its base URL) to forward to, e.g. https://mcp.example.com/mcp.
    #[arg(long, value_name = "URL", required_unless_present = "forward")]
    upstream: Option<url::Url>,
    /// Address to listen on [default: 127.0.0.1:8443, or 127.0.0.1:8080 with --forward]
    /// (loopback; any other address needs --allow-remote).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Allow a --listen address that is not loopback: other machines can then reach the
    /// proxy and, through it, the upstream. The documented case is --plain-http behind a
    /// TLS-terminating tunnel that needs a non-loopback address.
    #[arg(long)]
    allow_remote: bool,
    #[command(flatten)]
    forward: super::forward::ForwardArgs,
    /// Where the local CA lives (created if missing).
    #[arg(long, value_name = "DIR", default_value = "certs")]
    certs_dir: PathBuf,
    /// Trace file to write [default: traces/<UTC timestamp>.jsonl].
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Serve your own certificate chain (PEM) instead of the local CA's.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "plain_http"
    )]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP (behind a TLS-terminating tunnel; pair with --public-url).
    #[arg(long)]
    plain_http: bool,
    /// The URL clients reach the proxy at, when it is not the listen address (a tunnel).
    #[arg(long, value_name = "URL")]
    public_url: Option<url::Url>,
    /// Extra CA certificate(s) (PEM) to trust for the upstream.
    #[arg(long, value_name = "FILE")]
    upstream_ca: Option<PathBuf>,
    /// Do not verify the upstream's certificate.
    #[arg(long)]
    insecure_upstream: bool,
    /// Bytes of each body to record; the rest streams through uncaptured.
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    max_capture: usize,
    /// Do not rewrite metadata, challenges and redirects to keep the flow on the proxy.
    #[arg(long)]
    no_rewrite: bool,
    /// A client registered outside this run (pre-registered, a Client ID Metadata Document,
    /// or an earlier authtap run) whose registration at the AS already lists authtap's
    /// callback bounce URI: send its authorization response through authtap. Repeatable.
    #[arg(long, value_name = "CLIENT_ID")]
    bounce_client: Vec<String>,
    /// Keep binary bodies (as base64) in the exports written at shutdown instead of a
    /// placeholder; they cannot be scanned for secrets.
    #[arg(long)]
    keep_binary: bool,
    /// Threads serving connections (1 = lowest latency; raise it for heavy concurrent load
    /// on a machine with many cores).
    #[arg(long, value_name = "N", default_value_t = 1)]
    worker_threads: usize,
}

/// Runs `authtap proxy`.
pub fn run(args: Args, live: authtap::live::LiveOptions) -> anyhow::Result<ExitCode> {
    // One thread serves every connection by default: with no hops between worker threads
    // a request costs less latency (and on small machines more throughput); the recorder has
    // its own thread either way.
    let runtime = match args.worker_threads {
        0 | 1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    }
    .context("cannot start the async runtime")?;
    runtime.block_on(run_async(args, live))
}

fn config(args: Args, upstream: url::Url) -> ProxyConfig {
    let trace = args.trace.unwrap_or_else(default_trace_path);
    let mut config = ProxyConfig::new(upstream, trace);
    config.listen = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443)));
    config.certs_dir = args.certs_dir;
    config.tls = match (args.tls_cert, args.tls_key, args.plain_http) {
        (Some(cert), Some(key), _) => TlsMode::Files { cert, key },
        (_, _, true) => TlsMode::PlainHttp,
        _ => TlsMode::LocalCa,
    };
    config.public_url = args.public_url;
    config.upstream_ca = args.upstream_ca;
    config.insecure_upstream = args.insecure_upstream;
    config.max_capture = args.max_capture;
    config.rewrite = !args.no_rewrite;
    config.bounce_clients = args.bounce_client;
    config
}

/// Refuses a non-loopback listen address unless `--allow-remote` says it is meant.
fn check_listen(listen: SocketAddr, allow_remote: bool) -> anyhow::Result<()> {
    if listen.ip().is_loopback() {
        return Ok(());
    }
    if !allow_remote {
        anyhow::bail!(
            "refusing to listen on {listen}: it is not a loopback address, so other machines \
             could reach the proxy and the upstream through it; pass --allow-remote if that is \
             meant (e.g. --plain-http behind a tunnel)"
        );
    }
    tracing::warn!(
        "listening on {listen}, which is not loopback: other machines can reach the proxy"
    );
    Ok(())
}

async fn run_async(args: Args, live: authtap::live::LiveOptions) -> anyhow::Result<ExitCode> {
    let upstream = match &args.upstream {
        Some(_) if !args.forward.forward && !args.forward.scope.is_empty() => {
            anyhow::bail!(
                "--mcp and --intercept are forward-mode flags: add --forward (without --upstream), or use `authtap run`"
            );
        }
        Some(upstream) if !args.forward.forward => upstream.clone(),
        _ => {
            let listen = args
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
            check_listen(listen, args.allow_remote)?;
            return super::forward::run_proxy(
                args.forward,
                listen,
                args.certs_dir,
                args.trace.unwrap_or_else(default_trace_path),
                args.upstream_ca,
                args.max_capture,
                live,
            )
            .await;
        }
    };
    let listen = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443)));
    check_listen(listen, args.allow_remote)?;
    let keep_binary = args.keep_binary;
    let mut config = config(args, upstream.clone());
    config.live = Some(live);
    let proxy = proxy::start(config)
        .await
        .with_context(|| format!("cannot start the proxy for {upstream}"))?;
    print_banner(&proxy, &upstream, live.quiet);

    marks_until_stopped(|text| proxy.mark(text)).await?;
    eprintln!("\nauthtap: shutting down…");
    let trace_path = proxy.trace_path().to_path_buf();
    let stats = proxy.shutdown().await.context("cannot finish the trace")?;
    println!(
        "authtap: {} exchanges recorded in {} ({} findings, {} dropped, {} write errors)",
        stats.exchanges,
        trace_path.display(),
        stats.findings,
        stats.dropped,
        stats.write_errors
    );
    print_narratives(&trace_path);
    // Exports: HAR, Markdown and HTML next to the trace, redacted.
    let export_options = authtap::export::ExportOptions {
        keep_binary,
        ..authtap::export::ExportOptions::default()
    };
    match authtap::trace::load::export_trace(&trace_path, &export_options) {
        Ok(files) => {
            for path in files.paths() {
                println!("authtap: exported {}", path.display());
            }
        }
        Err(err) => println!("authtap: export failed: {err:#}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the flow narratives the engine wrote when the trace was finished.
fn print_narratives(trace_path: &std::path::Path) {
    let records = match authtap::trace::load::load_any(trace_path) {
        Ok(records) => records,
        Err(err) => {
            println!("authtap: cannot read the trace back for its summary: {err}");
            return;
        }
    };
    let mut refused = 0usize;
    for record in records {
        match record {
            authtap::model::Record::FlowFindings(ff) => {
                if let Some(narrative) = ff.narrative {
                    match ff.flow {
                        Some(flow) => println!("{flow}: {narrative}"),
                        None => println!("{narrative}"),
                    }
                }
            }
            authtap::model::Record::TlsHandshake(_) => refused += 1,
            _ => {}
        }
    }
    if refused > 0 {
        println!(
            "authtap: {refused} TLS handshake(s) failed before any request (clients that never \
             got through; see the `tls` lines above and the trace's tls_handshake records)"
        );
    }
}

/// The banner: where to point the client and how to trust the CA. With `--quiet` it goes to
/// stderr, so stdout holds only findings and the summary.
fn print_banner(proxy: &RunningProxy, upstream: &url::Url, quiet: bool) {
    let text = banner(proxy, upstream);
    if quiet {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
}

fn banner(proxy: &RunningProxy, upstream: &url::Url) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let base = proxy.base_url();
    let connector = base
        .join(upstream.path().trim_start_matches('/'))
        .map_or_else(|_| base.to_string(), |u| u.to_string());
    let _ = writeln!(out, "authtap proxy → {upstream}");
    let _ = writeln!(out, "  point your MCP client at:  {connector}");
    if let Some(ca) = proxy.ca_pem_path() {
        let ca = std::fs::canonicalize(ca).unwrap_or_else(|_| ca.to_path_buf());
        let _ = writeln!(out, "  local CA certificate:      {}", ca.display());
        let _ = writeln!(
            out,
            "  trust it (Node / Claude Code):  export NODE_EXTRA_CA_CERTS={}",
            ca.display()
        );
        let _ = writeln!(
            out,
            "  trust it (Python, OpenSSL):     export SSL_CERT_FILE={}",
            ca.display()
        );
        let _ = writeln!(
            out,
            "  trust it (curl):                curl --cacert {} {connector}",
            ca.display()
        );
        let _ = writeln!(
            out,
            "  trust it (browsers, desktop):   the OS trust store (`authtap ca` prints how)"
        );
        let _ = writeln!(
            out,
            "  connect to localhost, not 127.0.0.1: Claude Code (BoringSSL) cannot check the CA's \
             IP constraints; a refused handshake is printed and recorded"
        );
    }
    let _ = writeln!(
        out,
        "  trace (holds live credentials, mode 0600): {}",
        proxy.trace_path().display()
    );
    if let Some(port) = proxy.loopback_bounce_port() {
        let _ = writeln!(
            out,
            "  callback bounce (loopback redirect URIs): http://127.0.0.1:{port}/__authtap/cb/…"
        );
    }
    let _ = writeln!(
        out,
        "  type an ofid_… (or any note) + Enter to mark the trace; Ctrl-C to stop"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_listen_needs_allow_remote() {
        let remote: SocketAddr = "0.0.0.0:8443".parse().unwrap_or_else(|_| unreachable!());
        let local: SocketAddr = "127.0.0.1:8443".parse().unwrap_or_else(|_| unreachable!());
        let v6_local: SocketAddr = "[::1]:8443".parse().unwrap_or_else(|_| unreachable!());
        assert!(check_listen(remote, false).is_err());
        assert!(check_listen(remote, true).is_ok());
        assert!(check_listen(local, false).is_ok());
        assert!(check_listen(v6_local, false).is_ok());
    }
}
