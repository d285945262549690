//! Running the Node helpers of `tests/js` (har-validator, playwright-core + Debian's
//! chromium). When a tool is missing the test is skipped loudly, unless `CI=true`, where a
//! missing tool fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `tests/js` in the source tree.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("js")
}

/// Path of Debian's chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether node, the npm packages (and chromium if asked) are installed. Skips loudly, or
/// panics under `CI=true`.
pub fn ready(test: &str, need_chromium: bool) -> bool {
    let mut missing = Vec::new();
    if Command::new("node")
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        missing.push("node".to_string());
    }
    for pkg in ["har-validator", "playwright-core"] {
        if !js_dir()
            .join("node_modules")
            .join(pkg)
            .join("package.json")
            .exists()
        {
            missing.push(format!("tests/js/node_modules/{pkg}"));
        }
    }
    if need_chromium && !Path::new(CHROMIUM).exists() {
        missing.push(CHROMIUM.to_string());
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{test}: SKIPPED — missing {}; run scripts/ci/install-export.sh",
        missing.join(", ")
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true, so this is a failure)");
    }
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!!! {msg}\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    false
}

/// Runs `node tests/js/<script> <args…>`.
/// Holds a [`crate::heavy`] slot while it runs (the HTML renderer starts Chromium).
pub fn run(script: &str, args: &[&Path]) -> Output {
    let _node = crate::heavy::slot();
    let mut cmd = Command::new("node");
    cmd.arg(js_dir().join(script))
        .args(args)
        .current_dir(js_dir());
    cmd.output().expect("node runs")
}
