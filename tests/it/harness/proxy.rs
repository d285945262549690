//! `authtap proxy` as a child process: the real binary in reverse mode over TLS with a fresh
//! local CA in a temporary directory (or in the tunnel form, plain HTTP behind a TLS front),
//! stopped with SIGTERM so the trace gets its final records.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::trace::Trace;
use super::{Proc, first_url, tail};

/// A running proxy.
pub struct Proxy {
    proc: Proc,
    dir: tempfile::TempDir,
    /// The URL clients connect to (`https://localhost:PORT/mcp`), from the proxy's banner.
    pub url: String,
    /// The local CA certificate clients must trust (absent with `--plain-http`).
    pub ca: PathBuf,
    /// The JSONL trace being written.
    pub trace_path: PathBuf,
}

/// Starts `authtap proxy --upstream <upstream>` on a free loopback port.
pub fn start_proxy(upstream: &str) -> Proxy {
    start_proxy_with(upstream, &[])
}

/// [`start_proxy`] with extra command-line arguments (e.g. `--no-rewrite`).
pub fn start_proxy_with(upstream: &str, extra: &[&str]) -> Proxy {
    let proxy = start_proxy_on(upstream, "127.0.0.1:0", extra);
    assert!(
        proxy.ca.is_file(),
        "the proxy printed its URL but {} does not exist",
        proxy.ca.display()
    );
    proxy
}

/// The tunnel form: `authtap proxy --plain-http --public-url PUBLIC` on `127.0.0.1:port`, for a
/// TLS front (see `tls_front`) that forwards to that port. Its `url` is the public MCP URL.
pub fn start_tunnel_proxy(upstream: &str, port: u16, public_url: &str) -> Proxy {
    let listen = format!("127.0.0.1:{port}");
    start_proxy_on(
        upstream,
        &listen,
        &["--plain-http", "--public-url", public_url],
    )
}

fn start_proxy_on(upstream: &str, listen: &str, extra: &[&str]) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let trace_path = dir.path().join("t.jsonl");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authtap"));
    cmd.args(["proxy", "--upstream", upstream, "--listen", listen])
        .arg("--certs-dir")
        .arg(&certs)
        .arg("--trace")
        .arg(&trace_path)
        .args(extra)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info");
    // stdin is /dev/null, as under CI or nohup: SIGTERM must still stop the proxy cleanly.
    let mut proc = Proc::spawn("authtap proxy", cmd);
    let url = proc.wait_for_line(Duration::from_secs(30), |line| {
        line.contains("point your MCP client at")
            .then(|| first_url(line))
            .flatten()
    });
    let ca = certs.join("ca.pem");
    Proxy {
        proc,
        dir,
        url,
        ca,
        trace_path,
    }
}

impl Proxy {
    /// The WARN and ERROR lines the proxy logged so far (its live warnings).
    pub fn warnings(&self) -> String {
        self.proc
            .log()
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Stops the proxy (SIGTERM, then waits for it to finish the trace) and reads the trace.
    /// Returns the trace and whether the proxy exited on its own within the deadline.
    pub fn finish(self) -> (Trace, bool) {
        let log = self.proc.log();
        let status = self.proc.terminate(Duration::from_secs(10));
        let trace = Trace::read(&self.trace_path);
        if status.is_none() {
            eprintln!(
                "authtap proxy did not exit within 10 s of SIGTERM; log tail:\n{}",
                tail(&log, 5)
            );
        }
        drop(self.dir);
        (trace, status.is_some())
    }
}
