//! What the engine remembers about each flow (one client run): documents seen, registered
//! clients, authorize parameters, callbacks, token calls, issued tokens (hashes and decoded JWT
//! claims only, never the tokens), MCP calls, sessions and the negotiated protocol version.
//! Updating this state from exchanges is `correlate`'s job; rules only read it.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::model::Phase;
use crate::model::{ErrorKind, ExchangeId, FlowId};
use crate::parse::metadata;

/// Where and when something was seen, and in which attempt of the flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// The exchange it came from.
    pub exchange: ExchangeId,
    /// When that exchange started.
    pub at: OffsetDateTime,
    /// When that exchange ended (or `at` when unknown).
    pub end: OffsetDateTime,
    /// Attempt number within the flow (1-based; a new challenge after success opens the next).
    pub attempt: u32,
}

/// A 401/403 answer from the MCP URL.
#[derive(Debug, Clone, PartialEq)]
pub struct ChallengeSeen {
    /// Where.
    pub step: Step,
    /// Status code.
    pub status: u16,
    /// Whether the request carried `Authorization`.
    pub had_auth: bool,
    /// The Bearer challenge's `resource_metadata`.
    pub resource_metadata: Option<String>,
    /// The Bearer challenge's `scope`.
    pub scope: Option<String>,
    /// The Bearer challenge's `error`.
    pub error: Option<String>,
    /// Whether a usable Bearer challenge was present at all.
    pub has_bearer: bool,
}

/// A PRM or ASM fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct DocFetch {
    /// Where.
    pub step: Step,
    /// URL fetched.
    pub url: String,
    /// Status, when a response came.
    pub status: Option<u16>,
    /// The JSON object, when the body was one.
    pub doc: Option<Map<String, Value>>,
    /// For PRM: the URL came from a challenge's `resource_metadata`.
    pub via_challenge: bool,
    /// Transport error kind, when no response came.
    pub error_kind: Option<ErrorKind>,
}

impl DocFetch {
    /// The document, if the fetch succeeded with 200 and a JSON object.
    pub fn ok_doc(&self) -> Option<&Map<String, Value>> {
        if self.status == Some(200) {
            self.doc.as_ref()
        } else {
            None
        }
    }
}

/// A dynamic client registration.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationSeen {
    /// Where.
    pub step: Step,
    /// URL.
    pub url: String,
    /// Status.
    pub status: Option<u16>,
    /// `token_endpoint_auth_method` requested.
    pub requested_method: Option<String>,
    /// `client_id` returned.
    pub client_id: Option<String>,
    /// `redirect_uris` returned (or requested, when the response lacks them).
    pub redirect_uris: Vec<String>,
    /// `token_endpoint_auth_method` returned.
    pub method: Option<String>,
    /// Issuer of the ASM in force when it registered.
    pub issuer: Option<String>,
}

/// An authorization request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthorizeSeen {
    /// Where (default only in tests).
    pub step: Option<Step>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `code_challenge`.
    pub code_challenge: Option<String>,
    /// `code_challenge_method`.
    pub challenge_method: Option<String>,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `resource` values.
    pub resource: Vec<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// Issuer of the ASM in force at authorize time.
    pub issuer: Option<String>,
}

/// An authorization response (callback), from a redirect `Location` or the callback request.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackSeen {
    /// Where.
    pub step: Step,
    /// Hash of `code`.
    pub code_hash: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `iss`.
    pub iss: Option<String>,
    /// `error`.
    pub error: Option<String>,
    /// Index into [`Flow::authorizes`] of the authorize request with the same `state`.
    pub authorize: Option<usize>,
}

/// A token endpoint call (authorization_code or refresh_token grant).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TokenCall {
    /// Where (default only in tests).
    pub step: Option<Step>,
    /// `grant_type`.
    pub grant: String,
    /// Hash of `code`.
    pub code_hash: Option<String>,
    /// S256 of the `code_verifier` sent.
    pub verifier_s256: Option<String>,
    /// The `code_verifier` was present but redacted (an exported trace): it cannot be checked.
    pub verifier_redacted: bool,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `resource` values.
    pub resource: Vec<String>,
    /// `client_id` (body or Basic user).
    pub client_id: Option<String>,
    /// Client authentication used: `client_secret_basic`, `client_secret_post` or `none`.
    pub auth_method: String,
    /// Hash of the refresh token presented.
    pub refresh_hash: Option<String>,
    /// `scope` requested.
    pub scope: Option<String>,
    /// Status.
    pub status: Option<u16>,
    /// `error` of the response.
    pub error: Option<String>,
    /// What was issued, on success.
    pub issued: Option<IssuedToken>,
}

/// Tokens issued by one successful token response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IssuedToken {
    /// Hash of the access token.
    pub access_hash: String,
    /// Hash of the refresh token, if one was issued.
    pub refresh_hash: Option<String>,
    /// Decoded JWT claims, when the access token is a JWT.
    pub jwt: Option<JwtClaims>,
    /// `scope` of the response.
    pub scope: Option<String>,
    /// `expires_in` of the response.
    pub expires_in: Option<f64>,
}

/// The claims of a JWT access token the rules care about.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JwtClaims {
    /// `iss`.
    pub iss: Option<String>,
    /// `aud` (string or array).
    pub aud: Vec<String>,
    /// `exp` (seconds).
    pub exp: Option<f64>,
    /// `iat` (seconds).
    pub iat: Option<f64>,
    /// `scope` / `scp`.
    pub scopes: Vec<String>,
    /// Header `kid`.
    pub kid: Option<String>,
}

/// One request to the MCP URL.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct McpCall {
    /// Where (default only in tests).
    pub step: Option<Step>,
    /// HTTP method.
    pub method: String,
    /// JSON-RPC method of the body, when it is a request or notification.
    pub rpc_method: Option<String>,
    /// Status.
    pub status: Option<u16>,
    /// Hash of the bearer token sent.
    pub token_hash: Option<String>,
    /// Whether `Authorization` was present at all.
    pub had_auth: bool,
    /// `Mcp-Session-Id` sent.
    pub session_id: Option<String>,
    /// `Mcp-Session-Id` returned.
    pub response_session: Option<String>,
    /// `MCP-Protocol-Version` sent.
    pub protocol_header: Option<String>,
    /// `User-Agent` sent.
    pub user_agent: Option<String>,
    /// The client's address (`ip:port`: one per connection), when recorded.
    pub client_addr: Option<String>,
}

impl McpCall {
    /// Whether the MCP URL answered 2xx.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// Whether this opens a conversation: `initialize` (2025 revisions) or `server/discover`
    /// (2026-07-28), sent without a session id.
    pub fn is_handshake(&self) -> bool {
        self.session_id.is_none()
            && matches!(
                self.rpc_method.as_deref(),
                Some("initialize" | "server/discover")
            )
    }

    /// Whether the server judged the request itself (anything but an auth challenge or a
    /// transport failure): a 2xx, or a 4xx/5xx other than 401/403.
    pub fn answered_on_the_merits(&self) -> bool {
        self.status.is_some_and(|s| s != 401 && s != 403)
    }
}

/// Why a flow is a new client run of the same MCP server rather than the next step of the
/// previous run (see `correlate::new_run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStart {
    /// A fresh `initialize`/`server/discover` on a new connection after the previous one was
    /// answered: a second process, a reconnect, or a version probe's fallback.
    Handshake {
        /// The JSON-RPC method that opened the run.
        method: String,
    },
    /// MCP requests from another client program (a different `User-Agent`).
    UserAgent {
        /// The previous run's agent.
        was: String,
        /// This run's agent.
        now: String,
    },
}

impl RunStart {
    /// One line for narratives and reports.
    pub fn describe(&self) -> String {
        match self {
            RunStart::Handshake { method } => {
                format!(
                    "a fresh {method} without a session, on a new connection, after the previous one was answered"
                )
            }
            RunStart::UserAgent { was, now } => {
                format!("another client program (User-Agent {now:?}, was {was:?})")
            }
        }
    }
}

/// One correlated OAuth/MCP flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Id.
    pub id: FlowId,
    /// The MCP URL (exact string, query removed), once known.
    pub mcp_url: Option<String>,
    /// When this flow is a later client run against the same MCP URL: the run it follows and
    /// why it is a new run.
    pub follows: Option<(FlowId, RunStart)>,
    /// Current attempt.
    pub attempt: u32,
    /// First exchange start.
    pub first_at: OffsetDateTime,
    /// Latest exchange end.
    pub last_at: OffsetDateTime,
    /// Challenges from the MCP URL.
    pub challenges: Vec<ChallengeSeen>,
    /// PRM fetches.
    pub prm: Vec<DocFetch>,
    /// ASM fetches.
    pub asm: Vec<DocFetch>,
    /// Registrations.
    pub registrations: Vec<RegistrationSeen>,
    /// Authorization requests.
    pub authorizes: Vec<AuthorizeSeen>,
    /// Callbacks.
    pub callbacks: Vec<CallbackSeen>,
    /// Token calls.
    pub tokens: Vec<TokenCall>,
    /// MCP calls.
    pub mcp: Vec<McpCall>,
    /// Negotiated protocol version (InitializeResult).
    pub protocol_version: Option<String>,
    /// The server's capabilities, from its latest InitializeResult or DiscoverResult.
    pub server_capabilities: Option<Map<String, Value>>,
    /// Session ids issued at initialize.
    pub sessions: Vec<String>,
    /// Phases reached, in order of first appearance.
    pub phases: Vec<Phase>,
    /// Exchanges in this flow: (id, phase, status, start, end).
    pub timeline: Vec<(
        ExchangeId,
        Phase,
        Option<u16>,
        OffsetDateTime,
        OffsetDateTime,
    )>,
    /// Dedup keys of flow findings already emitted.
    pub emitted: BTreeSet<String>,
    /// Whether `finish` has run.
    pub finished: bool,
}

impl Flow {
    /// A fresh flow.
    pub fn new(id: FlowId, at: OffsetDateTime) -> Self {
        Flow {
            id,
            mcp_url: None,
            follows: None,
            attempt: 1,
            first_at: at,
            last_at: at,
            challenges: Vec::new(),
            prm: Vec::new(),
            asm: Vec::new(),
            registrations: Vec::new(),
            authorizes: Vec::new(),
            callbacks: Vec::new(),
            tokens: Vec::new(),
            mcp: Vec::new(),
            protocol_version: None,
            server_capabilities: None,
            sessions: Vec::new(),
            phases: Vec::new(),
            timeline: Vec::new(),
            emitted: BTreeSet::new(),
            finished: false,
        }
    }

    /// The latest successful PRM document.
    pub fn prm_doc(&self) -> Option<&Map<String, Value>> {
        self.prm.iter().rev().find_map(DocFetch::ok_doc)
    }

    /// The latest successful ASM document.
    pub fn asm_doc(&self) -> Option<&Map<String, Value>> {
        self.asm.iter().rev().find_map(DocFetch::ok_doc)
    }

    /// A string member of the latest ASM.
    pub fn asm_str(&self, name: &str) -> Option<&str> {
        metadata::str_member(self.asm_doc()?, name)
    }

    /// PRM `resource`.
    pub fn prm_resource(&self) -> Option<&str> {
        metadata::str_member(self.prm_doc()?, "resource")
    }

    /// PRM `authorization_servers` entries that are strings.
    pub fn prm_auth_servers(&self) -> Vec<&str> {
        self.prm_doc()
            .and_then(|d| metadata::str_list(d, "authorization_servers"))
            .unwrap_or_default()
    }

    /// The authorize request with this `state`.
    pub fn authorize_by_state(&self, state: &str) -> Option<(usize, &AuthorizeSeen)> {
        self.authorizes
            .iter()
            .enumerate()
            .rev()
            .find(|(_, a)| a.state.as_deref() == Some(state))
    }

    /// The callback that carried this code hash.
    pub fn callback_by_code(&self, code_hash: &str) -> Option<&CallbackSeen> {
        self.callbacks
            .iter()
            .rev()
            .find(|c| c.code_hash.as_deref() == Some(code_hash))
    }

    /// The token call that issued this access-token hash.
    pub fn issuer_of_token(&self, access_hash: &str) -> Option<&TokenCall> {
        self.tokens.iter().rev().find(|t| {
            t.issued
                .as_ref()
                .is_some_and(|i| i.access_hash == access_hash)
        })
    }

    /// Whether any registration or authorize used this `redirect_uri` (exact string).
    pub fn knows_redirect_uri(&self, uri: &str) -> bool {
        self.authorizes
            .iter()
            .any(|a| a.redirect_uri.as_deref() == Some(uri))
            || self
                .registrations
                .iter()
                .any(|r| r.redirect_uris.iter().any(|u| u == uri))
    }

    /// A short `hh:mm:ss` clock time for narratives.
    pub fn clock(at: OffsetDateTime) -> String {
        format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second())
    }
}
