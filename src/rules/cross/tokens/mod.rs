//! Cross-request token rules: issued tokens that are never used, rejected, unknown, expired or
//! audience-mismatched (decoded JWT claims), refresh behaviour and scope step-up.

/// Cross-rule [`RuleMeta`] shorthand: the phase is named per rule; hooks are flow hooks.
macro_rules! meta {
    ($id:literal, $sev:ident, $phase:ident, $($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::$phase, &[], $id, $sev, $($rest)*)
    };
}

mod refresh_scope;
mod usage;

pub use refresh_scope::*;
pub use usage::*;

#[cfg(test)]
mod tests;
