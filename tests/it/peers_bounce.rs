//! Issue #10: `iss`-checking clients complete the flow through reverse mode with an
//! authorization server whose sign-in page is on its own origin (not proxied). The official
//! Python SDK client (which compares RFC 9207 `iss` with the issuer it was told) and the
//! TypeScript SDK client run against authtap's reference server with `login_page` on and the AS
//! on its own origin, directly and through `authtap proxy` over TLS; the authorization
//! response must come back through authtap's callback bounce and be recorded (phase
//! `callback`) with the issuer the AS sent.
//!
//! Outside CI a missing Node/Python or uninstalled SDK skips with a loud message; in CI
//! (`CI=true`) it fails. Install the peers with `bash scripts/ci/install-peers.sh`.

use crate::harness;

use authtap::demo::{DemoConfig, RunningDemo};
use harness::peers::{ClientSdk, peers_or_skip, run_client};
use harness::proxy::start_proxy;

/// The reference server with its sign-in hop, on its own runtime (the clients are blocking
/// child processes).
struct LoginDemo {
    runtime: tokio::runtime::Runtime,
    running: Option<RunningDemo>,
    mcp_url: String,
    as_issuer: String,
}

impl LoginDemo {
    fn start() -> LoginDemo {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = DemoConfig {
            separate_as: true,
            login_page: true,
            ..DemoConfig::default()
        };
        let running = runtime
            .block_on(authtap::demo::start(config))
            .expect("reference server");
        LoginDemo {
            mcp_url: running.mcp_url().to_string(),
            as_issuer: running.as_issuer().to_string(),
            running: Some(running),
            runtime,
        }
    }
}

impl Drop for LoginDemo {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(async {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), running.shutdown())
                    .await;
            });
        }
    }
}

#[test]
fn iss_checking_sdk_clients_sign_in_on_the_as_origin_through_the_bounce() {
    let _peers = crate::heavy::slot();
    let Some(peers) = peers_or_skip("iss_checking_sdk_clients_sign_in_on_the_as_origin") else {
        return;
    };
    let demo = LoginDemo::start();
    let mut problems = Vec::new();
    for sdk in ClientSdk::ALL {
        let direct = run_client(&peers, sdk, &demo.mcp_url, None);
        let proxy = start_proxy(&demo.mcp_url);
        let proxied = run_client(&peers, sdk, &proxy.url, Some(&proxy.ca));
        let (trace, _) = proxy.finish();
        let who = sdk.label();
        if !direct.ok() {
            problems.push(format!("{who}: direct run failed: {}", direct.error_line()));
        }
        if !proxied.ok() {
            problems.push(format!(
                "{who}: run through the proxy failed: {}\n{}",
                proxied.error_line(),
                trace.summary()
            ));
        } else if direct.comparable() != proxied.comparable() {
            problems.push(format!(
                "{who}: direct {} vs proxied {}",
                direct.comparable(),
                proxied.comparable()
            ));
        }
        // The authorization response is recorded at the bounce, as the AS sent it.
        let callback = trace
            .exchanges()
            .find(|x| x["phase"] == "callback")
            .cloned();
        match callback {
            None => problems.push(format!("{who}: no callback exchange in the trace")),
            Some(x) => {
                let url = x["request"]["url"].as_str().unwrap_or_default();
                let iss = url::Url::parse(url).ok().and_then(|u| {
                    u.query_pairs()
                        .find(|(k, _)| k == "iss")
                        .map(|(_, v)| v.into_owned())
                });
                if !url.contains("/__authtap/cb/") || iss.as_deref() != Some(&demo.as_issuer) {
                    problems.push(format!(
                        "{who}: callback recorded as {url} (want the bounce URI with iss={})",
                        demo.as_issuer
                    ));
                }
            }
        }
        let errors: Vec<String> = trace
            .findings()
            .into_iter()
            .filter(|f| f.severity == "error")
            .map(|f| format!("{} {}", f.rule, f.message))
            .collect();
        if !errors.is_empty() {
            problems.push(format!("{who}: error findings on a clean flow: {errors:?}"));
        }
        println!(
            "| {who:<18} | direct {} | proxied {} |",
            if direct.ok() { "ok" } else { "FAIL" },
            if proxied.ok() { "ok" } else { "FAIL" }
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
