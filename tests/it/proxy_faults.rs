//! Faults blamed on the side that caused them, through the real proxy (plain HTTP, raw
//! sockets where a well-behaved client library would not misbehave on purpose):
//! a malformed chunked request body gets 400 and a client-side kind; a client that goes away
//! mid-body is recorded as `client_cut`; an upstream that breaks off a metadata body authtap
//! buffers for rewriting reaches the client broken (never a clean 200); an HTTP/2 protocol
//! error leaves a record.

use crate::support;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use authtap::model::{Exchange, Outcome};
use support::{TestProxy, Upstream, exchanges, plain_http};

/// Sends raw bytes to the proxy and reads what comes back until the proxy closes or 10 s pass.
async fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8], close_write: bool) -> String {
    raw_exchange_closed(addr, bytes, close_write).await.0
}

/// Like [`raw_exchange`], and whether the proxy closed the connection (rather than the wait
/// running out).
async fn raw_exchange_closed(
    addr: std::net::SocketAddr,
    bytes: &[u8],
    close_write: bool,
) -> (String, bool) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    if close_write {
        s.shutdown().await.unwrap();
    }
    let mut out = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .is_ok();
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

fn only_error<'a>(xs: &[&'a Exchange], kind: &str) -> &'a Exchange {
    xs.iter()
        .find(|x| x.error.as_ref().is_some_and(|e| e.kind.as_str() == kind))
        .unwrap_or_else(|| panic!("no exchange with error kind {kind}: {xs:#?}"))
}

#[tokio::test]
async fn malformed_chunked_body_is_the_clients_fault() {
    let up = Upstream::start().await;
    let tp = TestProxy::start_with(&up.url, plain_http).await;
    let addr = tp.proxy.local_addr();
    let reply = raw_exchange(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\
          Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZ\r\nnot a chunk\r\n",
        false,
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("client_protocol"), "{reply}");
    assert!(!reply.contains("could not parse"), "{reply}");
    let (records, _dir) = tp.finish().await;
    let xs = exchanges(&records);
    let x = only_error(&xs, "client_protocol");
    assert_eq!(x.outcome, Outcome::Rejected);
}

#[tokio::test]
async fn client_going_away_mid_body_is_recorded_as_such() {
    let up = Upstream::start().await;
    let tp = TestProxy::start_with(&up.url, plain_http).await;
    let addr = tp.proxy.local_addr();
    let _ = raw_exchange(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\
          Content-Length: 1000\r\n\r\nonly ten b",
        true,
    )
    .await;
    let (records, _dir) = tp.finish().await;
    let xs = exchanges(&records);
    let x = only_error(&xs, "client_cut");
    assert_eq!(x.outcome, Outcome::ClientCut);
    assert!(
        !xs.iter().any(|x| x
            .error
            .as_ref()
            .is_some_and(|e| e.kind.as_str() == "connect" || e.kind.as_str() == "upstream_cut")),
        "{xs:#?}"
    );
}

/// An upstream that answers every request with a JSON metadata head and `prefix`, then drops
/// the connection.
async fn cutting_upstream(head: &'static str, prefix: &'static str) -> url::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(prefix.as_bytes()).await;
                let _ = s.flush().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                // Dropped: the body is cut.
            });
        }
    });
    url::Url::parse(&format!("http://{addr}/")).unwrap()
}

async fn assert_cut_metadata_reaches_client_broken(head: &'static str, prefix: &'static str) {
    let upstream = cutting_upstream(head, prefix).await;
    let tp = TestProxy::start_with(&upstream, plain_http).await;
    let url = format!(
        "http://{}/.well-known/oauth-protected-resource",
        tp.proxy.local_addr()
    );
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(20), client.get(&url).send())
        .await
        .expect("the client must not hang");
    let outcome = match resp {
        Err(e) => Err(e.to_string()),
        Ok(r) => {
            let status = r.status();
            match tokio::time::timeout(Duration::from_secs(20), r.bytes())
                .await
                .expect("the client must not hang on the body")
            {
                Ok(body) => Ok((status, body)),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    assert!(
        outcome.is_err(),
        "a cut metadata body must reach the client as an error, got {outcome:?}"
    );
    // On the wire: nothing of authtap's own and no clean end; the connection closes (hyper
    // drops what it had buffered, so the client may see no response head at all).
    let (reply, closed) = raw_exchange_closed(
        tp.proxy.local_addr(),
        b"GET /.well-known/oauth-protected-resource HTTP/1.1\r\nHost: x\r\n\r\n",
        false,
    )
    .await;
    assert!(closed, "the proxy must close the connection: {reply}");
    assert!(
        reply.is_empty() || reply.contains(prefix),
        "only upstream bytes: {reply}"
    );
    assert!(!reply.contains("authtap"), "no substitute body: {reply}");
    assert!(
        !reply.ends_with("0\r\n\r\n"),
        "no clean chunked end: {reply}"
    );
    let (records, _dir) = tp.finish().await;
    let xs = exchanges(&records);
    let x = only_error(&xs, "upstream_cut");
    assert_eq!(x.outcome, Outcome::UpstreamCut);
}

#[tokio::test]
async fn cut_content_length_metadata_body_is_passed_on_broken() {
    assert_cut_metadata_reaches_client_broken(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n",
        "{\"resource\":\"http://up",
    )
    .await;
}

#[tokio::test]
async fn cut_chunked_metadata_body_is_passed_on_broken() {
    assert_cut_metadata_reaches_client_broken(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        "16\r\n{\"resource\":\"http://up\r\n",
    )
    .await;
}

#[tokio::test]
async fn http2_protocol_error_leaves_a_connection_record() {
    let up = Upstream::start().await;
    let tp = TestProxy::start_with(&up.url, plain_http).await;
    let addr = tp.proxy.local_addr();
    // The HTTP/2 preface, then a SETTINGS frame whose length is not a multiple of 6
    // (FRAME_SIZE_ERROR, RFC 9113 §6.5).
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[0, 0, 5, 0x4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5]);
    let _ = raw_exchange(addr, &bytes, false).await;
    let (records, _dir) = tp.finish().await;
    let xs = exchanges(&records);
    let x = only_error(&xs, "h2_protocol");
    assert_eq!(x.outcome, Outcome::Rejected);
}

#[tokio::test]
async fn max_capture_bounds_the_decoded_body_of_a_gzip_bomb() {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![b'a'; 8 * 1024 * 1024]).unwrap();
    let bomb = enc.finish().unwrap();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n\
         Content-Length: {}\r\n\r\n",
        bomb.len()
    );
    let head: &'static str = Box::leak(head.into_boxed_str());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let bomb = bomb.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&bomb).await;
                let _ = s.flush().await;
            });
        }
    });
    let upstream = url::Url::parse(&format!("http://{addr}/")).unwrap();
    let cap = 64 * 1024;
    let tp = TestProxy::start_with(&upstream, |c| {
        plain_http(c);
        c.max_capture = cap;
    })
    .await;
    let url = format!("http://{}/bomb", tp.proxy.local_addr());
    let client = reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .build()
        .unwrap();
    let body = client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        body.len() > 1000,
        "the client gets the compressed bytes as sent"
    );
    let (records, _dir) = tp.finish().await;
    let xs = exchanges(&records);
    let captured = xs[0].response.as_ref().unwrap().body.as_ref().unwrap();
    assert_eq!(captured.decoded_from.as_deref(), Some("gzip"));
    assert!(captured.truncated);
    assert!(
        captured.text.as_ref().unwrap().len() <= cap,
        "decoded copy {} bytes exceeds --max-capture {cap}",
        captured.text.as_ref().unwrap().len()
    );
}

#[tokio::test]
async fn client_going_away_mid_form_body_is_recorded_as_such() {
    // Reverse mode buffers small form bodies (to map `resource` back): the same attribution.
    let up = Upstream::start().await;
    let tp = TestProxy::start_with(&up.url, plain_http).await;
    let addr = tp.proxy.local_addr();
    let _ = raw_exchange(
        addr,
        b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\ngrant_type",
        true,
    )
    .await;
    let (records, _dir) = tp.finish().await;
    let xs = exchanges(&records);
    let x = only_error(&xs, "client_cut");
    assert_eq!(x.outcome, Outcome::ClientCut);
}
