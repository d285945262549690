//! The browser leg of `authtap check --login`: a loopback redirect URI
//! (`http://127.0.0.1:<ephemeral>/callback`) served by a one-shot HTTP/1.1 listener, and the
//! user's browser opened on the authorize URL (`xdg-open` / `open`, or `$AUTHTAP_BROWSER`;
//! the URL is always handed to the caller to print as well).
//!
//! The request that reaches the callback is recorded as an exchange like every other one, so
//! the rule engine judges the authorization response (`code`, `state`, `iss`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::client::{BrowserLeg, ExchangeHook};
use crate::model::{
    CaptureMode, Exchange, ExchangeId, Header, Outcome, RequestRecord, ResponseRecord, Timings,
};

/// How the authorize URL reaches a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opener {
    /// `$AUTHTAP_BROWSER` if set (`none` disables), else `xdg-open`, else `open`.
    System,
    /// Only print the URL.
    PrintOnly,
}

/// The loopback callback listener and browser launcher.
#[derive(Debug)]
pub struct BrowserLogin {
    redirect_uri: String,
    rx: Mutex<Option<oneshot::Receiver<String>>>,
    opener: Opener,
    wait: Duration,
    notices: Option<mpsc::UnboundedSender<String>>,
}

/// The listener could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for the OAuth callback on 127.0.0.1")]
pub struct BindError(#[source] pub std::io::Error);

const DONE_PAGE: &str = "<!doctype html><meta charset=utf-8><title>authtap check</title>\
<p>authtap received the authorization response. You can close this tab and return to the terminal.</p>";

impl BrowserLogin {
    /// Binds `127.0.0.1:0` and serves `/callback` until the first authorization response.
    /// `notices` receives lines for the user (the URL to open, what the browser did).
    pub async fn bind(
        opener: Opener,
        wait: Duration,
        hook: Option<ExchangeHook>,
        notices: Option<mpsc::UnboundedSender<String>>,
    ) -> Result<Self, BindError> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(BindError)?;
        let addr = listener.local_addr().map_err(BindError)?;
        let redirect_uri = format!("http://{addr}/callback");
        let (tx, rx) = oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        tokio::spawn(serve(listener, addr, tx, hook));
        Ok(Self {
            redirect_uri,
            rx: Mutex::new(Some(rx)),
            opener,
            wait,
            notices,
        })
    }

    /// The redirect URI to register and send.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    fn notice(&self, line: String) {
        if let Some(tx) = &self.notices {
            let _ = tx.send(line);
        }
    }

    fn open(&self, url: &str) {
        if self.opener == Opener::PrintOnly {
            return;
        }
        let configured = std::env::var("AUTHTAP_BROWSER").ok();
        let candidates: Vec<String> = match configured {
            Some(cmd) if cmd == "none" => Vec::new(),
            Some(cmd) => vec![cmd],
            None => vec!["xdg-open".into(), "open".into()],
        };
        for cmd in candidates {
            let spawned = std::process::Command::new(&cmd)
                .arg(url)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
            if spawned.is_ok() {
                self.notice(format!("opened the browser with {cmd}"));
                return;
            }
        }
    }
}

impl BrowserLeg for BrowserLogin {
    fn complete(
        &self,
        authorize_url: String,
    ) -> Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(async move {
            let rx = self.rx.lock().ok().and_then(|mut g| g.take());
            let Some(rx) = rx else {
                return Err("the callback listener was already used".to_string());
            };
            self.notice(format!(
                "sign in with your browser; if it did not open, visit:\n  {authorize_url}\n  waiting up to {}s for {}",
                self.wait.as_secs(),
                self.redirect_uri
            ));
            self.open(&authorize_url);
            match tokio::time::timeout(self.wait, rx).await {
                Ok(Ok(url)) => Ok(url),
                Ok(Err(_)) => Err("the callback listener stopped".to_string()),
                Err(_) => Err(format!(
                    "no authorization response reached {} within {}s",
                    self.redirect_uri,
                    self.wait.as_secs()
                )),
            }
        })
    }
}

type Sender = Arc<Mutex<Option<oneshot::Sender<String>>>>;

/// Serves until the runtime ends (later hits get 404 or the same page).
async fn serve(listener: TcpListener, addr: SocketAddr, tx: Sender, hook: Option<ExchangeHook>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let (tx, hook) = (tx.clone(), hook.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let answer = answer(&req, addr, peer, &tx, hook.as_ref());
                async move { Ok::<_, Infallible>(answer) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(
    req: &Request<Incoming>,
    addr: SocketAddr,
    peer: SocketAddr,
    tx: &Sender,
    hook: Option<&ExchangeHook>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let started_at = time::OffsetDateTime::now_utc();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = format!("http://{addr}{path_and_query}");
    let is_callback = req.uri().path() == "/callback" && req.uri().query().is_some();
    let (status, body) = if is_callback {
        (200, DONE_PAGE)
    } else {
        (404, "not found")
    };
    if is_callback {
        if let Some(sender) = tx.lock().ok().and_then(|mut g| g.take()) {
            let _ = sender.send(url.clone());
        }
        if let Some(hook) = hook {
            let headers = req
                .headers()
                .iter()
                .map(|(n, v)| Header::new(n.as_str(), String::from_utf8_lossy(v.as_bytes())))
                .collect();
            let exchange = Exchange {
                id: ExchangeId(0),
                started_at,
                timings: Timings {
                    end_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
                    ..Default::default()
                },
                client_addr: Some(peer.to_string()),
                request: RequestRecord {
                    method: req.method().to_string(),
                    url: url.clone(),
                    client_url: None,
                    http_version: format!("{:?}", req.version()),
                    headers,
                    body: None,
                },
                response: Some(ResponseRecord {
                    status,
                    http_version: "HTTP/1.1".into(),
                    headers: vec![Header::new("content-type", "text/html; charset=utf-8")],
                    body: None,
                    sse_events: Vec::new(),
                }),
                outcome: Outcome::Complete,
                error: None,
                rewrites: Vec::new(),
                phase: None,
                flow: None,
                findings: Vec::new(),
                ofids: Vec::new(),
                // The browser's redirect, received by authtap's own callback listener.
                mode: CaptureMode::Client,
            };
            (hook.0)("callback", exchange);
        }
    }
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hands_back_the_callback_url_and_records_it() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let hook = ExchangeHook::new(move |step, ex| {
            seen2
                .lock()
                .unwrap()
                .push((step.to_string(), ex.request.url));
        });
        let login = BrowserLogin::bind(Opener::PrintOnly, Duration::from_secs(5), Some(hook), None)
            .await
            .unwrap();
        let callback = format!("{}?code=abc&state=xyz", login.redirect_uri());
        let target = callback.clone();
        let browser = tokio::spawn(async move {
            let url: http::Uri = target.parse().unwrap();
            let authority = url.authority().unwrap().to_string();
            let stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(conn);
            let req = Request::get(url.path_and_query().unwrap().as_str())
                .header("host", authority)
                .body(Full::new(Bytes::new()))
                .unwrap();
            send.send_request(req).await.unwrap().status()
        });
        let got = login
            .complete("https://as.example/authorize".into())
            .await
            .unwrap();
        assert_eq!(got, callback);
        assert_eq!(browser.await.unwrap(), 200);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.as_slice(), &[("callback".to_string(), callback)]);
    }

    #[tokio::test]
    async fn times_out_without_a_callback() {
        let login = BrowserLogin::bind(Opener::PrintOnly, Duration::from_millis(50), None, None)
            .await
            .unwrap();
        let err = login
            .complete("https://as.example/authorize".into())
            .await
            .unwrap_err();
        assert!(err.contains("no authorization response"), "{err}");
    }
}
