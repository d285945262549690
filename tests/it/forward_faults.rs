//! Every fault of authtap's reference server is named with its catalog rule ids from a trace
//! recorded by `authtap run -- <client>` (issue #12), each with the client that meets it:
//!
//! - faults any client meets: the official Python SDK client;
//! - faults only a browser client meets (CORS): Chromium itself, through `authtap run
//!   --browser`, running a page on a loopback web origin that does a browser MCP client's
//!   discovery and registration cross-origin (tests/peers/browser-client.mjs), so the `Origin`
//!   headers and preflights are the browser's own;
//! - faults only a claude.ai-style registration meets (`client_secret_post`): authtap's built-in
//!   client, `authtap check --client claude-ai --register`, which reaches the server through
//!   `HTTPS_PROXY`/`HTTP_PROXY` and trusts `SSL_CERT_FILE` as curl does;
//! - the browser's consent leg (`consent-307-after-post`): Chromium clicking the consent form,
//!   in tests/it/forward_peers.rs.
//!
//! [`coverage`] assigns each catalog row its client; a fault no client covers fails
//! `every_demo_fault_has_an_authtap_run_test`. The authorization server is on its own origin,
//! learned from the flow. Outside CI a missing Python SDK or Chromium skips with a loud message;
//! under `CI=true` it fails.

use crate::harness;

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use authtap::demo::{CATALOG, ClientNeed, DemoConfig, Fault, FaultInfo, FaultSet};
use harness::Proc;
use harness::peers::{Peers, chromium_or_skip, peers_or_skip};
use harness::trace::Trace;

/// Faults run at once (each is a server, authtap and a Python client; 2-core machines).
const POOL: usize = 3;

/// The client that meets a fault under `authtap run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// The official Python SDK client.
    PythonSdk,
    /// Chromium running tests/peers/browser-client.mjs's page.
    BrowserPage,
    /// `authtap check --client claude-ai --register`.
    ClaudeAiCheck,
    /// Chromium clicking the consent form (tests/it/forward_peers.rs,
    /// `browser_leg_through_chromium_records_the_consent_post_and_its_307`).
    ConsentLeg,
}

/// Which client covers a fault, or `None` when no test does yet.
fn coverage(info: &FaultInfo) -> Option<Client> {
    if info.browser_leg_only {
        // The consent-leg test drives this one fault's form; another browser-leg fault needs
        // its own driver.
        return (info.fault == Fault::Consent307AfterPost).then_some(Client::ConsentLeg);
    }
    Some(match info.client_need {
        ClientNeed::Nothing => Client::PythonSdk,
        ClientNeed::BrowserOrigin => Client::BrowserPage,
        ClientNeed::ClaudeAiProfile => Client::ClaudeAiCheck,
    })
}

/// The catalog rows `client` covers.
fn faults_for(client: Client) -> Vec<&'static FaultInfo> {
    CATALOG
        .iter()
        .filter(|info| coverage(info) == Some(client))
        .collect()
}

#[test]
fn every_demo_fault_has_an_authtap_run_test() {
    let uncovered: Vec<&str> = CATALOG
        .iter()
        .filter(|info| coverage(info).is_none())
        .map(|info| info.name)
        .collect();
    assert!(
        uncovered.is_empty(),
        "no `authtap run` test names these faults: {uncovered:?} (give them a client in \
         `coverage` and a test)"
    );
    for client in [
        Client::PythonSdk,
        Client::BrowserPage,
        Client::ClaudeAiCheck,
        Client::ConsentLeg,
    ] {
        assert!(!faults_for(client).is_empty(), "{client:?} covers nothing");
    }
}

/// Runs the Python client under `authtap run` against a server with `info`'s fault; returns
/// the trace and authtap's output.
fn run_python_client(peers: &Peers, info: &FaultInfo) -> (Trace, String) {
    let client: Vec<OsString> = vec![
        peers.python.clone().into(),
        peers.dir.join("py_client.py").into(),
    ];
    run_fault(info, &[], &client, &["--timeout", "15"], &peers.dir)
}

/// Runs `client` (then the server's MCP URL, then `client_args`) under `authtap run` with
/// `run_flags` against a server with `info`'s fault; returns the trace and authtap's output.
fn run_fault(
    info: &FaultInfo,
    run_flags: &[&str],
    client: &[OsString],
    client_args: &[&str],
    cwd: &Path,
) -> (Trace, String) {
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
        .args(["run", "--mcp", &server_url])
        .args(run_flags)
        .arg("--trace")
        .arg(&trace_path)
        .arg("--")
        .args(client)
        .arg(&server_url)
        .args(client_args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for name in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
        "NO_PROXY",
        "SSL_CERT_FILE",
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
    let reachable = faults_for(Client::PythonSdk);
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
                    let outcome = run_python_client(&peers, info);
                    results.lock().unwrap().push((info, outcome));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(info, _)| info.name);
    assert_named(&results);
}

/// Asserts that each trace is a forward-mode trace carrying every rule its fault's catalog row
/// lists; prints one line per fault.
fn assert_named(results: &[(&FaultInfo, (Trace, String))]) {
    let mut problems = Vec::new();
    for (info, (trace, log)) in results {
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

#[test]
fn browser_origin_faults_are_named_from_chromium_under_authtap_run() {
    let _peers = crate::heavy::slot();
    let test = "browser_origin_faults_are_named_from_chromium_under_authtap_run";
    let Some(peers) = peers_or_skip(test) else {
        return;
    };
    if chromium_or_skip(test).is_none() {
        return;
    }
    let client: Vec<OsString> = vec![
        peers.node.clone().into(),
        peers.dir.join("browser-client.mjs").into(),
    ];
    let flags = [
        "--browser",
        "--browser-arg=--headless=new",
        "--browser-arg=--no-sandbox",
        "--browser-arg=--disable-gpu",
    ];
    // One Chromium at a time: each is heavier than a whole SDK client.
    let results: Vec<(&FaultInfo, (Trace, String))> = faults_for(Client::BrowserPage)
        .into_iter()
        .map(|info| (info, run_fault(info, &flags, &client, &[], &peers.dir)))
        .collect();
    for (info, (trace, log)) in &results {
        // The page reported, and the requests that reached the server are Chromium's own,
        // with the page's loopback web origin.
        let report = log
            .lines()
            .rev()
            .filter_map(|l| l.strip_prefix("[out] "))
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .unwrap_or_default();
        assert!(
            report["steps"].as_array().is_some_and(|s| !s.is_empty()),
            "{}: the page did not report:\n{}",
            info.name,
            harness::tail(log, 30)
        );
        let from_chromium = trace.exchanges().any(|x| {
            let headers = x["request"]["headers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|h| h["name"] == name)
                    .and_then(|h| h["value"].as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            header("user-agent").contains("Chrome")
                && header("origin").starts_with("http://localhost:")
        });
        assert!(
            from_chromium,
            "{}: no request from Chromium with a loopback Origin:\n{}",
            info.name,
            trace.summary()
        );
    }
    assert_named(&results);
}

#[test]
fn claude_ai_registration_faults_are_named_from_authtap_check_under_authtap_run() {
    let client: Vec<OsString> = vec![env!("CARGO_BIN_EXE_authtap").into(), "check".into()];
    let dir = tempfile::tempdir().unwrap();
    let results: Vec<(&FaultInfo, (Trace, String))> = faults_for(Client::ClaudeAiCheck)
        .into_iter()
        .map(|info| {
            // check refuses to overwrite a trace: one per fault.
            let check_trace = dir.path().join(format!("check-{}.jsonl", info.name));
            let check_args = [
                "--client",
                "claude-ai",
                "--register",
                "--trace",
                check_trace.to_str().unwrap(),
            ];
            (info, run_fault(info, &[], &client, &check_args, dir.path()))
        })
        .collect();
    for (info, (trace, log)) in &results {
        // The registration went through authtap's proxy: recorded there, with claude.ai's body.
        let registration = trace
            .exchanges()
            .find(|x| x["phase"] == "registration")
            .unwrap_or_else(|| {
                panic!(
                    "{}: no registration in the authtap run trace:\n{}\n{}",
                    info.name,
                    trace.summary(),
                    harness::tail(log, 30)
                )
            });
        let body = registration["request"]["body"]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(
            body.contains("client_secret_post"),
            "{}: not claude.ai's registration body: {body}",
            info.name
        );
    }
    assert_named(&results);
}
