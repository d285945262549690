//! ASM-*: authorization server metadata (RFC 8414 / OIDC discovery). The issuer
//! is compared byte for byte with the issuer the client derived (the PRM entry whose well-known
//! URL was fetched, else the issuer encoded in the URL).

use crate::rules::rule::DynRule;

mod clients;
mod document;

use clients::*;
use document::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &NotFound,
    &PathIssuerRootOnly,
    &IssuerMismatch,
    &IssuerSyntax,
    &RequiredMissing,
    &NoCode,
    &NoPkce,
    &NoS256,
    &OidcFields,
    &EndpointInvalid,
    &InternalHost,
    &NoRegistrationNoCimd,
    &CimdWithoutNone,
    &AuthMethodsDefaulted,
    &BasicOnly,
    &Grants,
    &IssFlagType,
];

#[cfg(test)]
mod tests;
