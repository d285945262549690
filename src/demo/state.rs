//! The reference server's configuration and shared state: the public URLs it announces, the
//! signing key, the store, and the host a request reached it by.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::Request;
use hyper::body::Incoming;

use super::faults::{Fault, FaultSet};
use super::revision::Revisions;
use super::{jwt, store};

/// Configuration of the reference server.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Active fault switches (empty = clean server).
    pub faults: FaultSet,
    /// Serve the authorization server on a second origin (its own port).
    pub separate_as: bool,
    /// Address to bind; loopback by default.
    pub host: IpAddr,
    /// Port of the MCP origin (0 = any free port).
    pub port: u16,
    /// Port of the AS origin when `separate_as` (0 = any free port).
    pub as_port: u16,
    /// Public base URL of the MCP origin (`scheme://host[:port]`, no path), when the server is
    /// reached through something else; default `http://<bound address>`.
    pub public_url: Option<String>,
    /// Public base URL of the AS origin, when `separate_as`.
    pub public_as_url: Option<String>,
    /// Delay between the events of the `countdown` tool.
    pub sse_step_delay: Duration,
    /// Lifetime of access tokens.
    pub access_token_ttl: Duration,
    /// Lifetime of authorization codes.
    pub code_ttl: Duration,
    /// Web origins allowed on `/mcp` besides loopback ones (DNS-rebinding protection).
    pub allowed_origins: Vec<String>,
    /// Serve HTTPS with this config (both origins); plain HTTP when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// `/authorize` first sends the browser to a sign-in page on the AS's own origin
    /// (`/authorize/login`), which signs in at once and redirects to the redirect URI: a real
    /// AS's login hop, with no person needed. Not a fault: the flow stays spec-compliant.
    pub login_page: bool,
    /// The MCP protocol revisions spoken (default: all, dual-era).
    pub revisions: Revisions,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            faults: FaultSet::none(),
            separate_as: false,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            as_port: 0,
            public_url: None,
            public_as_url: None,
            sse_step_delay: Duration::from_millis(400),
            access_token_ttl: Duration::from_secs(3600),
            code_ttl: Duration::from_secs(120),
            allowed_origins: Vec::new(),
            tls: None,
            login_page: false,
            revisions: Revisions::default(),
        }
    }
}

/// The public URLs the server announces (all derived from the configured base URLs).
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    /// MCP origin, no trailing slash.
    pub mcp_origin: String,
    /// AS origin, no trailing slash.
    pub as_origin: String,
    /// The canonical MCP URL (`<mcp origin>/mcp`): the resource identifier.
    pub mcp_url: String,
    /// The issuer as listed in the PRM `authorization_servers`.
    pub issuer: String,
    /// The issuer the AS uses for itself (differs only with `issuer-trailing-slash`).
    pub self_issuer: String,
    /// The path-aware PRM URL.
    pub prm_url: String,
    /// Whether the MCP origin is a loopback listener with no configured public URL, so that
    /// the other loopback names of the same port reach it too.
    pub loopback_aliases: bool,
}

/// The loopback names a client may use for a loopback listener.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

impl Urls {
    /// The URLs as the client reached the MCP origin: when the listener is loopback without a
    /// public URL and `host` (the request's Host, or its :authority) is another loopback name
    /// of the same port, the MCP origin, MCP URL and PRM URL use that name, so the PRM
    /// `resource` is the URL the client used (RFC 9728 §3.3). Otherwise the configured URLs.
    /// The issuer never changes: it is the AS's identity.
    pub fn as_reached(&self, host: Option<&str>) -> Urls {
        let alias = host
            .filter(|_| self.loopback_aliases)
            .and_then(|h| self.alias_origin(h));
        match alias {
            Some(origin) => Urls {
                mcp_url: format!("{origin}/mcp"),
                prm_url: format!("{origin}/.well-known/oauth-protected-resource/mcp"),
                mcp_origin: origin,
                ..self.clone()
            },
            None => self.clone(),
        }
    }

    /// `http://<name>:<port>` when `host` is a loopback name with the MCP origin's port.
    fn alias_origin(&self, host: &str) -> Option<String> {
        let origin = url::Url::parse(&self.mcp_origin).ok()?;
        let port = origin.port_or_known_default()?;
        let (name, host_port) = match host.rsplit_once(':') {
            Some((n, p)) if !n.is_empty() && !p.contains(']') => (n, p.parse::<u16>().ok()?),
            _ => (host, if origin.scheme() == "https" { 443 } else { 80 }),
        };
        let name = name.to_ascii_lowercase();
        (host_port == port && LOOPBACK_NAMES.contains(&name.as_str()))
            .then(|| format!("{}://{name}:{port}", origin.scheme()))
    }

    /// Whether `resource` names this MCP server: the canonical MCP URL, or (loopback without a
    /// public URL) the same URL under another loopback name.
    pub fn is_resource(&self, resource: &str) -> bool {
        resource == self.mcp_url
            || (self.loopback_aliases
                && LOOPBACK_NAMES.iter().any(|name| {
                    let port = self.mcp_origin.rsplit(':').next().unwrap_or("");
                    self.as_reached(Some(&format!("{name}:{port}"))).mcp_url == resource
                }))
    }
}

/// Shared server state.
#[derive(Debug)]
pub(crate) struct State {
    pub config: DemoConfig,
    pub urls: Urls,
    pub signer: jwt::Signer,
    pub store: Mutex<store::Store>,
}

impl State {
    /// Whether a fault is on.
    pub fn fault(&self, fault: Fault) -> bool {
        self.config.faults.has(fault)
    }

    /// Locks the store, recovering from a poisoned lock (a panicked handler leaves
    /// consistent maps: every mutation is a single insert/remove).
    pub fn store(&self) -> std::sync::MutexGuard<'_, store::Store> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The host a request was sent to: `Host` (HTTP/1.1) or the URI's authority (HTTP/2).
pub(crate) fn request_host(req: &Request<Incoming>) -> Option<&str> {
    req.headers()
        .get(hyper::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}
