//! Real authorization-server stacks as peers (issue #10, must-deliver 5; issue #13, must-deliver
//! 7): `oidc-provider` with a TypeScript SDK resource server, the same with a PRM `resource`
//! that is the bare origin, and `better-auth` with its MCP plugin (tests/peers/stacks/). Both
//! official SDK clients (tests/peers/ts-client.mjs, tests/peers/py_client.py) run against each
//! stack three ways: directly, through `authtap proxy` in reverse mode over TLS, and through the
//! tunnel form (`authtap proxy --plain-http --public-url https://…` behind a TLS front on
//! loopback). Every login goes through the stack's own login and consent forms, on the
//! authorization server's own origin (never proxied), as a browser would.
//!
//! Asserted for each proxied run: the same tool result as the direct run; the whole flow on the
//! proxy (every phase, each at the right upstream); the authorization response recorded in the
//! trace with its phase; no error or warning finding except the allow-list below, where each
//! entry is a true deviation with its spec clause; and no finding whose rule's catalog entry
//! claims it breaks the client that just completed the flow.
//!
//! Each test prints a results table (`--nocapture`). Outside CI a missing Node/Python package
//! skips with a loud message; in CI (`CI=true`) it fails. Install: `bash scripts/ci/install-peers.sh`.

use crate::harness;

use std::net::SocketAddr;

use harness::catalog::claims_to_break;
use harness::peers::{ClientRun, ClientSdk, Peers, peers_or_skip, run_client_with};
use harness::proxy::{start_proxy, start_tunnel_proxy};
use harness::stacks::{Stack, StackKind, start_stack};
use harness::tls_front::start_tls_front;
use harness::trace::{SeenFinding, Trace};
use harness::{free_port, tail};

/// How a client reaches the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// The client talks to the stack itself.
    Direct,
    /// `authtap proxy --upstream MCP_URL` with its own local CA.
    Reverse,
    /// `authtap proxy --plain-http --public-url https://localhost:F/` behind a TLS front on F.
    Tunnel,
}

impl Route {
    fn label(self) -> &'static str {
        match self {
            Route::Direct => "direct",
            Route::Reverse => "reverse (TLS)",
            Route::Tunnel => "tunnel (plain-http + TLS front)",
        }
    }
}

/// An error or warning finding that is a true deviation, not a false alarm. `stack`/`client`
/// `None` means any.
struct Allowed {
    rule: &'static str,
    stack: Option<StackKind>,
    client: Option<ClientSdk>,
}

/// The true deviations these runs contain, each with the clause it breaks.
const ALLOWED: &[Allowed] = &[
    // The origin-resource stack's PRM, named by the challenge to a request for `/mcp`, says
    // `resource` = the bare origin: RFC 9728 §3.3 asks a client that got the metadata URL from
    // `WWW-Authenticate` to check `resource` against the URL it requested, byte for byte. The
    // pinned TS and Python SDK clients accept a same-origin path prefix, so authtap reports it
    // as a warning naming only strict clients (PRM-RESOURCE-NE-REQUEST-URL).
    Allowed {
        rule: "PRM-RESOURCE-NE-REQUEST-URL",
        stack: Some(StackKind::OidcProviderOriginResource),
        client: None,
    },
];

fn allowed(stack: StackKind, client: ClientSdk, rule: &str) -> bool {
    ALLOWED.iter().any(|a| {
        a.rule == rule && a.stack.is_none_or(|s| s == stack) && a.client.is_none_or(|c| c == client)
    })
}

/// The driver arguments a stack needs. better-auth treats a registration without
/// `application_type` as `web` and refuses loopback redirect URIs, so the TS driver declares
/// `native`, as the Python SDK does on its own.
fn driver_args(stack: StackKind, client: ClientSdk) -> &'static [&'static str] {
    match (stack, client) {
        (StackKind::BetterAuth, ClientSdk::TypeScript) => &["--application-type", "native"],
        _ => &[],
    }
}

/// One client run through one route, with the proxy's trace when there was a proxy.
struct RouteRun {
    route: Route,
    run: ClientRun,
    trace: Trace,
    proxy_exited: bool,
    proxy_log: String,
}

fn run_route(peers: &Peers, stack: &Stack, client: ClientSdk, route: Route) -> RouteRun {
    let args = driver_args(stack.kind, client);
    match route {
        Route::Direct => RouteRun {
            route,
            run: run_client_with(peers, client, &stack.mcp_url, None, args),
            trace: Trace::default(),
            proxy_exited: true,
            proxy_log: String::new(),
        },
        Route::Reverse => {
            let proxy = start_proxy(&stack.mcp_url);
            let run = run_client_with(peers, client, &proxy.url, Some(&proxy.ca), args);
            let proxy_log = proxy.warnings();
            let (trace, proxy_exited) = proxy.finish();
            RouteRun {
                route,
                run,
                trace,
                proxy_exited,
                proxy_log,
            }
        }
        Route::Tunnel => {
            let port = free_port();
            let front = start_tls_front(SocketAddr::from(([127, 0, 0, 1], port)));
            let proxy = start_tunnel_proxy(&stack.mcp_url, port, &front.public_url);
            let run = run_client_with(peers, client, &proxy.url, Some(&front.ca), args);
            let proxy_log = proxy.warnings();
            let (trace, proxy_exited) = proxy.finish();
            drop(front);
            RouteRun {
                route,
                run,
                trace,
                proxy_exited,
                proxy_log,
            }
        }
    }
}

/// The driver's stderr lines (its stdout is the one JSON result line, reported separately).
fn stderr_only(log: &str) -> String {
    log.lines()
        .filter(|l| !l.starts_with("[out]"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `state` of the client's authorization request (from the driver's request log).
fn authorization_state(run: &ClientRun) -> Option<String> {
    run.result["http"]
        .as_array()?
        .iter()
        .filter_map(|entry| entry["url"].as_str())
        .filter_map(|u| url::Url::parse(u).ok())
        .find(|u| {
            u.query_pairs()
                .any(|(k, v)| k == "response_type" && v == "code")
        })?
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
}

/// The `iss` the client received in its authorization response (both drivers report it).
fn received_iss(run: &ClientRun) -> String {
    run.result["authorization_response"]["iss"]
        .as_str()
        .unwrap_or("-")
        .to_string()
}

/// Checks a proxied run against the direct one; returns the violations.
fn check_proxied(
    stack: &Stack,
    client: ClientSdk,
    direct: &ClientRun,
    proxied: &RouteRun,
) -> Vec<String> {
    let who = format!(
        "{} × {} × {}",
        client.label(),
        stack.kind.label(),
        proxied.route.label()
    );
    let trace = &proxied.trace;
    let mut problems = Vec::new();
    if !proxied.run.ok() {
        problems.push(format!(
            "{who}: the run failed: {}\n  trace:\n{}  authtap notes: {:?}\n  client log (stderr):\n{}\n  proxy warnings:\n{}",
            proxied.run.short_error(),
            trace.summary(),
            trace.notes(),
            tail(&stderr_only(&proxied.run.log), 8),
            proxied.proxy_log
        ));
    } else if direct.comparable() != proxied.run.comparable() {
        problems.push(format!(
            "{who}: results differ: direct {} vs proxied {}",
            direct.comparable(),
            proxied.run.comparable()
        ));
    }
    if trace.bad_lines > 0 {
        problems.push(format!(
            "{who}: {} trace lines are not JSON",
            trace.bad_lines
        ));
    }
    let missing = trace.missing_phases();
    if !missing.is_empty() {
        problems.push(format!(
            "{who}: trace lacks phases {missing:?}:\n{}",
            trace.summary()
        ));
    }
    let origins = trace.phase_origins();
    for phase in ["discovery-as", "registration", "token"] {
        let seen = origins.get(phase).cloned().unwrap_or_default();
        if !seen.contains(&stack.as_origin()) {
            problems.push(format!(
                "{who}: {phase} exchanges went to {seen:?}, not the authorization server {}",
                stack.as_origin()
            ));
        }
    }
    let mcp = origins.get("mcp-transport").cloned().unwrap_or_default();
    if !mcp.contains(&stack.mcp_origin()) {
        problems.push(format!(
            "{who}: mcp-transport went to {mcp:?}, not {}",
            stack.mcp_origin()
        ));
    }
    // The authorization response (code, state, iss) is what a support engineer needs: it must
    // be in the trace, with its phase (issue #10: a DCR client's callback can be bounced
    // through authtap, so there is no reason for it to be missing).
    match authorization_state(&proxied.run) {
        None => problems.push(format!(
            "{who}: the client made no authorization request (http log: {})",
            proxied.run.result["http"]
        )),
        Some(state) => match trace.authorization_response(&state) {
            Some(recorded) if recorded.phase.is_empty() => problems.push(format!(
                "{who}: the authorization response is recorded at {} without a phase",
                recorded.at
            )),
            Some(_) => {}
            None => problems.push(format!(
                "{who}: the authorization response (state {state}) is not in the trace; \
                 authtap's notes: {:?}\n{}",
                trace.notes(),
                trace.summary()
            )),
        },
    }
    // RFC 9207 §2.4: the `iss` a client receives must be the issuer it discovered. The Python
    // SDK checks that itself (its run fails otherwise); the TS SDK 1.32 does not, so its driver
    // reports both and the comparison is made here.
    if client == ClientSdk::TypeScript {
        let iss = &proxied.run.result["authorization_response"]["iss"];
        let discovered = &proxied.run.result["discovered_issuer"];
        if iss.is_string() && iss != discovered {
            problems.push(format!(
                "{who}: the authorization response carried iss {iss} but the client discovered \
                 the issuer {discovered} (a client that checks RFC 9207 iss would fail)"
            ));
        }
    }
    // Issue #13: each rule's "breaks" list says what the pinned SDK clients actually do. A rule
    // that fired on a flow this client completed must not claim to break it.
    if proxied.run.ok() {
        let mut claimed = std::collections::BTreeSet::new();
        for f in trace.findings() {
            if let Some(breaks) = claims_to_break(&f.rule, &f.breaks, client)
                && claimed.insert(f.rule.clone())
            {
                problems.push(format!(
                    "{who}: {} fired ({}) and its \"breaks\" says it breaks {} (\"{breaks}\"), \
                     but this client completed the flow",
                    f.rule,
                    f.severity,
                    client.label()
                ));
            }
        }
    }
    for f in unexpected_findings(stack.kind, client, trace) {
        problems.push(format!(
            "{who}: {} {} at {}: {}",
            f.severity, f.rule, f.at, f.message
        ));
    }
    if !proxied.proxy_exited {
        problems.push(format!("{who}: authtap proxy did not exit on SIGTERM"));
    }
    problems
}

/// Error and warning findings that are not on the allow-list.
fn unexpected_findings(stack: StackKind, client: ClientSdk, trace: &Trace) -> Vec<SeenFinding> {
    trace
        .findings()
        .into_iter()
        .filter(|f| f.severity == "error" || f.severity == "warning")
        .filter(|f| !allowed(stack, client, &f.rule))
        .collect()
}

fn status(run: &ClientRun) -> String {
    if run.ok() {
        format!("ok ({:.1}s)", run.elapsed.as_secs_f64())
    } else {
        let error = run.short_error();
        match error.char_indices().nth(160) {
            Some((cut, _)) => format!("FAIL ({}…)", &error[..cut]),
            None => format!("FAIL ({error})"),
        }
    }
}

/// Both clients, three routes each, against one stack; prints the table, returns violations.
fn run_stack(peers: &Peers, kind: StackKind) -> Vec<String> {
    let stack = start_stack(peers, kind);
    let mut problems = Vec::new();
    for client in ClientSdk::ALL {
        let direct = run_route(peers, &stack, client, Route::Direct);
        eprintln!(
            "| {:<17} | {:<30} | {:<31} | {} | iss={}",
            client.label(),
            kind.label(),
            Route::Direct.label(),
            status(&direct.run),
            received_iss(&direct.run)
        );
        if !direct.run.ok() {
            problems.push(format!(
                "{} × {}: the direct run failed (the stack itself is broken): {}\n{}\nstack log:\n{}",
                client.label(),
                kind.label(),
                direct.run.error_line(),
                tail(&direct.run.log, 12),
                stack.log_tail()
            ));
            continue;
        }
        for route in [Route::Reverse, Route::Tunnel] {
            let proxied = run_route(peers, &stack, client, route);
            let state = authorization_state(&proxied.run).unwrap_or_default();
            let recorded = proxied
                .trace
                .authorization_response(&state)
                .map_or("not recorded".to_string(), |r| {
                    format!("{} ({}, {})", r.phase, r.carried_by, r.at)
                });
            let findings = proxied.trace.findings();
            let count = |sev: &str| findings.iter().filter(|f| f.severity == sev).count();
            eprintln!(
                "| {:<17} | {:<30} | {:<31} | {} | iss={} | same={} | err={} warn={} info={} | authorization response: {}",
                client.label(),
                kind.label(),
                route.label(),
                status(&proxied.run),
                received_iss(&proxied.run),
                direct.run.comparable() == proxied.run.comparable(),
                count("error"),
                count("warning"),
                count("info"),
                recorded
            );
            for f in findings.iter().filter(|f| f.severity != "info") {
                let tag = if allowed(kind, client, &f.rule) {
                    "allowed"
                } else {
                    "UNEXPECTED"
                };
                eprintln!(
                    "|   {tag} {} {} at {}: {}",
                    f.severity, f.rule, f.at, f.message
                );
            }
            problems.extend(check_proxied(&stack, client, &direct.run, &proxied));
        }
    }
    problems
}

fn assert_clean(what: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

/// oidc-provider 9.13 (DCR, PKCE, resource indicators, JWT access tokens, RFC 9207 `iss`,
/// devInteractions login and consent forms) with a TS SDK resource server on another origin.
#[test]
fn sdk_clients_through_authtap_against_oidc_provider() {
    let _peers = crate::heavy::slot();
    let Some(peers) = peers_or_skip("sdk_clients_through_authtap_against_oidc_provider") else {
        return;
    };
    assert_clean("oidc-provider", run_stack(&peers, StackKind::OidcProvider));
}

/// The same stack with the PRM `resource` set to the bare origin (`http://127.0.0.1:PORT`)
/// and MCP at `/mcp`: the clients send that origin as `resource`, as RFC 8707 and the MCP spec
/// ask, the AS mints that `aud`, and the server accepts it, so nothing here is a deviation.
/// The PRM is served at the root well-known URL, whose resource identifier is the origin, so
/// `resource` = origin is what RFC 9728 §3.3 requires; MCP 2025-11-25 Authorization "Canonical
/// Server URI" counts the origin as a valid canonical URI; the pinned TS and Python SDKs accept
/// it (this test checks they complete the flow).
#[test]
fn sdk_clients_through_authtap_against_an_origin_resource_server() {
    let _peers = crate::heavy::slot();
    let Some(peers) =
        peers_or_skip("sdk_clients_through_authtap_against_an_origin_resource_server")
    else {
        return;
    };
    assert_clean(
        "oidc-provider, origin resource",
        run_stack(&peers, StackKind::OidcProviderOriginResource),
    );
}

/// better-auth 1.7 with `@better-auth/mcp`: AS and MCP on one origin, its own login page
/// posting to better-auth's sign-in endpoint, a consent page.
#[test]
fn sdk_clients_through_authtap_against_better_auth() {
    let _peers = crate::heavy::slot();
    let Some(peers) = peers_or_skip("sdk_clients_through_authtap_against_better_auth") else {
        return;
    };
    assert_clean("better-auth", run_stack(&peers, StackKind::BetterAuth));
}

/// The TS SDK client as the SDK's examples register it (no `application_type`) against
/// better-auth: the AS takes it for a `web` client and refuses its loopback redirect URI, the
/// same way directly and through authtap, and the trace names the client's deviation with
/// DCR-REQ-NO-APP-TYPE (MCP 2026-07-28 Authorization "Application Type and Redirect URI
/// Constraints").
#[test]
fn ts_client_without_application_type_is_refused_by_better_auth_and_named() {
    let _peers = crate::heavy::slot();
    let Some(peers) =
        peers_or_skip("ts_client_without_application_type_is_refused_by_better_auth_and_named")
    else {
        return;
    };
    let stack = start_stack(&peers, StackKind::BetterAuth);
    let client = ClientSdk::TypeScript;
    let direct = run_client_with(&peers, client, &stack.mcp_url, None, &[]);
    let proxy = start_proxy(&stack.mcp_url);
    let proxied = run_client_with(&peers, client, &proxy.url, Some(&proxy.ca), &[]);
    let (trace, _) = proxy.finish();
    eprintln!(
        "| {} | better-auth, no application_type | direct: {} | reverse: {} | rules: {:?}",
        client.label(),
        status(&direct),
        status(&proxied),
        trace.rule_ids()
    );
    let refusal = "web clients require https redirect URIs";
    let mut problems = Vec::new();
    for (route, run) in [("direct", &direct), ("through authtap", &proxied)] {
        if run.ok() || !run.error_line().contains(refusal) {
            problems.push(format!(
                "{route}: expected better-auth to refuse the registration (\"{refusal}\"), got ok={} {}",
                run.ok(),
                run.error_line()
            ));
        }
    }
    if !trace.rule_ids().contains("DCR-REQ-NO-APP-TYPE") {
        problems.push(format!(
            "the trace does not name DCR-REQ-NO-APP-TYPE; it has {:?}:\n{}",
            trace.findings(),
            trace.summary()
        ));
    }
    assert_clean("TS client without application_type × better-auth", problems);
}
