//! Cross-request rules from authorize to token: PKCE, state, codes, redirect URIs, client ids,
//! registration storms and client authentication.

/// Cross-rule [`RuleMeta`] shorthand: the phase is named per rule; hooks are flow hooks.
macro_rules! meta {
    ($id:literal, $sev:ident, $phase:ident, $($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::$phase, &[], $id, $sev, $($rest)*)
    };
}

mod clients;
mod code;

pub use clients::*;
pub use code::*;

#[cfg(test)]
mod tests;
