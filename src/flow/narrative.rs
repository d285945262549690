//! The end-of-flow narrative: the phases reached, the last party that acted, and the first
//! blocking (error-level) finding with who has to act on it. Pure text; callers print it.

use time::OffsetDateTime;

use crate::flow::Flow;
use crate::rules::engine::EngineConfig;
use crate::rules::{Finding, Phase, Severity, Who};

/// Builds the narrative of one flow from its state and every finding emitted for it.
pub fn narrate(
    flow: &Flow,
    findings: &[Finding],
    now: OffsetDateTime,
    _config: &EngineConfig,
) -> String {
    let mut s = String::new();
    let target = flow.mcp_url.as_deref().unwrap_or("an unknown MCP URL");
    let phases: Vec<&str> = flow.phases.iter().map(|p| p.as_str()).collect();
    s.push_str(&format!(
        "{} ({target}): {} exchange(s), attempt {}; phases reached: {}.",
        flow.id,
        flow.timeline.len(),
        flow.attempt,
        if phases.is_empty() {
            "none".to_string()
        } else {
            phases.join(" → ")
        }
    ));
    if let Some((id, phase, status, _start, end)) = flow.timeline.iter().max_by_key(|t| t.4) {
        let actor = match (phase, status) {
            (_, None) => "no response came from the upstream".to_string(),
            (Phase::McpTransport | Phase::DiscoveryPrm | Phase::Cors, Some(st)) => {
                format!("the MCP server answered {st}")
            }
            (Phase::Other, Some(st)) => format!("the server answered {st}"),
            (Phase::Callback, Some(st)) => {
                format!("the redirect to the client's callback was answered {st}")
            }
            (_, Some(st)) => format!("the authorization server answered {st}"),
        };
        let quiet = (now - *end).as_seconds_f64().max(0.0);
        s.push_str(&format!(
            " Last exchange {id} ({phase}) at {}: {actor}; nothing followed for {:.0} s, so the next move was the client's.",
            Flow::clock(*end),
            quiet
        ));
    }
    let blocking = findings
        .iter()
        .find(|f| f.severity == Severity::Error)
        .map(|f| ("First blocking finding", f))
        .or_else(|| {
            let w = findings.iter().find(|f| f.severity == Severity::Warning)?;
            Some(("No error-level finding; first warning", w))
        });
    match blocking {
        Some((label, f)) => {
            let at = f.exchange.map(|e| format!(" at {e}")).unwrap_or_default();
            let msg = f.message.trim_end_matches('.');
            s.push_str(&format!(" {label}{at}: {} — {msg}.", f.rule));
            let who: Vec<Who> = f.who.clone();
            let hint = if who == [Who::Client] {
                " The server side looks healthy here: the client dropped or broke the flow — attach the ofid_ reference from its error card when you report it to the client's maintainers."
            } else if who.contains(&Who::Infra) {
                " Fix the CDN/WAF/proxy in front of the server first; the client never saw your real answer."
            } else {
                " Fix this on the server side first; later findings may be consequences of it."
            };
            s.push_str(hint);
        }
        None => {
            let done = flow.mcp.iter().any(|m| m.had_auth && m.ok());
            s.push_str(if done {
                " No error or warning: authenticated MCP requests succeeded."
            } else {
                " No error or warning, but the flow never reached an authenticated MCP request (recording ended early, or the client stopped without telling the server)."
            });
        }
    }
    s
}
