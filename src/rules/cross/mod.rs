//! X-*: cross-request (correlation) rules, rules.md §2. They read the flow state kept by
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
];
