//! Reverse mode, authorize leg: an authorization server that answers the authorization request
//! with a redirect to its login page AND login-state cookies (as oidc-provider does with its
//! interaction cookies). Cookies on authtap's answer would be stored for authtap's origin and
//! never reach the AS's login page, so the browser must be sent to the real authorization
//! endpoint to get them itself; without cookies the redirect to the login page passes through.
//! A small real hyper upstream plays MCP server and AS; reqwest plays the browser.

use crate::support;

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Request, Response};

use support::{TestProxy, exchanges};

type Body = BoxBody<Bytes, std::io::Error>;

async fn upstream() -> String {
    support::serve_route(route).await
}

fn respond(status: u16, headers: &[(&str, &str)], body: &'static str) -> Response<Body> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::from(body)).map_err(|e| match e {}).boxed())
        .unwrap()
}

/// AS metadata, and `/authorize` answering 303 to `/login`: with an interaction cookie for
/// client `with-cookie`, without one for any other client.
async fn route(req: Request<Incoming>, origin: String) -> Result<Response<Body>, Infallible> {
    let query = req.uri().query().unwrap_or("").to_string();
    Ok(match req.uri().path() {
        "/.well-known/oauth-authorization-server" => {
            let doc = format!(
                r#"{{"issuer":"{origin}","authorization_endpoint":"{origin}/authorize","token_endpoint":"{origin}/token","code_challenge_methods_supported":["S256"]}}"#
            );
            let mut resp = respond(200, &[("content-type", "application/json")], "");
            *resp.body_mut() = Full::new(Bytes::from(doc)).map_err(|e| match e {}).boxed();
            resp
        }
        "/authorize" if query.contains("client_id=with-cookie") => respond(
            303,
            &[
                ("location", "/login/i1"),
                ("set-cookie", "_interaction=i1; path=/login/i1; httponly"),
            ],
            "",
        ),
        "/authorize" => respond(303, &[("location", "/login/i2")], ""),
        _ => respond(404, &[("content-type", "text/plain")], "not found"),
    })
}

fn browser(tp: &TestProxy) -> reqwest::Client {
    let pem = std::fs::read(tp.proxy.ca_pem_path().unwrap()).unwrap();
    reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The proxied authorization endpoint, from the rewritten AS metadata.
async fn proxied_authorization_endpoint(tp: &TestProxy, c: &reqwest::Client) -> String {
    let body = c
        .get(tp.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let asm: serde_json::Value = serde_json::from_slice(&body).unwrap();
    asm["authorization_endpoint"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_login_redirect_that_sets_cookies_sends_the_browser_to_the_real_endpoint() {
    let origin = upstream().await;
    let tp = TestProxy::start(&url::Url::parse(&format!("{origin}/mcp")).unwrap()).await;
    let c = browser(&tp);
    let endpoint = proxied_authorization_endpoint(&tp, &c).await;
    let resp = c
        .get(format!(
            "{endpoint}?response_type=code&client_id=with-cookie&state=s1"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{origin}/authorize?")) && location.contains("state=s1"),
        "the browser must make the authorization request itself: {location}"
    );
    assert!(
        resp.headers().get("set-cookie").is_none(),
        "the AS's cookies must not be served from authtap's origin"
    );
    let (records, _dir) = tp.finish().await;
    let authorize = exchanges(&records)
        .into_iter()
        .find(|e| e.request.url.contains("/authorize?"))
        .unwrap();
    // The record keeps what the AS answered, and says why the browser got a 302 instead.
    assert_eq!(authorize.response.as_ref().unwrap().status, 303);
    assert!(
        authorize
            .rewrites
            .iter()
            .any(|r| r.location == "authtap:authorize-redirect" && r.from.contains("cookies")),
        "{:?}",
        authorize.rewrites
    );
}

#[tokio::test]
async fn a_login_redirect_without_cookies_passes_through_to_the_login_page() {
    let origin = upstream().await;
    let tp = TestProxy::start(&url::Url::parse(&format!("{origin}/mcp")).unwrap()).await;
    let c = browser(&tp);
    let endpoint = proxied_authorization_endpoint(&tp, &c).await;
    let resp = c
        .get(format!(
            "{endpoint}?response_type=code&client_id=plain&state=s2"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        format!("{origin}/login/i2")
    );
    drop(tp.finish().await);
}
