//! The reference server's protocol revisions end to end, over real sockets: a dual-era server
//! answers the 2026-07-28 `server/discover` without a session and validates `Mcp-Method` /
//! `Mcp-Name` (-32020), rejects unknown versions with -32022, still opens 2025-11-25 sessions
//! and implements `logging/setLevel` for the `logging` capability it declares; a
//! 2025-11-25-only server answers a 2026-07-28 probe with a legacy error a dual-era client
//! falls back on; a 2026-07-28-only server refuses `initialize` naming its versions and serves
//! no GET; and the PRM names the loopback host the client used, with tokens minted for it.

use crate::demo_login;

use authtap::demo::{DemoConfig, Revision, Revisions, RunningDemo};
use serde_json::{Value, json};

const ACCEPT: &str = "application/json, text/event-stream";

async fn start(revisions: &[Revision]) -> RunningDemo {
    authtap::demo::start(DemoConfig {
        revisions: Revisions::of(revisions),
        ..DemoConfig::default()
    })
    .await
    .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// A bearer token for `resource` through the real flow: DCR, authorize (auto-approved), token.
async fn token(base: &str, resource: &str) -> String {
    let at = demo_login::AsEndpoints::of_demo(base);
    demo_login::token(&http(), &at, resource, None).await
}

/// POSTs a JSON-RPC message with the given extra headers; returns status and body JSON (the
/// last `data:` of an SSE answer).
async fn rpc(
    url: &str,
    bearer: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = http()
        .post(url)
        .bearer_auth(bearer)
        .header("content-type", "application/json")
        .header("accept", ACCEPT);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.body(body.to_string()).send().await.unwrap();
    let status = resp.status().as_u16();
    let hdrs = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| {
        text.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .next_back()
            .unwrap_or(Value::Null)
    });
    (status, json, hdrs)
}

fn modern(method: &str, params: Value) -> Value {
    let mut params = params;
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
}

#[tokio::test(flavor = "multi_thread")]
async fn dual_era_server_speaks_2026_07_28_and_2025_11_25() {
    let demo = start(&[]).await;
    let base = demo.base_url().to_string();
    let url = demo.mcp_url().to_string();
    let bearer = token(&base, &url).await;
    let v = [("mcp-protocol-version", "2026-07-28")];

    let (status, body, headers) = rpc(
        &url,
        &bearer,
        &[v[0], ("mcp-method", "server/discover")],
        modern("server/discover", json!({})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["resultType"], "complete");
    assert_eq!(
        body["result"]["supportedVersions"],
        json!(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"])
    );
    assert!(
        headers.get("mcp-session-id").is_none(),
        "no session in 2026-07-28"
    );

    let call = modern(
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "hi"}}),
    );
    let (status, body, _) = rpc(
        &url,
        &bearer,
        &[v[0], ("mcp-method", "tools/call"), ("mcp-name", "echo")],
        call.clone(),
    )
    .await;
    assert_eq!(
        (status, body["result"]["content"][0]["text"].clone()),
        (200, json!("hi")),
        "{body}"
    );
    // Missing and mismatched mirrored headers: 400 HeaderMismatch.
    for headers in [
        vec![v[0], ("mcp-method", "tools/call")],
        vec![v[0], ("mcp-method", "tools/list"), ("mcp-name", "echo")],
    ] {
        let (status, body, _) = rpc(&url, &bearer, &headers, call.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (400, json!(-32020)),
            "{body}"
        );
    }
    // An unknown method: 404 with -32601 (logging/setLevel is gone in 2026-07-28).
    let (status, body, _) = rpc(
        &url,
        &bearer,
        &[v[0], ("mcp-method", "logging/setLevel")],
        modern("logging/setLevel", json!({"level": "info"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!(-32601)),
        "{body}"
    );

    // The same server opens a 2025-11-25 session and serves logging/setLevel.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let (status, body, headers) = rpc(&url, &bearer, &[], init).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["protocolVersion"], "2025-11-25");
    assert!(body["result"]["capabilities"]["logging"].is_object());
    let sid = headers["mcp-session-id"].to_str().unwrap().to_string();
    let session = [
        ("mcp-session-id", sid.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let set = json!({"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel", "params": {"level": "warning"}});
    let (status, body, _) = rpc(&url, &bearer, &session, set).await;
    assert_eq!((status, body["result"].clone()), (200, json!({})), "{body}");
    let bad = json!({"jsonrpc": "2.0", "id": 3, "method": "logging/setLevel", "params": {"level": "loud"}});
    let (_, body, _) = rpc(&url, &bearer, &session, bad).await;
    assert_eq!(body["error"]["code"], -32602, "{body}");
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_era_alone() {
    // 2025-11-25 only: a 2026-07-28 probe gets a legacy 400 (no -32022), so a dual-era client
    // falls back to initialize.
    let legacy = start(&[Revision::V2025_11_25]).await;
    let bearer = token(legacy.base_url(), legacy.mcp_url()).await;
    let probe = modern("server/discover", json!({}));
    let (status, body, _) = rpc(
        legacy.mcp_url(),
        &bearer,
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "server/discover"),
        ],
        probe.clone(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_ne!(body["error"]["code"], -32022, "{body}");
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let (_, body, _) = rpc(legacy.mcp_url(), &bearer, &[], init.clone()).await;
    assert_eq!(body["result"]["protocolVersion"], "2025-11-25", "{body}");
    legacy.shutdown().await;

    // 2026-07-28 only: initialize is refused with the supported versions; no GET stream.
    let modern_only = start(&[Revision::V2026_07_28]).await;
    let bearer = token(modern_only.base_url(), modern_only.mcp_url()).await;
    let (status, body, _) = rpc(modern_only.mcp_url(), &bearer, &[], init).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!(-32022)),
        "{body}"
    );
    assert_eq!(body["error"]["data"]["supported"], json!(["2026-07-28"]));
    let get = http()
        .get(modern_only.mcp_url())
        .bearer_auth(&bearer)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
    let (status, body, _) = rpc(
        modern_only.mcp_url(),
        &bearer,
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "server/discover"),
        ],
        probe,
    )
    .await;
    assert_eq!(
        (status, body["result"]["supportedVersions"].clone()),
        (200, json!(["2026-07-28"])),
        "{body}"
    );
    modern_only.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn prm_names_the_loopback_host_the_client_used() {
    let demo = start(&[]).await;
    let port = demo.mcp_addr().port();
    for host in ["localhost", "127.0.0.1"] {
        let base = format!("http://{host}:{port}");
        let prm: Value = serde_json::from_slice(
            &http()
                .get(format!("{base}/.well-known/oauth-protected-resource/mcp"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(prm["resource"], format!("{base}/mcp"));
        // A token minted for that resource is accepted at that URL.
        let bearer = token(&base, &format!("{base}/mcp")).await;
        let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
        let (status, body, _) = rpc(&format!("{base}/mcp"), &bearer, &[], init).await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    demo.shutdown().await;
}

#[test]
fn the_cli_selects_revisions_and_refuses_what_the_built_in_client_cannot_speak() {
    let out = assert_cmd::Command::cargo_bin("authtap")
        .unwrap()
        .args(["demo", "--protocol", "1999-01-01"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown MCP protocol revision"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("authtap")
        .unwrap()
        .args(["demo", "--protocol", "2026-07-28", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--serve --protocol 2026-07-28"), "{err}");
    assert!(
        !dir.path().join("out").exists(),
        "nothing is started or written"
    );
}
