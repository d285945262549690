//! The forwarding service shared by all connections: its configuration, its state, and how
//! it starts an exchange. The request path itself is in [`super`] and its children.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::assembly::{Assembly, Tracker};
use super::client::{self, Error};
use crate::model::{CaptureMode, ErrorKind, ExchangeError, ExchangeId, Outcome, RequestRecord};
use crate::rewrite::Rewriter;
use crate::session::RecorderHandle;

/// What the forwarder needs to know.
#[derive(Debug, Clone)]
pub struct ForwarderConfig {
    /// `--upstream`.
    pub upstream: url::Url,
    /// The URL clients use.
    pub proxy_base: url::Url,
    /// Reverse-mode rewriting on.
    pub rewrite: bool,
    /// Capture cap per body.
    pub max_capture: usize,
    /// Port of authtap's plain-HTTP loopback listener that bounce URIs of loopback redirect
    /// URIs point at (see [`crate::rewrite::BOUNCE_PREFIX`]).
    pub loopback_bounce_port: Option<u16>,
    /// Clients whose registration already lists the bounce URIs (`--bounce-client`).
    pub bounce_clients: Vec<String>,
    /// Upstream TLS options.
    pub client: client::ClientOptions,
}

/// The forwarding service shared by all connections.
#[derive(Debug)]
pub struct Forwarder {
    pub(super) client: client::UpstreamClient,
    pub(super) upstream_label: String,
    pub(super) proxy_base: url::Url,
    pub(super) rewriter: Rewriter,
    pub(super) recorder: RecorderHandle,
    pub(super) max_capture: usize,
    pub(super) next_id: AtomicU64,
    pub(super) tracker: Arc<Tracker>,
    /// Forward mode: every request carries its own origin (no rewriting, no `__authtap` paths).
    /// Stamped on every exchange record.
    pub(super) mode: CaptureMode,
}

impl Forwarder {
    /// Builds the forwarder and its pooled upstream client.
    pub fn new(config: ForwarderConfig, recorder: RecorderHandle) -> Result<Self, Error> {
        let client = client::build(&config.client)?;
        Ok(Self {
            client,
            upstream_label: config.upstream.to_string(),
            rewriter: Rewriter::new(&config.upstream, &config.proxy_base, config.rewrite)
                .with_loopback_bounce_port(config.loopback_bounce_port)
                .with_bounce_clients(&config.bounce_clients),
            proxy_base: config.proxy_base,
            recorder,
            max_capture: config.max_capture,
            next_id: AtomicU64::new(0),
            tracker: Arc::new(Tracker::default()),
            mode: CaptureMode::Reverse,
        })
    }

    /// The forwarder of forward mode (`authtap proxy --forward`, `authtap run`): requests come
    /// with absolute URLs ([`Forwarder::handle_absolute`]); rewriting and the `__authtap`
    /// paths are off, so every byte passes as the client and the origin sent it.
    pub fn for_forward_proxy(
        client: &client::ClientOptions,
        proxy_base: url::Url,
        max_capture: usize,
        recorder: RecorderHandle,
    ) -> Result<Self, Error> {
        Ok(Self {
            client: client::build(client)?,
            upstream_label: "the origin server".into(),
            rewriter: Rewriter::new(&proxy_base, &proxy_base, false),
            proxy_base,
            recorder,
            max_capture,
            next_id: AtomicU64::new(0),
            tracker: Arc::new(Tracker::default()),
            mode: CaptureMode::Forward,
        })
    }

    /// In-flight exchange tracking (for shutdown).
    pub fn tracker(&self) -> &Arc<Tracker> {
        &self.tracker
    }

    pub(super) fn assembly(&self, peer: SocketAddr) -> Arc<Assembly> {
        let id = ExchangeId(self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        Arc::new(Assembly::new(
            id,
            self.mode,
            peer,
            self.max_capture,
            self.recorder.clone(),
            self.tracker.clone(),
        ))
    }

    /// Records a request hyper refused before it reached the service (400/431).
    pub fn record_rejected(&self, peer: SocketAddr, kind: ErrorKind, message: String) {
        let assembly = self.assembly(peer);
        assembly.set_request(RequestRecord {
            method: String::new(),
            url: self.proxy_base.to_string(),
            client_url: None,
            http_version: String::new(),
            headers: vec![],
            body: None,
        });
        assembly.fail(Outcome::Rejected, ExchangeError { kind, message });
    }
}
