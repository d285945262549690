//! mcp-remote (npm `mcp-remote`, pinned in tests/peers) as a peer: the stdio-to-HTTP bridge with
//! OAuth that stdio-only MCP clients (Claude Desktop's local servers, Cursor, …) run in front of a
//! remote server. It is driven as its host application drives it: spawned as a child process and
//! spoken to in newline-delimited JSON-RPC on its stdin/stdout.
//!
//! On its first request it discovers the authorization server, registers a client, and opens
//! the authorization URL (after its URL sanitizer, `strict-url-sanitise`) with the `open`
//! package, whose bundled `xdg-open` falls back to `$BROWSER` when no desktop is running: that is
//! tests/peers/headless-browser.sh, which follows the URL to mcp-remote's loopback callback. Every
//! run gets a throw-away `HOME` and `MCP_REMOTE_CONFIG_DIR` (no cached client or tokens) and an
//! environment cleared down to `PATH`, so no desktop variable reaches `xdg-open`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Proc, free_port, in_ci, repo_root};

/// How long the first request may take: discovery, registration, the browser leg, the token.
const FIRST_ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long any later request may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// The MCP revision the stdio side asks for (mcp-remote forwards the host's `initialize`).
const PROTOCOL_VERSION: &str = "2025-11-25";

/// The installed bridge.
pub struct McpRemote {
    /// `node_modules/mcp-remote/dist/proxy.js` (its `mcp-remote` bin).
    bridge: PathBuf,
    /// tests/peers/headless-browser.sh, the `$BROWSER`.
    browser: PathBuf,
    /// mcp-remote's package version.
    pub version: String,
}

/// The installed bridge, or `None` after a loud message when it is missing outside CI. In CI a
/// missing peer panics: the suite must not go green without running it.
pub fn mcp_remote_or_skip(test: &str) -> Option<McpRemote> {
    let peers = repo_root().join("tests/peers");
    let bridge = peers.join("node_modules/mcp-remote/dist/proxy.js");
    let browser = peers.join("headless-browser.sh");
    let mut missing = Vec::new();
    let package = peers.join("node_modules/mcp-remote/package.json");
    let version = std::fs::read_to_string(&package)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|p| p["version"].as_str().map(str::to_string));
    if version.is_none() || !bridge.is_file() {
        missing.push(format!("{} is not installed", bridge.display()));
    }
    if Command::new("node")
        .arg("--version")
        .output()
        .map_or(true, |o| !o.status.success())
    {
        missing.push("`node` is not on PATH".to_string());
    }
    if missing.is_empty() {
        return Some(McpRemote {
            bridge,
            browser,
            version: version.unwrap_or_default(),
        });
    }
    let verdict = if in_ci() {
        "FAILED (CI=true)"
    } else {
        "SKIPPED"
    };
    let message = format!(
        "\n==================== {test}: {verdict} ====================\n\
         mcp-remote is not installed: {}\n\
         run `bash scripts/ci/install-peers.sh` to install it\n\
         =========================================================\n",
        missing.join("; ")
    );
    assert!(!in_ci(), "{message}");
    eprintln!("{message}");
    None
}

/// What one session through the bridge answered.
#[derive(Debug, Default)]
pub struct BridgeRun {
    /// The `initialize` result's `serverInfo`.
    pub server_info: Value,
    /// The tool names of `tools/list`, in order.
    pub tools: Vec<String>,
    /// The `tools/call` result.
    pub call: Value,
    /// The authorization URL mcp-remote printed (before its sanitizer), if it printed one.
    pub printed_authorize_url: Option<String>,
    /// The headless browser's hops (`METHOD origin+path -> status`), then `done: …`.
    pub browser_hops: Vec<String>,
    /// What went wrong, if the session did not complete.
    pub error: Option<String>,
    /// Everything mcp-remote printed (stdout and stderr, tagged).
    pub log: String,
}

impl BridgeRun {
    /// Whether initialize, tools/list and tools/call all answered with a result.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// What a run through a proxy must reproduce: server, tools, tool result.
    pub fn comparable(&self) -> Value {
        json!({"server": self.server_info, "tools": self.tools, "call": self.call})
    }

    /// The failure with mcp-remote's output and the browser's hops, for a panic message.
    pub fn explain(&self) -> String {
        format!(
            "{}\nheadless browser:\n  {}\nmcp-remote output:\n{}",
            self.error.as_deref().unwrap_or("(no error)"),
            self.browser_hops.join("\n  "),
            self.log
        )
    }
}

/// One bridge process and the next JSON-RPC id.
struct Session {
    proc: Proc,
    stdin: ChildStdin,
    next_id: u64,
}

impl Session {
    fn notify(&mut self, method: &str) -> Result<(), String> {
        let line = json!({"jsonrpc": "2.0", "method": method});
        writeln!(self.stdin, "{line}").map_err(|e| format!("writing {method}: {e}"))
    }

    /// Sends a request and waits for the response with its id; returns its `result`.
    fn request(&mut self, method: &str, params: Value, timeout: Duration) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{line}").map_err(|e| format!("writing {method}: {e}"))?;
        let answer = self.proc.try_wait_for_stdout_line(timeout, |line| {
            serde_json::from_str::<Value>(line)
                .ok()
                .filter(|m| m["id"] == id)
        })?;
        match answer.get("result") {
            Some(result) => Ok(result.clone()),
            None => Err(format!("{method} answered without a result: {answer}")),
        }
    }
}

impl McpRemote {
    /// Runs one session against `url` (trusting `ca` with `NODE_EXTRA_CA_CERTS` when given):
    /// initialize, notifications/initialized, tools/list, tools/call `countdown` from 3.
    pub fn run(&self, url: &str, ca: Option<&Path>) -> BridgeRun {
        let home = tempfile::tempdir().unwrap();
        let browser_log = home.path().join("browser.log");
        let mut cmd = Command::new("node");
        // The positional port after the URL: a free one, not the port mcp-remote derives from a
        // hash of the URL (parallel tests could collide on it).
        cmd.arg(&self.bridge)
            .arg(url)
            .arg(free_port().to_string())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("MCP_REMOTE_CONFIG_DIR", home.path().join("mcp-auth"))
            .env("BROWSER", &self.browser)
            .env("AUTHTAP_BROWSER_LOG", &browser_log);
        if let Some(ca) = ca {
            cmd.env("NODE_EXTRA_CA_CERTS", ca);
        }
        let (proc, stdin) = Proc::spawn_with_stdin("mcp-remote", cmd);
        let mut session = Session {
            proc,
            stdin,
            next_id: 0,
        };
        let mut run = BridgeRun::default();
        if let Err(error) = converse(&mut session, &mut run) {
            run.error = Some(error);
        }
        let Session { proc, stdin, .. } = session;
        drop(stdin);
        run.log = proc.log();
        // stdin closed: mcp-remote shuts down; it is killed after the deadline otherwise.
        let _ = proc.finish(Duration::from_secs(5));
        run.printed_authorize_url = printed_authorize_url(&run.log);
        run.browser_hops = std::fs::read_to_string(&browser_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        run
    }
}

fn converse(session: &mut Session, run: &mut BridgeRun) -> Result<(), String> {
    let initialize = session.request(
        "initialize",
        json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "authtap-mcp-remote-e2e", "version": "0"},
        }),
        FIRST_ANSWER_TIMEOUT,
    )?;
    run.server_info = initialize["serverInfo"].clone();
    session.notify("notifications/initialized")?;
    let list = session.request("tools/list", json!({}), ANSWER_TIMEOUT)?;
    run.tools = list["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    run.call = session.request(
        "tools/call",
        json!({"name": "countdown", "arguments": {"from": 3}}),
        ANSWER_TIMEOUT,
    )?;
    Ok(())
}

/// The URL on the line after mcp-remote's "Please authorize this client by visiting:".
fn printed_authorize_url(log: &str) -> Option<String> {
    let mut lines = log.lines();
    lines.find(|l| l.contains("Please authorize this client by visiting"))?;
    lines.find_map(crate::harness::first_url)
}
