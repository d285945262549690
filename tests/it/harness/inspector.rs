//! The MCP Inspector (tests/peers/package.json pins @modelcontextprotocol/inspector) as a peer
//! under `authtap run --browser`: found in tests/peers/node_modules (or skipped loudly, failing
//! under `CI=true`), run on the Node 22 of tests/conformance with a throw-away HOME, its secrets
//! in memory, and Chromium headless for the authorize leg.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::demo::start_demo;
use crate::harness::peers::{Peers, chromium_or_skip, node22_or_skip, peers_or_skip};
use crate::harness::trace::Trace;
use crate::harness::{Proc, in_ci};

/// The MCP Inspector's launcher (tests/peers/package.json pins it).
fn installed_or_skip(test: &str, peers: &Peers) -> Option<PathBuf> {
    let launcher = peers
        .dir
        .join("node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");
    if launcher.is_file() {
        return Some(launcher);
    }
    let message = format!(
        "{test}: the MCP Inspector is not installed (run `bash scripts/ci/install-peers.sh`)"
    );
    assert!(!in_ci(), "FAILED (CI=true): {message}");
    eprintln!("{message}: SKIPPED");
    None
}

/// What one Inspector run under `authtap run --browser` left: authtap's output and the trace.
pub struct InspectorRun {
    /// `authtap run`'s exit status (the Inspector's or its driver's).
    pub status: Option<std::process::ExitStatus>,
    /// authtap's and the command's output, `[out]`/`[err]`-prefixed.
    pub log: String,
    /// The trace `authtap run` wrote.
    pub trace: Trace,
    /// The reference server's authorization server (on its own origin).
    pub as_issuer: String,
}

/// Runs the pinned MCP Inspector (`args(node, launcher, mcp_url)` after `authtap run --mcp URL
/// --browser [browser_flags] --`) on Node 22 against the reference server, with a throw-away
/// HOME and Chromium headless; `None` when a peer is missing outside CI.
pub fn under_authtap_run(
    test: &str,
    timeout: Duration,
    browser_flags: &[String],
    args: impl Fn(&Path, &Path, &str) -> Vec<String>,
) -> Option<InspectorRun> {
    let peers = peers_or_skip(test)?;
    let node = node22_or_skip(test)?;
    let launcher = installed_or_skip(test, &peers)?;
    chromium_or_skip(test)?;
    let demo = start_demo(&[]);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let trace_path = dir.path().join("t.jsonl");
    let path = format!(
        "{}:{}",
        node.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_authtap"));
    command
        .args(["run", "--mcp", &demo.mcp_url, "--browser"])
        .args([
            "--browser-arg=--headless=new",
            "--browser-arg=--no-sandbox",
            "--browser-arg=--disable-gpu",
        ])
        .args(browser_flags)
        .arg("--trace")
        .arg(&trace_path)
        .arg("--")
        .args(args(&node, &launcher, &demo.mcp_url))
        .current_dir(dir.path())
        .env("PATH", path)
        // The Inspector keeps OAuth state under HOME: a fresh one makes it sign in.
        .env("HOME", &home)
        .env("MCP_INSPECTOR_SECRET_STORE", "memory")
        // No terminal here: let the CLI open the authorization URL all the same (in a terminal
        // it does so by itself; the web driver opens its page itself).
        .env("MCP_AUTO_OPEN_ENABLED", "true")
        .env("NO_COLOR", "1");
    for name in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
        "NO_PROXY",
    ] {
        command.env_remove(name);
    }
    let (status, log) = Proc::spawn("authtap run -- inspector", command).finish_logged(timeout);
    Some(InspectorRun {
        status,
        log,
        trace: Trace::read(&trace_path),
        as_issuer: demo.as_issuer.clone(),
    })
}
