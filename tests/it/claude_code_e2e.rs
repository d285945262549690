//! The real Claude Code CLI through `authtap proxy`, trusting authtap's own CA (issue #10).
//!
//! Claude Code (pinned `@anthropic-ai/claude-code`, a native Bun binary whose TLS is BoringSSL)
//! runs headlessly against authtap's reference server behind `authtap proxy` in reverse mode:
//! `claude mcp add --transport http -s user`, `claude mcp login` under a pseudo-terminal with
//! `$BROWSER` set to tests/peers/headless-browser.sh, then `claude mcp list` must show
//! `✔ Connected`. The trust set-up is exactly the README's: `NODE_EXTRA_CA_CERTS=<certs>/ca.pem`.
//! Run once before that without it, Claude Code refuses the certificate, and the trace must hold
//! a `tls_handshake` record whose advice names `NODE_EXTRA_CA_CERTS` and the CA file.
//!
//! The same CLI pointed at `https://127.0.0.1:PORT` shows why authtap serves a DNS-only leaf to
//! clients that send SNI: BoringSSL cannot check IP-address name constraints, so that connection
//! fails — and the trace must then hold a `tls_handshake` record telling the user to connect to
//! `localhost`.
//!
//! Outside CI a missing CLI skips with a loud message; under `CI=true` it fails. Install it with
//! `bash scripts/ci/install-peers.sh`.

use crate::harness;

use crate::harness::claude;

use std::time::Duration;

use harness::demo::start_demo;
use harness::proxy::start_proxy;

const CLI_TIMEOUT: Duration = Duration::from_secs(60);
const LOGIN_TIMEOUT: Duration = Duration::from_secs(120);

/// The `claude mcp list` line of one server.
fn server_line<'a>(list: &'a str, name: &str) -> &'a str {
    let prefix = format!("{name}:");
    list.lines()
        .find(|l| l.trim_start().starts_with(&prefix))
        .unwrap_or_else(|| panic!("`claude mcp list` has no line for {name}:\n{list}"))
}

#[test]
fn claude_code_logs_in_through_authtap_proxy_trusting_its_ca() {
    let _peers = crate::heavy::slot();
    let Some(mut claude) =
        claude::claude_or_skip("claude_code_logs_in_through_authtap_proxy_trusting_its_ca")
    else {
        return;
    };
    let demo = start_demo(&[]);
    let proxy = start_proxy(&demo.mcp_url);
    let by_address = proxy.url.replacen("://localhost:", "://127.0.0.1:", 1);
    assert_ne!(by_address, proxy.url, "the proxy URL should name localhost");

    for (name, url) in [
        ("authtap-demo", &proxy.url),
        ("authtap-demo-ip", &by_address),
    ] {
        let add = claude.cli(
            &["mcp", "add", "--transport", "http", "-s", "user", name, url],
            CLI_TIMEOUT,
        );
        assert!(add.success, "claude mcp add {name} failed:\n{}", add.output);
    }

    // Not yet trusting the CA: Claude Code refuses the certificate, and authtap must say so.
    let untrusted_from = time::OffsetDateTime::now_utc();
    let untrusted = claude.cli(&["mcp", "list"], CLI_TIMEOUT);
    let untrusted_to = time::OffsetDateTime::now_utc();
    let line = server_line(&untrusted.output, "authtap-demo");
    assert!(
        line.contains("Failed to connect"),
        "without NODE_EXTRA_CA_CERTS Claude Code should refuse the certificate: {line}"
    );
    claude.trust(&proxy.ca);

    // Before login: TLS works, the server asks for OAuth.
    let before = claude.cli(&["mcp", "list"], CLI_TIMEOUT);
    let line = server_line(&before.output, "authtap-demo");
    assert!(
        line.contains("Needs authentication"),
        "before login, expected `Needs authentication`: {line}\n{}",
        before.output
    );

    let login = claude.cli_in_terminal(&["mcp", "login", "authtap-demo"], LOGIN_TIMEOUT);
    let browser = std::fs::read_to_string(claude.browser_log()).unwrap_or_default();
    assert!(
        login.output.contains("Authenticated with \"authtap-demo\""),
        "claude mcp login failed (exit ok: {}):\n{}\nheadless browser:\n{browser}",
        login.success,
        login.output
    );

    let after = claude.cli(&["mcp", "list"], CLI_TIMEOUT);
    let connected = server_line(&after.output, "authtap-demo");
    let by_ip = server_line(&after.output, "authtap-demo-ip").to_string();

    let proxy_ca = proxy.ca.clone();
    let (trace, proxy_exited) = proxy.finish();
    println!(
        "Claude Code {} through authtap proxy:\n  {connected}\n  {by_ip}\n  headless browser:\n{browser}\ntrace:\n{}",
        claude.version,
        trace.summary()
    );
    assert!(
        connected.contains("✔ Connected"),
        "after login, expected `✔ Connected`: {connected}\n{}\ntrace:\n{}",
        after.output,
        trace.summary()
    );
    assert!(proxy_exited, "authtap proxy did not exit on SIGTERM");
    assert_eq!(trace.bad_lines, 0, "trace lines that are not JSON");
    let missing = trace.missing_phases();
    assert!(
        missing.is_empty(),
        "trace lacks phases {missing:?}:\n{}",
        trace.summary()
    );

    let handshakes: Vec<&serde_json::Value> = trace
        .records
        .iter()
        .filter(|r| r["type"] == "tls_handshake")
        .collect();
    let at = |h: &serde_json::Value| {
        time::OffsetDateTime::parse(
            h["at"].as_str().unwrap_or_default(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let (untrusted, trusted): (Vec<&serde_json::Value>, Vec<&serde_json::Value>) = handshakes
        .iter()
        .partition(|h| at(h) >= untrusted_from && at(h) <= untrusted_to);
    // Untrusted: recorded, with the fix for Claude Code.
    let refused = untrusted
        .iter()
        .find(|h| h["sni"] == "localhost")
        .unwrap_or_else(|| {
            panic!("Claude Code's refusal of the certificate left no tls_handshake record: {handshakes:?}")
        });
    let advice = refused["advice"].as_str().unwrap_or_default();
    assert!(
        advice.contains(&format!("NODE_EXTRA_CA_CERTS={}", proxy_ca.display())),
        "the advice should name NODE_EXTRA_CA_CERTS and the CA: {refused}"
    );
    // Trusting the CA and connecting to localhost: no failed handshake with SNI.
    let with_sni: Vec<_> = trusted.iter().filter(|h| h["sni"].is_string()).collect();
    assert!(
        with_sni.is_empty(),
        "Claude Code rejected the certificate it got for localhost: {with_sni:?}"
    );
    // By IP literal BoringSSL rejects the IP-constrained chain (UNSUPPORTED_CONSTRAINT_TYPE);
    // authtap must have recorded that and told the user to use localhost.
    assert!(
        by_ip.contains("Failed to connect"),
        "Claude Code {} accepted the IP-SAN leaf ({by_ip}); BoringSSL now checks IP name \
         constraints, so the SNI leaf split in src/ca could be revisited",
        claude.version
    );
    let by_ip_failure = trusted
        .iter()
        .find(|h| h["sni"].is_null())
        .unwrap_or_else(|| {
            panic!(
                "Claude Code's failed handshake to 127.0.0.1 left no tls_handshake record:\n{}",
                trace.summary()
            )
        });
    let advice = by_ip_failure["advice"].as_str().unwrap_or_default();
    assert!(
        advice.contains("https://localhost:"),
        "the advice should send the client to localhost: {by_ip_failure}"
    );
}
