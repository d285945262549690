//! Shared helpers for the proxy end-to-end tests: a real hyper upstream on 127.0.0.1:0, a
//! proxy started through the library facade with its own CA in a temp dir, a reqwest client
//! that trusts only that CA, and a trace reader. Other test files may reuse these read-only.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::mpsc;

use authtap::model::{Exchange, Record};
use authtap::proxy::{self, ProxyConfig, RunningProxy, TlsMode};

type Body = BoxBody<Bytes, std::io::Error>;

/// The test upstream: a real HTTP/1.1 + HTTP/2 server with a few routes.
///
/// - `POST /echo`: echoes the request body, same content type.
/// - `GET /headers`: the request headers as a JSON object (names → list of values).
/// - `GET /gzip`: a gzip-encoded JSON body (`Content-Encoding: gzip`).
/// - `GET /sse`: an event stream whose events the test releases one at a time.
/// - `GET /big?bytes=N`: N bytes streamed in 64 KiB chunks.
/// - `GET /cut`: announces 1000 bytes, sends 10, then drops the connection.
/// - `GET /slow-stream`: sends a chunk every 50 ms forever.
pub struct Upstream {
    pub addr: SocketAddr,
    pub url: url::Url,
    sse: Arc<Mutex<Option<mpsc::UnboundedReceiver<String>>>>,
}

impl Upstream {
    /// Starts the upstream on 127.0.0.1:0.
    pub async fn start() -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sse: Arc<Mutex<Option<mpsc::UnboundedReceiver<String>>>> = Arc::new(Mutex::new(None));
        let state = sse.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| route(req, state.clone()));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Upstream {
            addr,
            url: url::Url::parse(&format!("http://{addr}/")).unwrap(),
            sse,
        }
    }

    /// A sender that releases SSE events (each string is one complete event block) for the
    /// next `GET /sse`. Dropping it ends the stream.
    pub fn sse_sender(&self) -> mpsc::UnboundedSender<String> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.sse.lock().unwrap() = Some(rx);
        tx
    }
}

fn full(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()).map_err(|e| match e {}).boxed())
        .unwrap()
}

async fn route(
    req: Request<Incoming>,
    sse: Arc<Mutex<Option<mpsc::UnboundedReceiver<String>>>>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    Ok(match path.as_str() {
        "/echo" => {
            let ct = req
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_string();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            full(200, &ct, body)
        }
        "/headers" => {
            let mut map = serde_json::Map::new();
            for (name, value) in req.headers() {
                let entry = map
                    .entry(name.as_str())
                    .or_insert_with(|| serde_json::json!([]));
                entry
                    .as_array_mut()
                    .unwrap()
                    .push(value.to_str().unwrap_or("").into());
            }
            map.insert("x-version".into(), format!("{:?}", req.version()).into());
            full(
                200,
                "application/json",
                serde_json::Value::Object(map).to_string(),
            )
        }
        "/gzip" => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(br#"{"compressed":true,"text":"hello gzip"}"#)
                .unwrap();
            let mut resp = full(200, "application/json", enc.finish().unwrap());
            resp.headers_mut()
                .insert("content-encoding", "gzip".parse().unwrap());
            resp
        }
        "/sse" => {
            let rx = sse.lock().unwrap().take();
            let Some(mut rx) = rx else {
                return Ok(full(500, "text/plain", "no sse sender"));
            };
            let stream = async_stream(
                move |tx: mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>| async move {
                    while let Some(event) = rx.recv().await {
                        if tx.send(Ok(Frame::data(Bytes::from(event)))).await.is_err() {
                            break;
                        }
                    }
                },
            );
            Response::builder()
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(StreamBody::new(stream).boxed())
                .unwrap()
        }
        "/big" => {
            let total: u64 = query
                .strip_prefix("bytes=")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1 << 20);
            let stream = async_stream(
                move |tx: mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>| async move {
                    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                    let mut sent = 0u64;
                    while sent < total {
                        let n = (total - sent).min(chunk.len() as u64) as usize;
                        if tx.send(Ok(Frame::data(chunk.slice(..n)))).await.is_err() {
                            break;
                        }
                        sent += n as u64;
                    }
                },
            );
            Response::builder()
                .header("content-type", "application/octet-stream")
                .header("content-length", total.to_string())
                .body(StreamBody::new(stream).boxed())
                .unwrap()
        }
        "/cut" => {
            let stream = async_stream(
                move |tx: mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>| async move {
                    let _ = tx
                        .send(Ok(Frame::data(Bytes::from_static(b"0123456789"))))
                        .await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let _ = tx
                        .send(Err(std::io::Error::other("upstream test cut")))
                        .await;
                },
            );
            Response::builder()
                .header("content-type", "text/plain")
                .header("content-length", "1000")
                .body(StreamBody::new(stream).boxed())
                .unwrap()
        }
        "/slow-stream" => {
            let stream = async_stream(
                move |tx: mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>| async move {
                    loop {
                        if tx
                            .send(Ok(Frame::data(Bytes::from_static(b"data: tick\n\n"))))
                            .await
                            .is_err()
                        {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            );
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(StreamBody::new(stream).boxed())
                .unwrap()
        }
        _ => full(404, "text/plain", "not found"),
    })
}

/// A stream fed by a spawned producer (a tiny stand-in for the async-stream crate).
fn async_stream<F, Fut>(
    producer: F,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Send + 'static
where
    F: FnOnce(mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(producer(tx));
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

/// A proxy started through the library facade, with its CA and trace in a temp dir.
pub struct TestProxy {
    pub proxy: RunningProxy,
    pub dir: tempfile::TempDir,
}

impl TestProxy {
    /// Starts a local-CA TLS proxy in front of `upstream`.
    pub async fn start(upstream: &url::Url) -> TestProxy {
        Self::start_with(upstream, |_| {}).await
    }

    /// Starts a proxy after letting `tweak` adjust the config.
    pub async fn start_with(
        upstream: &url::Url,
        tweak: impl FnOnce(&mut ProxyConfig),
    ) -> TestProxy {
        authtap::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let mut config = ProxyConfig::new(upstream.clone(), dir.path().join("trace.jsonl"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.certs_dir = dir.path().join("certs");
        config.live = None;
        tweak(&mut config);
        let proxy = proxy::start(config).await.unwrap();
        TestProxy { proxy, dir }
    }

    /// `https://localhost:PORT/<path>`.
    pub fn url(&self, path: &str) -> String {
        self.proxy
            .base_url()
            .join(path.trim_start_matches('/'))
            .unwrap()
            .to_string()
    }

    /// A reqwest client trusting only this proxy's CA (HTTP/1.1 or HTTP/2 by ALPN).
    pub fn client(&self) -> reqwest::Client {
        client_trusting(self.proxy.ca_pem_path().unwrap(), false)
    }

    /// Shuts the proxy down and returns every record of its trace.
    pub async fn finish(self) -> (Vec<Record>, tempfile::TempDir) {
        let path = self.proxy.trace_path().to_path_buf();
        self.proxy.shutdown().await.unwrap();
        (read_trace(&path), self.dir)
    }
}

/// A reqwest client that trusts only the CA at `ca` (`h2_only` forces HTTP/2).
pub fn client_trusting(ca: &Path, h2_only: bool) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    let cert = reqwest::Certificate::from_pem(&pem).unwrap();
    let mut builder = reqwest::Client::builder().no_proxy().tls_certs_only([cert]);
    if h2_only {
        builder = builder.http2_prior_knowledge();
    }
    builder.build().unwrap()
}

/// Parses every line of a trace; panics on a line that is not a record.
pub fn read_trace(path: &Path) -> Vec<Record> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}: {l}", i + 1))
        })
        .collect()
}

/// The exchange records of a trace, in file order.
pub fn exchanges(records: &[Record]) -> Vec<&Exchange> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Exchange(e) => Some(e.as_ref()),
            _ => None,
        })
        .collect()
}

/// Uses `TlsMode` so helpers can build plain-HTTP proxies.
pub fn plain_http(config: &mut ProxyConfig) {
    config.tls = TlsMode::PlainHttp;
}

/// The body the upstreams of the rewrite tests answer with.
pub type RouteBody = BoxBody<Bytes, std::io::Error>;

/// Serves `route(request, origin)` on 127.0.0.1:0 (HTTP/1.1 and HTTP/2) and returns the origin
/// (`http://127.0.0.1:U`): the upstream that plays MCP server and AS in the rewrite tests.
pub async fn serve_route<F, Fut>(route: F) -> String
where
    F: Fn(Request<Incoming>, String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<RouteBody>, Infallible>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let o = origin.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (o, route) = (o.clone(), route.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| route(req, o.clone()));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    origin
}
