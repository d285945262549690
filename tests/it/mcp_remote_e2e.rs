//! mcp-remote through `authtap proxy` with the authorization server on a foreign origin
//! (issue #10).
//!
//! mcp-remote (pinned in tests/peers) bridges a stdio MCP client to a remote server and opens the
//! authorization URL only after its URL sanitizer (`strict-url-sanitise`), which percent-encodes
//! a `:` in a path segment. authtap's authorize path used to carry the foreign AS as
//! `host:port` (`/__authtap/authorize/http/127.0.0.1:PORT/authorize`); the sanitized form reached
//! authtap as `127.0.0.1%3APORT` and was answered 502. authtap now spells a foreign origin as
//! `/__authtap/authorize/http/127.0.0.1/PORT/authorize`.
//!
//! The real bridge is driven over stdio (initialize, tools/list, one tools/call) against the
//! reference server, whose AS is on its own origin with its own sign-in page, directly and
//! through `authtap proxy` in reverse mode over TLS; `$BROWSER` is the headless browser of
//! tests/peers. The proxied run must give the same answers as the direct one, the browser must
//! have opened authtap's authorize path unchanged by the sanitizer, and the trace must hold
//! registration, authorize, the callback bounce (phase `callback`), token and MCP exchanges, and
//! no X-AUTHTAP-PATH finding.
//!
//! Outside CI a missing Node or mcp-remote skips with a loud message; under `CI=true` it fails.
//! Install it with `bash scripts/ci/install-peers.sh`.

use crate::harness;

use crate::harness::mcp_remote;

use std::time::Duration;

use authtap::demo::DemoConfig;
use harness::demo::start_demo_with;
use harness::proxy::start_proxy;
use mcp_remote::mcp_remote_or_skip;

/// The `path` of an absolute URL (empty when it does not parse).
fn path_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_default()
}

/// The value of one query parameter of an absolute URL.
fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    })
}

#[test]
fn mcp_remote_signs_in_through_authtap_proxy_with_the_as_on_a_foreign_origin() {
    let _peers = crate::heavy::slot();
    let Some(bridge) = mcp_remote_or_skip(
        "mcp_remote_signs_in_through_authtap_proxy_with_the_as_on_a_foreign_origin",
    ) else {
        return;
    };
    let demo = start_demo_with(DemoConfig {
        separate_as: true,
        login_page: true,
        sse_step_delay: Duration::from_millis(50),
        ..DemoConfig::default()
    });
    let as_origin = url::Url::parse(&demo.as_issuer).unwrap();
    let as_port = as_origin.port().unwrap();

    let direct = bridge.run(&demo.mcp_url, None);
    assert!(
        direct.ok(),
        "mcp-remote {} failed directly against the reference server: {}",
        bridge.version,
        direct.explain()
    );
    assert_eq!(
        direct.call["content"][0]["text"], "Liftoff after 3 steps",
        "unexpected countdown result directly: {}",
        direct.call
    );

    let proxy = start_proxy(&demo.mcp_url);
    let proxied = bridge.run(&proxy.url, Some(&proxy.ca));
    let (trace, proxy_exited) = proxy.finish();
    println!(
        "mcp-remote {} through authtap proxy:\n  headless browser:\n    {}\n  trace:\n{}",
        bridge.version,
        proxied.browser_hops.join("\n    "),
        trace.summary()
    );
    assert!(
        proxied.ok(),
        "mcp-remote failed through authtap proxy: {}\ntrace:\n{}",
        proxied.explain(),
        trace.summary()
    );
    assert_eq!(
        direct.comparable(),
        proxied.comparable(),
        "mcp-remote got different answers through the proxy"
    );
    assert!(proxy_exited, "authtap proxy did not exit on SIGTERM");
    assert_eq!(trace.bad_lines, 0, "trace lines that are not JSON");

    // The authorize URL names the foreign AS origin with no `:` in a path segment, so the
    // sanitizer leaves it as mcp-remote printed it and the browser opens that very path.
    let printed = proxied
        .printed_authorize_url
        .clone()
        .unwrap_or_else(|| panic!("mcp-remote printed no authorization URL:\n{}", proxied.log));
    let authorize_path = format!("/__authtap/authorize/http/127.0.0.1/{as_port}/authorize");
    assert_eq!(
        path_of(&printed),
        authorize_path,
        "the authorization URL mcp-remote got from authtap: {printed}"
    );
    let first_hop = proxied.browser_hops.first().cloned().unwrap_or_default();
    assert!(
        first_hop.starts_with("GET https://localhost:")
            && first_hop.contains(&format!("{authorize_path} -> 302")),
        "the browser did not open authtap's authorize path as printed (sanitizer?): {first_hop}\nall hops: {:?}",
        proxied.browser_hops
    );
    assert_eq!(
        proxied.browser_hops.last().map(String::as_str),
        Some("done: final page 200"),
        "the browser did not end on mcp-remote's callback page: {:?}",
        proxied.browser_hops
    );

    // Every leg of the flow is in the trace, the AS legs on the AS's own origin.
    let origins = trace.phase_origins();
    for phase in [
        "registration",
        "authorize",
        "callback",
        "token",
        "mcp-transport",
    ] {
        assert!(
            origins.contains_key(phase),
            "no `{phase}` exchange in the trace:\n{}",
            trace.summary()
        );
    }
    let as_origin = as_origin.origin().ascii_serialization();
    for phase in ["registration", "authorize", "token"] {
        assert_eq!(
            origins[phase].iter().collect::<Vec<_>>(),
            vec![&as_origin],
            "`{phase}` should go to the AS origin:\n{}",
            trace.summary()
        );
    }
    let authorize = trace
        .exchanges()
        .find(|x| x["phase"] == "authorize")
        .unwrap();
    assert_eq!(
        path_of(
            authorize["request"]["client_url"]
                .as_str()
                .unwrap_or_default()
        ),
        authorize_path,
        "the authorize exchange as the browser sent it: {}",
        authorize["request"]
    );
    assert_eq!(
        authorize["response"]["status"], 302,
        "the AS's answer to the authorize request"
    );
    // The authorization response came back through authtap's bounce, as the AS sent it.
    let callback = trace
        .exchanges()
        .find(|x| x["phase"] == "callback")
        .unwrap();
    let callback_url = callback["request"]["url"].as_str().unwrap_or_default();
    assert!(
        path_of(callback_url).starts_with("/__authtap/cb/")
            && query_param(callback_url, "code").is_some()
            && query_param(callback_url, "iss").as_deref() == Some(demo.as_issuer.as_str()),
        "callback recorded as {callback_url} (want the bounce URI with a code and iss={})",
        demo.as_issuer
    );
    let authenticated = trace.exchanges().any(|x| {
        x["phase"] == "mcp-transport"
            && x["response"]["status"] == 200
            && x["request"]["method"] == "POST"
    });
    assert!(
        authenticated,
        "no authenticated MCP exchange in the trace:\n{}",
        trace.summary()
    );

    let findings = trace.findings();
    let path_findings: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "X-AUTHTAP-PATH")
        .collect();
    assert!(
        path_findings.is_empty(),
        "authtap could not route one of its own paths: {path_findings:?}"
    );
    let errors: Vec<_> = findings.iter().filter(|f| f.severity == "error").collect();
    assert!(
        errors.is_empty(),
        "error findings on the clean reference server: {errors:?}"
    );
}
