//! The client profiles `authtap check --client` can impersonate: what each client sends
//! (user agent, DCR body, redirect URIs, browser origin) and which findings break it harder
//! (the rule engine's per-client severity overrides).

use crate::client::ClientProfile;
use crate::rules::{self, ProfileError, ProfileKind};

/// One client to behave like.
#[derive(Debug, Clone)]
pub struct CheckProfile {
    /// `generic`, `claude-ai`, `claude-code` or `inspector`.
    pub name: &'static str,
    /// What the scripted client sends.
    pub client: ClientProfile,
    /// Severity overrides for the rule engine (from the one registry, `rules::profiles`).
    pub rules: rules::ClientProfile,
    /// The browser origin this client runs in, if it is a browser client.
    pub origin: Option<String>,
    /// Where the client's requests come from, in one line (for the report).
    pub vantage: &'static str,
}

impl CheckProfile {
    /// Looks a profile up by its `--client` name (or alias) in the rule engine's registry.
    pub fn by_name(name: &str) -> Result<Self, ProfileError> {
        let rules = rules::ClientProfile::by_name(name)?;
        let (client, origin, vantage) = match rules.kind() {
            ProfileKind::Generic => (
                ClientProfile::native(),
                None,
                "a generic MCP client (TS/Python SDK style) on this machine",
            ),
            ProfileKind::ClaudeAi => (
                ClientProfile::claude_ai(),
                None,
                "claude.ai / Claude Desktop connectors, which connect from Anthropic's cloud (public address, port 443, public certificate)",
            ),
            ProfileKind::ClaudeCode => (
                ClientProfile::claude_code(),
                None,
                "Claude Code on this machine (loopback callback, public client)",
            ),
            ProfileKind::Inspector => (
                ClientProfile::inspector(),
                Some("http://localhost:6274".into()),
                "MCP Inspector in direct mode: a browser page at http://localhost:6274",
            ),
        };
        Ok(Self {
            name: rules.name(),
            client,
            rules,
            origin,
            vantage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use crate::rules::PROFILE_NAMES;

    #[test]
    fn every_listed_name_resolves() {
        for name in PROFILE_NAMES {
            let p = CheckProfile::by_name(name).unwrap();
            assert_eq!(p.name, *name);
        }
        assert!(CheckProfile::by_name("chatgpt").is_err());
    }

    #[test]
    fn claude_ai_registers_both_callbacks_with_secret_post() {
        let p = CheckProfile::by_name("claude-ai").unwrap();
        let body = p
            .client
            .registration_body("https://claude.ai/api/mcp/auth_callback");
        assert_eq!(body["client_name"], "Claude");
        assert_eq!(
            body["redirect_uris"],
            serde_json::json!([
                "https://claude.ai/api/mcp/auth_callback",
                "https://claude.com/api/mcp/auth_callback"
            ])
        );
        assert_eq!(body["token_endpoint_auth_method"], "client_secret_post");
        assert_eq!(
            body["grant_types"],
            serde_json::json!(["authorization_code", "refresh_token"])
        );
        let mut f = crate::model::Finding {
            rule: "GEN-NON-443".into(),
            severity: Severity::Info,
            phase: crate::model::Phase::McpTransport,
            who: vec![],
            breaks: String::new(),
            message: String::new(),
            fix: String::new(),
            source: String::new(),
            exchange: None,
            flow: None,
        };
        p.rules.apply(&mut f);
        assert_eq!(f.severity, Severity::Error);
    }

    #[test]
    fn inspector_is_a_browser_client() {
        let p = CheckProfile::by_name("inspector").unwrap();
        assert_eq!(p.origin.as_deref(), Some("http://localhost:6274"));
        let body = p
            .client
            .registration_body("http://localhost:6274/oauth/callback");
        assert_eq!(body["token_endpoint_auth_method"], "none");
        assert_eq!(
            body["redirect_uris"][0],
            "http://localhost:6274/oauth/callback"
        );
    }
}
