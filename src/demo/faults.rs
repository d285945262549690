//! The fault catalog: each switch makes the reference server reproduce one real-world failure.
//!
//! [`CATALOG`] is the one table of faults: kebab-case name, what the server then does, the rule
//! ids of the catalog (`authtap rules`) the fault should trigger, the public report or
//! specification clause it reproduces, and what the built-in client needs to exhibit it (a
//! browser `Origin`, or claude.ai's DCR body).
//! `authtap demo --list-faults` prints this table.

use std::collections::BTreeSet;

/// One fault switch of the reference server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Fault {
    /// `/mcp` answers 401 without `WWW-Authenticate`.
    NoWwwAuthenticate,
    /// The protected resource metadata answers 401 (auth middleware covers `/.well-known/*`).
    Prm401,
    /// DCR issues a secret and returns `client_secret_expires_at` as a float.
    DcrFloatExpiry,
    /// DCR returns `null` for absent optional metadata.
    DcrNullOptional,
    /// A Cloudflare-style WAF answers the PRM with a 403 HTML challenge page.
    WafChallengePrm,
    /// A Vercel Security Checkpoint answers `/mcp` with a 429 HTML page.
    VercelCheckpointMcp,
    /// No CORS headers and no preflight handler on `/.well-known/*`.
    NoCorsWellKnown,
    /// `/mcp` CORS does not expose `WWW-Authenticate`.
    NoExposeWwwAuthenticate,
    /// The AS calls itself by its issuer with a trailing slash; the PRM lists it without.
    IssuerTrailingSlash,
    /// The PRM `resource` names another path than the MCP URL.
    ResourceMismatch,
    /// i18n middleware redirects the OAuth routes to `/en/…`.
    LocaleRedirect,
    /// `/authorize` shows an HTML consent form whose POST is answered 307 to the redirect URI.
    Consent307AfterPost,
    /// Tokens are minted with the AS URL as `aud`; `/mcp` rejects them.
    TokenWrongAudience,
    /// DCR rejects `token_endpoint_auth_method: client_secret_post` with 400.
    DcrRejectsSecretPost,
    /// `/mcp` answers 307 to `/mcp/` (framework trailing-slash normalisation).
    McpTrailingSlashRedirect,
}

/// What the built-in client must do to exhibit a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientNeed {
    /// Nothing special.
    Nothing,
    /// Act as a browser client: send `Origin` and CORS preflights.
    BrowserOrigin,
    /// Register like claude.ai (`client_secret_post`).
    ClaudeAiProfile,
}

/// One row of the fault catalog.
#[derive(Debug, Clone, Copy)]
pub struct FaultInfo {
    /// The switch.
    pub fault: Fault,
    /// Kebab-case name used on the command line.
    pub name: &'static str,
    /// What the server does when the switch is on.
    pub description: &'static str,
    /// Rule ids of the catalog the fault should trigger.
    pub rules: &'static [&'static str],
    /// The public report (issue, pull request) or specification clause it reproduces.
    pub reported_in: &'static str,
    /// What the built-in client needs to exhibit it.
    pub client_need: ClientNeed,
    /// The failing step happens in the browser's login/consent leg, which reverse mode
    /// deliberately keeps out of the proxy (and `check` cannot see either): only the client's
    /// own step report shows it, or authtap when the browser itself goes through it.
    pub browser_leg_only: bool,
}

/// The fault catalog, in command-line order.
pub const CATALOG: &[FaultInfo] = &[
    FaultInfo {
        fault: Fault::NoWwwAuthenticate,
        name: "no-www-authenticate",
        description: "/mcp answers 401 with no WWW-Authenticate header",
        rules: &["WWWAUTH-MISSING"],
        reported_in: "claude-ai-mcp#410; RFC 9728 §5.1, RFC 6750 §3 (a 401 carries WWW-Authenticate)",
        client_need: ClientNeed::Nothing,
        browser_leg_only: false,
    },
    FaultInfo {
        fault: Fault::Prm401,
        name: "prm-401",
        description: "protected resource metadata answers 401 (auth middleware covers /.well-known)",
        rules: &["PRM-401"],
        reported_in: "auth middleware that also covers /.well-known/*; RFC 9728 §3.2 (the PRM answers 200)",
        client_need: ClientNeed::Nothing,
        browser_leg_only: false,
    },
    FaultInfo {
        fault: Fault::DcrFloatExpiry,
        name: "dcr-float-expiry",
        description: "DCR issues a client_secret with a float client_secret_expires_at",
        rules: &["DCR-FLOAT-EXPIRY"],
        reported_in: "RFC 7591 §3.2.1 (client_secret_expires_at is a JSON number of seconds, an integer)",
        client_need: ClientNeed::Nothing,
        browser_leg_only: false,
    },
    FaultInfo {
        fault: Fault::DcrNullOptional,
        name: "dcr-null-optional",
        description: "DCR returns null for client_uri, logo_uri, software_id, software_version",
        rules: &["DCR-NULL-OPTIONAL"],
        reported_in: "anthropics/claude-code#52565 (null optional members fail schema validation)",
        client_need: ClientNeed::Nothing,
        browser_leg_only: false,
    },
    FaultInfo {
        fault: Fault::WafChallengePrm,
        name: "waf-challenge-prm",
        description: "a WAF answers the PRM with 403 cf-mitigated: challenge and an HTML page",
        rules: &["GEN-WAF-CHALLENGE", "GEN-HTML-INSTEAD-OF-JSON"],
        reported_in: "a WAF bot challenge in front of the metadata; RFC 9728 §3.2 (a JSON document)",
        client_need: ClientNeed::Nothing,
        browser_leg_only: false,
    },
    FaultInfo {
        fault: Fault::VercelCheckpointMcp,
        name: "vercel-checkpoint-mcp",
        description: "/mcp answers 429 x-vercel-mitigated: challenge with the Security Checkpoint page",
        rules: &["GEN-WAF-CHALLENGE", "GEN-HTML-INSTEAD-OF-JSON"],
        reported_in: "Vercel Security Checkpoint in front of the MCP endpoint",
        client_need: ClientNeed::Nothing,
        browser_leg_only: false,
    },
    FaultInfo {
        fault: Fault::NoCorsWellKnown,
        name: "no-cors-well-known",
        description: "/.well-known/* has no CORS headers; its preflight answers 405",
        rules: &["CORS-NO-ACAO", "CORS-PREFLIGHT-FAIL"],
        reported_in: "browser clients (MCP Inspector) fetching /.well-known/* cross-origin",
        client_need: ClientNeed::BrowserOrigin,
        browser_leg_only: false,
    },
    FaultInfo {
        fault: Fault::NoExposeWwwAuthenticate,
        name: "no-expose-www-authenticate",
        description: "/mcp CORS omits WWW-Authenticate from Access-Control-Expose-Headers",
        rules: &["CORS-EXPOSE-WWW-AUTH"],
        reported_in: "MCP discussion #587 (browser clients cannot read WWW-Authenticate)",
        client_need: ClientNeed::BrowserOrigin,
        browser_leg_only: false,
    },
    FaultInfo {
        fault: Fault::IssuerTrailingSlash,
        name: "issuer-trailing-slash",
        description: "the AS's issuer (metadata, iss, JWT) has a trailing slash the PRM entry lacks",
        rules: &["ASM-ISSUER-MISMATCH", "X-ISSUER-CHAIN"],
        reported_in: "RFC 8414 §3.3 (issuer compared byte for byte; Google, Box, Vercel, Expo issuers)",
        client_need: ClientNeed::Nothing,
        browser_leg_only: false,
    },
    FaultInfo {
        fault: Fault::ResourceMismatch,
        name: "resource-mismatch",
        description: "the PRM resource is <origin>/v1/mcp while the MCP URL is <origin>/mcp",
        rules: &["PRM-RESOURCE-NE-REQUEST-URL"],
        reported_in: "akutishevsky/withings-mcp PR 20; conformance resource-mismatch-rejected",
        client_need: ClientNeed::Nothing,
        browser_leg_only: false,
    },
    FaultInfo {
        fault: Fault::LocaleRedirect,
        name: "locale-redirect",
        description: "/authorize answers 302 and /register, /token 307 to the same path under /en/",
        rules: &["GEN-LOCALE-REDIRECT", "GEN-REDIRECT-ON-API"],
        reported_in: "i18n middleware (next-intl) prefixing /oauth/* with a locale",
        client_need: ClientNeed::Nothing,
        browser_leg_only: false,
    },
    FaultInfo {
        fault: Fault::Consent307AfterPost,
        name: "consent-307-after-post",
        description: "/authorize shows an HTML consent form; its POST is answered 307 to redirect_uri",
        rules: &["AUTHZ-307-AFTER-POST"],
        reported_in: "claude-ai-mcp#250 (\"Cannot POST /oauth/callback\")",
        client_need: ClientNeed::Nothing,
        browser_leg_only: true,
    },
    FaultInfo {
        fault: Fault::TokenWrongAudience,
        name: "token-wrong-audience",
        description: "access tokens carry aud = the AS issuer; /mcp rejects them with invalid_token",
        rules: &["X-TOKEN-REJECTED-AFTER-ISSUE", "X-JWT-AUD"],
        reported_in: "claude-ai-mcp#480 (OAuth completes, MCP fails); RFC 8707 §2",
        client_need: ClientNeed::Nothing,
        browser_leg_only: false,
    },
    FaultInfo {
        fault: Fault::DcrRejectsSecretPost,
        name: "dcr-rejects-secret-post",
        description: "DCR answers 400 to token_endpoint_auth_method client_secret_post",
        rules: &["DCR-REJECTS-SECRET-POST"],
        reported_in: "better-auth registration refusing client_secret_post; RFC 7591 §2",
        client_need: ClientNeed::ClaudeAiProfile,
        browser_leg_only: false,
    },
    FaultInfo {
        fault: Fault::McpTrailingSlashRedirect,
        name: "mcp-trailing-slash-redirect",
        description: "/mcp answers 307 to /mcp/ (Starlette Mount / Next.js trailingSlash)",
        rules: &["GEN-TRAILING-SLASH-REDIRECT", "GEN-REDIRECT-ON-API"],
        reported_in: "PrefectHQ/fastmcp PR 2277 (framework trailing-slash redirects)",
        client_need: ClientNeed::Nothing,
        browser_leg_only: false,
    },
];

impl Fault {
    /// Looks a fault up by its kebab-case name.
    pub fn from_name(name: &str) -> Option<Fault> {
        CATALOG
            .iter()
            .find(|info| info.name == name)
            .map(|info| info.fault)
    }

    /// The catalog row of this fault.
    pub fn info(self) -> &'static FaultInfo {
        // Every variant has a row; the unit test `every_variant_has_one_row` keeps it so.
        CATALOG
            .iter()
            .find(|info| info.fault == self)
            .unwrap_or(&CATALOG[0])
    }

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        self.info().name
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::from_name(s).ok_or_else(|| UnknownFault(s.to_string()))
    }
}

/// A fault name that is not in the catalog.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown fault `{0}` (see `authtap demo --list-faults`)")]
pub struct UnknownFault(pub String);

/// A set of active faults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultSet(BTreeSet<Fault>);

impl FaultSet {
    /// No faults: the clean, spec-compliant server.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether a fault is on.
    pub fn has(&self, fault: Fault) -> bool {
        self.0.contains(&fault)
    }

    /// Turns a fault on.
    pub fn insert(&mut self, fault: Fault) {
        self.0.insert(fault);
    }

    /// The active faults, in catalog order.
    pub fn iter(&self) -> impl Iterator<Item = Fault> + '_ {
        self.0.iter().copied()
    }

    /// Whether no fault is on.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Fault> for FaultSet {
    fn from_iter<I: IntoIterator<Item = Fault>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_one_row_and_unique_name() {
        let mut names = BTreeSet::new();
        let mut faults = BTreeSet::new();
        for info in CATALOG {
            assert!(names.insert(info.name), "duplicate name {}", info.name);
            assert!(
                faults.insert(info.fault),
                "duplicate fault {:?}",
                info.fault
            );
            assert_eq!(Fault::from_name(info.name), Some(info.fault));
            assert_eq!(info.fault.info().name, info.name);
            assert!(!info.rules.is_empty());
            assert!(
                info.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            );
        }
        assert_eq!(CATALOG.len(), 15);
    }

    #[test]
    fn rule_ids_exist_in_catalog() {
        for info in CATALOG {
            for rule in info.rules {
                assert!(
                    crate::rules::registry::find(rule).is_some(),
                    "fault {}: {rule} is not a rule of the catalog",
                    info.name
                );
            }
            assert!(!info.reported_in.is_empty(), "{} cites nothing", info.name);
        }
    }

    #[test]
    fn parses_names() {
        assert_eq!("prm-401".parse::<Fault>().ok(), Some(Fault::Prm401));
        assert!("nope".parse::<Fault>().is_err());
    }
}
