//! The scripted client's route to a server: direct, or through the HTTP proxy the environment
//! names (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and their lower-case forms, `NO_PROXY`), as
//! curl and the SDK clients do. `https://` URLs go through a `CONNECT` tunnel (TLS end to end
//! with the server's name); `http://` URLs are sent to the proxy in absolute form. This is what
//! lets `authtap check` run as the child of `authtap run`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

/// How the client reaches servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Route {
    /// Straight to each server (the demo, whose proxy is authtap itself).
    #[default]
    Direct,
    /// Through the proxy the environment names, when it names one for the URL.
    EnvironmentProxy,
}

impl Route {
    /// The proxy (`host:port`, credentials left out) this route sends `url` through, if any:
    /// a host name is then resolved by the proxy, not on this machine.
    pub fn proxy_for(self, url: &str) -> Option<String> {
        match self {
            Route::Direct => None,
            Route::EnvironmentProxy => proxy_authority(&Matcher::from_env(), url),
        }
    }
}

/// The `host:port` of the proxy `matcher` picks for `url`, without credentials.
fn proxy_authority(matcher: &Matcher, url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    let proxy = matcher.intercept(&uri)?;
    let authority = proxy.uri().authority()?;
    Some(match authority.port_u16() {
        Some(port) => format!("{}:{port}", authority.host()),
        None => authority.host().to_string(),
    })
}

/// Any connect failure (TCP, or the proxy refusing the tunnel).
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connects to a server directly or through the environment's proxy; the inner connector of
/// the client's TLS connector.
#[derive(Clone)]
pub struct ProxyConnector {
    matcher: Arc<Matcher>,
    tcp: HttpConnector,
}

impl ProxyConnector {
    /// A connector for `route`; the environment is read once, here.
    pub fn new(route: Route) -> Self {
        Self::with_matcher(match route {
            Route::Direct => Matcher::builder().build(),
            Route::EnvironmentProxy => Matcher::from_env(),
        })
    }

    /// A connector that asks `matcher` which proxy, if any, each URL goes through.
    fn with_matcher(matcher: Matcher) -> Self {
        let mut tcp = HttpConnector::new();
        // The TLS connector around this one checks the scheme.
        tcp.enforce_http(false);
        Self {
            matcher: Arc::new(matcher),
            tcp,
        }
    }
}

impl Service<Uri> for ProxyConnector {
    type Response = ProxiedIo;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<ProxiedIo, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let mut tcp = self.tcp.clone();
        let intercept = self.matcher.intercept(&dst);
        Box::pin(async move {
            let Some(proxy) = intercept else {
                let io = tcp.call(dst).await?;
                return Ok(ProxiedIo {
                    io,
                    absolute_form: false,
                });
            };
            if dst.scheme_str() == Some("https") {
                let mut tunnel = Tunnel::new(proxy.uri().clone(), tcp);
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                let io = tunnel.call(dst).await?;
                Ok(ProxiedIo {
                    io,
                    absolute_form: false,
                })
            } else {
                let io = tcp.call(proxy.uri().clone()).await?;
                Ok(ProxiedIo {
                    io,
                    absolute_form: true,
                })
            }
        })
    }
}

/// A TCP connection to a server, a tunnel to it, or a connection to a proxy that takes
/// absolute-form requests.
#[derive(Debug)]
pub struct ProxiedIo {
    io: TokioIo<TcpStream>,
    /// Requests on this connection go to a proxy in absolute form (`GET http://host/path`).
    absolute_form: bool,
}

impl Connection for ProxiedIo {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.absolute_form)
    }
}

impl Read for ProxiedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for ProxiedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::Empty;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    /// A listener standing in for a proxy (or a server): returns its address and a task that
    /// reads the first request line of the first connection, answers `reply`, and returns the
    /// line.
    async fn first_line(reply: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut stream = BufReader::new(stream);
            let mut line = String::new();
            stream.read_line(&mut line).await.unwrap();
            loop {
                let mut header = String::new();
                stream.read_line(&mut header).await.unwrap();
                if header.trim().is_empty() {
                    break;
                }
            }
            stream.get_mut().write_all(reply.as_bytes()).await.unwrap();
            line.trim_end().to_string()
        });
        (addr, task)
    }

    #[test]
    fn the_proxy_a_url_goes_through_is_named_without_credentials() {
        let matcher = Matcher::builder()
            .all("http://user:secret@10.0.0.1:3128".to_string())
            .no("localhost".to_string())
            .build();
        assert_eq!(
            proxy_authority(&matcher, "https://mcp.example.com/mcp").as_deref(),
            Some("10.0.0.1:3128")
        );
        assert_eq!(proxy_authority(&matcher, "https://localhost/mcp"), None);
        assert_eq!(Route::Direct.proxy_for("https://mcp.example.com/mcp"), None);
    }

    #[tokio::test]
    async fn http_urls_go_to_the_proxy_in_absolute_form() {
        let (proxy, seen) = first_line("HTTP/1.1 204 No Content\r\n\r\n").await;
        let matcher = Matcher::builder().http(format!("http://{proxy}")).build();
        let client = Client::builder(TokioExecutor::new())
            .build::<_, Empty<Bytes>>(ProxyConnector::with_matcher(matcher));
        let resp = client
            .get("http://mcp.example.invalid/mcp?x=1".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        assert_eq!(
            seen.await.unwrap(),
            "GET http://mcp.example.invalid/mcp?x=1 HTTP/1.1"
        );
    }

    #[tokio::test]
    async fn https_urls_tunnel_through_connect() {
        let (proxy, seen) = first_line("HTTP/1.1 200 Connection established\r\n\r\n").await;
        let matcher = Matcher::builder().https(format!("http://{proxy}")).build();
        let io = ProxyConnector::with_matcher(matcher)
            .call("https://mcp.example.invalid/mcp".parse().unwrap())
            .await
            .unwrap();
        assert!(!io.connected().is_proxied(), "TLS goes end to end");
        assert_eq!(
            seen.await.unwrap(),
            "CONNECT mcp.example.invalid:443 HTTP/1.1"
        );
    }

    #[tokio::test]
    async fn no_proxy_hosts_and_the_direct_route_connect_straight() {
        for connector in [
            ProxyConnector::with_matcher(
                Matcher::builder()
                    .all("http://127.0.0.1:9".to_string())
                    .no("127.0.0.1".to_string())
                    .build(),
            ),
            ProxyConnector::new(Route::Direct),
        ] {
            let (server, seen) = first_line("HTTP/1.1 204 No Content\r\n\r\n").await;
            let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
            let resp = client
                .get(format!("http://{server}/mcp").parse().unwrap())
                .await
                .unwrap();
            assert_eq!(resp.status(), 204);
            assert_eq!(seen.await.unwrap(), "GET /mcp HTTP/1.1");
        }
    }
}
