//! Resolving a `--client` name to its [`ClientProfile`], with every override id checked
//! against the rule registry.

use super::{ClientProfile, PROFILES, ProfileError, ProfileSpec};
use crate::rules::registry;

impl ClientProfile {
    /// Looks a profile up by name (or alias), checking its override ids against the registry.
    pub fn by_name(name: &str) -> Result<Self, ProfileError> {
        let spec = PROFILES
            .iter()
            .find(|p| p.kind.name() == name || p.aliases.contains(&name))
            .ok_or_else(|| ProfileError::UnknownProfile(name.to_string()))?;
        Self::resolve(spec)
    }

    /// Builds a profile from its spec; every override id must be a registered rule.
    fn resolve(spec: &ProfileSpec) -> Result<Self, ProfileError> {
        let overrides = spec
            .overrides
            .iter()
            .map(|&(rule, severity)| {
                registry::rule_id(rule)
                    .map(|id| (id, severity))
                    .map_err(|_| ProfileError::UnknownRule {
                        profile: spec.kind.name(),
                        rule,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(ClientProfile {
            kind: spec.kind,
            overrides,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use crate::rules::profiles::{PROFILE_NAMES, ProfileKind};

    #[test]
    fn every_profile_resolves_with_known_rule_ids() {
        let names: Vec<&str> = PROFILES.iter().map(|p| p.kind.name()).collect();
        assert_eq!(names, PROFILE_NAMES);
        for name in PROFILE_NAMES {
            let profile = ClientProfile::by_name(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(profile.name(), *name);
            for (id, _) in profile.overrides() {
                assert!(registry::find(id.as_str()).is_some(), "{id}");
            }
        }
    }

    #[test]
    fn a_misspelt_override_id_is_an_error_not_a_silent_no_op() {
        let typo = ProfileSpec {
            kind: ProfileKind::ClaudeCode,
            aliases: &[],
            overrides: &[("GEN-NON-433", Severity::Error)],
        };
        assert_eq!(
            ClientProfile::resolve(&typo),
            Err(ProfileError::UnknownRule {
                profile: "claude-code",
                rule: "GEN-NON-433"
            })
        );
    }

    #[test]
    fn aliases_resolve_to_their_profile() {
        assert_eq!(ClientProfile::by_name("").unwrap().name(), "generic");
        assert_eq!(
            ClientProfile::by_name("claude-desktop").unwrap().name(),
            "claude-ai"
        );
        assert_eq!(ClientProfile::by_name("cai").unwrap().name(), "claude-ai");
    }

    #[test]
    fn unknown_names_are_an_error() {
        assert_eq!(
            ClientProfile::by_name("chatgpt"),
            Err(ProfileError::UnknownProfile("chatgpt".into()))
        );
    }

    #[test]
    fn inspector_makes_cors_fatal() {
        let inspector = ClientProfile::by_name("inspector").unwrap();
        let ids: Vec<&str> = inspector
            .overrides()
            .iter()
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "CORS-NO-ACAO",
                "CORS-PREFLIGHT-FAIL",
                "CORS-EXPOSE-WWW-AUTH"
            ]
        );
        assert!(
            inspector
                .overrides()
                .iter()
                .all(|(_, s)| *s == Severity::Error)
        );
    }
}
