//! End-to-end forwarding through the real proxy: real sockets, real TLS through the generated
//! CA, a real hyper upstream. Each test checks what the client got and what the trace says.

use crate::support;

use std::time::Duration;

use authtap::model::{Headers, Outcome, Record};
use support::{TestProxy, Upstream, client_trusting, exchanges};

#[tokio::test]
async fn json_post_round_trip_matches_direct_and_is_recorded() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"x":"é"}}"#;

    let direct = reqwest::Client::new()
        .post(up.url.join("echo").unwrap())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let direct_status = direct.status();
    let direct_body = direct.bytes().await.unwrap();

    let via = tp
        .client()
        .post(tp.url("/echo"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(via.status(), direct_status);
    assert_eq!(via.headers()["content-type"], "application/json");
    assert_eq!(via.bytes().await.unwrap(), direct_body);

    let (records, _dir) = tp.finish().await;
    assert!(matches!(records[0], Record::Session(_)));
    let ex = exchanges(&records);
    assert_eq!(ex.len(), 1);
    let ex = ex[0];
    assert_eq!(ex.id.0, 1);
    assert_eq!(ex.outcome, Outcome::Complete);
    assert_eq!(ex.request.method, "POST");
    assert_eq!(ex.request.url, format!("http://{}/echo", up.addr));
    assert!(ex.request.client_url.as_deref().unwrap().ends_with("/echo"));
    assert_eq!(
        ex.request.header("host"),
        Some(up.addr.to_string().as_str())
    );
    assert_eq!(ex.request.body_text(), Some(body));
    let resp = ex.response.as_ref().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body_text(), Some(body));
    assert!(ex.timings.first_byte_ms.is_some() && ex.timings.end_ms.is_some());
    assert!(ex.timings.upstream_connect_ms.is_some());
    assert!(matches!(records.last(), Some(Record::Stats(s)) if s.exchanges == 1));
}

#[tokio::test]
async fn http2_client_is_served_and_forwarded_as_http1() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    let client = client_trusting(tp.proxy.ca_pem_path().unwrap(), true);
    let resp = client
        .get(tp.url("/headers"))
        .header("connection", "x-drop-me")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let seen: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    // Host set to the upstream, request sent as HTTP/1.1, no hop-by-hop headers.
    assert_eq!(seen["host"][0], up.addr.to_string());
    assert_eq!(seen["x-version"], "HTTP/1.1");
    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records);
    assert_eq!(ex[0].request.http_version, "HTTP/2.0");
}

#[tokio::test]
async fn strips_hop_by_hop_headers_towards_upstream() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    let client = tp.client();
    let resp = client
        .get(tp.url("/headers"))
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "secret")
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("x-end-to-end", "kept")
        .send()
        .await
        .unwrap();
    let seen: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert!(seen.get("x-hop").is_none(), "{seen}");
    assert!(seen.get("proxy-authorization").is_none(), "{seen}");
    assert_eq!(seen["x-end-to-end"][0], "kept");
    drop(tp.finish().await);
}

#[tokio::test]
async fn gzip_body_is_forwarded_encoded_and_recorded_decoded() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    // reqwest without the gzip feature does not decode: we see the bytes as sent.
    let resp = tp.client().get(tp.url("/gzip")).send().await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let wire = resp.bytes().await.unwrap();
    assert_eq!(&wire[..2], &[0x1f, 0x8b]);
    let (records, _dir) = tp.finish().await;
    let body = exchanges(&records)[0]
        .response
        .as_ref()
        .unwrap()
        .body
        .clone()
        .unwrap();
    assert_eq!(body.decoded_from.as_deref(), Some("gzip"));
    assert_eq!(
        body.text.as_deref(),
        Some(r#"{"compressed":true,"text":"hello gzip"}"#)
    );
    assert_eq!(body.wire_size, wire.len() as u64);
}

#[tokio::test]
async fn sse_events_reach_the_client_one_by_one() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    let events = up.sse_sender();
    let resp = tp.client().get(tp.url("/sse")).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut stream = resp.bytes_stream();
    use futures_util::StreamExt;
    for i in 0..5 {
        let event = format!("id: {i}\nevent: message\ndata: {{\"n\":{i}}}\n\n");
        events.send(event.clone()).unwrap();
        // The next event is only released after this one arrived: a buffering proxy hangs here.
        let mut got = Vec::new();
        while got.len() < event.len() {
            let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
                .await
                .unwrap_or_else(|_| panic!("event {i} did not arrive while the stream stayed open"))
                .unwrap()
                .unwrap();
            got.extend_from_slice(&chunk);
        }
        assert_eq!(String::from_utf8(got).unwrap(), event);
    }
    drop(events);
    // The stream ends (an HTTP/2 end-of-stream frame may surface as one empty chunk).
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap()
        {
            None => break,
            Some(Ok(chunk)) if chunk.is_empty() => continue,
            other => panic!("unexpected data after the last event: {other:?}"),
        }
    }
    let (records, _dir) = tp.finish().await;
    let resp = exchanges(&records)[0].response.clone().unwrap();
    assert_eq!(resp.sse_events.len(), 5);
    assert_eq!(resp.sse_events[3].id.as_deref(), Some("3"));
    assert_eq!(resp.sse_events[3].data, r#"{"n":3}"#);
    assert!(resp.sse_events.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
}

#[tokio::test]
async fn upstream_down_gives_502_json_and_an_error_record() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let upstream = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let tp = TestProxy::start(&upstream).await;
    let resp = tp.client().get(tp.url("/mcp")).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(body["authtap"]["exchange"], 1);
    assert_eq!(body["authtap"]["kind"], "connect");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("refused"),
        "{body}"
    );
    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records)[0];
    assert_eq!(ex.outcome, Outcome::UpstreamError);
    assert_eq!(ex.error.as_ref().unwrap().kind.as_str(), "connect");
    assert!(ex.response.is_none());
}

#[tokio::test]
async fn upstream_breaking_mid_body_is_recorded_as_upstream_cut() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    let result = tp
        .client()
        .get(tp.url("/cut"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await;
    assert!(result.is_err(), "client must see the cut, not a short body");
    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records)[0];
    assert_eq!(ex.outcome, Outcome::UpstreamCut);
    assert_eq!(
        ex.response
            .as_ref()
            .unwrap()
            .body
            .as_ref()
            .unwrap()
            .text
            .as_deref(),
        Some("0123456789")
    );
}

#[tokio::test]
async fn client_leaving_mid_stream_is_recorded_as_client_cut() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    let client = tp.client();
    let mut resp = client.get(tp.url("/slow-stream")).send().await.unwrap();
    let _ = resp.chunk().await.unwrap();
    drop(resp);
    drop(client);
    // The exchange is recorded when hyper notices the client is gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(tp.proxy.trace_path())
        .unwrap()
        .contains("client_cut")
    {
        assert!(std::time::Instant::now() < deadline, "no client_cut record");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (records, _dir) = tp.finish().await;
    assert_eq!(exchanges(&records)[0].outcome, Outcome::ClientCut);
}

#[tokio::test]
async fn oversize_request_head_gets_431_and_is_recorded() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    let h1 = reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tls_certs_only([reqwest::Certificate::from_pem(
            &std::fs::read(tp.proxy.ca_pem_path().unwrap()).unwrap(),
        )
        .unwrap()])
        .build()
        .unwrap();
    let resp = h1
        .get(tp.url("/headers"))
        .header("x-huge", "a".repeat(1024 * 1024))
        .send()
        .await;
    match resp {
        Ok(resp) => assert_eq!(resp.status(), 431),
        Err(err) => panic!("expected a 431 response, got {err}"),
    }
    // The proxy keeps serving.
    assert_eq!(
        tp.client()
            .get(tp.url("/headers"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (records, _dir) = tp.finish().await;
    let ex = exchanges(&records);
    assert!(ex.iter().any(|e| e.outcome == Outcome::Rejected
        && e.error.as_ref().unwrap().kind.as_str() == "headers_too_large"));
}

#[tokio::test]
async fn plain_http_mode_serves_http_with_public_url() {
    let up = Upstream::start().await;
    let tp = TestProxy::start_with(&up.url, |c| {
        support::plain_http(c);
        c.public_url = Some(url::Url::parse("https://tunnel.example/").unwrap());
    })
    .await;
    assert_eq!(tp.proxy.base_url().as_str(), "https://tunnel.example/");
    assert!(tp.proxy.ca_pem_path().is_none());
    let url = format!("http://{}/echo", tp.proxy.local_addr());
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(url)
        .body("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "plain");
    drop(tp.finish().await);
}

#[tokio::test]
async fn marks_are_recorded_with_their_ofids() {
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    tp.proxy
        .mark("There was an error connecting ofid_a41b6f81c9");
    let (records, _dir) = tp.finish().await;
    let mark = records.iter().find_map(|r| match r {
        Record::Mark(m) => Some(m.clone()),
        _ => None,
    });
    assert_eq!(mark.unwrap().ofids, vec!["ofid_a41b6f81c9".to_string()]);
}
