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

mod discovery;
mod flow;
mod form;
pub mod http;
mod mcp;
mod oauth;
mod proxy;
mod record;
mod step;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::model::Phase;

pub use crate::parse::sse::{ParsedEvent as SseEvent, SseParser};
pub use discovery::{Challenge, parse_bearer};
pub use http::ExchangeHook;
pub use proxy::Route;

/// How a client registers and identifies itself.
#[derive(Debug, Clone, Serialize)]
pub struct ClientProfile {
    /// Short profile name (`native`, `claude-ai`).
    pub name: String,
    /// `User-Agent` header.
    pub user_agent: String,
    /// DCR `client_name`.
    pub client_name: String,
    /// Redirect URI; `{port}` is replaced by a free loopback port held during the flow.
    pub redirect_uri: String,
    /// More redirect URIs registered besides `redirect_uri` (claude.ai's claude.com twin).
    pub extra_redirect_uris: Vec<String>,
    /// DCR `token_endpoint_auth_method`.
    pub token_endpoint_auth_method: String,
    /// DCR `grant_types`.
    pub grant_types: Vec<String>,
    /// DCR `application_type`, if sent.
    pub application_type: Option<String>,
    /// More DCR body members (e.g. `client_uri`).
    pub extra_registration: serde_json::Map<String, serde_json::Value>,
    /// `protocolVersion` asked for in `initialize`.
    pub protocol_version: String,
}

impl ClientProfile {
    /// A native client like Claude Code or a TS-SDK agent: loopback redirect, public client.
    pub fn native() -> Self {
        Self {
            name: "native".into(),
            user_agent: format!("authtap-client/{}", env!("CARGO_PKG_VERSION")),
            client_name: "authtap scripted client".into(),
            redirect_uri: "http://127.0.0.1:{port}/callback".into(),
            extra_redirect_uris: Vec::new(),
            token_endpoint_auth_method: "none".into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            application_type: Some("native".into()),
            extra_registration: serde_json::Map::new(),
            protocol_version: "2025-11-25".into(),
        }
    }

    /// claude.ai / Claude Desktop connectors: server-side httpx, `client_secret_post`, the
    /// claude.ai callback.
    pub fn claude_ai() -> Self {
        Self {
            name: "claude-ai".into(),
            user_agent: "python-httpx/0.28.1".into(),
            client_name: "Claude".into(),
            redirect_uri: "https://claude.ai/api/mcp/auth_callback".into(),
            extra_redirect_uris: vec!["https://claude.com/api/mcp/auth_callback".into()],
            token_endpoint_auth_method: "client_secret_post".into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            application_type: None,
            extra_registration: serde_json::Map::new(),
            protocol_version: "2025-06-18".into(),
        }
    }

    /// Claude Code: TS SDK, `http://localhost:<port>/callback`, public client.
    pub fn claude_code() -> Self {
        Self {
            name: "claude-code".into(),
            user_agent: "claude-code/2.0 (authtap check)".into(),
            client_name: "Claude Code".into(),
            redirect_uri: "http://localhost:{port}/callback".into(),
            ..Self::native()
        }
    }

    /// MCP Inspector in direct mode: TS SDK in the browser at `http://localhost:6274`.
    pub fn inspector() -> Self {
        Self {
            name: "inspector".into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36".into(),
            client_name: "MCP Inspector".into(),
            redirect_uri: "http://localhost:6274/oauth/callback".into(),
            extra_redirect_uris: vec!["http://localhost:6274/oauth/callback/debug".into()],
            application_type: Some("web".into()),
            ..Self::native()
        }
    }

    /// Looks a profile up by name.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "native" | "generic" => Some(Self::native()),
            "claude-ai" => Some(Self::claude_ai()),
            "claude-code" => Some(Self::claude_code()),
            "inspector" => Some(Self::inspector()),
            _ => None,
        }
    }

    /// The DCR request body for a concrete redirect URI.
    pub fn registration_body(&self, redirect_uri: &str) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        body.insert("client_name".into(), self.client_name.clone().into());
        let mut uris = vec![redirect_uri.to_string()];
        uris.extend(
            self.extra_redirect_uris
                .iter()
                .filter(|u| *u != redirect_uri)
                .cloned(),
        );
        body.insert("redirect_uris".into(), serde_json::json!(uris));
        body.insert("grant_types".into(), serde_json::json!(self.grant_types));
        body.insert("response_types".into(), serde_json::json!(["code"]));
        body.insert(
            "token_endpoint_auth_method".into(),
            self.token_endpoint_auth_method.clone().into(),
        );
        if let Some(app) = &self.application_type {
            body.insert("application_type".into(), app.clone().into());
        }
        for (k, v) in &self.extra_registration {
            body.insert(k.clone(), v.clone());
        }
        serde_json::Value::Object(body)
    }
}

/// What to run against.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The MCP URL the user configured.
    pub mcp_url: String,
    /// An extra CA to trust (PEM), e.g. the proxy's; webpki roots are always trusted.
    pub ca_pem: Option<PathBuf>,
    /// Act as a browser client with this `Origin` (CORS preflights, exposed headers only).
    pub origin: Option<String>,
    /// Direct, or through the proxy the environment names.
    pub route: Route,
    /// Registration body and identity.
    pub profile: ClientProfile,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Stop on deviations that strict clients (TS SDK v2, Copilot CLI) refuse.
    pub strict: bool,
    /// `from` argument of the `countdown` tool call.
    pub countdown_from: u64,
    /// Receives each step as it completes (for live output).
    pub progress: Option<mpsc::UnboundedSender<Step>>,
    /// Receives every HTTP exchange the client makes (`authtap check` records them).
    pub hook: Option<ExchangeHook>,
    /// Stop early, after discovery or after registration (`None`: the whole flow).
    pub stop_after: Option<Stage>,
    /// Use this redirect URI instead of the profile's (e.g. a loopback listener's).
    pub redirect_uri: Option<String>,
    /// When `/authorize` does not redirect straight to the callback, hand the authorize URL
    /// to this (a real browser) instead of submitting HTML forms.
    pub browser: Option<Arc<dyn BrowserLeg>>,
    /// What to do with the token.
    pub mcp_plan: McpPlan,
    /// Browser client only: when a discovery GET's preflight fails, retry it without
    /// `MCP-Protocol-Version` as a simple request, as the TS SDK does.
    pub cors_retry_simple: bool,
}

/// Where [`ClientConfig::stop_after`] ends the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// After the authorization server metadata (read-only: nothing is created).
    Discovery,
    /// After dynamic client registration.
    Registration,
}

/// The MCP calls made with the token.
#[derive(Debug, Clone, PartialEq)]
pub enum McpPlan {
    /// The reference server's script: `initialize`, `tools/list`, `countdown`, refresh,
    /// `echo`, `DELETE` of the session.
    Demo,
    /// `initialize`, `tools/list`, then optionally one tool call (name, arguments), then
    /// `DELETE` of the session.
    Tools(Option<(String, serde_json::Value)>),
}

/// The browser leg of a real login: opens the authorize URL for a person and returns the
/// full callback URL the browser was sent to (with `code`/`error` and `state`).
pub trait BrowserLeg: std::fmt::Debug + Send + Sync {
    /// Runs the leg for `authorize_url`.
    fn complete(
        &self,
        authorize_url: String,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>>;
}

impl ClientConfig {
    /// Defaults for an MCP URL: native profile, 10 s timeout, lenient.
    pub fn new(mcp_url: impl Into<String>) -> Self {
        Self {
            mcp_url: mcp_url.into(),
            ca_pem: None,
            origin: None,
            route: Route::Direct,
            profile: ClientProfile::native(),
            timeout: Duration::from_secs(10),
            strict: false,
            countdown_from: 3,
            progress: None,
            hook: None,
            stop_after: None,
            redirect_uri: None,
            browser: None,
            mcp_plan: McpPlan::Demo,
            cors_retry_simple: false,
        }
    }
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// As the spec says.
    Ok,
    /// A deviation the client worked around (or expected, like the first 401).
    Warn,
    /// The flow cannot go on.
    Fail,
}

impl Outcome {
    /// The label used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
        }
    }
}

/// One request of the flow and what the client made of it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// What the step is, e.g. `dcr`, `token`, `tools/call countdown`.
    pub name: String,
    /// Flow phase.
    pub phase: Phase,
    /// HTTP method.
    pub method: String,
    /// URL (query stripped for the callback so no code is printed).
    pub url: String,
    /// Response status, if a response came.
    pub status: Option<u16>,
    /// ok / warn / fail.
    pub outcome: Outcome,
    /// One line: what was checked or what went wrong.
    pub note: String,
    /// Time to the complete response, milliseconds.
    pub elapsed_ms: u64,
}

/// The result of a flow.
#[derive(Debug, Clone, Serialize)]
pub struct FlowReport {
    /// The MCP URL.
    pub mcp_url: String,
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// The flow reached the end (session deleted).
    pub completed: bool,
    /// Name of the failing step, when not completed.
    pub stopped_at: Option<String>,
    /// Negotiated MCP protocol version.
    pub protocol_version: Option<String>,
    /// Tool names from `tools/list`.
    pub tools: Vec<String>,
    /// SSE events received from the streaming tool call.
    pub sse_events: usize,
    /// The `client_id` dynamic client registration created, if it did.
    pub registered_client_id: Option<String>,
}

impl FlowReport {
    /// Steps with a given outcome.
    pub fn with_outcome(&self, outcome: Outcome) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.outcome == outcome)
    }

    /// The first step with a given name.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }
}

/// Runs the whole flow. Never fails: problems become steps.
pub async fn run_flow(config: ClientConfig) -> FlowReport {
    flow::Flow::run(config).await
}
