//! The clean reference server's own answers, checked directly against the specs (status codes,
//! headers, JSON types) with an independent HTTP client (reqwest).

use std::time::Duration;

use authtap::demo::{self, DemoConfig};
use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;

const ACCEPT: &str = "application/json, text/event-stream";

/// JSON, form and query helpers (reqwest is built without those features here).
trait Body: Sized {
    fn json(self, v: &Value) -> Self;
    fn form<T: serde::Serialize + ?Sized>(self, v: &T) -> Self;
    fn query<T: serde::Serialize + ?Sized>(self, v: &T) -> Self;
}

impl Body for reqwest::RequestBuilder {
    fn json(self, v: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(serde_json::to_vec(v).unwrap())
    }
    fn form<T: serde::Serialize + ?Sized>(self, v: &T) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(v).unwrap())
    }
    fn query<T: serde::Serialize + ?Sized>(self, v: &T) -> Self {
        let (client, req) = self.build_split();
        let mut req = req.unwrap();
        let q = serde_urlencoded::to_string(v).unwrap();
        req.url_mut().set_query(Some(&q));
        reqwest::RequestBuilder::from_parts(client, req)
    }
}

async fn json_of(resp: reqwest::Response) -> Value {
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

async fn server() -> demo::RunningDemo {
    authtap::install_crypto_provider();
    demo::start(DemoConfig {
        sse_step_delay: Duration::from_millis(5),
        ..DemoConfig::default()
    })
    .await
    .unwrap()
}

/// Registers a public client and returns (client_id, access token, refresh token, token response).
async fn sign_in(
    c: &reqwest::Client,
    base: &str,
    mcp: &str,
    replay_code: bool,
) -> (String, String, String, reqwest::header::HeaderMap) {
    let redirect = "http://127.0.0.1:5555/callback";
    let reg = c
        .post(format!("{base}/register"))
        .json(
            &json!({"redirect_uris": [redirect], "token_endpoint_auth_method": "none",
                      "grant_types": ["authorization_code", "refresh_token"], "client_name": "t"}),
        )
        .send()
        .await
        .unwrap();
    let reg = json_of(reg).await;
    let client_id = reg["client_id"].as_str().unwrap().to_string();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
    let resp = c
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", "http://127.0.0.1:7777/callback"),
            ("state", "s-123"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", mcp),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        302,
        "loopback port exception (RFC 8252) must allow another port"
    );
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let q = |k: &str| {
        location
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(q("state").as_deref(), Some("s-123"));
    assert_eq!(q("iss").as_deref(), Some(base));
    let code = q("code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:7777/callback"),
        ("code_verifier", verifier),
        ("client_id", client_id.as_str()),
        ("resource", mcp),
    ];
    let resp = c
        .post(format!("{base}/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    let tok: Value = json_of(resp).await;
    // Single-use code (a replay also revokes the refresh token family).
    if replay_code {
        let again = c
            .post(format!("{base}/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 400);
        assert_eq!(json_of(again).await["error"], "invalid_grant");
    }
    (
        client_id,
        tok["access_token"].as_str().unwrap().into(),
        tok["refresh_token"].as_str().unwrap().into(),
        headers,
    )
}

#[tokio::test]
async fn discovery_documents_are_consistent() {
    let s = server().await;
    let c = http();
    let resp = c
        .post(s.mcp_url())
        .header("accept", ACCEPT)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        challenge,
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"mcp:tools\"",
            s.resource_metadata_url()
        )
    );
    let prm_resp = c.get(s.resource_metadata_url()).send().await.unwrap();
    assert_eq!(prm_resp.status(), 200);
    assert!(
        prm_resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let prm: Value = json_of(prm_resp).await;
    assert_eq!(prm["resource"], s.mcp_url());
    assert!(!s.mcp_url().ends_with('/'));
    assert_eq!(prm["authorization_servers"][0], s.as_issuer());
    let asm: Value = json_of(
        c.get(format!(
            "{}/.well-known/oauth-authorization-server",
            s.as_issuer()
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        asm["issuer"], prm["authorization_servers"][0],
        "issuer must be byte-equal to the PRM entry"
    );
    assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        asm["token_endpoint_auth_methods_supported"],
        json!(["none", "client_secret_post", "client_secret_basic"])
    );
    assert_eq!(
        asm["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    assert_eq!(asm["response_types_supported"], json!(["code"]));
    for doc in [&prm, &asm] {
        for (k, v) in doc.as_object().unwrap() {
            assert!(!v.is_null() && v != &json!([]), "{k} is null or empty");
        }
    }
    let root: Value = json_of(
        c.get(format!(
            "{}/.well-known/oauth-protected-resource",
            s.base_url()
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(root["resource"], s.mcp_url());
    assert_eq!(
        c.get(format!("{}/.well-known/openid-configuration", s.base_url()))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    s.shutdown().await;
}

#[tokio::test]
async fn registration_is_rfc7591() {
    let s = server().await;
    let c = http();
    let resp = c.post(format!("{}/register", s.as_issuer()))
        .json(&json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "client_secret_post", "client_name": "Claude"}))
        .send().await.unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let doc: Value = json_of(resp).await;
    assert!(doc["client_id_issued_at"].is_i64());
    assert_eq!(doc["client_secret_expires_at"], json!(0));
    assert!(doc["client_secret"].is_string());
    assert_eq!(
        doc["redirect_uris"],
        json!(["https://claude.ai/api/mcp/auth_callback"])
    );
    assert_eq!(doc["token_endpoint_auth_method"], "client_secret_post");
    assert!(
        doc.as_object().unwrap().values().all(|v| !v.is_null()),
        "no nulls: {doc}"
    );
    assert!(
        doc.get("logo_uri").is_none(),
        "absent optionals are omitted"
    );
    // RFC 7592 read.
    let read = c
        .get(doc["registration_client_uri"].as_str().unwrap())
        .bearer_auth(doc["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let bad = c
        .post(format!("{}/register", s.as_issuer()))
        .json(&json!({"redirect_uris": ["http://evil.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(json_of(bad).await["error"], "invalid_redirect_uri");
    s.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_and_refresh_rotation() {
    let s = server().await;
    let c = http();
    let base = s.as_issuer().to_string();
    let (client_id, access, refresh, headers) = sign_in(&c, &base, s.mcp_url(), false).await;
    assert_eq!(headers["cache-control"], "no-store");
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["aud"], s.mcp_url());
    assert_eq!(payload["iss"], base);
    assert!(payload["exp"].as_i64().unwrap() > payload["iat"].as_i64().unwrap());
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (header["alg"].as_str(), header["typ"].as_str()),
        (Some("ES256"), Some("at+jwt"))
    );
    let form = |rt: &str| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", rt.to_string()),
            ("client_id", client_id.clone()),
        ]
    };
    let r1: Value = json_of(
        c.post(format!("{base}/token"))
            .form(&form(&refresh))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let new_refresh = r1["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, refresh, "rotation");
    let reuse = c
        .post(format!("{base}/token"))
        .form(&form(&refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(reuse.status(), 400);
    assert_eq!(json_of(reuse).await["error"], "invalid_grant");
    // Reuse revoked the family: the newer token is dead too.
    assert_eq!(
        c.post(format!("{base}/token"))
            .form(&form(new_refresh))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let unknown = c
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401, "invalid_client is 401");
    assert_eq!(json_of(unknown).await["error"], "invalid_client");
    s.shutdown().await;
}

#[tokio::test]
async fn mcp_transport_rules() {
    let s = server().await;
    let c = http();
    let (_, access, _, _) = sign_in(&c, s.as_issuer(), s.mcp_url(), true).await;
    let post = |body: Value| {
        c.post(s.mcp_url())
            .bearer_auth(&access)
            .header("accept", ACCEPT)
            .json(&body)
    };
    let bad = c
        .post(s.mcp_url())
        .bearer_auth("not.a.jwt")
        .header("accept", ACCEPT)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(
        bad.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    let init = post(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})).send().await.unwrap();
    assert_eq!(init.status(), 200);
    let sid = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(sid.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    assert_eq!(
        json_of(init).await["result"]["protocolVersion"],
        "2025-06-18"
    );
    let with = |b: reqwest::RequestBuilder| {
        b.header("mcp-session-id", &sid)
            .header("mcp-protocol-version", "2025-06-18")
    };
    let note = with(post(
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
    ))
    .send()
    .await
    .unwrap();
    assert_eq!(note.status(), 202);
    assert!(note.bytes().await.unwrap().is_empty());
    let bad_version = post(json!({"jsonrpc":"2.0","id":2,"method":"ping"}))
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "1999-01-01")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_version.status(), 400);
    let unknown = post(json!({"jsonrpc":"2.0","id":3,"method":"ping"}))
        .header("mcp-session-id", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let get = with(
        c.get(s.mcp_url())
            .bearer_auth(&access)
            .header("accept", "text/event-stream"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(get.headers()["content-type"], "text/event-stream");
    drop(get);
    let sse = with(post(json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"countdown","arguments":{"from":2}}}))).send().await.unwrap();
    assert_eq!(sse.headers()["content-type"], "text/event-stream");
    let text = sse.text().await.unwrap();
    assert_eq!(text.matches("notifications/message").count(), 2, "{text}");
    assert!(text.contains("\"id\":4"));
    let del = with(c.delete(s.mcp_url()).bearer_auth(&access))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let after = with(post(json!({"jsonrpc":"2.0","id":5,"method":"ping"})))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 404, "terminated session answers 404");
    let pre = c
        .request(reqwest::Method::OPTIONS, s.mcp_url())
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,mcp-session-id",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    let foreign = c
        .post(s.mcp_url())
        .header("origin", "https://evil.example")
        .header("accept", ACCEPT)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403, "DNS-rebinding protection");
    let unauth = c
        .post(s.mcp_url())
        .header("origin", "http://localhost:6274")
        .header("accept", ACCEPT)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let expose = unauth.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(expose.contains("WWW-Authenticate") && expose.contains("Mcp-Session-Id"));
    s.shutdown().await;
}
