//! The reference server's 2026-07-28 revision through `authtap proxy` (reverse mode, TLS, the
//! local CA), judged by the rules as recorded live: a clean stateless conversation
//! (`server/discover`, `tools/list`, a JSON and an SSE `tools/call`) and a 2025-11-25 session
//! with `logging/setLevel` raise no error or warning, while a request whose `Mcp-Name`
//! differs from its body gets the server's -32020 and the finding MCP-RPC-HEADER-MISMATCH.
//! OAuth is done like a client: PRM and AS metadata read through the proxy, DCR, authorize,
//! token at the endpoints they name.

use crate::{demo_login, support};

use std::time::Duration;

use authtap::demo::{DemoConfig, RunningDemo};
use authtap::model::Record;
use authtap::model::Severity;
use serde_json::{Value, json};
use support::{TestProxy, exchanges};

const ACCEPT: &str = "application/json, text/event-stream";

async fn get_json(c: &reqwest::Client, url: &str) -> Value {
    serde_json::from_slice(&c.get(url).send().await.unwrap().bytes().await.unwrap()).unwrap()
}

/// A token through the proxy, discovered the way a client does: PRM, then the AS metadata it
/// names, then DCR, authorize and token at the endpoints that names.
async fn oauth(c: &reqwest::Client, mcp_url: &str) -> String {
    let origin = mcp_url.trim_end_matches("/mcp");
    let prm = get_json(
        c,
        &format!("{origin}/.well-known/oauth-protected-resource/mcp"),
    )
    .await;
    let resource = prm["resource"].as_str().unwrap().to_string();
    let issuer = prm["authorization_servers"][0].as_str().unwrap();
    let asm = get_json(
        c,
        &format!("{issuer}/.well-known/oauth-authorization-server"),
    )
    .await;
    let at = demo_login::AsEndpoints::from_metadata(&asm);
    demo_login::token(c, &at, &resource, Some("mcp:tools")).await
}

/// A 2026-07-28 request with mirrored headers (`name` overrides Mcp-Name).
async fn modern(
    c: &reqwest::Client,
    url: &str,
    bearer: &str,
    id: u64,
    method: &str,
    mut params: Value,
    name: Option<&str>,
) -> (u16, String) {
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    let mut req = c
        .post(url)
        .bearer_auth(bearer)
        .header("content-type", "application/json")
        .header("accept", ACCEPT)
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    let body_name = params
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(n) = name.map(str::to_string).or(body_name) {
        req = req.header("mcp-name", n);
    }
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let resp = req.body(body.to_string()).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn legacy(
    c: &reqwest::Client,
    url: &str,
    bearer: &str,
    sid: Option<&str>,
    body: Value,
) -> (u16, Option<String>, String) {
    let mut req = c
        .post(url)
        .bearer_auth(bearer)
        .header("content-type", "application/json")
        .header("accept", ACCEPT);
    if let Some(sid) = sid {
        req = req
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", "2025-11-25");
    }
    let resp = req.body(body.to_string()).send().await.unwrap();
    let sid = resp
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    (resp.status().as_u16(), sid, resp.text().await.unwrap())
}

/// A client trusting only the proxy's CA that does not follow redirects (the authorize
/// redirect goes to the client's own callback).
fn client(proxy: &TestProxy) -> reqwest::Client {
    let pem = std::fs::read(proxy.proxy.ca_pem_path().unwrap()).unwrap();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap()
}

async fn start_demo() -> RunningDemo {
    authtap::demo::start(DemoConfig {
        sse_step_delay: Duration::from_millis(10),
        ..DemoConfig::default()
    })
    .await
    .unwrap()
}

/// Every (severity, rule, message) recorded in the trace, per exchange and per flow.
fn findings(records: &[Record]) -> Vec<(Severity, String, String)> {
    let mut out: Vec<(Severity, String, String)> = exchanges(records)
        .iter()
        .flat_map(|x| x.findings.iter())
        .map(|f| (f.severity, f.rule.to_string(), f.message.clone()))
        .collect();
    for r in records {
        if let Record::FlowFindings(ff) = r {
            out.extend(
                ff.findings
                    .iter()
                    .map(|f| (f.severity, f.rule.to_string(), f.message.clone())),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_2026_07_28_conversation_through_the_proxy_is_clean() {
    let demo = start_demo().await;
    let proxy = TestProxy::start(&url::Url::parse(demo.base_url()).unwrap()).await;
    let c = client(&proxy);
    let mcp = proxy.url("/mcp");
    let bearer = oauth(&c, &mcp).await;

    let (status, body) = modern(&c, &mcp, &bearer, 1, "server/discover", json!({}), None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = modern(&c, &mcp, &bearer, 2, "tools/list", json!({}), None).await;
    assert_eq!(status, 200, "{body}");
    let echo = json!({"name": "echo", "arguments": {"text": "hi"}});
    let (status, body) = modern(&c, &mcp, &bearer, 3, "tools/call", echo, None).await;
    assert_eq!(status, 200, "{body}");
    let countdown = json!({"name": "countdown", "arguments": {"from": 2}});
    let (status, body) = modern(&c, &mcp, &bearer, 4, "tools/call", countdown, None).await;
    assert!(status == 200 && body.contains("Liftoff"), "{status} {body}");

    // A 2025-11-25 session on the same server: the declared logging capability works.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let (status, sid, body) = legacy(&c, &mcp, &bearer, None, init).await;
    assert_eq!(status, 200, "{body}");
    let sid = sid.unwrap();
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(legacy(&c, &mcp, &bearer, Some(&sid), note).await.0, 202);
    let set = json!({"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel", "params": {"level": "info"}});
    let (status, _, body) = legacy(&c, &mcp, &bearer, Some(&sid), set).await;
    assert!(status == 200 && body.contains("\"result\""), "{body}");

    let (records, _dir) = proxy.finish().await;
    demo.shutdown().await;
    let serious: Vec<_> = findings(&records)
        .into_iter()
        .filter(|(s, _, _)| *s >= Severity::Warning)
        .collect();
    assert!(serious.is_empty(), "{serious:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_header_mismatch_is_named() {
    let demo = start_demo().await;
    let proxy = TestProxy::start(&url::Url::parse(demo.base_url()).unwrap()).await;
    let c = client(&proxy);
    let mcp = proxy.url("/mcp");
    let bearer = oauth(&c, &mcp).await;
    let echo = json!({"name": "echo", "arguments": {"text": "hi"}});
    let (status, body) = modern(&c, &mcp, &bearer, 1, "tools/call", echo, Some("countdown")).await;
    assert!(status == 400 && body.contains("-32020"), "{status} {body}");
    let (records, _dir) = proxy.finish().await;
    demo.shutdown().await;
    let found = findings(&records);
    assert!(
        found
            .iter()
            .any(|(s, id, m)| id == "MCP-RPC-HEADER-MISMATCH"
                && *s == Severity::Error
                && m.contains("mcp-name: countdown")),
        "{found:#?}"
    );
}
