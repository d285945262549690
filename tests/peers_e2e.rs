//! Real MCP SDK peers end to end (issue #7): the official TypeScript and Python SDK clients,
//! driven headlessly by tests/peers/ts-client.mjs and tests/peers/py_client.py, against the
//! TypeScript SDK's example OAuth server and authtap's embedded reference server, directly and
//! through `authtap proxy` in reverse mode over TLS with the generated CA.
//!
//! Each test prints a results table (run with `--nocapture` to see it). Outside CI a missing
//! Node/Python or uninstalled SDK skips with a loud message; in CI (`CI=true`) it fails.
//! Install the peers with `bash scripts/ci/install-peers.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "peers/harness/mod.rs"]
mod harness;

use harness::demo::start_demo;
use harness::peers::{ClientSdk, peers_or_skip, run_client, start_ts_example};

/// Both SDK clients complete OAuth + initialize + tools/list + tools/call directly against the
/// TypeScript SDK's example server (no proxy): the drivers and the example work on this machine.
#[test]
fn sdk_clients_complete_the_flow_directly_against_the_ts_example_server() {
    let Some(peers) =
        peers_or_skip("sdk_clients_complete_the_flow_directly_against_the_ts_example_server")
    else {
        return;
    };
    let server = start_ts_example(&peers);
    for sdk in ClientSdk::ALL {
        let run = run_client(&peers, sdk, &server.mcp_url, None);
        eprintln!(
            "{:<18} direct -> {}: ok={} tools={} call={} ({:?}) {}",
            sdk.label(),
            server.mcp_url,
            run.ok(),
            run.result["tools"],
            run.result["call"]["content"],
            run.elapsed,
            run.error_line()
        );
        assert!(
            run.ok(),
            "{} failed directly: {}\n{}",
            sdk.label(),
            run.error_line(),
            run.log
        );
        assert_eq!(
            run.result["authorized"],
            true,
            "{} never went through OAuth",
            sdk.label()
        );
        assert_eq!(
            run.result["call"]["content"][0]["text"],
            "Hello, authtap!",
            "{} got another greet result",
            sdk.label()
        );
    }
}

/// Both SDK clients complete the flow directly against authtap's embedded reference server
/// (clean, authorization server on its own origin).
#[test]
fn sdk_clients_complete_the_flow_directly_against_the_embedded_server() {
    let Some(peers) =
        peers_or_skip("sdk_clients_complete_the_flow_directly_against_the_embedded_server")
    else {
        return;
    };
    let demo = start_demo(&[]);
    for sdk in ClientSdk::ALL {
        let run = run_client(&peers, sdk, &demo.mcp_url, None);
        eprintln!(
            "{:<18} direct -> {}: ok={} tools={} call={} ({:?}) {}",
            sdk.label(),
            demo.mcp_url,
            run.ok(),
            run.result["tools"],
            run.result["call"],
            run.elapsed,
            run.error_line()
        );
        assert!(
            run.ok(),
            "{} failed directly: {}\n{}\n{}",
            sdk.label(),
            run.error_line(),
            run.result,
            run.log
        );
        assert_eq!(
            run.result["authorized"],
            true,
            "{} never went through OAuth",
            sdk.label()
        );
    }
}
