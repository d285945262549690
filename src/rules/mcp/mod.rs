//! MCP-*: Streamable HTTP transport rules: Accept and body shape, response
//! content types, notifications, the GET stream, sessions, the protocol version header, tokens
//! in URLs, the Authorization scheme, Origin validation, legacy SSE fallback and 2026-07-28
//! mirror headers / statelessness. The challenge rules live in `www_auth`.

use crate::rules::rule::DynRule;

/// This family's [`RuleMeta`] shorthand: phase McpTransport, hook on MCP.
macro_rules! meta {
    ($($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::McpTransport, MCP, $($rest)*)
    };
}

mod headers;
mod transport;

use headers::*;
use transport::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &Accept,
    &GetAccept,
    &Body,
    &Batch,
    &RespContentType,
    &NotifyNot202,
    &GetNotSseOr405,
    &SessionIdChars,
    &SessionChanged,
    &SessionExpiredNot404,
    &InitNeedsSession,
    &DeleteStatus,
    &VersionHeaderMissing,
    &VersionNot400,
    &TokenInQuery,
    &AuthScheme,
    &OriginUnchecked,
    &SseFallbackStatus,
    &MirrorHeaders,
    &StatelessViolation,
];

#[cfg(test)]
mod tests;
