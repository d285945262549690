//! `authtap lint` end to end through the binary (assert_cmd): exit codes, the JSON shape, the
//! text report, HAR input, and for every fixture trace the expected rule ids with nothing else
//! at error level (the clean reference flow has no error or warning at all).

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/traces")
        .join(name)
}

fn lint_json(name: &str) -> (i32, Vec<Value>) {
    let out = Command::cargo_bin("authtap")
        .unwrap()
        .args(["lint", "--format", "json"])
        .arg(fixture(name))
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: stdout is not one JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (code, v.as_array().cloned().expect("a JSON array"))
}

fn ids_at(findings: &[Value], severity: &str) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .filter(|f| f["severity"] == severity)
        .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn clean_trace_has_no_error_or_warning_and_exits_0() {
    for name in ["clean.jsonl", "clean.har"] {
        let (code, findings) = lint_json(name);
        assert_eq!(code, 0, "{name}: {findings:#?}");
        assert!(
            ids_at(&findings, "error").is_empty() && ids_at(&findings, "warning").is_empty(),
            "{name}: {findings:#?}"
        );
    }
}

#[test]
fn json_findings_have_the_documented_shape() {
    let (_, findings) = lint_json("fault-dcr-float-expiry.jsonl");
    let f = findings
        .iter()
        .find(|f| f["rule"] == "DCR-FLOAT-EXPIRY")
        .expect("DCR-FLOAT-EXPIRY");
    for key in [
        "rule", "severity", "who", "phase", "message", "fix", "source", "exchange", "flow",
        "request",
    ] {
        assert!(!f[key].is_null(), "missing {key} in {f:#}");
    }
    assert_eq!(f["phase"], "registration");
    assert_eq!(f["who"], serde_json::json!(["AS"]));
    assert!(f["exchange"].as_u64().is_some());
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("client_secret_expires_at")
    );
}

#[test]
fn every_fixture_yields_its_rules_and_nothing_else_at_error() {
    // (fixture, rules that must fire, other rules allowed at error level)
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("fault-no-www-authenticate.jsonl", &["WWWAUTH-MISSING"], &[]),
        ("fault-prm-401.jsonl", &["PRM-401"], &[]),
        ("fault-dcr-float-expiry.jsonl", &["DCR-FLOAT-EXPIRY"], &[]),
        ("fault-dcr-null-optional.jsonl", &["DCR-NULL-OPTIONAL"], &[]),
        (
            "fault-waf-challenge-prm.jsonl",
            &["GEN-WAF-CHALLENGE", "GEN-HTML-INSTEAD-OF-JSON"],
            &[],
        ),
        (
            "fault-vercel-checkpoint-mcp.jsonl",
            &["GEN-WAF-CHALLENGE", "GEN-HTML-INSTEAD-OF-JSON"],
            &[],
        ),
        (
            "fault-no-cors-well-known.jsonl",
            &["CORS-PREFLIGHT-FAIL"],
            &["CORS-NO-ACAO"],
        ),
        (
            "fault-no-expose-www-authenticate.jsonl",
            &["CORS-EXPOSE-WWW-AUTH"],
            &[],
        ),
        (
            "fault-issuer-trailing-slash.jsonl",
            &["ASM-ISSUER-MISMATCH", "X-ISSUER-CHAIN"],
            &["CB-ISS-MISMATCH", "X-JWT-ISS"],
        ),
        (
            "fault-resource-mismatch.jsonl",
            &["PRM-RESOURCE-NE-REQUEST-URL"],
            &["X-RESOURCE-VS-PRM", "X-JWT-AUD"],
        ),
        (
            "fault-locale-redirect.jsonl",
            &["GEN-LOCALE-REDIRECT", "GEN-REDIRECT-ON-API"],
            &[],
        ),
        (
            "fault-token-wrong-audience.jsonl",
            &["X-TOKEN-REJECTED-AFTER-ISSUE", "X-JWT-AUD"],
            &[],
        ),
        (
            "fault-dcr-rejects-secret-post.jsonl",
            &["DCR-REJECTS-SECRET-POST"],
            &[],
        ),
        (
            "fault-mcp-trailing-slash-redirect.jsonl",
            &["GEN-TRAILING-SLASH-REDIRECT", "GEN-REDIRECT-ON-API"],
            &[],
        ),
        (
            "seed-002-token-not-bound.jsonl",
            &["X-TOKEN-NOT-USED", "X-CHALLENGE-IGNORED"],
            &[],
        ),
        (
            "seed-004-pkce-verifier-lost.jsonl",
            &["X-PKCE-MISMATCH"],
            &["X-PKCE-NOT-ENFORCED"],
        ),
    ];
    for (name, must, allowed) in cases {
        let (code, findings) = lint_json(name);
        let all: Vec<&str> = findings.iter().filter_map(|f| f["rule"].as_str()).collect();
        for m in *must {
            assert!(all.contains(m), "{name}: {m} did not fire; got {all:?}");
        }
        let errors = ids_at(&findings, "error");
        let unexpected: Vec<&String> = errors
            .iter()
            .filter(|e| !must.contains(&e.as_str()) && !allowed.contains(&e.as_str()))
            .collect();
        assert!(
            unexpected.is_empty(),
            "{name}: unexpected error-level rules {unexpected:?}"
        );
        assert_eq!(
            code,
            if errors.is_empty() { 0 } else { 1 },
            "{name}: exit code"
        );
    }
}

#[test]
fn text_report_groups_per_exchange_with_narrative() {
    let out = Command::cargo_bin("authtap")
        .unwrap()
        .arg("lint")
        .arg(fixture("seed-002-token-not-bound.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[token flow 1] POST"), "{text}");
    assert!(text.contains("X-TOKEN-NOT-USED"), "{text}");
    assert!(
        text.contains("flow 1 narrative:") && text.contains("phases reached:"),
        "{text}"
    );
}

#[test]
fn unreadable_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.jsonl");
    Command::cargo_bin("authtap")
        .unwrap()
        .arg("lint")
        .arg(&missing)
        .assert()
        .code(2);
    let garbage = dir.path().join("garbage.jsonl");
    std::fs::write(&garbage, "this is not a trace\nnor is this\n").unwrap();
    Command::cargo_bin("authtap")
        .unwrap()
        .arg("lint")
        .arg(&garbage)
        .assert()
        .code(2);
}

fn lint_json_as(client: &str, name: &str) -> (i32, Vec<Value>) {
    let out = Command::cargo_bin("authtap")
        .unwrap()
        .args(["lint", "--format", "json", "--client", client])
        .arg(fixture(name))
        .output()
        .unwrap();
    assert!(
        out.status.code() != Some(2),
        "--client {client} {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        out.status.code().unwrap_or(-1),
        v.as_array().cloned().expect("a JSON array"),
    )
}

#[test]
fn every_client_profile_check_knows_is_accepted_by_lint() {
    // The same registry serves `check --client` and `lint --client`.
    for client in ["generic", "claude-ai", "claude-code", "inspector"] {
        let (_, findings) = lint_json_as(client, "clean.jsonl");
        assert!(!findings.is_empty(), "--client {client}");
    }
}

#[test]
fn lint_client_inspector_applies_the_browser_profile() {
    let (code, findings) = lint_json_as("inspector", "clean.jsonl");
    assert_eq!(code, 0, "{findings:#?}");
    assert!(ids_at(&findings, "error").is_empty(), "{findings:#?}");
    let (code, findings) = lint_json_as("inspector", "fault-no-cors-well-known.jsonl");
    assert_eq!(code, 1);
    assert!(
        ids_at(&findings, "error").contains(&"CORS-PREFLIGHT-FAIL".to_string()),
        "{findings:#?}"
    );
}

#[test]
fn lint_client_claude_ai_raises_its_overrides_to_error() {
    let (code, findings) = lint_json_as("generic", "clean.jsonl");
    assert_eq!(code, 0);
    assert!(ids_at(&findings, "info").contains(&"GEN-NON-443".to_string()));
    let (code, findings) = lint_json_as("claude-ai", "clean.jsonl");
    assert_eq!(code, 1);
    assert!(ids_at(&findings, "error").contains(&"GEN-NON-443".to_string()));
}

#[test]
fn lint_unknown_client_exits_2_naming_the_profiles() {
    let out = Command::cargo_bin("authtap")
        .unwrap()
        .args(["lint", "--client", "chatgpt"])
        .arg(fixture("clean.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("chatgpt") && err.contains("inspector") && err.contains("claude-code"),
        "{err}"
    );
}
