//! Cross-request MCP session rules: session ids echoed, re-initialised after 404, replica
//! affinity, and the negotiated protocol version in the header.

use crate::flow::revision::Revision;
use crate::flow::state::McpCall;
use crate::model::Phase;
use crate::model::Who::*;
use crate::rules::revision::Revisions;
use crate::rules::rule::{FlowCx, Out, Rule, RuleMeta};

/// This family's [`RuleMeta`] shorthand: phase McpTransport, hook on &[].
macro_rules! meta {
    ($($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::McpTransport, &[], $($rest)*)
    };
}

fn is_init(m: &McpCall) -> bool {
    m.rpc_method.as_deref() == Some("initialize")
}

/// A 2026-07-28 `server/discover`: session-less by design, and clients send it with the
/// revision they probe for (falling back to `initialize` when refused), so it belongs to no
/// session and announces no negotiated version.
fn is_discover(m: &McpCall) -> bool {
    m.rpc_method.as_deref() == Some("server/discover")
}

/// X-SESSION-NOT-ECHOED.
pub struct SessionNotEchoed;
impl Rule for SessionNotEchoed {
    const META: RuleMeta = meta!(
        "X-SESSION-NOT-ECHOED",
        Error,
        &[Client],
        "server 400",
        "MCP 2025-11-25 Transports \"Session Management\" 2 (MUST include)",
        "A request after initialize lacks the issued Mcp-Session-Id (or uses another)",
        "Send the Mcp-Session-Id from the InitializeResult on every later request of the session."
    );
    /// 2026-07-28 dropped sessions, the GET stream and resumability.
    const REVISIONS: Revisions = Revisions::until(Revision::R2025_11_25);
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let mut current: Option<&str> = None;
        for m in &f.mcp {
            if is_init(m) {
                current = m.response_session.as_deref();
                continue;
            }
            if is_discover(m) {
                continue;
            }
            let (Some(s), Some(step)) = (current, m.step) else {
                continue;
            };
            if m.status.is_some_and(|st| st == 401) && m.session_id.is_none() {
                continue;
            }
            if m.session_id.as_deref() != Some(s)
                && !f
                    .sessions
                    .iter()
                    .any(|x| Some(x.as_str()) == m.session_id.as_deref())
                || m.session_id.is_none()
            {
                out.once(
                    step.exchange.0.to_string(),
                    &Self::META,
                    format!(
                        "{} {} sent Mcp-Session-Id {:?}; the session is \"{s}\"",
                        m.method,
                        m.rpc_method.as_deref().unwrap_or(""),
                        m.session_id
                    ),
                )
                .exchange = Some(step.exchange);
            }
        }
    }
}

/// X-SESSION-NOT-REINIT.
pub struct SessionNotReinit;
impl Rule for SessionNotReinit {
    const META: RuleMeta = meta!(
        "X-SESSION-NOT-REINIT",
        Error,
        &[Client],
        "dead session; \"tools disappear\"",
        "MCP 2025-11-25 Transports \"Session Management\" 4 (MUST start a new session)",
        "After a 404 for a session the client keeps using it",
        "On 404 for a session id, send a new initialize without a session id."
    );
    /// 2026-07-28 dropped sessions, the GET stream and resumability.
    const REVISIONS: Revisions = Revisions::until(Revision::R2025_11_25);
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for (i, m) in f.mcp.iter().enumerate() {
            let Some(s) = m.session_id.as_deref().filter(|_| m.status == Some(404)) else {
                continue;
            };
            if let Some(next) = f
                .mcp
                .iter()
                .skip(i + 1)
                .take_while(|n| !is_init(n))
                .find(|n| n.session_id.as_deref() == Some(s))
            {
                out.once(
                    s.to_string(),
                    &Self::META,
                    format!("session \"{s}\" got 404 but the client kept sending it"),
                )
                .exchange = next.step.map(|x| x.exchange);
            }
        }
    }
}

/// X-SESSION-AFFINITY.
pub struct SessionAffinity;
impl Rule for SessionAffinity {
    const META: RuleMeta = meta!(
        "X-SESSION-AFFINITY",
        Warning,
        &[Infra, Rs],
        "all stateful clients",
        "modelcontextprotocol/python-sdk#880; mcp-use/mcp-use#153",
        "A session id issued seconds ago is already unknown (replica without affinity?)",
        "Enable sticky sessions on the load balancer (by Mcp-Session-Id) or share session state between replicas."
    );
    /// 2026-07-28 dropped sessions, the GET stream and resumability.
    const REVISIONS: Revisions = Revisions::until(Revision::R2025_11_25);
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for init in f.mcp.iter().filter(|m| is_init(m)) {
            let (Some(s), Some(is)) = (init.response_session.as_deref(), init.step) else {
                continue;
            };
            if let Some(m) = f.mcp.iter().find(|m| {
                m.session_id.as_deref() == Some(s)
                    && matches!(m.status, Some(404 | 400))
                    && m.step
                        .is_some_and(|x| (x.at - is.end).as_seconds_f64() < 30.0)
            }) {
                out.once(
                    s.to_string(),
                    &Self::META,
                    format!(
                        "session \"{s}\" answered {} within seconds of being issued",
                        m.status.unwrap_or(0)
                    ),
                )
                .exchange = m.step.map(|x| x.exchange);
            }
        }
    }
}

/// X-PROTOCOL-VERSION-MISMATCH.
pub struct ProtocolVersionMismatch;
impl Rule for ProtocolVersionMismatch {
    const META: RuleMeta = meta!(
        "X-PROTOCOL-VERSION-MISMATCH",
        Error,
        &[Client, Rs],
        "server 400",
        "MCP 2025-06-18 \"Protocol Version Header\"",
        "MCP-Protocol-Version differs from the negotiated version",
        "Send the version from the InitializeResult in MCP-Protocol-Version on every later request."
    );
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let Some(v) = f.protocol_version.as_deref() else {
            return;
        };
        let Some(init_at) = f
            .mcp
            .iter()
            .rev()
            .filter(|m| is_init(m))
            .filter_map(|m| m.step)
            .map(|s| s.end)
            .next()
        else {
            return;
        };
        for m in f.mcp.iter().filter(|m| !is_init(m) && !is_discover(m)) {
            let (Some(h), Some(step)) = (m.protocol_header.as_deref(), m.step) else {
                continue;
            };
            if h != v && step.at >= init_at {
                out.once(
                    h.to_string(),
                    &Self::META,
                    format!("MCP-Protocol-Version: {h}, negotiated {v}"),
                )
                .exchange = Some(step.exchange);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::testkit::*;
    use crate::rules::testkit::*;

    #[test]
    fn fires_on_session_not_echoed() {
        let mut c = Clean::new();
        c.list = c.list.no_req_header("mcp-session-id").status(400);
        assert_fires("X-SESSION-NOT-ECHOED", c.steps());
    }
    #[test]
    fn quiet_on_session_not_echoed() {
        assert_quiet("X-SESSION-NOT-ECHOED", Clean::new().steps());
        // 2026-07-28 has no sessions: a session id there is MCP-STATELESS-VIOLATION's business.
        let mut c = Clean::new();
        c.list = c.list.no_req_header("mcp-session-id").status(400);
        let stateless = at_revision(c.steps(), "2026-07-28");
        assert_quiet("X-SESSION-NOT-ECHOED", stateless.clone());
        assert_fires("MCP-STATELESS-VIOLATION", stateless);
    }
    #[test]
    fn fires_on_session_not_reinit() {
        let mut s = Clean::new().steps();
        let c = Clean::new();
        s.push(c.list.clone().at(20.0).status(404).resp_json("{}"));
        s.push(c.list.at(21.0).status(404).resp_json("{}"));
        assert_fires("X-SESSION-NOT-REINIT", s);
    }
    #[test]
    fn quiet_on_session_not_reinit() {
        assert_quiet("X-SESSION-NOT-REINIT", Clean::new().steps());
    }
    #[test]
    fn fires_on_session_affinity() {
        let mut c = Clean::new();
        c.initialized = c.initialized.status(404);
        assert_fires("X-SESSION-AFFINITY", c.steps());
    }
    #[test]
    fn quiet_on_session_affinity() {
        assert_quiet("X-SESSION-AFFINITY", Clean::new().steps());
    }
    #[test]
    fn fires_on_protocol_version_mismatch() {
        let mut c = Clean::new();
        c.list = c
            .list
            .no_req_header("mcp-protocol-version")
            .req_header("mcp-protocol-version", "2025-03-26");
        assert_fires("X-PROTOCOL-VERSION-MISMATCH", c.steps());
    }
    #[test]
    fn quiet_on_protocol_version_mismatch() {
        assert_quiet("X-PROTOCOL-VERSION-MISMATCH", Clean::new().steps());
    }
    /// A client probes 2026-07-28 with `server/discover` (refused with 400 by a 2025-11-25
    /// server) after an earlier session, before falling back to `initialize`.
    fn discover_probe_after_a_session() -> Vec<B> {
        let mut s = Clean::new().steps();
        s.push(
            post_json(MCP, &rpc("server/discover", Some(9)))
                .req_header("accept", "application/json, text/event-stream")
                .req_header("mcp-protocol-version", "2026-07-28")
                .at(20.0)
                .status(400)
                .resp_json(r#"{"jsonrpc":"2.0","id":9,"error":{"code":-32600,"message":"unsupported protocol version"}}"#),
        );
        s
    }
    #[test]
    fn quiet_on_a_discover_probe() {
        assert_quiet(
            "X-PROTOCOL-VERSION-MISMATCH",
            discover_probe_after_a_session(),
        );
        assert_quiet("X-SESSION-NOT-ECHOED", discover_probe_after_a_session());
    }
}
