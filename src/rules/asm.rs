//! Rules of the asm family (rules.md).

use crate::rules::rule::DynRule;

/// This family's rules, in report order.
pub static RULES: &[&dyn DynRule] = &[];
