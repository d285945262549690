//! A scripted MCP OAuth client that walks the whole flow a real client walks, and reports
//! every step.
//!
//! [`run_flow`] does: unauthenticated `initialize` → 401 challenge → protected resource
//! metadata (challenge URL, path-aware, root) → authorization server metadata (RFC 8414 path
//! insertion, then OIDC, in MCP 2025-11-25 order) → dynamic client registration (body from a
//! [`ClientProfile`]) → `/authorize` with PKCE S256, `state`, `resource` and `scope` (redirects
//! followed by hand, no browser; an HTML consent form is reported and submitted) → token →
//! `initialize` → `notifications/initialized` → `tools/list` → `tools/call countdown` (SSE,
//! events read as they arrive) → refresh (rotation) → `tools/call echo` with the new token →
//! `DELETE` of the session.
//!
//! It keeps going where a lenient real client would (float expiry, `null` fields, a trailing
//! slash on the issuer: each becomes a `warn` step; with [`ClientConfig::strict`] they stop the
//! flow as strict clients do) and stops with a `fail` step where no client could go on. With
//! [`ClientConfig::origin`] it behaves like a browser client: CORS preflights, `Origin`, and only
//! exposed response headers are visible. The `check` command reuses this module.

mod challenge;
mod config;
mod discovery;
mod flow;
mod form;
pub mod http;
mod mcp;
pub mod message;
mod oauth;
mod proxy;
mod record;
mod report;
mod step;
mod token;

pub use crate::parse::sse::{ParsedEvent as SseEvent, SseParser};
pub use challenge::{Challenge, parse_bearer};
pub use config::{BrowserLeg, ClientConfig, ClientProfile, McpPlan, Stage};
pub use http::ExchangeHook;
pub use proxy::Route;
pub use report::{FlowReport, Outcome, Step};

/// Runs the whole flow. Never fails: problems become steps.
pub async fn run_flow(config: ClientConfig) -> FlowReport {
    flow::Flow::run(config).await
}
