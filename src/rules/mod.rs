//! The rule engine's vocabulary: phases, severities, who fixes what, and findings.
//!
//! Rules are small units identified by catalog ids (`authtap rules`, `docs/rules.md`). This module
//! is sans-io: it sees only [`crate::trace::model`] records, so the live proxy and
//! `authtap lint` run exactly the same code.

use serde::{Deserialize, Serialize};

use crate::trace::model::{ExchangeId, FlowId};

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
    /// Which clients it breaks (abbreviations of [`catalog::CLIENTS`]: CAI, CC, INSP, TS, PY, Strict, Browser).
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

pub mod catalog;
pub mod engine;
pub mod format;
pub mod profiles;
pub mod registry;
pub mod relint;
pub mod revision;
pub mod rule;
pub mod rule_id;
#[cfg(test)]
pub(crate) mod testkit;

mod asm;
mod authorize;
mod bypass;
mod callback;
mod cors;
mod cross;
mod dcr;
mod general;
mod history;
mod iss_check;
mod mcp;
mod modern_meta;
mod prm;
mod refresh;
mod reverse;
mod rpc;
mod sse;
mod token;
mod util;
mod www_auth;

pub use engine::{Engine, EngineConfig};
pub use profiles::{ClientProfile, PROFILE_NAMES, ProfileError, ProfileKind};
pub use rule::{Cx, DynRule, FlowCx, Out, Rule, RuleMeta};
pub use rule_id::RuleId;
