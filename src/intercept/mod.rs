//! Forward mode: authtap as the client's HTTP proxy, decrypting only the MCP flow's hosts.
//!
//! `authtap proxy --forward` and `authtap run` start this source. Clients send `CONNECT` (or
//! absolute-form `http://` requests) to a loopback port; [`connect`] decides per host, from the
//! [`scope::InterceptScope`], whether to terminate TLS with a leaf from the forward CA
//! ([`leaves`], [`crate::ca::forward`]) and record the requests through the same
//! [`crate::forward::Forwarder`], tap and pipeline ([`crate::session`]) as reverse mode — or to
//! pass the bytes through blind ([`tunnel`]) and record only a tunnel record. Hosts named by the
//! flow are added to the set before the client sees the response that names them ([`learn`]).
//! Nothing is rewritten: the trace holds what the client and the origin actually sent, and
//! the session record says `"mode": "forward"`.

pub mod connect;
pub mod learn;
pub mod leaves;
pub mod prefixed;
pub mod scope;
pub mod tunnel;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::ca::forward::ForwardCa;
use crate::forward::Forwarder;
use crate::forward::client::ClientOptions;
use crate::model::{CaptureMode, SCHEMA_VERSION, SessionRecord};
use crate::rules::Engine;
use crate::session::{Recorder, RecorderOptions, RecorderStats, Session};
use connect::ForwardService;
use leaves::LeafCache;
use scope::{HostPattern, InterceptScope};

/// How long open connections get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Everything [`start`] needs.
#[derive(Debug, Clone)]
pub struct ForwardProxyConfig {
    /// Listen address (loopback; port 0 picks a free one).
    pub listen: SocketAddr,
    /// The JSONL trace file to create.
    pub trace_path: PathBuf,
    /// The forward CA (ephemeral or persistent).
    pub ca: Arc<ForwardCa>,
    /// Where clients find the CA certificate (named in handshake advice).
    pub ca_cert_path: PathBuf,
    /// `--mcp` and `--intercept` patterns; empty = intercept everything.
    pub intercept: Vec<HostPattern>,
    /// Extra CA certificates (PEM) trusted for origins, on top of the public roots.
    pub upstream_ca: Option<PathBuf>,
    /// Bytes of each body copied into the record.
    pub max_capture: usize,
    /// What produced the trace: `proxy` or `run`.
    pub source: String,
    /// The live view (one line per exchange, its findings, tunnels, the summary).
    pub live: Option<crate::live::LiveOptions>,
    /// Free-form session facts (the command `authtap run` started).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Why forward mode could not start or stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listener could not be bound.
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

/// A started forward proxy.
#[derive(Debug)]
pub struct RunningForwardProxy {
    local_addr: SocketAddr,
    trace_path: PathBuf,
    scope: Arc<InterceptScope>,
    stop: watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
    forwarder: Arc<Forwarder>,
    recorder: Recorder,
}

impl RunningForwardProxy {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The proxy URL clients put in `HTTPS_PROXY`: `http://127.0.0.1:PORT`.
    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The trace file being written.
    pub fn trace_path(&self) -> &Path {
        &self.trace_path
    }

    /// The interception set (configured and learned hosts).
    pub fn scope(&self) -> &InterceptScope {
        &self.scope
    }

    /// Records a user mark.
    pub fn mark(&self, text: &str) {
        self.recorder.handle().mark(text);
    }

    /// Stops accepting, gives open connections a short grace period, waits for in-flight
    /// exchanges to reach the recorder, runs the engine's final pass and closes the trace.
    pub async fn shutdown(self) -> Result<RecorderStats, Error> {
        self.forwarder.tracker().start_closing();
        let _ = self.stop.send(true);
        let _ = self.accept.await;
        Ok(crate::forward::finish_recording(self.forwarder, self.recorder).await?)
    }
}

/// Starts forward mode: trace, recorder, forwarder and the accept loop.
pub async fn start(config: ForwardProxyConfig) -> Result<RunningForwardProxy, Error> {
    let listener = crate::listen::bind(config.listen).await?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| crate::listen::Error::Bind {
            addr: config.listen,
            source,
        })?;
    let proxy_base = url::Url::parse(&format!("http://{local_addr}/"))
        .map_err(|e| Error::Config(format!("cannot form the proxy URL: {e}")))?;
    let session = SessionRecord {
        schema: SCHEMA_VERSION,
        authtap_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: time::OffsetDateTime::now_utc(),
        upstream: describe_scope(&config.intercept),
        listen_url: proxy_base.to_string(),
        source: config.source.clone(),
        rewrite: false,
        mode: CaptureMode::Forward,
        extra: config.extra.clone(),
    };
    let mut engine = Engine::default();
    engine.set_capture_mode(CaptureMode::Forward);
    let pipeline = Session::recording(engine, &config.trace_path, &session, config.live)?;
    let recorder = Recorder::start(pipeline, RecorderOptions::default())?;
    let handle = recorder.handle();
    let forwarder = Arc::new(Forwarder::for_forward_proxy(
        &ClientOptions {
            upstream_ca: config.upstream_ca.clone(),
            insecure: false,
        },
        proxy_base,
        config.max_capture,
        handle.clone(),
    )?);
    let scope = Arc::new(InterceptScope::new(config.intercept.clone()));
    let service = Arc::new(ForwardService {
        scope: scope.clone(),
        forwarder: forwarder.clone(),
        leaves: LeafCache::new(config.ca.clone()),
        recorder: handle,
        passthrough: tunnel::PlainClient::default(),
        ca_hint: config.ca_cert_path.display().to_string(),
    });
    let (stop, stopped) = watch::channel(false);
    let accept = tokio::spawn(accept_loop(listener, service, stopped));
    Ok(RunningForwardProxy {
        local_addr,
        trace_path: config.trace_path,
        scope,
        stop,
        accept,
        forwarder,
        recorder,
    })
}

/// The session's `upstream` line: what forward mode intercepts.
fn describe_scope(patterns: &[HostPattern]) -> String {
    if patterns.is_empty() {
        return "forward proxy (intercepting every host)".into();
    }
    let list: Vec<String> = patterns.iter().map(ToString::to_string).collect();
    format!("forward proxy (intercepting {})", list.join(", "))
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    service: Arc<ForwardService>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => break,
        };
        while connections.try_join_next().is_some() {}
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                connections.spawn(service.clone().serve(stream, peer));
            }
            Err(err) => {
                tracing::warn!("accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
}
