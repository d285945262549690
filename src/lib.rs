//! authtap: a TLS-terminating debugging proxy for MCP OAuth flows.
//!
//! Data flows one way through the modules, in this order:
//!
//! 1. [`listen`] accepts client connections (TLS with the local [`ca`], HTTP/1.1 and HTTP/2).
//! 2. [`forward`] sends each request upstream and streams the response back, applying
//!    reverse-mode [`rewrite`]s; [`tap`] copies bodies (capped) while they stream.
//! 3. The recorder runs the sans-io [`flow`] state and [`rules`] over each completed
//!    exchange, then [`trace`] appends it to a crash-safe JSONL file.
//! 4. [`export`] turns a trace into HAR 1.2, Markdown and HTML, through [`redact`].
//!
//! [`demo`] is an embedded MCP + OAuth reference server with fault switches, [`client`] a
//! scripted MCP OAuth client, and [`check`] an active probe built from both and the rules.
//!
//! The layering (binary, facade, sources, pipeline, sinks, engine, wire, vocabulary: imports
//! only go down, and no two files import each other) is a unit test, `layers_test.rs`.

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
