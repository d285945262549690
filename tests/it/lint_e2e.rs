//! End to end: `authtap demo` runs the scripted client through the recording proxy against the
//! embedded reference server (real TLS and sockets on 127.0.0.1), once clean and once per
//! fault; then `authtap lint` re-runs the rules over the recorded trace. Each fault must yield
//! its catalog rules and nothing else at error level; the clean flow yields no error or warning.
//! The live findings written by the recorder (completion order) must agree with lint's.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn run_demo(dir: &Path, fault: Option<&str>) -> std::path::PathBuf {
    let out = dir.join(fault.unwrap_or("clean"));
    let mut cmd = Command::cargo_bin("authtap").unwrap();
    cmd.arg("demo")
        .arg("--out")
        .arg(&out)
        .arg("--certs")
        .arg(dir.join("certs"));
    if let Some(f) = fault {
        cmd.args(["--fault", f]);
    }
    let o = cmd
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let trace = out.join("trace.jsonl");
    assert!(
        trace.exists(),
        "demo {fault:?} wrote no trace: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    trace
}

fn lint(trace: &Path) -> (i32, Vec<Value>) {
    let o = Command::cargo_bin("authtap")
        .unwrap()
        .args(["lint", "--format", "json"])
        .arg(trace)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    (
        o.status.code().unwrap_or(-1),
        v.as_array().cloned().unwrap_or_default(),
    )
}

fn rules_at(findings: &[Value], severity: &str) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .filter(|f| f["severity"] == severity)
        .filter_map(|f| f["rule"].as_str().map(str::to_owned))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Rule ids the live recorder wrote into the trace (exchange and flow findings).
fn live_rules(trace: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(trace).unwrap();
    let mut v = Vec::new();
    for line in text.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        for f in r["findings"].as_array().into_iter().flatten() {
            if f["severity"] == "error" {
                v.push(f["rule"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

#[test]
fn clean_demo_flow_has_no_error_or_warning() {
    let dir = tempfile::tempdir().unwrap();
    let trace = run_demo(dir.path(), None);
    let (code, findings) = lint(&trace);
    assert!(
        rules_at(&findings, "error").is_empty() && rules_at(&findings, "warning").is_empty(),
        "{findings:#?}"
    );
    assert_eq!(code, 0);
    assert!(
        live_rules(&trace).is_empty(),
        "live recorder found errors on the clean flow: {:?}",
        live_rules(&trace)
    );
}

#[test]
fn each_demo_fault_yields_its_rules_and_nothing_else_at_error() {
    // (fault, rules that must fire, other rules allowed at error level)
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("no-www-authenticate", &["WWWAUTH-MISSING"], &[]),
        ("prm-401", &["PRM-401"], &[]),
        ("dcr-float-expiry", &["DCR-FLOAT-EXPIRY"], &[]),
        ("dcr-null-optional", &["DCR-NULL-OPTIONAL"], &[]),
        (
            "waf-challenge-prm",
            &["GEN-WAF-CHALLENGE", "GEN-HTML-INSTEAD-OF-JSON"],
            &[],
        ),
        (
            "vercel-checkpoint-mcp",
            &["GEN-WAF-CHALLENGE", "GEN-HTML-INSTEAD-OF-JSON"],
            &[],
        ),
        (
            "no-cors-well-known",
            &["CORS-PREFLIGHT-FAIL"],
            &["CORS-NO-ACAO"],
        ),
        ("no-expose-www-authenticate", &["CORS-EXPOSE-WWW-AUTH"], &[]),
        (
            "issuer-trailing-slash",
            &["ASM-ISSUER-MISMATCH", "X-ISSUER-CHAIN"],
            &["CB-ISS-MISMATCH", "X-JWT-ISS"],
        ),
        (
            "resource-mismatch",
            &["PRM-RESOURCE-NE-REQUEST-URL"],
            &["X-RESOURCE-VS-PRM", "X-JWT-AUD"],
        ),
        (
            "locale-redirect",
            &["GEN-LOCALE-REDIRECT", "GEN-REDIRECT-ON-API"],
            &[],
        ),
        (
            "token-wrong-audience",
            &["X-TOKEN-REJECTED-AFTER-ISSUE", "X-JWT-AUD"],
            &[],
        ),
        ("dcr-rejects-secret-post", &["DCR-REJECTS-SECRET-POST"], &[]),
        (
            "mcp-trailing-slash-redirect",
            &["GEN-TRAILING-SLASH-REDIRECT", "GEN-REDIRECT-ON-API"],
            &[],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (fault, must, allowed) in cases {
        let trace = run_demo(dir.path(), Some(fault));
        let (code, findings) = lint(&trace);
        let all: Vec<&str> = findings.iter().filter_map(|f| f["rule"].as_str()).collect();
        for m in *must {
            if !all.contains(m) {
                failures.push(format!("{fault}: {m} did not fire; got {all:?}"));
            }
        }
        let errors = rules_at(&findings, "error");
        let unexpected: Vec<&String> = errors
            .iter()
            .filter(|e| !must.contains(&e.as_str()) && !allowed.contains(&e.as_str()))
            .collect();
        if !unexpected.is_empty() {
            failures.push(format!(
                "{fault}: unexpected error-level rules {unexpected:?}"
            ));
        }
        if code != if errors.is_empty() { 0 } else { 1 } {
            failures.push(format!("{fault}: exit code {code}"));
        }
        // The live recorder ran the same engine in completion order: same error-level verdicts.
        let live = live_rules(&trace);
        if live != errors {
            failures.push(format!(
                "{fault}: live errors {live:?} ≠ lint errors {errors:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A second `authtap demo` into the same folder keeps the first run's files and writes its own
/// next to them (`trace-2.*`): the README's main command can be run again as it is.
#[test]
fn a_second_demo_run_keeps_the_first_trace_and_writes_the_next_name() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_demo(dir.path(), None);
    let first_bytes = std::fs::read(&first).unwrap();
    let out = dir.path().join("clean");
    let o = Command::cargo_bin("authtap")
        .unwrap()
        .arg("demo")
        .arg("--out")
        .arg(&out)
        .arg("--certs")
        .arg(dir.path().join("certs"))
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "second demo run failed: {stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read(&first).unwrap(),
        first_bytes,
        "first trace changed"
    );
    for name in ["trace-2.jsonl", "trace-2.har", "trace-2.md", "trace-2.html"] {
        assert!(
            out.join(name).is_file(),
            "{name} missing; stdout:\n{stdout}"
        );
    }
    assert!(stdout.contains("trace-2.jsonl"), "{stdout}");
    let (_, findings) = lint(&out.join("trace-2.jsonl"));
    assert!(rules_at(&findings, "error").is_empty(), "{findings:?}");
}
