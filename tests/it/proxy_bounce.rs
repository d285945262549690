//! End-to-end callback bounce through the real proxy, with an authorization server whose
//! login page is on its own origin (never proxied), plus a `resource_metadata` document at a
//! custom path and a normalizer-mangled authtap path. A small real hyper upstream plays MCP
//! server and AS; a reqwest client plays both the OAuth client and the browser.

use crate::support;

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Request, Response};

use authtap::model::Phase;
use authtap::model::{ErrorKind, Headers, RewriteDirection};
use support::{TestProxy, exchanges};

type Body = BoxBody<Bytes, std::io::Error>;

/// The client's own loopback redirect URI (nothing needs to listen there: the test reads the
/// `Location` the browser would follow).
const REDIRECT_URI: &str = "http://127.0.0.1:1/callback";

async fn upstream() -> String {
    support::serve_route(route).await
}

fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Body> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(body.into()).map_err(|e| match e {}).boxed())
        .unwrap()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// MCP at `/mcp` (401, PRM at a custom path), an AS with DCR, a login page at `/authorize`,
/// `/login` that finishes the login, and a token endpoint that echoes `redirect_uri`.
async fn route(req: Request<Incoming>, origin: String) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().clone();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let json = [("content-type", "application/json")];
    Ok(match (method.as_str(), path.as_str()) {
        ("POST", "/mcp") => respond(
            401,
            &[(
                "www-authenticate",
                &format!(r#"Bearer resource_metadata="{origin}/custom/prm-doc""#),
            )],
            "",
        ),
        ("GET", "/custom/prm-doc") => respond(
            200,
            &json,
            format!(r#"{{"resource":"{origin}/mcp","authorization_servers":["{origin}"]}}"#),
        ),
        ("GET", "/.well-known/oauth-authorization-server") => respond(
            200,
            &json,
            format!(
                r#"{{"issuer":"{origin}","authorization_endpoint":"{origin}/authorize","token_endpoint":"{origin}/token","registration_endpoint":"{origin}/register","authorization_response_iss_parameter_supported":true,"code_challenge_methods_supported":["S256"]}}"#
            ),
        ),
        ("POST", "/register") if body.windows(9).any(|w| w == b"refuse-me") => respond(
            400,
            &json,
            r#"{"error":"invalid_redirect_uri","error_description":"unexpected redirect URI"}"#,
        ),
        ("POST", "/register") => {
            let mut doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
            doc["client_id"] = "c1".into();
            respond(201, &json, doc.to_string())
        }
        ("GET", "/authorize") => respond(
            200,
            &[("content-type", "text/html")],
            "<html><form method=post action=/login>sign in</form></html>",
        ),
        // The login form was submitted: back to the redirect URI the authorize request named.
        ("GET", "/login") => {
            let loc = format!(
                "{}?code=k1&state={}&iss={}",
                param(&query, "redirect_uri").unwrap(),
                param(&query, "state").unwrap(),
                enc(&origin)
            );
            respond(302, &[("location", &loc)], "")
        }
        ("POST", "/token") => {
            let form = String::from_utf8(body.to_vec()).unwrap();
            let got = param(&form, "redirect_uri").unwrap_or_default();
            respond(
                200,
                &[("content-type", "application/json"), ("cache-control", "no-store")],
                serde_json::json!({"access_token":"t","token_type":"Bearer","got_redirect_uri":got})
                    .to_string(),
            )
        }
        _ => respond(404, &[("content-type", "text/plain")], "not found"),
    })
}

fn client(tp: &TestProxy) -> reqwest::Client {
    let pem = std::fs::read(tp.proxy.ca_pem_path().unwrap()).unwrap();
    reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn json(resp: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn login_page_flow_comes_back_through_the_bounce_with_the_announced_issuer() {
    let origin = upstream().await;
    let tp = TestProxy::start(&url::Url::parse(&format!("{origin}/mcp")).unwrap()).await;
    let c = client(&tp);

    // Discovery: the challenge names a PRM at a custom path; its body is rewritten too.
    let resp = c.post(tp.url("/mcp")).body("{}").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
    let prm_url = tp.url("/custom/prm-doc");
    assert!(challenge.contains(&prm_url), "{challenge}");
    let prm = json(c.get(&prm_url).send().await.unwrap()).await;
    assert_eq!(prm["resource"], tp.url("/mcp"));
    let base = tp
        .proxy
        .base_url()
        .as_str()
        .trim_end_matches('/')
        .to_string();
    assert_eq!(prm["authorization_servers"][0], base);
    let asm = json(
        c.get(tp.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let issuer = asm["issuer"].as_str().unwrap().to_string();
    assert_eq!(issuer, base);

    // Registration: the client sees exactly its own redirect URIs.
    let reg = json(
        c.post(asm["registration_endpoint"].as_str().unwrap())
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"client_name":"t","redirect_uris":["{REDIRECT_URI}"],"token_endpoint_auth_method":"none"}}"#
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reg["redirect_uris"], serde_json::json!([REDIRECT_URI]));

    // Authorize: a login page, so the browser is sent to the real endpoint, with authtap's
    // bounce URI as redirect_uri.
    let authorize = format!(
        "{}?response_type=code&client_id=c1&redirect_uri={}&state=s1",
        asm["authorization_endpoint"].as_str().unwrap(),
        enc(REDIRECT_URI)
    );
    let resp = c.get(&authorize).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let real = location(&resp);
    assert!(real.starts_with(&format!("{origin}/authorize?")), "{real}");
    let bounce = param(real.split_once('?').unwrap().1, "redirect_uri").unwrap();
    assert!(bounce.starts_with("http://127.0.0.1:"), "{bounce}");
    assert!(bounce.contains("/__authtap/cb/"), "{bounce}");

    // The browser logs in on the AS's own origin (not proxied) and is sent to the bounce URI.
    let resp = c
        .get(format!(
            "{origin}/login?redirect_uri={}&state=s1",
            enc(&bounce)
        ))
        .send()
        .await
        .unwrap();
    let to_bounce = location(&resp);
    assert!(to_bounce.starts_with(&bounce), "{to_bounce}");
    let resp = c.get(&to_bounce).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    // authtap sends it on to the client's redirect URI, iss = the issuer the client knows.
    assert_eq!(
        location(&resp),
        format!("{REDIRECT_URI}?code=k1&state=s1&iss={}", enc(&issuer))
    );

    // Token: the client names its own redirect URI; the AS gets the bounce URI.
    let token = json(
        c.post(asm["token_endpoint"].as_str().unwrap())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=authorization_code&code=k1&redirect_uri={}&client_id=c1",
                enc(REDIRECT_URI)
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(token["got_redirect_uri"], bounce);

    // A browser that re-POSTs to the bounce URI (the AS answered a form POST with 307) gets
    // a 307 too, so the client sees what the AS did.
    let resp = c
        .post(&to_bounce)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("decision=approve")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 307);
    assert!(location(&resp).starts_with(REDIRECT_URI));

    // The bounce port serves nothing else.
    let bounce_origin = bounce.split("/__authtap/").next().unwrap();
    let resp = c.get(format!("{bounce_origin}/mcp")).send().await.unwrap();
    assert_eq!(resp.status(), 404);

    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records);
    // The authorization response is recorded, as the AS sent it, in phase callback.
    let cb = ex
        .iter()
        .find(|e| e.request.url.contains("/__authtap/cb/") && e.request.method == "GET")
        .expect("the bounce is recorded");
    assert_eq!(cb.phase, Some(Phase::Callback), "{:?}", cb.phase);
    // Recorded as the browser sent it: plain HTTP to the loopback bounce port.
    assert!(cb.request.url.starts_with(&bounce), "{}", cb.request.url);
    let recorded = cb.response.as_ref().unwrap().header("location").unwrap();
    assert_eq!(
        recorded,
        format!("{REDIRECT_URI}?code=k1&state=s1&iss={}", enc(&origin))
    );
    assert!(cb.rewrites.iter().any(|r| r.location == "header:location"));
    // Every rewrite on the way is recorded.
    let reg = ex
        .iter()
        .find(|e| e.request.url.ends_with("/register"))
        .unwrap();
    assert_eq!(
        reg.rewrites
            .iter()
            .filter(|r| r.location == "body:$.redirect_uris")
            .count(),
        2
    );
    let prm = ex
        .iter()
        .find(|e| e.request.url.ends_with("/custom/prm-doc"))
        .unwrap();
    assert!(prm.rewrites.iter().any(|r| r.location == "body:$.resource"));
    let tok = ex
        .iter()
        .find(|e| e.request.url.ends_with("/token"))
        .unwrap();
    assert!(
        tok.rewrites
            .iter()
            .any(|r| r.location == "body:redirect_uri")
    );
    // No callback, redirect-URI, state, issuer or client finding: the rules judge the
    // upstream-space flow (registration, authorize and token all name the bounce URI, the
    // callback carries the AS's own iss), which agrees with itself.
    let flow_rules = [
        "CB-",
        "X-REDIRECT",
        "X-STATE",
        "X-CALLBACK",
        "ASM-ISSUER",
        "X-ISSUER",
        "X-CODE",
        "X-CLIENT-ID",
        "X-AUTHTAP",
    ];
    let wrong: Vec<&str> = ex
        .iter()
        .flat_map(|e| e.findings.iter())
        .map(|f| f.rule.as_str())
        .filter(|r| flow_rules.iter().any(|p| r.starts_with(p)))
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
}

#[tokio::test]
async fn a_percent_encoded_authtap_path_is_answered_and_reported_not_forwarded() {
    let origin = upstream().await;
    let tp = TestProxy::start(&url::Url::parse(&format!("{origin}/mcp")).unwrap()).await;
    let port = origin.rsplit(':').next().unwrap();
    let mangled = format!("/__authtap/authorize/http/127.0.0.1%3A{port}/authorize?state=s");
    let resp = client(&tp).get(tp.url(&mangled)).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records);
    assert_eq!(ex.len(), 1);
    let e = ex[0];
    assert_eq!(e.error.as_ref().unwrap().kind, ErrorKind::AuthtapPath);
    assert!(e.findings.iter().any(|f| f.rule == "X-AUTHTAP-PATH"));
}

#[tokio::test]
async fn a_registration_the_as_refuses_after_the_bounce_was_added_says_so() {
    let origin = upstream().await;
    let tp = TestProxy::start(&url::Url::parse(&format!("{origin}/mcp")).unwrap()).await;
    let resp = client(&tp)
        .post(tp.url("/register"))
        .header("content-type", "application/json")
        .body(r#"{"redirect_uris":["https://refuse-me.example/cb"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records);
    let reg = ex[0];
    assert!(
        reg.rewrites
            .iter()
            .any(|r| r.location == "body:$.redirect_uris"
                && r.direction == RewriteDirection::Request)
    );
    assert!(
        reg.rewrites
            .iter()
            .any(|r| r.location == "note" && r.to.contains("--no-rewrite")),
        "{:?}",
        reg.rewrites
    );
}

/// The tunnel form (`--plain-http --public-url`): claude.ai's redirect URI is bounced through
/// the public URL, a loopback one through the plain listener itself.
#[tokio::test]
async fn behind_a_tunnel_claude_ai_callbacks_bounce_through_the_public_url() {
    const CLAUDE: &str = "https://claude.ai/api/mcp/auth_callback";
    let origin = upstream().await;
    let tp = TestProxy::start_with(&url::Url::parse(&format!("{origin}/mcp")).unwrap(), |c| {
        c.tls = authtap::proxy::TlsMode::PlainHttp;
        c.public_url = Some(url::Url::parse("https://tunnel.example/dbg").unwrap());
    })
    .await;
    let plain = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let listen = format!("http://{}", tp.proxy.local_addr());
    let reg = json(
        plain
            .post(format!("{listen}/dbg/register"))
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"redirect_uris":["{CLAUDE}","http://localhost:3030/callback"]}}"#
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        reg["redirect_uris"],
        serde_json::json!([CLAUDE, "http://localhost:3030/callback"])
    );
    let port = tp.proxy.local_addr().port();
    let claude_bounce = "https://tunnel.example/dbg/__authtap/cb/aHR0cHM6Ly9jbGF1ZGUuYWkvYXBpL21jcC9hdXRoX2NhbGxiYWNr";
    // The tunnel delivers the AS's redirect to the listener.
    let resp = plain
        .get(format!(
            "{listen}/dbg/__authtap/cb/aHR0cHM6Ly9jbGF1ZGUuYWkvYXBpL21jcC9hdXRoX2NhbGxiYWNr?code=k&state=s&iss={}",
            enc(&origin)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        location(&resp),
        format!(
            "{CLAUDE}?code=k&state=s&iss={}",
            enc("https://tunnel.example/dbg")
        )
    );
    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records);
    let sent = ex[0].request.body_text().unwrap();
    let sent: serde_json::Value = serde_json::from_str(sent).unwrap();
    assert_eq!(
        sent["redirect_uris"],
        serde_json::json!([
            CLAUDE,
            "http://localhost:3030/callback",
            claude_bounce,
            format!(
                "http://localhost:{port}/__authtap/cb/aHR0cDovL2xvY2FsaG9zdDozMDMwL2NhbGxiYWNr"
            )
        ])
    );
}
