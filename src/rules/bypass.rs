//! X-LEG-BYPASSED-PROXY: in a forward-mode trace, the authorization server legs went around
//! the proxy. The PRM names an authorization server and a later MCP request carries a token,
//! yet no request to that server (metadata, registration, token) was recorded — so the token
//! came from somewhere authtap did not see, and the trace cannot show how it was obtained.

use crate::model::CaptureMode;
use crate::model::Phase;
use crate::model::Who::*;
use crate::rules::rule::{DynRule, FlowCx, Out, Rule, RuleMeta};

/// Every rule of this family.
pub static RULES: &[&dyn DynRule] = &[&LegBypassedProxy];

/// X-LEG-BYPASSED-PROXY.
pub struct LegBypassedProxy;

impl Rule for LegBypassedProxy {
    const META: RuleMeta = crate::rules::rule::rule_meta!(
        Phase::Other,
        &[],
        "X-LEG-BYPASSED-PROXY",
        Warning,
        &[Client, Infra],
        "trace incomplete: the token's origin is invisible",
        "MCP 2025-11-25 Authorization \"Authorization Server Discovery\"; Node.js 22.21.0 release notes (NODE_USE_ENV_PROXY)",
        "The PRM names an authorization server and the client later sent a token, but no request reached that server through authtap",
        "Make every leg use the proxy: on Node run 22.21+ (or 24.5+) with NODE_USE_ENV_PROXY=1 (`authtap run` sets it), check NO_PROXY, turn on the client's proxy option (mcp-remote: --enable-proxy), and intercept the authorization server's host (--intercept HOST) if it was tunneled blind."
    );

    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        if cx.config.capture_mode != CaptureMode::Forward {
            return;
        }
        let f = cx.flow;
        let Some(servers) = f
            .prm_doc()
            .and_then(|prm| prm.get("authorization_servers"))
            .and_then(|v| v.as_array())
        else {
            return;
        };
        let servers: Vec<&str> = servers.iter().filter_map(|s| s.as_str()).collect();
        if servers.is_empty() {
            return;
        }
        let Some(used) = f.mcp.iter().find(|m| m.had_auth).and_then(|m| m.step) else {
            return;
        };
        let reached = !f.asm.is_empty()
            || !f.registrations.is_empty()
            || f.tokens.iter().any(|t| t.step.is_some());
        if reached {
            return;
        }
        let blind: Vec<&str> = servers
            .iter()
            .filter_map(|s| url::Url::parse(s).ok())
            .filter_map(|u| {
                let key = format!("{}:{}", u.host_str()?, u.port_or_known_default()?);
                cx.blind_tunnels
                    .iter()
                    .find(|t| **t == key)
                    .map(String::as_str)
            })
            .collect();
        let cause = if blind.is_empty() {
            "they went around the proxy: Node before 22.21 ignores HTTPS_PROXY in fetch (or \
             NODE_USE_ENV_PROXY is unset), NO_PROXY covers the server, or the client disables \
             proxies for discovery"
                .to_string()
        } else {
            format!(
                "authtap tunneled {} blind: the server was outside the interception set when \
                 the client connected",
                blind.join(", ")
            )
        };
        out.once(
            "flow",
            &Self::META,
            format!(
                "the PRM names {} and #{} sent a bearer token, but no authorization server \
                 metadata, registration or token request was recorded: {cause}",
                servers.join(", "),
                used.exchange.0
            ),
        )
        .exchange = Some(used.exchange);
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::testkit::*;
    use crate::model::CaptureMode;
    use crate::rules::config::EngineConfig;
    use crate::rules::testkit::*;

    const ID: &str = "X-LEG-BYPASSED-PROXY";

    fn forward() -> EngineConfig {
        EngineConfig {
            capture_mode: CaptureMode::Forward,
            ..EngineConfig::default()
        }
    }

    /// Challenge, PRM, then MCP with a token: the AS legs are missing.
    fn as_legs_missing() -> Vec<B> {
        let c = Clean::new();
        vec![c.challenge, c.prm, c.init, c.initialized, c.list]
    }

    #[test]
    fn fires_when_the_as_legs_are_missing_in_forward_mode() {
        let findings = run_with(as_legs_missing(), 0.0, forward());
        let f = findings
            .iter()
            .find(|f| f.rule == ID)
            .unwrap_or_else(|| panic!("{ID} did not fire: {:?}", ids(&findings)));
        assert!(f.message.contains("https://"), "{}", f.message);
        assert!(f.message.contains("NODE_USE_ENV_PROXY"), "{}", f.message);
        assert_eq!(findings.iter().filter(|f| f.rule == ID).count(), 1);
    }

    #[test]
    fn quiet_when_the_token_request_was_recorded() {
        let findings = run_with(Clean::new().steps(), 0.0, forward());
        assert!(!ids(&findings).contains(&ID.to_string()));
    }

    #[test]
    fn quiet_in_reverse_mode_and_without_a_token() {
        assert_quiet(ID, as_legs_missing());
        let c = Clean::new();
        let findings = run_with(vec![c.challenge, c.prm], 0.0, forward());
        assert!(!ids(&findings).contains(&ID.to_string()));
    }
}
