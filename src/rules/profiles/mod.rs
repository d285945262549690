//! The one registry of client profiles (`generic`, `claude-ai`, `claude-code`, `inspector`):
//! which rules break each client harder (per-rule severity overrides). `authtap lint --client`
//! and `authtap check --client` both resolve names here; `check` adds what the scripted client
//! sends (`check::profile`).
//!
//! Override ids are checked against the rule registry when a profile is resolved (`resolve`),
//! so a typo fails the start instead of silently disabling the override.

use crate::model::{Finding, RuleId, Severity};

mod resolve;

/// Names accepted by `--client`, in the order help texts list them.
pub const PROFILE_NAMES: &[&str] = &["generic", "claude-ai", "claude-code", "inspector"];

/// Which client a profile stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProfileKind {
    /// A generic MCP client (TS/Python SDK style): no overrides.
    Generic,
    /// claude.ai / Claude Desktop connectors.
    ClaudeAi,
    /// Claude Code.
    ClaudeCode,
    /// MCP Inspector in direct (browser) mode.
    Inspector,
}

impl ProfileKind {
    /// The `--client` name.
    pub fn name(self) -> &'static str {
        match self {
            ProfileKind::Generic => "generic",
            ProfileKind::ClaudeAi => "claude-ai",
            ProfileKind::ClaudeCode => "claude-code",
            ProfileKind::Inspector => "inspector",
        }
    }
}

/// A profile as written in source: its client, other names it answers to, and its overrides.
struct ProfileSpec {
    kind: ProfileKind,
    aliases: &'static [&'static str],
    overrides: &'static [(&'static str, Severity)],
}

/// Every profile; [`PROFILE_NAMES`] lists the same names.
const PROFILES: &[ProfileSpec] = &[
    ProfileSpec {
        kind: ProfileKind::Generic,
        aliases: &[""],
        overrides: &[],
    },
    // claude.ai / Claude Desktop connectors connect from Anthropic's cloud: public 443 only.
    ProfileSpec {
        kind: ProfileKind::ClaudeAi,
        aliases: &["claude-desktop", "cai"],
        overrides: &[
            ("GEN-PRIVATE-ADDRESS", Severity::Error),
            ("GEN-NON-443", Severity::Error),
            ("ASM-BASIC-ONLY", Severity::Error),
        ],
    },
    ProfileSpec {
        kind: ProfileKind::ClaudeCode,
        aliases: &[],
        overrides: &[],
    },
    // In the browser every leg needs CORS; a blocked leg stops the flow.
    ProfileSpec {
        kind: ProfileKind::Inspector,
        aliases: &[],
        overrides: &[
            ("CORS-NO-ACAO", Severity::Error),
            ("CORS-PREFLIGHT-FAIL", Severity::Error),
            ("CORS-EXPOSE-WWW-AUTH", Severity::Error),
        ],
    },
];

/// Why a profile name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// No profile has this name.
    #[error("unknown client profile `{0}` (use one of {names})", names = PROFILE_NAMES.join(", "))]
    UnknownProfile(String),
    /// The profile overrides an id the registry does not know.
    #[error(
        "client profile `{profile}` overrides `{rule}`, which is not a rule id (see `authtap rules`)"
    )]
    UnknownRule {
        /// The profile.
        profile: &'static str,
        /// The unknown id.
        rule: &'static str,
    },
}

/// A client profile that raises (or lowers) some rules' severity, e.g. `claude-ai`, where
/// GEN-PRIVATE-ADDRESS and GEN-NON-443 are fatal.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientProfile {
    kind: ProfileKind,
    overrides: Vec<(RuleId, Severity)>,
}

impl ClientProfile {
    /// No overrides.
    pub fn generic() -> Self {
        ClientProfile {
            kind: ProfileKind::Generic,
            overrides: Vec::new(),
        }
    }

    /// The client the profile stands for.
    pub fn kind(&self) -> ProfileKind {
        self.kind
    }

    /// The profile's canonical name (`generic`, `claude-ai`, …).
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The per-rule severity overrides.
    pub fn overrides(&self) -> &[(RuleId, Severity)] {
        &self.overrides
    }

    /// Applies the overrides to a finding.
    pub fn apply(&self, f: &mut Finding) {
        if let Some((_, s)) = self.overrides.iter().find(|(id, _)| *id == f.rule) {
            f.severity = *s;
        }
    }
}
