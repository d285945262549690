//! GEN-*: rules for any phase: HTML or WAF pages where JSON belongs, redirects
//! on API legs, content types, nulls and empty arrays in metadata, insecure or dangerous URLs,
//! private hosts and odd ports (client-profile dependent), slowness, duplicate parameters, TLS.

use crate::rules::rule::DynRule;

mod fields;
mod pages;
mod reach;
mod redirect;

use fields::*;
use pages::*;
use reach::*;
use redirect::*;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[
    &WafChallenge,
    &HtmlInsteadOfJson,
    &JsonContentType,
    &NullField,
    &EmptyArray,
    &NotHttps,
    &DangerousScheme,
    &PrivateAddress,
    &Non443,
    &RedirectOnApi,
    &TrailingSlashRedirect,
    &LocaleRedirect,
    &Slow,
    &DupParam,
    &Tls,
    &Unreachable,
    &MetadataCachedLong,
];

#[cfg(test)]
mod tests;
