//! authtap's embedded reference server (`authtap::demo`), run in-process on its own tokio
//! runtime (by default with the authorization server on a separate origin), shut down on drop.

use authtap::demo::{DemoConfig, Fault, FaultSet, RunningDemo};

/// A running reference server.
pub struct Demo {
    runtime: tokio::runtime::Runtime,
    running: Option<RunningDemo>,
    /// The canonical MCP URL, `http://127.0.0.1:PORT/mcp`.
    pub mcp_url: String,
    /// The issuer (its own origin).
    pub as_issuer: String,
}

/// Starts the reference server with the named fault switches (kebab-case, as on the CLI).
pub fn start_demo(faults: &[&str]) -> Demo {
    let mut set = FaultSet::none();
    for name in faults {
        let fault = Fault::from_name(name).unwrap_or_else(|| panic!("unknown demo fault {name}"));
        set.insert(fault);
    }
    start_demo_with(DemoConfig {
        faults: set,
        separate_as: true,
        ..DemoConfig::default()
    })
}

/// Starts the reference server with a full configuration.
pub fn start_demo_with(config: DemoConfig) -> Demo {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let running = runtime
        .block_on(authtap::demo::start(config))
        .unwrap_or_else(|e| panic!("reference server did not start: {e}"));
    Demo {
        mcp_url: running.mcp_url().to_string(),
        as_issuer: running.as_issuer().to_string(),
        running: Some(running),
        runtime,
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(async {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), running.shutdown())
                    .await;
            });
        }
    }
}
