//! The checklist: groups what the scripted client did (its steps) and what the rule engine
//! found (per exchange and per flow) into a fixed list of check steps, each pass / warn / fail
//! / skip, and the overall verdict. Pure data; [`super::render`] turns it into text, JSON or
//! JUnit.

use std::path::PathBuf;

use serde::Serialize;

use crate::client::{self, FlowReport};
use crate::model::{Exchange, ExchangeId, FlowFindings};
use crate::model::{Finding, Severity};

/// How a check step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Not performed (read-only mode, or the flow stopped before it).
    Skip,
    /// Nothing above info level.
    Pass,
    /// Warnings, or a deviation the client worked around.
    Warn,
    /// An error-level finding, or the client could not go on.
    Fail,
}

impl StepStatus {
    /// Upper-case label for the checklist.
    pub fn label(self) -> &'static str {
        match self {
            StepStatus::Skip => "SKIP",
            StepStatus::Pass => "PASS",
            StepStatus::Warn => "WARN",
            StepStatus::Fail => "FAIL",
        }
    }
}

/// One thing the client did within a step (one line of its log).
#[derive(Debug, Clone, Serialize)]
pub struct StepNote {
    /// ok / warn / fail, as the client judged it.
    pub outcome: client::Outcome,
    /// `METHOD URL` (the callback's query is never shown).
    pub request: String,
    /// Response status, if one came.
    pub status: Option<u16>,
    /// What was checked or what went wrong.
    pub text: String,
}

/// One line of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct CheckStep {
    /// Stable id (`reachability`, `challenge`, `prm`, `asm`, `cors`, `registration`,
    /// `authorize`, `token`, `mcp`, `cross-request`).
    pub id: &'static str,
    /// What the step checks.
    pub title: &'static str,
    /// Overall status.
    pub status: StepStatus,
    /// Why it was skipped, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// What the client did.
    pub notes: Vec<StepNote>,
    /// Rule findings, worst first.
    pub findings: Vec<Finding>,
    /// The rule ids behind a fail (its error findings) or a warn (its warnings), in order.
    pub rules: Vec<String>,
    /// Trace exchange ids belonging to this step.
    pub exchanges: Vec<u64>,
}

/// The overall result.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Worst step status (never `skip`).
    pub status: StepStatus,
    /// Findings at error level.
    pub errors: usize,
    /// Findings at warning level.
    pub warnings: usize,
    /// Findings at info level.
    pub infos: usize,
    /// Steps that failed.
    pub failed_steps: Vec<&'static str>,
    /// One sentence.
    pub summary: String,
}

/// The whole result of `authtap check`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The MCP URL checked.
    pub mcp_url: String,
    /// Client profile name.
    pub client: String,
    /// Who the profile stands for.
    pub vantage: String,
    /// `read-only`, `register` or `login`.
    pub mode: String,
    /// Browser origin used, if any.
    pub origin: Option<String>,
    /// The MCP revision the findings were judged by, and how it was learned.
    pub judged_by: String,
    /// The checklist, in order.
    pub steps: Vec<CheckStep>,
    /// The verdict.
    pub verdict: Verdict,
    /// The JSONL trace (exportable with `authtap export`).
    pub trace: PathBuf,
    /// Exchanges recorded.
    pub exchanges: usize,
    /// Trace lines that could not be written.
    pub trace_write_errors: u64,
    /// The client dynamic registration created on the server, if any.
    pub registered_client_id: Option<String>,
    /// Tools listed with the token (`--login`).
    pub tools: Vec<String>,
}

/// The fixed step list: id, title.
pub const STEPS: &[(&str, &str)] = &[
    (
        "reachability",
        "Reachability: DNS, TLS certificate, port, address, redirects, WAF pages",
    ),
    (
        "challenge",
        "Unauthenticated initialize answers 401 with a Bearer challenge",
    ),
    (
        "prm",
        "Protected resource metadata (challenge URL, path-aware, root)",
    ),
    (
        "asm",
        "Authorization server metadata (RFC 8414 path insertion, OIDC fallbacks)",
    ),
    (
        "cors",
        "CORS for a browser client (preflights, exposed headers)",
    ),
    (
        "registration",
        "Dynamic client registration with the client's real body",
    ),
    (
        "authorize",
        "Authorization request and callback (PKCE S256, state, iss)",
    ),
    (
        "token",
        "Token exchange (authorization_code with PKCE and resource)",
    ),
    (
        "mcp",
        "MCP with the token: initialize, tools/list, tool call",
    ),
    (
        "cross-request",
        "Cross-request checks (issuer chain, audience, token use)",
    ),
];

/// Rules reported under `reachability` whatever exchange they fired on.
pub const REACHABILITY_RULES: &[&str] = &[
    "GEN-TLS",
    "GEN-UNREACHABLE",
    "GEN-PRIVATE-ADDRESS",
    "GEN-NON-443",
    "GEN-NOT-HTTPS",
    "GEN-REDIRECT-ON-API",
    "GEN-TRAILING-SLASH-REDIRECT",
    "GEN-LOCALE-REDIRECT",
    "GEN-WAF-CHALLENGE",
    "GEN-HTML-INSTEAD-OF-JSON",
    "GEN-SLOW",
];

/// The step a client step belongs to.
pub fn step_of(client_step: &str) -> &'static str {
    match client_step {
        "setup" => "reachability",
        "probe" => "challenge",
        "prm" => "prm",
        "asm" => "asm",
        "dcr" => "registration",
        "authorize" | "callback" => "authorize",
        "token" | "refresh" | "refresh rotation" => "token",
        s if s.ends_with("(preflight)") => "cors",
        _ => "mcp",
    }
}

/// What the run covered, for skip reasons.
#[derive(Debug, Clone)]
pub struct Coverage {
    /// A browser origin was used.
    pub browser: bool,
    /// `--register` or `--login`.
    pub register: bool,
    /// `--login`.
    pub login: bool,
    /// Reachability facts gathered before the flow (DNS, port, scheme), as the client would
    /// judge them.
    pub facts: Vec<(client::Outcome, String)>,
}

/// Builds the checklist from the client's report, the recorded exchanges (each with the
/// client step that made it) and the flow findings.
pub fn build_steps(
    flow: &FlowReport,
    exchanges: &[(String, Exchange)],
    flow_findings: &[FlowFindings],
    cover: &Coverage,
) -> Vec<CheckStep> {
    let mut steps = empty_steps();
    if let Some(first) = steps.first_mut() {
        first
            .notes
            .extend(cover.facts.iter().map(|(outcome, f)| StepNote {
                outcome: *outcome,
                request: String::new(),
                status: None,
                text: f.clone(),
            }));
    }
    note_client_steps(&mut steps, flow);
    let mut placed = place_exchanges(&mut steps, exchanges);
    place_flow_findings(&mut steps, flow_findings, &mut placed);
    settle_steps(&mut steps, &placed.homes, cover, flow.stopped_at.as_deref());
    steps
}

/// Every step of [`STEPS`], passing, with nothing in it yet.
fn empty_steps() -> Vec<CheckStep> {
    STEPS
        .iter()
        .map(|(id, title)| CheckStep {
            id,
            title,
            status: StepStatus::Pass,
            skipped: None,
            notes: Vec::new(),
            findings: Vec::new(),
            rules: Vec::new(),
            exchanges: Vec::new(),
        })
        .collect()
}

/// The index in [`STEPS`] of the step `id` (the first step when unknown).
fn step_index(id: &str) -> usize {
    STEPS.iter().position(|(s, _)| *s == id).unwrap_or(0)
}

/// The step a finding is listed under: `reachability` for the reachability rules, else
/// `fallback`.
fn listed_under(finding: &Finding, fallback: usize) -> usize {
    if REACHABILITY_RULES.contains(&finding.rule.as_str()) {
        0
    } else {
        fallback
    }
}

/// Adds each line of the client's log to the notes of its step.
fn note_client_steps(steps: &mut [CheckStep], flow: &FlowReport) {
    for s in &flow.steps {
        let i = step_index(step_of(&s.name));
        let mut request = format!("{} {}", s.method, s.url);
        if s.name != s.method && !s.name.is_empty() {
            request = format!("{}: {request}", s.name);
        }
        if let Some(step) = steps.get_mut(i) {
            step.notes.push(StepNote {
                outcome: s.outcome,
                request,
                status: s.status,
                text: s.note.clone(),
            });
        }
    }
}

/// Where the exchanges and findings went, for placing the flow findings and the rules behind
/// each step.
struct Placement {
    /// The step of each recorded exchange.
    step_of_exchange: std::collections::BTreeMap<ExchangeId, usize>,
    /// Each finding with the step of the exchange it fired on (reachability rules are listed
    /// under `reachability`, but also name the step they made fail).
    homes: Vec<(usize, Finding)>,
}

/// Lists each exchange, its transport error and its findings under the step that made it.
fn place_exchanges(steps: &mut [CheckStep], exchanges: &[(String, Exchange)]) -> Placement {
    let mut placed = Placement {
        step_of_exchange: std::collections::BTreeMap::new(),
        homes: Vec::new(),
    };
    for (name, ex) in exchanges {
        let i = step_index(step_of(name));
        placed.step_of_exchange.insert(ex.id, i);
        if let Some(step) = steps.get_mut(i) {
            step.exchanges.push(ex.id.0);
        }
        if let Some(err) = &ex.error {
            if let Some(reach) = steps.first_mut() {
                reach.notes.push(StepNote {
                    outcome: client::Outcome::Fail,
                    request: format!("{} {}", ex.request.method, ex.request.url),
                    status: ex.response.as_ref().map(|r| r.status),
                    text: format!("{} error: {}", err.kind, err.message),
                });
            }
        }
        for f in &ex.findings {
            if let Some(step) = steps.get_mut(listed_under(f, i)) {
                step.findings.push(f.clone());
            }
            placed.homes.push((i, f.clone()));
        }
    }
    placed
}

/// Lists each flow finding under the step of the exchange it names (`cross-request` when it
/// names none).
fn place_flow_findings(
    steps: &mut [CheckStep],
    flow_findings: &[FlowFindings],
    placed: &mut Placement,
) {
    let cross = step_index("cross-request");
    for ff in flow_findings {
        for f in &ff.findings {
            let home = f
                .exchange
                .and_then(|id| placed.step_of_exchange.get(&id).copied())
                .unwrap_or(cross);
            if let Some(step) = steps.get_mut(listed_under(f, home)) {
                step.findings.push(f.clone());
            }
            placed.homes.push((home, f.clone()));
        }
    }
}

/// Sorts each step's findings and sets its status, the rules behind it and, for an empty
/// step, why it was skipped.
fn settle_steps(
    steps: &mut [CheckStep],
    homes: &[(usize, Finding)],
    cover: &Coverage,
    stopped: Option<&str>,
) {
    for (i, step) in steps.iter_mut().enumerate() {
        step.findings
            .sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
        step.status = status_of(step);
        step.rules = rules_behind(step, homes.iter().filter(|(h, _)| *h == i).map(|(_, f)| f));
        if step.notes.is_empty() && step.findings.is_empty() {
            step.status = StepStatus::Skip;
            step.skipped = Some(skip_reason(step.id, cover, stopped));
        }
    }
}

/// The rule ids behind a step's fail or warn: its own findings at that level, else those that
/// fired on its exchanges but are listed elsewhere, else its worst findings at any level
/// above info (a client-side failure caused by a warning-level deviation).
fn rules_behind<'a>(step: &CheckStep, moved: impl Iterator<Item = &'a Finding>) -> Vec<String> {
    let level = match step.status {
        StepStatus::Fail => Severity::Error,
        StepStatus::Warn => Severity::Warning,
        _ => return Vec::new(),
    };
    let moved: Vec<&Finding> = moved.collect();
    let mut ids: Vec<String> = Vec::new();
    let pick = |ids: &mut Vec<String>, fs: &mut dyn Iterator<Item = &Finding>| {
        for f in fs {
            if !ids.iter().any(|id| f.rule == id.as_str()) {
                ids.push(f.rule.to_string());
            }
        }
    };
    for min in [level, Severity::Warning] {
        pick(
            &mut ids,
            &mut step.findings.iter().filter(|f| f.severity >= min),
        );
        pick(
            &mut ids,
            &mut moved.iter().copied().filter(|f| f.severity >= min),
        );
        if !ids.is_empty() {
            break;
        }
    }
    ids
}

fn status_of(step: &CheckStep) -> StepStatus {
    let worst_note = step
        .notes
        .iter()
        .map(|n| n.outcome)
        .fold(StepStatus::Pass, |acc, o| {
            acc.max(match o {
                client::Outcome::Ok => StepStatus::Pass,
                client::Outcome::Warn => StepStatus::Warn,
                client::Outcome::Fail => StepStatus::Fail,
            })
        });
    let worst_finding = step
        .findings
        .iter()
        .map(|f| match f.severity {
            Severity::Info => StepStatus::Pass,
            Severity::Warning => StepStatus::Warn,
            Severity::Error => StepStatus::Fail,
        })
        .max()
        .unwrap_or(StepStatus::Pass);
    worst_note.max(worst_finding)
}

fn skip_reason(id: &str, cover: &Coverage, stopped: Option<&str>) -> String {
    let flagged = match id {
        "cors" => (!cover.browser)
            .then_some("not a browser client (use --origin ORIGIN or --client inspector)"),
        "registration" => (!cover.register)
            .then_some("read-only check; --register creates a client on the server"),
        "authorize" | "token" | "mcp" => {
            (!cover.login).then_some("needs a real sign-in; run with --login")
        }
        "cross-request" => Some("no cross-request finding"),
        _ => None,
    };
    match (flagged, stopped) {
        (Some(why), _) => why.to_string(),
        (None, Some(at)) => format!("not reached: the client stopped at `{at}`"),
        (None, None) => "nothing to check".to_string(),
    }
}

/// The verdict over the steps.
pub fn verdict(steps: &[CheckStep], client: &str) -> Verdict {
    let count = |s: Severity| {
        steps
            .iter()
            .flat_map(|st| st.findings.iter())
            .filter(|f| f.severity == s)
            .count()
    };
    let (errors, warnings, infos) = (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    );
    let status = steps
        .iter()
        .map(|s| s.status)
        .filter(|s| *s != StepStatus::Skip)
        .max()
        .unwrap_or(StepStatus::Pass);
    let failed_steps: Vec<&'static str> = steps
        .iter()
        .filter(|s| s.status == StepStatus::Fail)
        .map(|s| s.id)
        .collect();
    let summary = match status {
        StepStatus::Fail => format!(
            "FAIL: {errors} error(s), {warnings} warning(s); a {client} client would not get through (failed: {})",
            failed_steps.join(", ")
        ),
        StepStatus::Warn => format!(
            "PASS with warnings: {warnings} warning(s), {infos} info; a {client} client gets through, but some clients may not"
        ),
        _ => format!("PASS: no errors or warnings for a {client} client ({infos} info)"),
    };
    Verdict {
        status,
        errors,
        warnings,
        infos,
        failed_steps,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_client_steps_to_check_steps() {
        assert_eq!(step_of("probe"), "challenge");
        assert_eq!(step_of("prm (preflight)"), "cors");
        assert_eq!(step_of("callback"), "authorize");
        assert_eq!(step_of("tools/call echo"), "mcp");
    }

    #[test]
    fn skipped_steps_say_why_and_do_not_count() {
        let flow = FlowReport {
            mcp_url: "https://h/mcp".into(),
            steps: Vec::new(),
            completed: true,
            stopped_at: None,
            protocol_version: None,
            tools: Vec::new(),
            sse_events: 0,
            registered_client_id: None,
        };
        let cover = Coverage {
            browser: false,
            register: false,
            login: false,
            facts: vec![(client::Outcome::Ok, "h resolves to 203.0.113.5".into())],
        };
        let steps = build_steps(&flow, &[], &[], &cover);
        assert_eq!(steps.len(), STEPS.len());
        assert_eq!(steps[0].status, StepStatus::Pass);
        let reg = steps.iter().find(|s| s.id == "registration").unwrap();
        assert_eq!(reg.status, StepStatus::Skip);
        assert!(reg.skipped.as_deref().unwrap().contains("--register"));
        let v = verdict(&steps, "generic");
        assert_eq!(v.status, StepStatus::Pass);
        assert!(v.summary.starts_with("PASS"));
    }
}
