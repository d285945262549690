//! What the scripted client runs against and as whom: the registration profile, the run's
//! configuration, where it stops, and the MCP calls it makes with the token.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

use super::http::ExchangeHook;
use super::proxy::Route;
use super::report::Step;

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
