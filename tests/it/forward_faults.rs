//! Every fault of authtap's reference server that a plain SDK client meets is named with its
//! catalog rule ids from a trace recorded by `authtap run` (issue #12): the official Python SDK
//! client runs under `authtap run --mcp URL` against the faulty server (authorization server on
//! its own origin, learned from the flow), and the trace must carry every rule the fault's
//! catalog row lists. Faults that need a browser-like client (`--origin`), a claude.ai-like
//! registration or the browser's consent leg are out of this client's reach; the consent leg
//! runs through Chromium in tests/it/forward_peers.rs.
//!
//! Outside CI a missing Python SDK skips with a loud message; under `CI=true` it fails.

use crate::harness;

use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use authtap::demo::{CATALOG, ClientNeed, DemoConfig, FaultInfo, FaultSet};
use harness::Proc;
use harness::peers::{Peers, peers_or_skip};
use harness::trace::Trace;

/// Faults run at once (each is a server, authtap and a Python client; 2-core machines).
const POOL: usize = 3;

/// Runs the Python client under `authtap run` against a server with `info`'s fault; returns
/// the trace and authtap's output.
fn run_fault(peers: &Peers, info: &FaultInfo) -> (Trace, String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(authtap::demo::start(DemoConfig {
            faults: [info.fault].into_iter().collect::<FaultSet>(),
            separate_as: true,
            sse_step_delay: Duration::from_millis(5),
            ..DemoConfig::default()
        }))
        .unwrap();
    let server_url = server.mcp_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let trace_path = dir.path().join("t.jsonl");
    let mut command = Command::new(env!("CARGO_BIN_EXE_authtap"));
    command
        .args(["run", "--mcp", &server_url, "--trace"])
        .arg(&trace_path)
        .arg("--")
        .arg(&peers.python)
        .arg(peers.dir.join("py_client.py"))
        .args([&server_url, "--timeout", "15"])
        .current_dir(&peers.dir)
        .env("NO_COLOR", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for name in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
        "NO_PROXY",
    ] {
        command.env_remove(name);
    }
    let (_, log) = Proc::spawn("authtap run", command).finish_logged(Duration::from_secs(90));
    runtime.block_on(server.shutdown());
    (Trace::read(&trace_path), log)
}

#[test]
fn every_fault_a_plain_client_meets_is_named_from_an_authtap_run_trace() {
    let test = "every_fault_a_plain_client_meets_is_named_from_an_authtap_run_trace";
    let Some(peers) = peers_or_skip(test) else {
        return;
    };
    let reachable: Vec<&FaultInfo> = CATALOG
        .iter()
        .filter(|f| matches!(f.client_need, ClientNeed::Nothing) && !f.browser_leg_only)
        .collect();
    assert!(
        reachable.len() >= 10,
        "the catalog shrank: {}",
        reachable.len()
    );
    let queue = Mutex::new(reachable.clone());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..POOL {
            scope.spawn(|| {
                loop {
                    let Some(info) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let _peers = crate::heavy::slot();
                    let outcome = run_fault(&peers, info);
                    results.lock().unwrap().push((info, outcome));
                }
            });
        }
    });
    let mut problems = Vec::new();
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(info, _)| info.name);
    for (info, (trace, log)) in &results {
        let fired = trace.rule_ids();
        let missing: Vec<&&str> = info
            .rules
            .iter()
            .filter(|id| !fired.contains(**id))
            .collect();
        println!(
            "{:<30} expected {:?}: {}",
            info.name,
            info.rules,
            if missing.is_empty() {
                "named".to_string()
            } else {
                format!("MISSING {missing:?}")
            }
        );
        if trace.records.first().map(|s| &s["mode"]) != Some(&serde_json::json!("forward")) {
            problems.push(format!("{}: not a forward-mode trace", info.name));
        }
        if !missing.is_empty() {
            problems.push(format!(
                "{}: {missing:?} not in the authtap run trace (fired {fired:?})\n{}\n{}",
                info.name,
                trace.summary(),
                harness::tail(log, 15)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
