//! `authtap check --format sarif` end to end: the real binary against the embedded reference
//! server names each finding with its rule, `--fail-on` sets the exit threshold, and the log
//! passes Microsoft's SARIF Multitool (`validate`: the SARIF 2.1.0 JSON schema plus its
//! rules), the validator GitHub code scanning documents, installed from npm into `tests/js` by
//! `scripts/ci/install-export.sh`.

use std::path::{Path, PathBuf};

use authtap::demo::Fault;
use serde_json::Value;

use super::check_demo::{args, check, json_of, server};

/// The Multitool's native Linux binary (npm `@microsoft/sarif-multitool-linux`).
fn multitool() -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/js/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool");
    assert!(
        bin.is_file(),
        "{} is missing: run scripts/ci/install-export.sh",
        bin.display()
    );
    bin
}

/// Region-less locations (SARIF2017) are expected: a finding is located at the checked URL,
/// which has no lines or columns to point at.
const EXPECTED: &[&str] = &["SARIF2017"];

/// The Multitool's findings about `log` other than the [`EXPECTED`] ones.
fn unexpected(log: &Value) -> Vec<(String, String, String)> {
    multitool_findings(log)
        .into_iter()
        .filter(|(_, rule, _)| !EXPECTED.contains(&rule.as_str()))
        .collect()
}

/// What the Multitool reports about `log`: `(level, rule id, message)` per result.
fn multitool_findings(log: &Value) -> Vec<(String, String, String)> {
    let _peers = crate::heavy::slot();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("check.sarif");
    let output = dir.path().join("validation.sarif");
    std::fs::write(&input, serde_json::to_vec_pretty(log).unwrap()).unwrap();
    let run = std::process::Command::new(multitool())
        .arg("validate")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
        .output()
        .unwrap();
    assert!(
        run.status.success() && output.is_file(),
        "the Multitool did not run: {}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    report["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            // A result without `level` is a warning (SARIF 2.1.0 §3.27.10).
            let level = r["level"].as_str().unwrap_or("warning").to_string();
            let rule = r["ruleId"].as_str().unwrap_or_default().to_string();
            let arguments: Vec<&str> = r["message"]["arguments"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let message = format!(
                "{}: {}",
                r["message"]["id"].as_str().unwrap_or_default(),
                arguments.join(", ")
            );
            (level, rule, message)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sarif_names_each_finding_and_fail_on_sets_the_threshold() {
    let failing = server(&[Fault::NoWwwAuthenticate]).await;
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("s.jsonl");
    let out = check(args(failing.mcp_url(), &trace, &["--format", "sarif"])).await;
    assert_eq!(out.status.code(), Some(1));
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    let objections = tokio::task::block_in_place(|| unexpected(&log));
    assert!(objections.is_empty(), "SARIF Multitool: {objections:#?}");
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "authtap");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let id = r["ruleId"].as_str().unwrap();
        assert_eq!(rules[r["ruleIndex"].as_u64().unwrap() as usize], id);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            failing.mcp_url()
        );
    }
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "WWWAUTH-MISSING" && r["level"] == "error")
    );
    // The text checklist names the rule behind the failed step (a new trace: the check never
    // overwrites one).
    let trace = dir.path().join("s-text.jsonl");
    let out = check(args(failing.mcp_url(), &trace, &[])).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("[FAIL] Unauthenticated initialize answers 401 with a Bearer challenge — WWWAUTH-MISSING"),
        "{text}"
    );
    failing.shutdown().await;

    // A fault with warnings only: exit 0 by default, 1 with --fail-on warning.
    let mut warned = None;
    for fault in [Fault::McpTrailingSlashRedirect, Fault::NoCorsWellKnown] {
        let server = server(&[fault]).await;
        let trace = dir.path().join(format!("{fault:?}.jsonl"));
        let out = check(args(server.mcp_url(), &trace, &["--format", "json"])).await;
        if json_of(&out)["verdict"]["status"] == "warn" {
            assert_eq!(out.status.code(), Some(0));
            let trace = dir.path().join(format!("{fault:?}-strict.jsonl"));
            let strict = check(args(
                server.mcp_url(),
                &trace,
                &["--format", "json", "--fail-on", "warning"],
            ))
            .await;
            assert_eq!(strict.status.code(), Some(1), "{fault:?}");
            warned = Some(fault);
        }
        server.shutdown().await;
        if warned.is_some() {
            break;
        }
    }
    assert!(
        warned.is_some(),
        "no warning-only fault to test --fail-on with"
    );
}

/// The validator is not a rubber stamp: the shapes authtap used to write (a rule `name` equal to
/// its `id`, an absolute path as a relative artifact URI) and a broken log are reported.
#[test]
fn the_multitool_reports_what_authtap_used_to_get_wrong() {
    let log = serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "authtap", "rules": [
                { "id": "WWWAUTH-MISSING", "name": "WWWAUTH-MISSING" }
            ] } },
            "artifacts": [{ "location": { "uri": "/tmp/t.jsonl" } }],
            "results": [],
        }],
    });
    let rules: Vec<String> = unexpected(&log).into_iter().map(|(_, r, _)| r).collect();
    assert!(rules.contains(&"SARIF1001".to_string()), "{rules:?}");
    assert!(rules.contains(&"SARIF1004".to_string()), "{rules:?}");
    let mut broken = log;
    broken["runs"][0]["results"] = serde_json::json!([{ "ruleId": 7 }]);
    assert!(
        multitool_findings(&broken)
            .iter()
            .any(|(level, _, _)| level == "error"),
        "a result with a numeric ruleId and no message passed"
    );
}
