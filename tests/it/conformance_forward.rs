//! The official MCP conformance suite's client auth scenarios under `authtap run` (issue #12):
//! every client auth scenario that each pinned runner lists (`conformance list --client`: 22 in
//! 0.1.16, 33 in 0.2.0-alpha.12, 55 runs in all; a scenario both list runs on both) is run
//! twice with the suite's own well-behaved client (tests/conformance/auth-client.mjs, on the
//! project-local Node 22) — directly, and as the command of `authtap run`, where its `fetch`
//! goes through the forward proxy (`NODE_USE_ENV_PROXY`) with nothing rewritten — and must get
//! the same verdict both ways. That includes the scenarios reverse mode cannot carry (a signed
//! assertion's `aud`, an issuer with a path). Each `authtap run` trace must be a forward-mode
//! trace that recorded the scenario's traffic.
//!
//! Install with `bash scripts/ci/install-conformance.sh`; outside CI a missing install skips
//! loudly, under `CI=true` it fails.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::Value;

use crate::conformance::install;

use install::{Install, POOL, Runner, install_or_skip, listed_auth_scenarios, read_checks};

/// How many client auth scenarios each pinned runner lists (`conformance list --client`), as
/// README.md states them: 55 runs in all.
const LISTED: &[(&str, usize)] = &[("0.1.16", 22), ("0.2.0-alpha.12", 33)];

/// One run of a scenario: the suite's verdict, and the trace when authtap recorded it.
struct Outcome {
    passed: bool,
    checks: String,
    mode: Value,
    exchanges: usize,
    log: String,
}

/// Runs `scenario` with the suite's client, under `authtap run` when `trace` is given.
fn run_scenario(
    install: &Install,
    runner: &Runner,
    work: &Path,
    scenario: &str,
    trace: Option<&Path>,
) -> Outcome {
    let slug = format!(
        "{}-{}-{}",
        runner.version,
        scenario.replace('/', "_"),
        if trace.is_some() { "run" } else { "direct" }
    );
    let out_dir = work.join(format!("out-{slug}"));
    let client = format!(
        "{} {}",
        install.node.display(),
        install.dir.join("auth-client.mjs").display()
    );
    // The runner appends the scenario's server URL to this command.
    let command = match trace {
        Some(trace) => format!(
            "{} run --trace {} -- {client}",
            env!("CARGO_BIN_EXE_authtap"),
            trace.display()
        ),
        None => client,
    };
    let run = Command::new("timeout")
        .arg("180")
        .arg(&install.node)
        .arg(install.dir.join(runner.path))
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
        .current_dir(&install.dir)
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
    let records: Vec<Value> = trace
        .and_then(|t| std::fs::read_to_string(t).ok())
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

fn verdict(passed: bool) -> &'static str {
    if passed { "pass" } else { "FAIL" }
}

#[test]
fn every_client_auth_scenario_of_both_suites_gives_the_direct_verdict_under_authtap_run() {
    let test =
        "every_client_auth_scenario_of_both_suites_gives_the_direct_verdict_under_authtap_run";
    let Some(install) = install_or_skip(test) else {
        return;
    };
    let started = Instant::now();
    let mut jobs: Vec<(&Runner, String)> = Vec::new();
    for runner in install::RUNNERS {
        let listed = listed_auth_scenarios(&install, runner.path);
        println!(
            "conformance {}: {} client auth scenarios listed",
            runner.version,
            listed.len()
        );
        let expected = LISTED
            .iter()
            .find(|(version, _)| *version == runner.version)
            .map(|(_, count)| *count);
        assert_eq!(
            Some(listed.len()),
            expected,
            "conformance {} lists {listed:?}; update LISTED and the counts in README.md and \
             tests/conformance/README.md",
            runner.version
        );
        jobs.extend(listed.into_iter().map(|scenario| (runner, scenario)));
    }
    let work = tempfile::tempdir().unwrap();
    let queue = Mutex::new(jobs.iter().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..POOL {
            scope.spawn(|| {
                loop {
                    let Some((runner, scenario)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let _peers = crate::heavy::slot();
                    let trace = work.path().join(format!(
                        "{}-{}.jsonl",
                        runner.version,
                        scenario.replace('/', "_")
                    ));
                    let direct = run_scenario(&install, runner, work.path(), scenario, None);
                    let proxied =
                        run_scenario(&install, runner, work.path(), scenario, Some(&trace));
                    results
                        .lock()
                        .unwrap()
                        .push((runner.version, scenario, direct, proxied));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(version, scenario, ..)| (*version, *scenario));
    let mut problems = Vec::new();
    let mut same = 0;
    for (version, scenario, direct, proxied) in &results {
        println!(
            "{version:<15} {scenario:<44} direct {:<5} authtap run {:<5} {} ({} exchanges)",
            verdict(direct.passed),
            verdict(proxied.passed),
            proxied.checks,
            proxied.exchanges
        );
        if direct.passed == proxied.passed {
            same += 1;
        } else {
            problems.push(format!(
                "{version} {scenario}: {} under authtap run, {} directly ({})\n{}",
                verdict(proxied.passed),
                verdict(direct.passed),
                direct.checks,
                install::tail(&proxied.log, 15)
            ));
        }
        if proxied.mode != "forward" || proxied.exchanges == 0 {
            problems.push(format!(
                "{version} {scenario}: the trace is not a forward-mode trace with exchanges \
                 (mode {}, {} exchanges)",
                proxied.mode, proxied.exchanges
            ));
        }
    }
    println!(
        "{same}/{} scenarios give the same verdict under authtap run as directly \
         (wall time {:.0?}, {POOL} at a time)",
        results.len(),
        started.elapsed()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
