//! `authtap run -- CMD [ARGS…]`: starts the forward proxy with an ephemeral CA on a free
//! loopback port, runs CMD with the proxy and trust variables set, and when CMD exits prints
//! the flow narratives and findings and writes the exports; the exit code is CMD's.
//!
//! CMD keeps the terminal: its stdin, stdout and stderr are authtap's. authtap's own live view
//! (one line per exchange, findings) and its end-of-run summary go to stderr, so CMD's stdout
//! stays clean for pipes. Signals: SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to
//! authtap are passed to CMD; Ctrl-C in a terminal already reaches CMD (the terminal signals the
//! whole foreground process group), so SIGINT is passed on only when stdin is not a terminal.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};

use authtap::ca::forward::ForwardCa;
use authtap::intercept::scope::HostPattern;
use authtap::intercept::{ForwardProxyConfig, RunningForwardProxy};

use super::forward::{ScopeArgs, finish, scope_note};
use super::run_env;

/// Arguments of `authtap run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    scope: ScopeArgs,
    /// Extra CA certificate(s) (PEM) to trust for the servers, on top of the public roots.
    #[arg(long, value_name = "FILE")]
    upstream_ca: Option<PathBuf>,
    /// Where to write the ephemeral CA certificate and the merged bundle [default: a fresh
    /// private temporary directory, removed at exit].
    #[arg(long, value_name = "DIR")]
    certs_dir: Option<PathBuf>,
    /// Trace file to write [default: traces/<UTC timestamp>.jsonl].
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Write the HAR, Markdown and HTML exports here [default: next to the trace].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Open authorization URLs in a Chromium/Chrome found on PATH, through authtap, with a
    /// throw-away profile: the login page, the consent POST and the redirect are recorded too.
    #[arg(long)]
    browser: bool,
    /// An extra Chromium flag for --browser (repeatable), e.g. --browser-arg=--headless=new.
    #[arg(
        long,
        value_name = "FLAG",
        requires = "browser",
        allow_hyphen_values = true
    )]
    browser_arg: Vec<String>,
    /// Bytes of each body to record; the rest streams through uncaptured.
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    max_capture: usize,
    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// Runs `authtap run`.
pub fn run(args: Args, live: authtap::live::LiveOptions) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // The command owns stdout and the terminal: the live view goes to stderr.
    let live = authtap::live::LiveOptions {
        stream: authtap::live::Stream::Stderr,
        ..live
    };
    runtime.block_on(run_async(args, live))
}

/// A private directory for the run's files, removed on drop unless the user chose it.
struct RunDir {
    path: PathBuf,
    remove: bool,
}

impl RunDir {
    fn new(chosen: Option<PathBuf>) -> anyhow::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        if let Some(path) = chosen {
            std::fs::create_dir_all(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            return Ok(Self {
                path,
                remove: false,
            });
        }
        let path = std::env::temp_dir().join(format!(
            "authtap-run-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self { path, remove: true })
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Runs CMD through a fresh forward proxy, then finishes the trace and writes the exports.
async fn run_async(args: Args, live: authtap::live::LiveOptions) -> anyhow::Result<ExitCode> {
    let Some((program, program_args)) = args.command.split_first() else {
        anyhow::bail!("give the command to run after `--`");
    };
    let patterns = args.scope.patterns()?;
    let run_dir = RunDir::new(args.certs_dir.clone())?;
    let ca = Arc::new(ForwardCa::ephemeral().context("cannot create the ephemeral CA")?);
    let (ca_path, bundle_path) = run_env::write_trust_files(&run_dir.path, ca.cert_pem())?;
    let proxy = start_proxy(&args, live, &ca, &ca_path, &patterns).await?;
    let proxy_url = proxy.proxy_url();

    let err = &mut std::io::stderr();
    eprintln!(
        "authtap run: {} through {proxy_url} (ephemeral CA {}, key in memory only)",
        args.command.join(" "),
        ca.fingerprint_sha256()
    );
    scope_note(&proxy, err);
    eprintln!(
        "  trace (holds live credentials, mode 0600): {}",
        proxy.trace_path().display()
    );

    let trust = TrustFiles {
        ca_path: &ca_path,
        bundle_path: &bundle_path,
    };
    let mut command = proxied_command(program, program_args, &proxy_url, &patterns, trust);
    if args.browser {
        set_browser(&mut command, &args, &run_dir, &proxy_url, &ca)?;
    }

    let status = match command.spawn() {
        Ok(child) => wait_passing_signals(child).await,
        Err(err) => {
            eprintln!("authtap run: cannot start {program}: {err}");
            Err(127)
        }
    };
    eprintln!("\nauthtap run: {program} exited; finishing the trace…");
    let closed = run_env::close_browsers(&run_dir.path);
    if closed > 0 {
        eprintln!("authtap run: closed the browser it started ({closed} window(s))");
    }
    finish(proxy, args.out.as_deref(), err).await?;
    drop(run_dir);
    let code = match status {
        Ok(code) | Err(code) => code,
    };
    Ok(ExitCode::from(code))
}

/// Starts the forward proxy for `authtap run` on a free loopback port, with the ephemeral CA.
async fn start_proxy(
    args: &Args,
    live: authtap::live::LiveOptions,
    ca: &Arc<ForwardCa>,
    ca_path: &Path,
    patterns: &[HostPattern],
) -> anyhow::Result<RunningForwardProxy> {
    let trace_path = args
        .trace
        .clone()
        .unwrap_or_else(super::recording::default_trace_path);
    let mut extra = serde_json::Map::new();
    extra.insert("command".into(), serde_json::json!(args.command));
    authtap::intercept::start(ForwardProxyConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        trace_path,
        ca: ca.clone(),
        ca_cert_path: ca_path.to_path_buf(),
        intercept: patterns.to_vec(),
        upstream_ca: args.upstream_ca.clone(),
        max_capture: args.max_capture,
        source: "run".into(),
        live: Some(live),
        extra,
    })
    .await
    .context("cannot start the forward proxy")
}

/// The files CMD's TLS stacks are told to trust: the CA alone and the CA merged with the roots.
#[derive(Clone, Copy)]
struct TrustFiles<'a> {
    ca_path: &'a Path,
    bundle_path: &'a Path,
}

/// CMD with the proxy variables, a `NO_PROXY` that no longer bypasses the intercepted hosts,
/// and the trust variables of Node, OpenSSL, Python requests and curl set.
fn proxied_command(
    program: &str,
    program_args: &[String],
    proxy_url: &str,
    patterns: &[HostPattern],
    trust: TrustFiles<'_>,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command.args(program_args);
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] {
        command.env(name, proxy_url);
    }
    let inherited = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .ok();
    match run_env::filtered_no_proxy(inherited.as_deref(), patterns) {
        Some(value) => {
            command.env("NO_PROXY", &value).env("no_proxy", &value);
        }
        None => {
            command.env_remove("NO_PROXY").env_remove("no_proxy");
        }
    }
    command
        .env("NODE_USE_ENV_PROXY", "1")
        .env("NODE_EXTRA_CA_CERTS", trust.ca_path)
        .env("SSL_CERT_FILE", trust.bundle_path)
        .env("REQUESTS_CA_BUNDLE", trust.bundle_path)
        .env("CURL_CA_BUNDLE", trust.bundle_path);
    command
}

/// Points CMD's `BROWSER` at a launcher of the Chromium on PATH through the proxy (`--browser`),
/// or says that the browser leg is not recorded when there is none.
fn set_browser(
    command: &mut tokio::process::Command,
    args: &Args,
    run_dir: &RunDir,
    proxy_url: &str,
    ca: &ForwardCa,
) -> anyhow::Result<()> {
    match run_env::find_chromium() {
        Some(chromium) => {
            let launcher = run_env::write_browser_launcher(
                &run_dir.path,
                &chromium,
                proxy_url,
                &ca.spki_sha256_base64(),
                &args.browser_arg,
            )?;
            eprintln!(
                "  browser: {} through authtap (throw-away profile); BROWSER={}",
                chromium.display(),
                launcher.display()
            );
            command.env("BROWSER", launcher);
        }
        None => eprintln!(
            "  browser: no Chromium or Chrome on PATH; the system's browser opens the login \
             page and the browser leg (login, consent, redirect) is NOT recorded"
        ),
    }
    Ok(())
}

/// Waits for the child, passing signals on; returns its exit code (128 + signal if killed).
async fn wait_passing_signals(mut child: tokio::process::Child) -> Result<u8, u8> {
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let mut streams = Vec::new();
    for (kind, sig) in [
        (SignalKind::terminate(), Signal::SIGTERM),
        (SignalKind::hangup(), Signal::SIGHUP),
        (SignalKind::quit(), Signal::SIGQUIT),
        (SignalKind::user_defined1(), Signal::SIGUSR1),
        (SignalKind::user_defined2(), Signal::SIGUSR2),
        (SignalKind::interrupt(), Signal::SIGINT),
    ] {
        match signal(kind) {
            Ok(stream) => streams.push((stream, sig)),
            Err(err) => tracing::warn!("cannot watch {sig}: {err}"),
        }
    }
    loop {
        let next_signal = futures_util::future::select_all(
            streams
                .iter_mut()
                .map(|(stream, sig)| Box::pin(async move { stream.recv().await.map(|_| *sig) })),
        );
        tokio::select! {
            status = child.wait() => {
                return match status {
                    Ok(status) => Ok(exit_code(status)),
                    Err(err) => {
                        eprintln!("authtap run: cannot wait for the command: {err}");
                        Err(1)
                    }
                };
            }
            (received, _, _) = next_signal => {
                let Some(sig) = received else { continue };
                if sig == Signal::SIGINT && interactive {
                    continue;
                }
                if let Some(pid) = pid {
                    let _ = nix::sys::signal::kill(pid, sig);
                }
            }
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
        (None, None) => 1,
    }
}
