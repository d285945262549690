//! Real MCP SDK peers end to end (issue #7): the official TypeScript and Python SDK clients,
//! driven headlessly by tests/peers/ts-client.mjs and tests/peers/py_client.py, against the
//! TypeScript SDK's example OAuth server and authtap's embedded reference server, directly and
//! through `authtap proxy` in reverse mode over TLS with the generated CA.
//!
//! Each test prints a results table (run with `--nocapture` to see it). Outside CI a missing
//! Node/Python or uninstalled SDK skips with a loud message; in CI (`CI=true`) it fails.
//! Install the peers with `bash scripts/ci/install-peers.sh`.

use crate::harness;

use harness::demo::start_demo;
use harness::peers::{ClientRun, ClientSdk, Peers, peers_or_skip, run_client, start_ts_example};
use harness::proxy::{start_proxy, start_proxy_with};
use harness::trace::{SeenFinding, Trace};

/// One cell of the matrix: a client against a server, directly and through the proxy.
struct Cell {
    client: ClientSdk,
    direct: ClientRun,
    proxied: ClientRun,
    trace: Trace,
    proxy_exited: bool,
}

/// Runs every client directly against `mcp_url` and through a fresh proxy in front of it.
fn run_cells(peers: &Peers, mcp_url: &str) -> Vec<Cell> {
    ClientSdk::ALL
        .into_iter()
        .map(|client| {
            let direct = run_client(peers, client, mcp_url, None);
            let proxy = start_proxy(mcp_url);
            let proxied = run_client(peers, client, &proxy.url, Some(&proxy.ca));
            let (trace, proxy_exited) = proxy.finish();
            Cell {
                client,
                direct,
                proxied,
                trace,
                proxy_exited,
            }
        })
        .collect()
}

/// Checks one cell against issue #7's acceptance criteria; returns the violations.
fn check_cell(server: &str, cell: &Cell, mcp_origin: &str, as_origin: &str) -> Vec<String> {
    let who = format!("{} × {server}", cell.client.label());
    let mut problems = Vec::new();
    if !cell.direct.ok() {
        problems.push(format!(
            "{who}: direct run failed: {}",
            cell.direct.error_line()
        ));
    }
    if !cell.proxied.ok() {
        problems.push(format!(
            "{who}: run through the proxy failed: {}\n  client requests: {}\n  trace:\n{}  client log:\n{}",
            cell.proxied.error_line(),
            cell.proxied.result["http"],
            cell.trace.summary(),
            harness::tail(&cell.proxied.log, 15)
        ));
    } else if cell.direct.comparable() != cell.proxied.comparable() {
        problems.push(format!(
            "{who}: results differ: direct {} vs proxied {}",
            cell.direct.comparable(),
            cell.proxied.comparable()
        ));
    }
    if cell.trace.bad_lines > 0 {
        problems.push(format!(
            "{who}: {} trace lines are not JSON",
            cell.trace.bad_lines
        ));
    }
    let missing = cell.trace.missing_phases();
    if !missing.is_empty() {
        problems.push(format!(
            "{who}: trace lacks phases {missing:?}:\n{}",
            cell.trace.summary()
        ));
    }
    let origins = cell.trace.phase_origins();
    for phase in ["discovery-as", "registration", "authorize", "token"] {
        let seen = origins.get(phase).cloned().unwrap_or_default();
        if !seen.contains(as_origin) {
            problems.push(format!(
                "{who}: {phase} exchanges went to {seen:?}, not the authorization server {as_origin}"
            ));
        }
    }
    let mcp = origins.get("mcp-transport").cloned().unwrap_or_default();
    if !mcp.contains(mcp_origin) {
        problems.push(format!(
            "{who}: mcp-transport went to {mcp:?}, not {mcp_origin}"
        ));
    }
    for f in errors(&cell.trace.findings()) {
        problems.push(format!(
            "{who}: error-level finding {} at {}: {}",
            f.rule, f.at, f.message
        ));
    }
    if !cell.proxy_exited {
        problems.push(format!("{who}: authtap proxy did not exit on SIGTERM"));
    }
    problems
}

fn errors(findings: &[SeenFinding]) -> Vec<&SeenFinding> {
    findings.iter().filter(|f| f.severity == "error").collect()
}

/// Prints the table rows of one server and the warnings each trace carried.
fn print_rows(server: &str, cells: &[Cell]) {
    for cell in cells {
        let status = |run: &ClientRun| {
            if run.ok() {
                format!("ok ({:.1}s)", run.elapsed.as_secs_f64())
            } else {
                format!("FAIL ({})", run.short_error())
            }
        };
        let phases = cell
            .trace
            .phase_origins()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(",");
        let findings = cell.trace.findings();
        let count = |sev: &str| findings.iter().filter(|f| f.severity == sev).count();
        eprintln!(
            "| {:<17} | {:<28} | {:<12} | {:<12} | same={:<5} | err={} warn={} info={} | {} | {}",
            cell.client.label(),
            server,
            status(&cell.direct),
            status(&cell.proxied),
            cell.direct.comparable() == cell.proxied.comparable(),
            count("error"),
            count("warning"),
            count("info"),
            phases,
            handshake(&cell.proxied)
        );
        for f in &findings {
            eprintln!("|   {} {} at {}: {}", f.severity, f.rule, f.at, f.message);
        }
    }
}

/// `initialize 2025-11-25` or `discover 2026-07-28`: how the client negotiated.
fn handshake(run: &ClientRun) -> String {
    let kind = run.result["handshake"].as_str().unwrap_or("initialize");
    match run.result["protocol_version"].as_str() {
        Some(v) => format!("{kind} {v}"),
        None => "-".to_string(),
    }
}

fn assert_clean(server: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{server}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Matrix, column 1: both SDK clients against the TypeScript SDK's example OAuth server (MCP
/// server and a demo authorization server on another port, absolute `http://localhost` URLs),
/// directly and through the proxy, whose rewriting must keep the whole flow on it.
#[test]
fn sdk_clients_through_the_proxy_against_the_ts_example_server() {
    let _peers = crate::heavy::slot();
    let Some(peers) = peers_or_skip("sdk_clients_through_the_proxy_against_the_ts_example_server")
    else {
        return;
    };
    let server = start_ts_example(&peers);
    let cells = run_cells(&peers, &server.mcp_url);
    print_rows("TS SDK example server", &cells);
    let mut problems = cells
        .iter()
        .flat_map(|c| {
            check_cell(
                "TS SDK example server",
                c,
                &server.origin,
                &server.as_origin,
            )
        })
        .collect::<Vec<_>>();
    problems.extend(rewriting_is_what_makes_it_work(&peers, &server.mcp_url));
    if !problems.is_empty() {
        eprintln!("TS SDK example server log (tail):\n{}", server.log_tail());
    }
    drop(server);
    assert_clean("TS SDK example server", problems);
}

/// The control experiment: with `--no-rewrite` the example's absolute `http://localhost` URLs
/// reach the clients unchanged, and both SDKs refuse the protected resource metadata (TS:
/// `selectResourceURL` in client/auth.js; Python: `_validate_resource_match` in
/// mcp/client/auth/oauth2.py). Returns the violations.
fn rewriting_is_what_makes_it_work(peers: &Peers, mcp_url: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for client in ClientSdk::ALL {
        let proxy = start_proxy_with(mcp_url, &["--no-rewrite"]);
        let run = run_client(peers, client, &proxy.url, Some(&proxy.ca));
        drop(proxy.finish());
        eprintln!(
            "| {:<17} | TS SDK example server, proxy --no-rewrite | {}",
            client.label(),
            run.short_error()
        );
        let expected = format!(
            "Protected resource {mcp_url} does not match expected {}",
            proxy_url(&run)
        );
        if run.ok() || !run.error_line().contains(&expected) {
            problems.push(format!(
                "{} through `proxy --no-rewrite`: expected the SDK to reject the PRM (\"{expected}\"), got ok={} {}",
                client.label(),
                run.ok(),
                run.error_line()
            ));
        }
    }
    problems
}

/// The URL the driver was pointed at.
fn proxy_url(run: &ClientRun) -> String {
    run.result["server_url"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Matrix, column 2: both SDK clients against authtap's embedded reference server (clean, AS
/// on a separate origin), directly and through the proxy.
#[test]
fn sdk_clients_through_the_proxy_against_the_embedded_server() {
    let _peers = crate::heavy::slot();
    let Some(peers) = peers_or_skip("sdk_clients_through_the_proxy_against_the_embedded_server")
    else {
        return;
    };
    let demo = start_demo(&[]);
    let cells = run_cells(&peers, &demo.mcp_url);
    print_rows("embedded reference server", &cells);
    let mcp_origin = url::Url::parse(&demo.mcp_url)
        .unwrap()
        .origin()
        .ascii_serialization();
    let as_origin = url::Url::parse(&demo.as_issuer)
        .unwrap()
        .origin()
        .ascii_serialization();
    assert_ne!(
        mcp_origin, as_origin,
        "the reference server must run its AS on its own origin"
    );
    let problems = cells
        .iter()
        .flat_map(|c| check_cell("embedded reference server", c, &mcp_origin, &as_origin))
        .collect();
    assert_clean("embedded reference server", problems);
}

/// One fault run: the Python SDK client through the proxy in front of the reference server
/// with one fault switch on.
struct FaultRun {
    fault: &'static str,
    client: ClientSdk,
    direct: ClientRun,
    run: ClientRun,
    expected: Vec<String>,
    found: std::collections::BTreeSet<String>,
}

fn run_fault(peers: &Peers, client: ClientSdk, fault: &'static str) -> FaultRun {
    let demo = start_demo(&[fault]);
    let direct = run_client(peers, client, &demo.mcp_url, None);
    let proxy = start_proxy(&demo.mcp_url);
    let run = run_client(peers, client, &proxy.url, Some(&proxy.ca));
    let (trace, _) = proxy.finish();
    let info = authtap::demo::Fault::from_name(fault).unwrap().info();
    FaultRun {
        fault,
        client,
        direct,
        run,
        expected: info.rules.iter().map(|r| r.to_string()).collect(),
        found: trace.rule_ids(),
    }
}

/// The Python SDK client against the reference server with fault switches, through the proxy:
/// the trace names the rule ids the fault catalog promises, and the client's own failure
/// message is printed next to them. Also the TypeScript client on `dcr-null-optional`, whose
/// Zod rejection of `null` DCR fields is the field report behind that switch.
#[test]
fn fault_switches_are_reported_next_to_the_sdk_clients_own_failure() {
    let _peers = crate::heavy::slot();
    let Some(peers) =
        peers_or_skip("fault_switches_are_reported_next_to_the_sdk_clients_own_failure")
    else {
        return;
    };
    let runs = [
        (ClientSdk::Python, "no-www-authenticate"),
        (ClientSdk::Python, "dcr-float-expiry"),
        (ClientSdk::Python, "dcr-null-optional"),
        (ClientSdk::Python, "resource-mismatch"),
        (ClientSdk::TypeScript, "dcr-null-optional"),
    ]
    .map(|(client, fault)| run_fault(&peers, client, fault));
    let mut problems = Vec::new();
    for r in &runs {
        let describe = |run: &ClientRun| {
            if run.ok() {
                "client completed the flow anyway".to_string()
            } else {
                format!("client failed: {}", run.short_error())
            }
        };
        let outcome = describe(&r.run);
        eprintln!(
            "| {:<17} | {:<20} | expected {:?} | trace reports {:?}\n|   via proxy: {}\n|   direct:    {}",
            r.client.label(),
            r.fault,
            r.expected,
            r.found,
            outcome,
            describe(&r.direct)
        );
        for rule in &r.expected {
            if !r.found.contains(rule) {
                problems.push(format!(
                    "{} × {}: rule {rule} missing from the trace (found {:?}); {outcome}",
                    r.client.label(),
                    r.fault,
                    r.found
                ));
            }
        }
    }
    // The failures the field reports describe, by the SDKs' own words.
    let message = |i: usize| runs[i].run.error_line();
    assert!(
        message(1).contains("client_secret_expires_at"),
        "Python SDK on dcr-float-expiry should reject the float expiry: {}",
        message(1)
    );
    assert!(
        message(3).contains("does not match expected"),
        "Python SDK on resource-mismatch should reject the PRM resource: {}",
        message(3)
    );
    assert!(
        message(4).contains("expected string, received null"),
        "TS SDK on dcr-null-optional should reject null DCR fields: {}",
        message(4)
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
