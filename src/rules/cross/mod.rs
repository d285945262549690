//! X-*: cross-request (correlation) rules. They read the flow state kept by
//! `flow::correlate` and run as the flow advances, on ticks (time windows) and at finish.
//! Split by topic: [`authz`] (PKCE, state, code, redirect_uri, client_id, registration),
//! [`discovery`] (issuer chain, resource, AS reachability, challenge handling), [`tokens`]
//! (token use, JWT claims, refresh, scopes) and [`session`] (MCP sessions and versions).

use crate::rules::rule::DynRule;

mod authz;
mod discovery;
mod session;
mod tokens;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &discovery::IssuerChain,
    &discovery::ResourceVsPrm,
    &discovery::McpUrlVsPrm,
    &discovery::AsUnreachable,
    &discovery::AsChangedReuse,
    &discovery::DiscoveryOrder,
    &discovery::DefaultEndpoints,
    &discovery::ChallengeIgnored,
    &discovery::ResourceMetadataChanged,
    &authz::PkceMismatch,
    &authz::PkceNotEnforced,
    &authz::StateMismatch,
    &authz::CallbackOrphan,
    &authz::CodeNotExchanged,
    &authz::CodeReuse,
    &authz::RedirectUriToken,
    &authz::RedirectUriUnregistered,
    &authz::ClientIdMismatch,
    &authz::ClientIdUnknown,
    &authz::DcrLoop,
    &authz::DcrPerConnect,
    &authz::AuthMethodInconsistent,
    &authz::ResourceAuthzToken,
    &tokens::TokenNotUsed,
    &tokens::TokenUnknown,
    &tokens::AuthMissingSometimes,
    &tokens::TokenRejectedAfterIssue,
    &tokens::JwtAud,
    &tokens::JwtIss,
    &tokens::ExpiredTokenUsed,
    &tokens::NoRefresh,
    &tokens::RefreshReuse,
    &tokens::RefreshRecovery,
    &tokens::ScopeInsufficient,
    &tokens::StepupLoop,
    &tokens::StepupScopeDrop,
    &session::SessionNotEchoed,
    &session::SessionNotReinit,
    &session::SessionAffinity,
    &session::ProtocolVersionMismatch,
    &ZeroTraffic,
];

/// X-ZERO-TRAFFIC. Emitted by the engine at `finish` (it needs no exchange at all), so the rule
/// has metadata only.
pub struct ZeroTraffic;
impl crate::rules::rule::Rule for ZeroTraffic {
    const META: crate::rules::rule::RuleMeta = crate::rules::rule::RuleMeta {
        id: "X-ZERO-TRAFFIC",
        severity: crate::model::Severity::Info,
        phase: crate::model::Phase::Other,
        on: &[],
        who: &[crate::model::Who::Client, crate::model::Who::Infra],
        breaks: "CAI about:blank loop (anthropics/claude-code#11814); WAF/IP blocks upstream of the proxy; port or private-IP rejections",
        source: "claude.com connector troubleshooting docs; anthropics/claude-code#11814",
        title: "Recording ran and no request reached the proxy",
        fix: "Give the client the proxy's URL; for claude.ai/Desktop use a public https URL on 443 (tunnel); check WAF/IP rules in front; file the ofid_ reference with the client's maintainers.",
    };
}
