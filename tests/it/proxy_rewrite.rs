//! End-to-end reverse-mode rewriting through the real proxy: the authorize leg (R8, RFC 9207
//! `iss`, login pages leaving the proxy) and metadata bodies sent chunked or compressed
//! (R2–R6, R15). A small real hyper upstream plays MCP server and authorization server.

use crate::support;

use std::convert::Infallible;
use std::io::Write;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};

use authtap::model::{Exchange, Headers, Outcome};
use support::{TestProxy, exchanges};

type Body = BoxBody<Bytes, std::io::Error>;

/// Starts the AS/RS upstream on 127.0.0.1:0; returns its origin (`http://127.0.0.1:U`).
async fn upstream() -> String {
    support::serve_route(route).await
}

fn asm(origin: &str) -> String {
    format!(
        r#"{{"issuer":"{origin}","authorization_endpoint":"{origin}/authorize","token_endpoint":"{origin}/token","authorization_response_iss_parameter_supported":true}}"#
    )
}

fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Body> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(body.into()).map_err(|e| match e {}).boxed())
        .unwrap()
}

/// A body sent in several chunks with no Content-Length (chunked on HTTP/1.1).
fn chunked(headers: &[(&str, &str)], body: Vec<u8>) -> Response<Body> {
    let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = body
        .chunks(7)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let mut b = Response::builder().status(200);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(StreamBody::new(futures_util::stream::iter(frames)).boxed())
        .unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(bytes).unwrap();
    }
    out
}

async fn route(req: Request<Incoming>, origin: String) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let param = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let json = [("content-type", "application/json")];
    Ok(match path.as_str() {
        "/.well-known/oauth-authorization-server" => respond(200, &json, asm(&origin)),
        "/.well-known/oauth-protected-resource/mcp/chunked" => {
            chunked(&json, prm(&origin).into_bytes())
        }
        "/.well-known/oauth-protected-resource/mcp/gzip" => chunked(
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            gzip(prm(&origin).as_bytes()),
        ),
        "/.well-known/oauth-protected-resource/mcp/br" => respond(
            200,
            &[
                ("content-type", "application/json"),
                ("content-encoding", "br"),
            ],
            brotli(prm(&origin).as_bytes()),
        ),
        "/.well-known/oauth-protected-resource/mcp/big" => {
            let padding = "x".repeat(300 * 1024);
            let doc = format!(
                r#"{{"resource":"{origin}/mcp","authorization_servers":["{origin}"],"padding":"{padding}"}}"#
            );
            chunked(&json, doc.into_bytes())
        }
        "/authorize" => match param("mode").as_deref() {
            // Auto-approve: straight back to the client with code, state and iss; the
            // resource the upstream received is echoed so the test can check R7.
            Some("auto") => {
                let mut loc = param("redirect_uri").unwrap();
                loc.push_str("?code=c%2Fd&state=");
                loc.push_str(&param("state").unwrap());
                loc.push_str("&iss=");
                loc.push_str(
                    &url::form_urlencoded::byte_serialize(origin.as_bytes()).collect::<String>(),
                );
                loc.push_str("&got_resource=");
                loc.push_str(
                    &url::form_urlencoded::byte_serialize(
                        param("resource").unwrap_or_default().as_bytes(),
                    )
                    .collect::<String>(),
                );
                respond(302, &[("location", &loc)], "")
            }
            Some("hop") => respond(302, &[("location", "/login?tx=1")], ""),
            _ => respond(
                200,
                &[("content-type", "text/html")],
                "<html><form method=post action=/login>sign in</form></html>",
            ),
        },
        _ => respond(404, &[("content-type", "text/plain")], "not found"),
    })
}

fn prm(origin: &str) -> String {
    format!(r#"{{"resource":"{origin}/mcp","authorization_servers":["{origin}"]}}"#)
}

fn no_redirects(tp: &TestProxy) -> reqwest::Client {
    let pem = std::fs::read(tp.proxy.ca_pem_path().unwrap()).unwrap();
    reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The authorization endpoint as the rewritten ASM announces it, and the rewritten issuer.
async fn discovered(tp: &TestProxy, client: &reqwest::Client) -> (String, String) {
    let body = client
        .get(tp.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    (
        doc["authorization_endpoint"].as_str().unwrap().to_string(),
        doc["issuer"].as_str().unwrap().to_string(),
    )
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn authorize_exchange<'a>(ex: &[&'a Exchange]) -> &'a Exchange {
    ex.iter()
        .find(|e| e.request.url.contains("/authorize"))
        .copied()
        .unwrap()
}

#[tokio::test]
async fn auto_approving_as_gets_iss_rewritten_to_the_proxy_issuer() {
    let origin = upstream().await;
    let tp = TestProxy::start(&url::Url::parse(&format!("{origin}/mcp")).unwrap()).await;
    let client = no_redirects(&tp);
    let (endpoint, issuer) = discovered(&tp, &client).await;
    assert!(endpoint.contains("/__authtap/authorize/"), "{endpoint}");
    let redirect_uri = "http://127.0.0.1:1/callback";
    let resource = tp.url("/mcp");
    let url = format!(
        "{endpoint}?mode=auto&response_type=code&redirect_uri={}&state=st8&resource={}",
        enc(redirect_uri),
        enc(&resource)
    );
    let resp = client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    // Only iss changed; it equals the rewritten ASM issuer byte for byte (R5 + R8).
    let expected = format!(
        "{redirect_uri}?code=c%2Fd&state=st8&iss={}&got_resource={}",
        enc(&issuer),
        enc(&format!("{origin}/mcp"))
    );
    assert_eq!(location, expected);

    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records);
    let auth = authorize_exchange(&ex);
    assert_eq!(auth.outcome, Outcome::Complete);
    let resp = auth.response.as_ref().unwrap();
    assert_eq!(resp.status, 302);
    // The record keeps what the upstream sent (the rules judge the AS), rewrites say the rest.
    assert!(
        resp.header("location")
            .unwrap()
            .contains(&format!("iss={}", enc(&origin)))
    );
    let r8 = auth
        .rewrites
        .iter()
        .find(|r| r.location == "header:location")
        .unwrap();
    assert_eq!(r8.to, location);
    assert!(auth.rewrites.iter().any(|r| r.location == "query:resource"));
    assert!(!auth.rewrites.iter().any(|r| r.location == "note"));
}

#[tokio::test]
async fn login_page_sends_the_browser_to_the_real_endpoint_and_says_so() {
    let origin = upstream().await;
    let tp = TestProxy::start(&url::Url::parse(&format!("{origin}/mcp")).unwrap()).await;
    let client = no_redirects(&tp);
    let (endpoint, _) = discovered(&tp, &client).await;
    let url = format!("{endpoint}?mode=login&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&state=s");
    let resp = client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        format!(
            "{origin}/authorize?mode=login&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&state=s"
        )
    );
    assert!(resp.bytes().await.unwrap().is_empty());

    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records);
    let auth = authorize_exchange(&ex);
    assert_eq!(auth.outcome, Outcome::Complete);
    // The upstream's login page is recorded; the 302 the browser got is in the rewrites.
    let resp = auth.response.as_ref().unwrap();
    assert_eq!(resp.status, 200);
    assert!(resp.body_text().unwrap().contains("sign in"));
    assert!(
        auth.rewrites
            .iter()
            .any(|r| r.location == "authtap:authorize-redirect")
    );
    assert!(
        auth.rewrites
            .iter()
            .any(|r| r.location == "note" && r.to.contains("RFC 9207 iss"))
    );
    // No registration went through authtap: the callback leg cannot be bounced, and the
    // report says so as a finding (not only as a live warning).
    let lost = auth
        .findings
        .iter()
        .find(|f| f.rule == "X-CALLBACK-UNRECORDED")
        .expect("X-CALLBACK-UNRECORDED");
    assert!(
        lost.message
            .contains("did not register through this authtap run")
    );
}

#[tokio::test]
async fn login_hop_leaves_the_proxy_with_an_absolute_location() {
    let origin = upstream().await;
    let tp = TestProxy::start(&url::Url::parse(&format!("{origin}/mcp")).unwrap()).await;
    let client = no_redirects(&tp);
    let (endpoint, _) = discovered(&tp, &client).await;
    let url = format!("{endpoint}?mode=hop&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb");
    let resp = client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        format!("{origin}/login?tx=1")
    );
    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records);
    let auth = authorize_exchange(&ex);
    assert_eq!(auth.response.as_ref().unwrap().status, 302);
    assert!(auth.rewrites.iter().any(|r| r.location == "note"));
}

#[tokio::test]
async fn unreachable_authorization_endpoint_gets_a_recorded_synthesized_redirect() {
    let origin = upstream().await;
    let tp = TestProxy::start(&url::Url::parse(&format!("{origin}/mcp")).unwrap()).await;
    let client = no_redirects(&tp);
    // Port 1 on loopback: nothing listens there.
    let url = tp.url("/__authtap/authorize/http/127.0.0.1/1/authorize?state=s");
    let resp = client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        "http://127.0.0.1:1/authorize?state=s"
    );
    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records);
    let auth = authorize_exchange(&ex);
    let resp = auth
        .response
        .as_ref()
        .expect("the synthesized 302 is recorded");
    assert_eq!(resp.status, 302);
    assert_eq!(
        resp.header("location"),
        Some("http://127.0.0.1:1/authorize?state=s")
    );
    assert!(
        auth.rewrites
            .iter()
            .any(|r| r.location == "note" && r.to.contains("synthesized"))
    );
}

/// Metadata sent chunked, gzip (chunked) or brotli is rewritten; compressed bodies go out as
/// identity with a correct Content-Length (R15).
#[tokio::test]
async fn chunked_and_compressed_metadata_is_rewritten() {
    let origin = upstream().await;
    let tp = TestProxy::start(&url::Url::parse(&format!("{origin}/mcp")).unwrap()).await;
    let client = no_redirects(&tp);
    for kind in ["chunked", "gzip", "br"] {
        let resp = client
            .get(tp.url(&format!("/.well-known/oauth-protected-resource/mcp/{kind}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{kind}");
        assert!(resp.headers().get("content-encoding").is_none(), "{kind}");
        let length: usize = resp.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = resp.bytes().await.unwrap();
        assert_eq!(length, body.len(), "{kind}");
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["resource"], tp.url("/mcp"), "{kind}");
        assert!(
            doc["authorization_servers"][0]
                .as_str()
                .unwrap()
                .starts_with(tp.proxy.base_url().as_str().trim_end_matches('/')),
            "{kind}: {doc}"
        );
    }
    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records);
    assert_eq!(ex.len(), 3);
    for (e, kind) in ex.iter().zip(["chunked", "gzip", "br"]) {
        assert_eq!(e.outcome, Outcome::Complete, "{kind}");
        // The record keeps what the upstream sent, decoded for reading.
        let text = e.response.as_ref().unwrap().body_text().unwrap();
        assert!(text.contains(&format!("{origin}/mcp")), "{kind}: {text}");
        assert!(
            e.rewrites.iter().any(|r| r.location == "body:$.resource"),
            "{kind}"
        );
        assert_eq!(
            e.rewrites
                .iter()
                .any(|r| r.location == "header:content-encoding"),
            kind != "chunked",
            "{kind}"
        );
    }
}

/// A metadata body over the buffering cap streams through unchanged and complete.
#[tokio::test]
async fn oversized_metadata_streams_through_unchanged() {
    let origin = upstream().await;
    let tp = TestProxy::start(&url::Url::parse(&format!("{origin}/mcp")).unwrap()).await;
    let resp = no_redirects(&tp)
        .get(tp.url("/.well-known/oauth-protected-resource/mcp/big"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    assert!(body.len() > 300 * 1024);
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["resource"], format!("{origin}/mcp"));
    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records);
    assert_eq!(ex[0].outcome, Outcome::Complete);
    assert!(ex[0].rewrites.is_empty());
}
