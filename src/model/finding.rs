//! The words every stage shares about a deviation: the flow [`Phase`] an exchange belongs to, a
//! finding's [`Severity`], [`Who`] has to fix it, and the [`Finding`] itself.
//!
//! The engine produces findings, the trace store persists them inside records, and the live view
//! and exporters print them; none of those needs the engine to name them.

use serde::{Deserialize, Serialize};

use super::ids::{ExchangeId, FlowId};
use super::rule_id::RuleId;

/// Flow phase of an exchange.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Protected resource metadata (RFC 9728) fetch.
    DiscoveryPrm,
    /// Authorization server metadata (RFC 8414 / OIDC) fetch.
    DiscoveryAs,
    /// Dynamic client registration or CIMD fetch.
    Registration,
    /// The authorization request (browser leg) and the AS's own login/consent hops.
    Authorize,
    /// The authorization response back to the client's redirect URI.
    Callback,
    /// Token request, authorization_code grant.
    Token,
    /// Token request, refresh_token grant.
    Refresh,
    /// MCP Streamable HTTP / SSE traffic.
    McpTransport,
    /// CORS preflight.
    Cors,
    /// Anything else.
    #[serde(alias = "general")]
    Other,
}

impl Phase {
    /// The label used in traces and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::DiscoveryPrm => "discovery-prm",
            Phase::DiscoveryAs => "discovery-as",
            Phase::Registration => "registration",
            Phase::Authorize => "authorize",
            Phase::Callback => "callback",
            Phase::Token => "token",
            Phase::Refresh => "refresh",
            Phase::McpTransport => "mcp-transport",
            Phase::Cors => "cors",
            Phase::Other => "other",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth showing; not a violation by itself.
    Info,
    /// Violates a SHOULD, or breaks some clients in some set-ups.
    Warning,
    /// Violates a MUST, or breaks at least one mainstream client.
    Error,
}

impl Severity {
    /// The label used in traces and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who has to fix a finding.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Who {
    /// The MCP server (resource server).
    #[serde(rename = "RS")]
    Rs,
    /// The authorization server.
    #[serde(rename = "AS")]
    As,
    /// The client.
    #[serde(rename = "C")]
    Client,
    /// CDN, WAF, load balancer, reverse proxy, framework routing.
    #[serde(rename = "Infra")]
    Infra,
}

impl Who {
    /// The label used in traces and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Who::Rs => "RS",
            Who::As => "AS",
            Who::Client => "C",
            Who::Infra => "Infra",
        }
    }
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One spec deviation observed in traffic.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    /// Catalog id, e.g. `WWWAUTH-MISSING`.
    pub rule: RuleId,
    /// Severity for this occurrence.
    pub severity: Severity,
    /// Phase the rule belongs to.
    pub phase: Phase,
    /// Who has to fix it.
    pub who: Vec<Who>,
    /// Which clients it breaks (abbreviations of [`crate::rules::catalog::CLIENTS`]: CAI, CC, INSP, TS, PY, Strict, Browser).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub breaks: String,
    /// One line with the observed values.
    pub message: String,
    /// A concrete fix.
    pub fix: String,
    /// Spec section or issue behind the rule.
    pub source: String,
    /// The exchange it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<ExchangeId>,
    /// The flow it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowId>,
}
