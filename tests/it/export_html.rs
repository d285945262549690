//! The HTML report in a real browser: headless Chromium (Debian's package) driven by
//! playwright-core through `tests/js/render-html.js`. Checks elements against the embedded
//! data, no console errors, no network requests, injected markup inert, screenshot not blank.
//! The screenshot is kept at `target/export-html-report.png` for a human to look at.

use crate::export_support;

use assert_cmd::Command;
use export_support::{fixture, node};

#[test]
fn html_report_renders_in_chromium_and_injection_is_inert() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    std::fs::write(&trace, fixture::canary_jsonl()).unwrap();
    let html = dir.path().join("report.html");
    let out = Command::cargo_bin("authtap")
        .unwrap()
        .args([
            "export",
            trace.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&html).unwrap();
    // Static checks that hold without a browser.
    assert!(
        !text.contains(fixture::INJECTION),
        "raw injection must not be in the page"
    );
    assert!(text.contains("&lt;script&gt;window.__pwned=1"));
    assert_eq!(
        text.matches("<script").count(),
        2,
        "only the data and the report script"
    );
    assert!(
        !text.contains("http://") || !text.contains("src=\"http"),
        "no external resources"
    );
    for canary in fixture::CANARIES {
        assert!(!text.contains(canary), "{canary} leaked into HTML");
    }
    if !node::ready("HTML rendering in Chromium", true) {
        return;
    }
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("export-html-report.png");
    let run = node::run("render-html.js", &[&html, &shot]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "render failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(result["arrows"], 11);
    assert_eq!(result["findingItems"], 4);
    assert_eq!(result["otherRequests"], serde_json::json!([]));
    assert_eq!(result["consoleErrors"], serde_json::json!([]));
    assert_eq!(result["injectedText"], true);
}
