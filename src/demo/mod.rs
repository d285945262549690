//! The embedded reference upstream: a spec-compliant MCP server (Streamable HTTP) with its own
//! OAuth 2.1 authorization server, on loopback, with fault switches.
//!
//! [`start`] binds one origin (MCP + AS) or two (`separate_as`), and serves until
//! [`RunningDemo::shutdown`]. It speaks the MCP revisions of [`revision`] (2026-07-28 stateless,
//! and 2025-11-25, 2025-06-18, 2025-03-26 with `initialize`; all by default, selectable per
//! run). The clean server follows the MCP authorization spec of each, RFC 9728, RFC 8414, RFC 7591/7592, RFC 7636, RFC 8707, RFC 9207
//! and RFC 9068, so that no rule of the catalog fires on its clean flow. Each [`faults::Fault`]
//! breaks exactly one thing the way real deployments do.
//!
//! Routes (MCP origin): `/mcp` (POST, GET, DELETE, OPTIONS), `/.well-known/oauth-protected-resource`
//! and `/.well-known/oauth-protected-resource/mcp`. AS origin (the same one unless
//! `separate_as`): `/.well-known/oauth-authorization-server`, `/register`, `/register/{id}`,
//! `/authorize`, `/authorize/consent`, `/authorize/login`, `/token`, `/jwks`. Public URLs come from the configured
//! base URLs; the one exception is a loopback server without a public URL, whose protected
//! resource metadata names the loopback name the client used (`localhost`, `127.0.0.1` or
//! `[::1]` with the bound port; see `Urls::as_reached`).

pub mod faults;
pub mod jwt;
pub mod revision;

mod cors;
mod http;
mod mcp;
mod metadata;
mod modern;
mod oauth;
mod register;
mod rpc;
mod state;
mod store;
mod token;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use faults::{CATALOG, ClientNeed, Fault, FaultInfo, FaultSet};
pub use revision::{Revision, Revisions};
pub use state::DemoConfig;
use state::{State, Urls};

use self::http::Body;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// Binding a listener failed.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A configured public URL is not an absolute http(s) base URL.
    #[error("public URL `{0}` must be an absolute http(s) URL without a path")]
    PublicUrl(String),
    /// The signing key could not be generated.
    #[error(transparent)]
    Key(#[from] jwt::KeyError),
}

/// Which listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The MCP origin (also the AS when not separate).
    Mcp,
    /// The separate AS origin.
    As,
}

/// A running reference server.
#[derive(Debug)]
pub struct RunningDemo {
    state: Arc<State>,
    mcp_addr: SocketAddr,
    as_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl RunningDemo {
    /// The canonical MCP URL, e.g. `http://127.0.0.1:40123/mcp`.
    pub fn mcp_url(&self) -> &str {
        &self.state.urls.mcp_url
    }

    /// The AS issuer as advertised in the protected resource metadata.
    pub fn as_issuer(&self) -> &str {
        &self.state.urls.issuer
    }

    /// The path-aware protected resource metadata URL.
    pub fn resource_metadata_url(&self) -> &str {
        &self.state.urls.prm_url
    }

    /// The base URL of the MCP origin (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.state.urls.mcp_origin
    }

    /// The socket the MCP origin listens on.
    pub fn mcp_addr(&self) -> SocketAddr {
        self.mcp_addr
    }

    /// The socket of the separate AS origin, if any.
    pub fn as_addr(&self) -> Option<SocketAddr> {
        self.as_addr
    }

    /// The MCP protocol revisions the server speaks.
    pub fn revisions(&self) -> &Revisions {
        &self.state.config.revisions
    }

    /// The active faults.
    pub fn faults(&self) -> &FaultSet {
        &self.state.config.faults
    }

    /// Stops accepting, closes every connection (open SSE streams end) and waits.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Starts the reference server.
pub async fn start(config: DemoConfig) -> Result<RunningDemo, DemoError> {
    let mcp_listener = bind(SocketAddr::new(config.host, config.port)).await?;
    let mcp_addr = local_addr(&mcp_listener, config.host, config.port)?;
    let as_listener = if config.separate_as {
        Some(bind(SocketAddr::new(config.host, config.as_port)).await?)
    } else {
        None
    };
    let as_addr = match &as_listener {
        Some(l) => Some(local_addr(l, config.host, config.as_port)?),
        None => None,
    };
    let urls = make_urls(&config, mcp_addr, as_addr)?;
    let state = Arc::new(State {
        signer: jwt::Signer::generate()?,
        urls,
        config,
        store: Mutex::new(store::Store::default()),
    });
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(accept_loop(
        mcp_listener,
        Side::Mcp,
        state.clone(),
        stop_rx.clone(),
    ));
    if let Some(l) = as_listener {
        tasks.spawn(accept_loop(l, Side::As, state.clone(), stop_rx));
    }
    Ok(RunningDemo {
        state,
        mcp_addr,
        as_addr,
        stop,
        tasks,
    })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, DemoError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| DemoError::Bind { addr, source })
}

fn local_addr(l: &TcpListener, host: IpAddr, port: u16) -> Result<SocketAddr, DemoError> {
    let addr = SocketAddr::new(host, port);
    l.local_addr()
        .map_err(|source| DemoError::Bind { addr, source })
}

fn base_of(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{addr}")
}

fn check_base(raw: &str) -> Result<String, DemoError> {
    let trimmed = raw.trim_end_matches('/');
    match url::Url::parse(trimmed) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https") && u.path() == "/" && u.query().is_none() =>
        {
            Ok(trimmed.to_string())
        }
        _ => Err(DemoError::PublicUrl(raw.to_string())),
    }
}

fn make_urls(
    config: &DemoConfig,
    mcp: SocketAddr,
    as_addr: Option<SocketAddr>,
) -> Result<Urls, DemoError> {
    let mcp_origin = match &config.public_url {
        Some(u) => check_base(u)?,
        None => base_of(mcp, config.tls.is_some()),
    };
    let as_origin = match (&config.public_as_url, as_addr) {
        (Some(u), Some(_)) => check_base(u)?,
        (_, Some(addr)) => base_of(addr, config.tls.is_some()),
        (_, None) => mcp_origin.clone(),
    };
    let issuer = as_origin.clone();
    let self_issuer = if config.faults.has(Fault::IssuerTrailingSlash) {
        format!("{issuer}/")
    } else {
        issuer.clone()
    };
    Ok(Urls {
        mcp_url: format!("{mcp_origin}/mcp"),
        prm_url: format!("{mcp_origin}/.well-known/oauth-protected-resource/mcp"),
        loopback_aliases: config.public_url.is_none() && mcp.ip().is_loopback(),
        mcp_origin,
        as_origin,
        issuer,
        self_issuer,
    })
}

async fn accept_loop(
    listener: TcpListener,
    side: Side,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else {
                    // Accept errors (fd exhaustion, aborted handshakes) must not end the server.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let state = state.clone();
                conns.spawn(async move {
                    let tls = state.config.tls.clone();
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(route(state, side, req).await) }
                    });
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match tls {
                        Some(config) => {
                            let acceptor = tokio_rustls::TlsAcceptor::from(config);
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn route(state: Arc<State>, side: Side, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let serves_as = side == Side::As || !state.config.separate_as;
    let serves_mcp = side == Side::Mcp;
    let locale = state.fault(Fault::LocaleRedirect);
    let as_path = match path.strip_prefix("/en") {
        Some(rest) if locale && rest.starts_with('/') => rest.to_string(),
        _ => path.clone(),
    };
    if serves_mcp {
        match path.as_str() {
            "/mcp" | "/mcp/" => return mcp::handle(&state, req).await,
            p if p.starts_with("/.well-known/oauth-protected-resource") => {
                return metadata::protected_resource(&state, req);
            }
            _ => {}
        }
    }
    if serves_as {
        match as_path.as_str() {
            "/.well-known/oauth-authorization-server" => {
                return metadata::authorization_server(&state, req);
            }
            "/jwks" => return metadata::jwks(&state, req),
            "/register" | "/authorize" | "/authorize/consent" | "/authorize/login" | "/token" => {
                if locale && as_path == path && req.method() != hyper::Method::OPTIONS {
                    return oauth::locale_redirect(&req);
                }
                return oauth::handle(&state, &as_path, req).await;
            }
            p if p.starts_with("/register/") => return oauth::handle(&state, &as_path, req).await,
            _ => {}
        }
    }
    not_found(&path)
}

fn not_found(path: &str) -> Response<Body> {
    http::json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"error": "not_found", "error_description": format!("no route for {path}")}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_come_from_configured_bases() {
        let mut config = DemoConfig {
            public_url: Some("https://localhost:8443/".into()),
            ..Default::default()
        };
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let urls = make_urls(&config, addr, None).unwrap();
        assert_eq!(urls.mcp_url, "https://localhost:8443/mcp");
        assert_eq!(urls.issuer, "https://localhost:8443");
        assert_eq!(
            urls.prm_url,
            "https://localhost:8443/.well-known/oauth-protected-resource/mcp"
        );
        config.faults.insert(Fault::IssuerTrailingSlash);
        let as_addr: SocketAddr = "127.0.0.1:10".parse().unwrap();
        config.public_url = None;
        let urls = make_urls(&config, addr, Some(as_addr)).unwrap();
        assert_eq!(urls.issuer, "http://127.0.0.1:10");
        assert_eq!(urls.self_issuer, "http://127.0.0.1:10/");
        config.public_url = Some("https://h/x".into());
        assert!(make_urls(&config, addr, None).is_err());
    }

    #[test]
    fn loopback_prm_names_the_host_the_client_used() {
        let addr: SocketAddr = "127.0.0.1:4100".parse().unwrap();
        let urls = make_urls(&DemoConfig::default(), addr, None).unwrap();
        let seen = urls.as_reached(Some("localhost:4100"));
        assert_eq!(seen.mcp_url, "http://localhost:4100/mcp");
        assert_eq!(
            seen.prm_url,
            "http://localhost:4100/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(seen.issuer, "http://127.0.0.1:4100");
        assert_eq!(
            urls.as_reached(Some("[::1]:4100")).mcp_url,
            "http://[::1]:4100/mcp"
        );
        // Another port, a non-loopback name or no Host: the configured URLs.
        for host in [Some("localhost:4101"), Some("evil.example:4100"), None] {
            assert_eq!(urls.as_reached(host).mcp_url, "http://127.0.0.1:4100/mcp");
        }
        assert!(urls.is_resource("http://localhost:4100/mcp"));
        assert!(urls.is_resource("http://127.0.0.1:4100/mcp"));
        assert!(!urls.is_resource("http://localhost:4101/mcp"));
        assert!(!urls.is_resource("http://localhost:4100/other"));
        // A configured public URL is the only name.
        let public = DemoConfig {
            public_url: Some("https://localhost:8443".into()),
            ..Default::default()
        };
        let urls = make_urls(&public, addr, None).unwrap();
        assert_eq!(
            urls.as_reached(Some("127.0.0.1:8443")).mcp_url,
            "https://localhost:8443/mcp"
        );
        assert!(!urls.is_resource("https://127.0.0.1:8443/mcp"));
    }
}
