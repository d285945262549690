//! `authtap rules` through the real binary: the whole catalog is listed, one rule is explained
//! with its fix and source, JSON output parses, an unknown id exits 2, and a closed pipe ends
//! the command quietly with exit 0.

use std::io::Read;
use std::process::{Command, Stdio};

fn authtap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_authtap"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn lists_every_rule_of_the_catalog() {
    let out = authtap(&["rules"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let count = authtap::rules::registry::all().count();
    assert!(count > 150, "catalog unexpectedly small: {count}");
    assert!(text.contains(&format!("{count} rules;")), "{text}");
    for id in [
        "WWWAUTH-MISSING",
        "PRM-401",
        "DCR-FLOAT-EXPIRY",
        "X-TOKEN-NOT-USED",
    ] {
        assert!(text.contains(id), "{id} missing from the listing");
    }
}

#[test]
fn explains_one_rule_case_insensitively() {
    let out = authtap(&["rules", "wwwauth-missing"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("WWWAUTH-MISSING"), "{text}");
    assert!(
        text.contains("fix:") && text.contains("WWW-Authenticate"),
        "{text}"
    );
    assert!(
        text.contains("source:") && text.contains("RFC 9110"),
        "{text}"
    );
}

#[test]
fn json_output_has_the_finding_fields() {
    let out = authtap(&["rules", "DCR-FLOAT-EXPIRY", "--format", "json"]);
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rule = &list[0];
    assert_eq!(rule["rule"], "DCR-FLOAT-EXPIRY");
    assert_eq!(rule["severity"], "error");
    assert_eq!(rule["phase"], "registration");
    assert_eq!(rule["who"][0], "AS");
    assert!(rule["fix"].as_str().unwrap().contains("integer"));
}

#[test]
fn unknown_rule_exits_2_with_a_clear_error() {
    let out = authtap(&["rules", "NOT-A-RULE"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no rule `NOT-A-RULE`"), "{err}");
}

#[test]
fn closed_stdout_pipe_exits_0_without_a_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authtap"))
        .arg("rules")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Hang up before the child has written anything (process start-up takes milliseconds), so
    // its first write meets a closed pipe.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn explains_severity_per_revision() {
    let out = authtap(&["rules", "WWWAUTH-NO-RESOURCE-METADATA"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "2025-03-26  does not apply",
        "2025-06-18  error",
        "2025-11-25  info",
        "2026-07-28  info",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    let out = authtap(&["rules", "WWWAUTH-NO-RESOURCE-METADATA", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by = &list[0]["severity_by_revision"];
    assert_eq!(by["2025-03-26"], serde_json::Value::Null);
    assert_eq!(by["2025-06-18"], "error");
    assert_eq!(by["2025-11-25"], "info");
    assert_eq!(
        list[0]["applies_to"],
        serde_json::json!(["2025-06-18", "2025-11-25", "2026-07-28"])
    );
}

#[test]
fn markdown_is_the_committed_catalog() {
    let out = authtap(&["rules", "--format", "markdown"]);
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md")).unwrap();
    assert!(
        String::from_utf8(out.stdout).unwrap() == committed,
        "docs/rules.md is stale: run `cargo run -- rules --format markdown > docs/rules.md`"
    );
    let out = authtap(&["rules", "PRM-401", "--format", "markdown"]);
    assert_eq!(out.status.code(), Some(2));
}
