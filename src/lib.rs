//! authtap: a recording proxy and probe for MCP OAuth flows.
//!
//! One pipeline, in layers; imports only go down (the unit test `layers_test.rs` reads every
//! import and fails on one that goes up or sideways, and on any cycle between files):
//!
//! - **sources** build [`model::Exchange`] records: the forward proxy ([`intercept`]) and the
//!   reverse proxy ([`listen`]) both hand requests to [`forward`], which streams them upstream
//!   while [`tap`] copies bodies and [`rewrite`] keeps reverse mode's flow on authtap; [`check`]
//!   drives the scripted [`client`]; [`demo`] is the reference server; [`trace`]'s readers
//!   load JSONL and HAR files. [`proxy`] assembles listener, forwarder and recorder.
//! - **pipeline**: [`session`] runs the engine over each record and pushes the result to the
//!   sinks; its `Recorder` does so on its own thread, so forwarding never waits.
//! - **sinks**: the trace store ([`store`]), the terminal view ([`live`]) and the
//!   exporters ([`export`]: HAR 1.2, Markdown, HTML).
//! - **engine** (pure): [`rules`] over [`flow`] (phases, correlation, flow state).
//! - **wire** (pure): [`parse`] (each exchange parsed once into a view) over [`redact`].
//! - **vocabulary**: [`model`], the record format everything above shares.

pub mod ca;
pub mod check;
pub mod client;
pub mod demo;
pub mod export;
pub mod flow;
pub mod forward;
pub mod intercept;
#[cfg(test)]
mod layers_test;
pub mod listen;
pub mod live;
pub mod model;
pub mod parse;
pub mod proxy;
pub mod redact;
pub mod rewrite;
pub mod rules;
pub mod session;
pub mod store;
pub mod tap;
pub mod trace;

/// Formats an error and its sources as one line, `outer: cause: root cause`, skipping a cause
/// whose text the line already contains (hyper and rustls often repeat themselves).
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// Installs the process-wide rustls crypto provider (aws-lc-rs). Idempotent; call it before
/// building any rustls config (binaries and tests alike).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
