//! The official MCP conformance suite's client auth scenarios under `authtap run` (issue #12):
//! every scenario must give the verdict it gives directly. The suite's own well-behaved client
//! (tests/conformance/auth-client.mjs, on the project-local Node 22) is the command authtap
//! runs, so its `fetch` goes through the forward proxy (`NODE_USE_ENV_PROXY`) with nothing
//! rewritten — including the scenarios reverse mode cannot carry (a signed assertion's `aud`,
//! an issuer with a path), which must pass here. Each trace must be a forward-mode trace that
//! recorded the scenario's traffic.
//!
//! The expectations are the reverse-mode oracle's (tests/it/conformance/expectations.rs): a
//! scenario that fails directly (`FailsAsDirect`) must fail, every other one must pass.
//! Install with `bash scripts/ci/install-conformance.sh`; outside CI a missing install skips
//! loudly, under `CI=true` it fails.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

use crate::conformance::{expectations, install};

use expectations::{Expect, SUITE_0_1_16, SUITE_2026_07_28, Suite, Verdict};
use install::{POOL, install_or_skip, read_checks};

/// One scenario's result under `authtap run`.
struct Outcome {
    passed: bool,
    checks: String,
    mode: Value,
    exchanges: usize,
    log: String,
}

fn run_scenario(dir: &Path, node: &Path, suite: &Suite, work: &Path, scenario: &str) -> Outcome {
    let slug = scenario.replace('/', "_");
    let trace = work.join(format!("{slug}.jsonl"));
    let out_dir = work.join(format!("out-{slug}"));
    // The runner appends the scenario's server URL to this command.
    let command = format!(
        "{} run --trace {} -- {} {}",
        env!("CARGO_BIN_EXE_authtap"),
        trace.display(),
        node.display(),
        dir.join("auth-client.mjs").display()
    );
    let run = Command::new("timeout")
        .arg("180")
        .arg(node)
        .arg(dir.join(suite.runner))
        .args([
            "client",
            "--scenario",
            scenario,
            "--command",
            &command,
            "-o",
        ])
        .arg(&out_dir)
        .env("NO_COLOR", "1")
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env_remove("https_proxy")
        .env_remove("http_proxy")
        .current_dir(dir)
        .output()
        .expect("run the conformance runner");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let checks = read_checks(&out_dir);
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c["status"] == "FAILURE")
        .map(|c| c["id"].as_str().unwrap_or("?").to_string())
        .collect();
    let records: Vec<Value> = std::fs::read_to_string(&trace)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    Outcome {
        passed: run.status.success() && !checks.is_empty() && failed.is_empty(),
        checks: if failed.is_empty() {
            format!("{} checks", checks.len())
        } else {
            format!("failed: {}", failed.join(", "))
        },
        mode: records
            .first()
            .map_or(Value::Null, |session| session["mode"].clone()),
        exchanges: records.iter().filter(|r| r["type"] == "exchange").count(),
        log,
    }
}

fn run_suite(dir: &Path, node: &Path, suite: &Suite) {
    let work = tempfile::tempdir().unwrap();
    let queue = Mutex::new(suite.expectations.iter().collect::<Vec<&Expect>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..POOL {
            scope.spawn(|| {
                loop {
                    let Some(expect) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let _peers = crate::heavy::slot();
                    let outcome = run_scenario(dir, node, suite, work.path(), expect.scenario);
                    results.lock().unwrap().push((expect, outcome));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(e, _)| e.scenario);
    let mut problems = Vec::new();
    let mut same = 0;
    for (expect, outcome) in &results {
        let direct_passes = !matches!(expect.verdict, Verdict::FailsAsDirect(_));
        let verdict = if outcome.passed { "pass" } else { "FAIL" };
        println!(
            "{:<46} {verdict:<5} {} ({} exchanges)",
            expect.scenario, outcome.checks, outcome.exchanges
        );
        if outcome.passed == direct_passes {
            same += 1;
        } else {
            problems.push(format!(
                "{}: {} under authtap run, {} directly\n{}",
                expect.scenario,
                verdict,
                if direct_passes { "passes" } else { "fails" },
                outcome
                    .log
                    .lines()
                    .rev()
                    .take(15)
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        if outcome.mode != "forward" || outcome.exchanges == 0 {
            problems.push(format!(
                "{}: the trace is not a forward-mode trace with exchanges (mode {}, {} exchanges)",
                expect.scenario, outcome.mode, outcome.exchanges
            ));
        }
    }
    println!(
        "{same}/{} scenarios give the same verdict under authtap run as directly",
        results.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn client_auth_scenarios_under_authtap_run_give_the_direct_verdict() {
    let test = "client_auth_scenarios_under_authtap_run_give_the_direct_verdict";
    let Some(install::Install { dir, node }) = install_or_skip(test) else {
        return;
    };
    run_suite(&dir, &node, &SUITE_0_1_16);
}

#[test]
fn client_auth_2026_07_28_scenarios_under_authtap_run_give_the_direct_verdict() {
    let test = "client_auth_2026_07_28_scenarios_under_authtap_run_give_the_direct_verdict";
    let Some(install::Install { dir, node }) = install_or_skip(test) else {
        return;
    };
    run_suite(&dir, &node, &SUITE_2026_07_28);
}
