//! The end-of-flow narrative: the phases reached, the revision the flow was judged by, the last
//! party that acted, how the flow ended for the client, and the first finding that matters with
//! who has to act on it. Pure text; callers print it.
//!
//! It only says what the trace shows: a CDN, WAF or proxy is blamed only when a finding names
//! nothing but infrastructure (a challenge, a vendor page, HTML where JSON was served before);
//! a flow whose authenticated MCP requests succeeded is never said to be dropped, and one whose
//! client got an error is never called a success.

use time::OffsetDateTime;

use crate::flow::Flow;
use crate::flow::revision::JudgedBy;
use crate::model::{Finding, Phase, Severity, Who};

/// How the flow ended, as far as the client is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The last authenticated MCP POST succeeded.
    Completed,
    /// Authenticated MCP requests were made and the last one failed.
    ClientGotError { status: Option<u16> },
    /// No authenticated MCP request.
    NotReached,
}

fn outcome(flow: &Flow, findings: &[Finding]) -> Outcome {
    // POSTs carry the JSON-RPC messages; a 405 to the optional GET stream or to a session
    // DELETE is a normal answer, not an error the client got.
    let last = flow
        .mcp
        .iter()
        .rev()
        .find(|m| m.method == "POST" && m.had_auth);
    // An error-level finding on that request or a later MCP exchange (a JSON-RPC error inside
    // a 200, a broken stream) means the client got an error after all.
    let spoiled = |m: &crate::flow::state::McpCall| {
        let at = m.step.map(|s| s.exchange);
        findings.iter().any(|f| {
            f.phase == Phase::McpTransport
                && f.severity == Severity::Error
                && f.exchange.is_some_and(|e| at.is_some_and(|at| e >= at))
        })
    };
    match last {
        Some(m) if m.ok() && spoiled(m) => Outcome::ClientGotError { status: m.status },
        Some(m) if m.ok() => Outcome::Completed,
        Some(m) => Outcome::ClientGotError { status: m.status },
        None => Outcome::NotReached,
    }
}

/// Builds the narrative of one flow from its state and every finding emitted for it.
pub fn narrate(flow: &Flow, findings: &[Finding], now: OffsetDateTime, by: JudgedBy) -> String {
    let mut s = String::new();
    let target = flow.mcp_url.as_deref().unwrap_or("an unknown MCP URL");
    let phases: Vec<&str> = flow.phases.iter().map(|p| p.as_str()).collect();
    s.push_str(&format!(
        "{} ({target}): {} exchange(s), attempt {}; phases reached: {}. Judged by {}.",
        flow.id,
        flow.timeline.len(),
        flow.attempt,
        if phases.is_empty() {
            "none".to_string()
        } else {
            phases.join(" → ")
        },
        by.describe()
    ));
    let ended = outcome(flow, findings);
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
        let next = if ended == Outcome::Completed {
            "the client had what it asked for"
        } else {
            "the next move was the client's"
        };
        s.push_str(&format!(
            " Last exchange {id} ({phase}) at {}: {actor}; nothing followed for {quiet:.0} s, so {next}.",
            Flow::clock(*end),
        ));
    }
    let first = |sev| findings.iter().find(|f| f.severity == sev);
    match (first(Severity::Error), first(Severity::Warning)) {
        (Some(f), _) => s.push_str(&finding_sentence(f, ended, true)),
        (None, Some(f)) => s.push_str(&finding_sentence(f, ended, false)),
        (None, None) => s.push_str(&match ended {
            Outcome::Completed => {
                " No error or warning: authenticated MCP requests succeeded.".to_string()
            }
            Outcome::ClientGotError { status } => format!(
                " No error or warning finding, but the client's last authenticated MCP request {}: the flow did not end in success.",
                status.map_or("got no response".to_string(), |s| format!("was answered {s}"))
            ),
            Outcome::NotReached => " No error or warning, but the flow never reached an authenticated MCP request (recording ended early, or the client stopped without telling the server).".to_string(),
        }),
    }
    s
}

/// The sentence about the first error (or warning) and who acts on it.
fn finding_sentence(f: &Finding, ended: Outcome, error: bool) -> String {
    let at = f.exchange.map(|e| format!(" at {e}")).unwrap_or_default();
    let msg = f.message.trim_end_matches('.');
    let label = match (ended, error) {
        (Outcome::Completed, true) => {
            "The flow completed (its last authenticated MCP request succeeded); first error finding"
        }
        (Outcome::Completed, false) => {
            "The flow completed (its last authenticated MCP request succeeded); first warning"
        }
        (_, true) => "First blocking finding",
        (_, false) => "No error-level finding; first warning",
    };
    let hint = if ended == Outcome::Completed {
        if f.who == [Who::Client] {
            " This client got through anyway; report it to the client's maintainers with the trace if it recurs."
        } else {
            " It did not stop this client; fix it for clients that check more strictly."
        }
    } else if f.who == [Who::Client] {
        " The server side looks healthy here: the client dropped or broke the flow — attach the ofid_ reference from its error card when you report it to the client's maintainers."
    } else if f.who == [Who::Infra] {
        " Something in front of the server (CDN, WAF or proxy) answered, per the finding; fix it there first."
    } else {
        " Fix this on the server side first; later findings may be consequences of it."
    };
    format!(" {label}{at}: {} — {msg}.{hint}", f.rule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::state::McpCall;
    use crate::model::Phase;
    use crate::model::{ExchangeId, FlowId};

    fn call(status: u16, had_auth: bool) -> McpCall {
        McpCall {
            step: None,
            method: "POST".into(),
            rpc_method: Some("tools/list".into()),
            status: Some(status),
            token_hash: None,
            had_auth,
            session_id: None,
            response_session: None,
            user_agent: None,
            client_addr: None,
            protocol_header: None,
        }
    }

    fn finding(rule: &str, severity: Severity, who: &[Who]) -> Finding {
        Finding {
            rule: rule.into(),
            severity,
            phase: Phase::McpTransport,
            who: who.to_vec(),
            breaks: String::new(),
            message: "observed".into(),
            fix: "fix".into(),
            source: "RFC 6750 §3".into(),
            exchange: Some(ExchangeId(4)),
            flow: Some(FlowId(1)),
        }
    }

    fn flow_with(calls: Vec<McpCall>) -> Flow {
        let mut f = Flow::new(FlowId(1), OffsetDateTime::UNIX_EPOCH);
        f.mcp = calls;
        f
    }

    fn narrate_now(flow: &Flow, findings: &[Finding]) -> String {
        narrate(
            flow,
            findings,
            OffsetDateTime::UNIX_EPOCH,
            JudgedBy::ASSUMED,
        )
    }

    #[test]
    fn completed_flow_is_not_called_dropped() {
        let flow = flow_with(vec![call(401, false), call(200, true)]);
        let client = finding("X-SESSION-NOT-ECHOED", Severity::Error, &[Who::Client]);
        let text = narrate_now(&flow, &[client]);
        assert!(text.contains("The flow completed"), "{text}");
        assert!(!text.contains("dropped"), "{text}");
        assert!(!text.contains("First blocking"), "{text}");
        // Not completed: the client did stop, and is named.
        let stopped = flow_with(vec![call(401, false)]);
        let client = finding("X-TOKEN-NOT-USED", Severity::Error, &[Who::Client]);
        assert!(narrate_now(&stopped, &[client]).contains("dropped or broke"));
    }

    #[test]
    fn infrastructure_is_blamed_only_when_the_finding_names_only_it() {
        let flow = flow_with(vec![call(401, false)]);
        let mixed = finding(
            "GEN-HTML-INSTEAD-OF-JSON",
            Severity::Error,
            &[Who::Rs, Who::As, Who::Infra],
        );
        let text = narrate_now(&flow, &[mixed]);
        assert!(!text.contains("CDN"), "{text}");
        assert!(text.contains("server side"), "{text}");
        let waf = finding("GEN-WAF-CHALLENGE", Severity::Error, &[Who::Infra]);
        assert!(narrate_now(&flow, &[waf]).contains("CDN, WAF or proxy"));
    }

    #[test]
    fn a_client_error_is_never_a_success() {
        let mut get_stream = call(405, true);
        get_stream.method = "GET".into();
        let flow = flow_with(vec![call(200, true), call(500, true), get_stream.clone()]);
        let text = narrate_now(&flow, &[]);
        assert!(text.contains("did not end in success"), "{text}");
        assert!(!text.contains("succeeded."), "{text}");
        let ok = flow_with(vec![call(200, true), get_stream]);
        assert!(narrate_now(&ok, &[]).contains("authenticated MCP requests succeeded"));
    }

    #[test]
    fn an_error_inside_a_200_is_not_a_completed_flow() {
        let mut ok = call(200, true);
        ok.step = Some(crate::flow::state::Step {
            exchange: ExchangeId(4),
            at: OffsetDateTime::UNIX_EPOCH,
            end: OffsetDateTime::UNIX_EPOCH,
            attempt: 1,
        });
        let flow = flow_with(vec![ok]);
        let rpc_error = finding("TEST-JSONRPC-ERROR", Severity::Error, &[Who::Rs]);
        let text = narrate_now(&flow, &[rpc_error]);
        assert!(!text.contains("completed"), "{text}");
        assert!(text.contains("First blocking finding at #4"), "{text}");
    }

    #[test]
    fn says_which_revision_it_judged_by() {
        let text = narrate_now(&flow_with(Vec::new()), &[]);
        assert!(
            text.contains("Judged by MCP 2025-11-25 (assumed: the traffic names no revision)."),
            "{text}"
        );
    }
}
