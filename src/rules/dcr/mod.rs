//! DCR-* and CIMD-*: dynamic client registration requests and responses (RFC 7591) and
//! client ID metadata documents.

use crate::rules::rule::DynRule;

/// This family's [`RuleMeta`] shorthand: phase Registration, hook on REG.
macro_rules! meta {
    ($($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::Registration, REG, $($rest)*)
    };
}

mod client;
mod registration;

use client::*;
use registration::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &RequiresAuth,
    &RejectsSecretPost,
    &RedirectRejected,
    &ErrorFormat,
    &Status,
    &NoClientId,
    &FloatExpiry,
    &NullOptional,
    &UrlFields,
    &NoRedirectEcho,
    &SecretNoExpiry,
    &SecretExpired,
    &MethodUnsupported,
    &MethodChanged,
    &NoRegistrationClientUri,
    &ReqMalformed,
    &ReqNoAppType,
    &ReqNoRefreshGrant,
    &CimdUnadvertised,
    &CimdUrlInvalid,
    &CimdDocInvalid,
];

#[cfg(test)]
mod tests;
