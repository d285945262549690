//! The proxy facade: one call that wires listener, forwarder, tap and the pipeline.
//!
//! [`start`] loads or creates the local CA (or the user's certificate), opens the trace store,
//! builds the [`Session`] (engine, store, live view when configured), runs it on the
//! [`Recorder`] thread, spawns the accept loop, and returns a [`RunningProxy`] handle. The handle
//! says where clients should connect ([`RunningProxy::base_url`]), records user marks
//! ([`RunningProxy::mark`]) and shuts everything down cleanly ([`RunningProxy::shutdown`]).
//! Printing is left to `cli/`; the demo drives the same facade (`check` feeds its own probe's
//! exchanges to a [`Session`] directly).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::ca::LocalCa;
use crate::forward::client::ClientOptions;
use crate::forward::{Forwarder, ForwarderConfig};
use crate::listen::{BounceHandler, CertificateOrigin, Listener, ProxyHandler, TlsServing};
use crate::model::{SCHEMA_VERSION, SessionRecord};
use crate::rules::Engine;
use crate::session::{Recorder, RecorderHandle, RecorderOptions, Session};

pub use crate::session::RecorderStats;

/// How the proxy serves its clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS with a leaf signed by the local CA in [`ProxyConfig::certs_dir`] (created if missing).
    LocalCa,
    /// TLS with the user's own certificate chain and key (PEM files).
    Files {
        /// Certificate chain, PEM.
        cert: PathBuf,
        /// Private key, PEM.
        key: PathBuf,
    },
    /// Plain HTTP, for running behind a TLS-terminating tunnel (use with `public_url`).
    PlainHttp,
}

/// Everything [`start`] needs.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The upstream base URL; may carry a path prefix.
    pub upstream: url::Url,
    /// Listen address (loopback by default).
    pub listen: SocketAddr,
    /// Where the local CA lives.
    pub certs_dir: PathBuf,
    /// The JSONL trace file to create.
    pub trace_path: PathBuf,
    /// How clients are served.
    pub tls: TlsMode,
    /// The URL clients use when it is not the listen address (a tunnel, `--public-url`).
    pub public_url: Option<url::Url>,
    /// Extra CA certificates (PEM) to trust for the upstream.
    pub upstream_ca: Option<PathBuf>,
    /// Do not verify the upstream's certificate at all.
    pub insecure_upstream: bool,
    /// Bytes of each body copied into the record (the rest streams through uncaptured).
    pub max_capture: usize,
    /// Reverse-mode rewriting of metadata, redirects and resource indicators.
    pub rewrite: bool,
    /// What produced the trace: `proxy`, `demo` or `check`.
    pub source: String,
    /// The live view (one line per exchange, its findings, the summary), printed from the
    /// recorder thread; `None` prints nothing.
    pub live: Option<crate::live::LiveOptions>,
    /// Clients registered outside this run whose registration already lists authtap's
    /// callback bounce URIs (`--bounce-client`).
    pub bounce_clients: Vec<String>,
}

impl ProxyConfig {
    /// Defaults: listen on 127.0.0.1:8443, CA in `certs`, local-CA TLS, 1 MiB capture,
    /// rewriting on, source `proxy`, live output on.
    pub fn new(upstream: url::Url, trace_path: PathBuf) -> Self {
        Self {
            upstream,
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            certs_dir: PathBuf::from("certs"),
            trace_path,
            tls: TlsMode::LocalCa,
            public_url: None,
            upstream_ca: None,
            insecure_upstream: false,
            max_capture: 1024 * 1024,
            rewrite: true,
            source: "proxy".to_string(),
            live: Some(crate::live::LiveOptions::default()),
            bounce_clients: Vec::new(),
        }
    }
}

/// Why the proxy could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The local CA could not be loaded or created.
    #[error("local CA")]
    Ca(#[from] crate::ca::Error),
    /// The listener could not be set up (bind, TLS config).
    #[error("listener")]
    Listen(#[from] crate::listen::Error),
    /// The upstream client could not be set up.
    #[error("upstream client")]
    Forward(#[from] crate::forward::Error),
    /// The trace could not be created.
    #[error("trace")]
    Trace(#[from] crate::store::Error),
    /// The recorder thread could not be started or died.
    #[error("recorder")]
    Recorder(#[from] crate::session::Error),
    /// The configuration is inconsistent.
    #[error("{0}")]
    Config(String),
}

/// How long open connections (long SSE streams) get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// A started proxy. Call [`RunningProxy::shutdown`] to finish the trace cleanly; dropping the
/// handle leaves the trace readable but without its final stats line.
#[derive(Debug)]
pub struct RunningProxy {
    local_addr: SocketAddr,
    base_url: url::Url,
    trace_path: PathBuf,
    ca_pem_path: Option<PathBuf>,
    listener: Listener,
    /// authtap's plain-HTTP loopback port for callback bounces (TLS mode with rewriting).
    bounce_listener: Option<Listener>,
    loopback_bounce_port: Option<u16>,
    forwarder: Arc<Forwarder>,
    recorder: Recorder,
    handle: RecorderHandle,
}

impl RunningProxy {
    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL clients use: `https://localhost:PORT` (or `http://` with plain HTTP), or the
    /// public URL when one was configured.
    pub fn base_url(&self) -> &url::Url {
        &self.base_url
    }

    /// The loopback port bounce URIs of loopback redirect URIs point at, when rewriting.
    pub fn loopback_bounce_port(&self) -> Option<u16> {
        self.loopback_bounce_port
    }

    /// The trace file being written.
    pub fn trace_path(&self) -> &Path {
        &self.trace_path
    }

    /// The CA certificate clients must trust, in local-CA mode.
    pub fn ca_pem_path(&self) -> Option<&Path> {
        self.ca_pem_path.as_deref()
    }

    /// Records a user mark (a line typed while recording, usually an `ofid_…`).
    pub fn mark(&self, text: &str) {
        self.handle.mark(text);
    }

    /// Stops accepting, lets in-flight exchanges finish (a short grace period, then open
    /// streams are cut and recorded as `incomplete`), runs the engine's final pass, writes
    /// the stats record and flushes the trace.
    pub async fn shutdown(self) -> Result<RecorderStats, Error> {
        self.forwarder.tracker().start_closing();
        self.listener.shutdown().await;
        if let Some(bounce) = self.bounce_listener {
            bounce.shutdown().await;
        }
        Ok(crate::forward::finish_recording(self.forwarder, self.recorder).await?)
    }
}

/// Binds the plain-HTTP loopback bounce port: the requested listen port + 1 when free, so
/// bounce URIs registered in an earlier run with the same `--listen` stay valid; any free port
/// otherwise, and always when the listen port itself was left to the OS (port 0: nothing to keep
/// stable, and a neighbour of a random port may be one another program is about to bind).
async fn bind_bounce_port(listen_port: u16) -> Result<tokio::net::TcpListener, Error> {
    if listen_port != 0
        && let Some(port) = listen_port.checked_add(1)
        && let Ok(socket) = crate::listen::bind(SocketAddr::from(([127, 0, 0, 1], port))).await
    {
        return Ok(socket);
    }
    Ok(crate::listen::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?)
}

/// Refuses an upstream that is not an http(s) URL with a host.
fn check_upstream(upstream: &url::Url) -> Result<(), Error> {
    if !matches!(upstream.scheme(), "http" | "https") || upstream.host().is_none() {
        return Err(Error::Config(format!(
            "upstream must be an http(s) URL with a host, got {upstream}"
        )));
    }
    Ok(())
}

/// The TLS the listener serves for `mode` (`None` for plain HTTP) and, in local-CA mode, the
/// CA certificate clients must trust.
fn tls_serving(
    mode: &TlsMode,
    certs_dir: &Path,
) -> Result<(Option<TlsServing>, Option<PathBuf>), Error> {
    Ok(match mode {
        TlsMode::LocalCa => {
            let ca = LocalCa::load_or_create(certs_dir)?;
            let serving = TlsServing {
                config: crate::listen::tls_from_leaves(ca.issue_serving_leaves()?)?,
                origin: CertificateOrigin::LocalCa {
                    ca_pem: ca.cert_path(),
                },
            };
            (Some(serving), Some(ca.cert_path()))
        }
        TlsMode::Files { cert, key } => {
            let serving = TlsServing {
                config: crate::listen::tls_from_files(cert, key)?,
                origin: CertificateOrigin::UserFiles,
            };
            (Some(serving), None)
        }
        TlsMode::PlainHttp => (None, None),
    })
}

/// The bound address of `socket`, a bind error naming `requested` when it has none.
fn bound_addr(
    socket: &tokio::net::TcpListener,
    requested: SocketAddr,
) -> Result<SocketAddr, Error> {
    socket.local_addr().map_err(|source| {
        Error::Listen(crate::listen::Error::Bind {
            addr: requested,
            source,
        })
    })
}

/// The URL clients use: the public URL when configured, else `https://localhost:PORT` (or
/// `http://`, or the bound IP when it is neither loopback nor unspecified).
fn proxy_base_url(
    public_url: Option<&url::Url>,
    local_addr: SocketAddr,
    tls: bool,
) -> Result<url::Url, Error> {
    if let Some(url) = public_url {
        return Ok(url.clone());
    }
    let scheme = if tls { "https" } else { "http" };
    let host = if local_addr.ip().is_loopback() || local_addr.ip().is_unspecified() {
        "localhost".to_string()
    } else {
        match local_addr.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            std::net::IpAddr::V4(ip) => ip.to_string(),
        }
    };
    url::Url::parse(&format!("{scheme}://{host}:{}/", local_addr.port()))
        .map_err(|e| Error::Config(format!("cannot form the proxy URL: {e}")))
}

/// The second loopback socket for callback bounces (when one is needed) and the loopback
/// port bounce URIs point at (`None` without rewriting).
///
/// Bounce URIs of loopback redirect URIs must be plain HTTP on loopback (RFC 8252 §7.3;
/// authorization servers refuse https on localhost for native clients): the listener itself
/// when it serves plain HTTP on loopback, else a second loopback port.
async fn bounce_socket_and_port(
    config: &ProxyConfig,
    local_addr: SocketAddr,
    tls: bool,
) -> Result<(Option<tokio::net::TcpListener>, Option<u16>), Error> {
    let plain_loopback =
        !tls && (local_addr.ip().is_loopback() || local_addr.ip().is_unspecified());
    if config.rewrite && !plain_loopback {
        let socket = bind_bounce_port(config.listen.port()).await?;
        let port = bound_addr(&socket, SocketAddr::from(([127, 0, 0, 1], 0)))?.port();
        Ok((Some(socket), Some(port)))
    } else {
        Ok((None, plain_loopback.then_some(local_addr.port())))
    }
}

/// The trace's opening session record for a run of `config` served at `base_url`.
fn session_record(config: &ProxyConfig, base_url: &url::Url) -> SessionRecord {
    SessionRecord {
        schema: SCHEMA_VERSION,
        authtap_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: time::OffsetDateTime::now_utc(),
        upstream: config.upstream.to_string(),
        listen_url: base_url.to_string(),
        source: config.source.clone(),
        rewrite: config.rewrite,
        mode: Default::default(),
        extra: serde_json::Map::new(),
    }
}

/// The forwarder's configuration for a run of `config` served at `base_url`.
fn forwarder_config(
    config: &ProxyConfig,
    base_url: &url::Url,
    loopback_bounce_port: Option<u16>,
) -> ForwarderConfig {
    ForwarderConfig {
        upstream: config.upstream.clone(),
        proxy_base: base_url.clone(),
        rewrite: config.rewrite,
        max_capture: config.max_capture,
        loopback_bounce_port,
        bounce_clients: config.bounce_clients.clone(),
        client: ClientOptions {
            upstream_ca: config.upstream_ca.clone(),
            insecure: config.insecure_upstream,
        },
    }
}

/// Starts the proxy: CA, trace, recorder, upstream client and accept loop.
pub async fn start(config: ProxyConfig) -> Result<RunningProxy, Error> {
    check_upstream(&config.upstream)?;
    let (tls, ca_pem_path) = tls_serving(&config.tls, &config.certs_dir)?;
    let listener = crate::listen::bind(config.listen).await?;
    let local_addr = bound_addr(&listener, config.listen)?;
    let base_url = proxy_base_url(config.public_url.as_ref(), local_addr, tls.is_some())?;
    let (bounce_socket, loopback_bounce_port) =
        bounce_socket_and_port(&config, local_addr, tls.is_some()).await?;
    let session = session_record(&config, &base_url);
    let forwarding = forwarder_config(&config, &base_url, loopback_bounce_port);
    let pipeline =
        Session::recording(Engine::default(), &config.trace_path, &session, config.live)?;
    let recorder = Recorder::start(pipeline, RecorderOptions::default())?;
    let handle = recorder.handle();
    let forwarder = Arc::new(Forwarder::new(forwarding, handle.clone())?);
    let handler = Arc::new(ProxyHandler {
        forwarder: forwarder.clone(),
        recorder: handle.clone(),
    });
    let listener = Listener::spawn(listener, tls, handler, SHUTDOWN_GRACE)?;
    let bounce_listener = match bounce_socket {
        Some(socket) => Some(Listener::spawn(
            socket,
            None,
            Arc::new(BounceHandler(forwarder.clone())),
            SHUTDOWN_GRACE,
        )?),
        None => None,
    };
    Ok(RunningProxy {
        local_addr,
        base_url,
        trace_path: config.trace_path,
        ca_pem_path,
        listener,
        bounce_listener,
        loopback_bounce_port,
        forwarder,
        recorder,
        handle,
    })
}
