//! authtap's reference server over HTTPS, in-process (authorization server on its own origin),
//! with a certificate from a throw-away CA the test writes to a file for `--upstream-ca`.
//! Used by tests/it/forward_run.rs and tests/it/forward_peers.rs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use authtap::ca::forward::ForwardCa;
use authtap::demo::{DemoConfig, Fault, FaultSet, RunningDemo};

/// The reference server over HTTPS, with the CA file its clients must trust.
pub struct TlsDemo {
    runtime: tokio::runtime::Runtime,
    running: Option<RunningDemo>,
    /// `https://127.0.0.1:PORT/mcp`.
    pub mcp_url: String,
    /// The issuer (its own origin).
    pub as_issuer: String,
}

impl Drop for TlsDemo {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(5), running.shutdown()).await;
            });
        }
    }
}

/// Writes the demo CA to `dir/demo-ca.pem` and returns a TLS config for `127.0.0.1`.
pub fn demo_tls(dir: &Path) -> (Arc<rustls::ServerConfig>, PathBuf) {
    authtap::install_crypto_provider();
    let ca = ForwardCa::ephemeral().unwrap();
    let leaf = ca.issue_leaf("127.0.0.1").unwrap();
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let path = dir.join("demo-ca.pem");
    std::fs::write(&path, ca.cert_pem()).unwrap();
    (Arc::new(config), path)
}

/// Starts the server with `tls` and the given faults.
pub fn start_tls_demo(tls: Arc<rustls::ServerConfig>, faults: &[Fault]) -> TlsDemo {
    let mut set = FaultSet::none();
    for fault in faults {
        set.insert(*fault);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = DemoConfig {
        faults: set,
        separate_as: true,
        tls: Some(tls),
        ..DemoConfig::default()
    };
    let running = runtime.block_on(authtap::demo::start(config)).unwrap();
    TlsDemo {
        mcp_url: running.mcp_url().to_string(),
        as_issuer: running.as_issuer().to_string(),
        running: Some(running),
        runtime,
    }
}
