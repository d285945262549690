//! The rule engine: classifies and correlates each completed exchange, runs the rules, and
//! emits flow-level findings as flows advance or time out.
//!
//! The live recorder and `authtap lint` drive the same [`Engine`]: `observe` for every
//! completed exchange (completion order live, start order in lint; windows are computed from
//! exchange timestamps, so both work), `tick` about once a second, `finish` at the end. Every
//! rule call is wrapped in `catch_unwind`: a panicking rule becomes an `AUTHTAP-INTERNAL`
//! finding and the proxy carries on.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use time::OffsetDateTime;

use crate::flow::callback::{CallbackView, callback_view};
use crate::flow::correlate::{self, end_time};
use crate::flow::phase::classify;
use crate::flow::revision::{JudgedBy, Revision, announced, judged_by};
use crate::flow::{Flow, narrative, record};
use crate::model::{Exchange, FlowFindings, FlowId};
use crate::model::{Finding, Phase, Severity};
use crate::parse::view::ExchangeView;
use crate::rules::config::EngineConfig;
use crate::rules::history::FlowHistory;
use crate::rules::registry;
use crate::rules::revision::Standing;
use crate::rules::rule::{Cx, DynRule, FlowCx, Out};

/// MCP calls in a flow after which routine successes stop re-running every cross rule.
const LONG_SESSION: usize = 256;

/// Id of the finding a panicking rule turns into.
pub const INTERNAL_RULE_ID: &str = "AUTHTAP-INTERNAL";

/// Stateful, sans-io rule engine for one trace.
#[derive(Debug, Default)]
pub struct Engine {
    config: EngineConfig,
    flows: Vec<Flow>,
    /// The findings emitted per flow that its narrative needs (bounded per distinct finding).
    history: BTreeMap<FlowId, FlowHistory>,
    /// Latest exchange end observed.
    now: Option<OffsetDateTime>,
    /// When recording started (session record, or the first tick).
    session_start: Option<OffsetDateTime>,
    /// `ofid_…` references the user noted (marks), for the narratives.
    ofids: Vec<String>,
    /// Exchanges observed.
    observed: u64,
    /// Hosts forward mode tunneled blind (`host:port`), for the bypassed-leg rule.
    blind_tunnels: Vec<String>,
    /// The revision each flow's client last announced (header or `initialize` offer).
    offered: BTreeMap<FlowId, Revision>,
}

impl Engine {
    /// A fresh engine.
    pub fn new(config: EngineConfig) -> Self {
        Self {
            config,
            ..Default::default()
        }
    }

    /// The flows correlated so far.
    pub fn flows(&self) -> &[Flow] {
        &self.flows
    }

    /// The MCP revision a flow is judged by, and how it was learned.
    pub fn judged_by(&self, flow: &Flow) -> JudgedBy {
        judged_by(Some(flow), None, self.offered.get(&flow.id).copied())
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Notes when recording started (the trace's session record); used for X-ZERO-TRAFFIC.
    pub fn session_started(&mut self, at: OffsetDateTime) {
        self.session_start.get_or_insert(at);
    }

    /// Notes which kind of proxy captured the trace (the session record's `mode`).
    pub fn set_capture_mode(&mut self, mode: crate::model::CaptureMode) {
        self.config.capture_mode = mode;
    }

    /// Notes a tunnel forward mode passed through blind.
    pub fn note_tunnel(&mut self, tunnel: &crate::model::TunnelRecord) {
        let key = format!("{}:{}", tunnel.host, tunnel.port);
        if !self.blind_tunnels.contains(&key) {
            self.blind_tunnels.push(key);
        }
    }

    /// Notes a user mark; its `ofid_…` references are named in the narratives.
    pub fn note_mark(&mut self, mark: &crate::model::Mark) {
        for o in &mark.ofids {
            if !self.ofids.contains(o) {
                self.ofids.push(o.clone());
            }
        }
    }

    /// Classifies, correlates and lints one completed exchange: fills `phase`, `flow` and
    /// `findings` on it. Returns flow-level findings that became due. The exchange is parsed
    /// once, into the [`ExchangeView`] that classification, correlation and every rule read.
    pub fn observe(&mut self, exchange: &mut Exchange) -> Vec<FlowFindings> {
        let view = ExchangeView::new(exchange);
        let judged = self.judge_exchange(&view);
        exchange.phase = Some(judged.phase);
        exchange.flow = judged.flow;
        exchange.findings.extend(judged.findings);
        judged.due
    }

    /// Classifies, correlates and lints one exchange.
    fn judge_exchange(&mut self, view: &ExchangeView<'_>) -> Judged {
        self.observed += 1;
        let exchange = view.exchange();
        let phase = classify(view, &self.flows);
        let cb = callback_view(view, phase, &self.flows);
        let idx = correlate::route(&mut self.flows, view, phase, cb.as_ref());
        let flow_id = idx.and_then(|i| self.flows.get(i)).map(|f| f.id);
        let end = end_time(exchange);
        self.now = Some(self.now.map_or(end, |n| n.max(end)));

        let out = self.run_exchange_rules(view, phase, idx, cb.as_ref());
        if let Some(flow) = idx.and_then(|i| self.flows.get_mut(i)) {
            record::update(flow, view, phase, cb.as_ref());
        }
        // Judged by the revision known once this exchange is correlated (its own
        // `initialize` result counts); flow findings are judged in `run_flow_rules`.
        if let (Some(id), Some(r)) = (flow_id, announced(view)) {
            if view.status() != Some(400) {
                self.offered.insert(id, r);
            }
        }
        let offered = flow_id.and_then(|id| self.offered.get(&id).copied());
        let by = judged_by(idx.and_then(|i| self.flows.get(i)), Some(view), offered);
        let mut own: Vec<Finding> = out
            .items
            .into_iter()
            .filter_map(|(_, f)| judge(f, by))
            .collect();
        for f in &mut own {
            // General rules report under the phase of the exchange they judged.
            if f.phase == Phase::Other {
                f.phase = phase;
            }
        }
        let mut due = Vec::new();
        if let Some(i) = idx.filter(|&i| !self.is_routine(view, phase, i)) {
            let flow_out = self.run_flow_rules(i, end, false, Some(view));
            let (here, elsewhere): (Vec<_>, Vec<_>) = flow_out
                .into_iter()
                .partition(|f| f.exchange == Some(exchange.id));
            own.extend(here);
            if !elsewhere.is_empty() {
                due.push(FlowFindings {
                    at: end,
                    flow: flow_id,
                    findings: elsewhere,
                    narrative: None,
                });
            }
        }
        for f in &mut own {
            self.config.profile.apply(f);
        }
        if let Some(id) = flow_id {
            self.history
                .entry(id)
                .or_default()
                .extend(own.iter().cloned());
        }
        Judged {
            phase,
            flow: flow_id,
            findings: own,
            due,
        }
    }

    /// Runs every exchange rule whose phases match, against the flow state before this
    /// exchange.
    fn run_exchange_rules(
        &self,
        view: &ExchangeView<'_>,
        phase: Phase,
        idx: Option<usize>,
        cb: Option<&CallbackView<'_>>,
    ) -> Out {
        let exchange = view.exchange();
        let flow_id = idx.and_then(|i| self.flows.get(i)).map(|f| f.id);
        let mut out = Out::new(Some(exchange.id), flow_id);
        let cx = Cx {
            flow: idx.and_then(|i| self.flows.get(i)),
            flows: &self.flows,
            phase,
            view,
            callback: cb,
            config: &self.config,
        };
        for rule in registry::all() {
            if rule.meta().runs_on(phase, cb.is_some()) {
                guarded(rule, phase, &mut out, |out| {
                    rule.exchange(&cx, exchange, out)
                });
            }
        }
        out
    }

    /// Cross-request rules scan the flow's history, so in long sessions a routine success
    /// (a 2xx MCP call, with or without a token) only triggers them every 32nd time; ticks
    /// and `finish` still run them all, so nothing is lost, only anchored to the flow
    /// instead. Without this the recorder's cost per exchange grows with the session and it
    /// falls behind (drops) on a long unauthenticated load.
    fn is_routine(&self, view: &ExchangeView<'_>, phase: Phase, flow: usize) -> bool {
        phase == Phase::McpTransport
            && view.status().is_some_and(|s| (200..300).contains(&s))
            && self
                .flows
                .get(flow)
                .is_some_and(|f| f.mcp.len() > LONG_SESSION)
            && view.exchange().id.0 % 32 != 0
    }

    /// Runs timeout-based cross-request rules as of `now`.
    pub fn tick(&mut self, now: OffsetDateTime) -> Vec<FlowFindings> {
        self.session_start.get_or_insert(now);
        let mut due = Vec::new();
        for i in 0..self.flows.len() {
            if self.flows.get(i).is_some_and(|f| f.finished) {
                continue;
            }
            let findings = self.run_flow_rules(i, now, false, None);
            if !findings.is_empty() {
                let flow = self.flows.get(i).map(|f| f.id);
                due.push(FlowFindings {
                    at: now,
                    flow,
                    findings,
                    narrative: None,
                });
            }
        }
        due
    }

    /// End of recording: remaining cross-request findings and each flow's narrative.
    pub fn finish(&mut self, now: OffsetDateTime) -> Vec<FlowFindings> {
        let mut due = Vec::new();
        for i in 0..self.flows.len() {
            if self.flows.get(i).is_some_and(|f| f.finished) {
                continue;
            }
            let findings = self.run_flow_rules(i, now, true, None);
            let Some(flow) = self.flows.get_mut(i) else {
                continue;
            };
            flow.finished = true;
            let history = self
                .history
                .get(&flow.id)
                .map(FlowHistory::findings)
                .unwrap_or(&[]);
            let by = judged_by(Some(flow), None, self.offered.get(&flow.id).copied());
            let mut text = narrative::narrate(flow, history, now, by);
            if !self.ofids.is_empty() {
                text.push_str(&format!(
                    " ofid references noted while recording: {}.",
                    self.ofids.join(", ")
                ));
            }
            due.push(FlowFindings {
                at: now,
                flow: Some(flow.id),
                findings,
                narrative: Some(text),
            });
        }
        if let Some(f) = self.zero_traffic(now) {
            due.push(f);
        }
        due
    }

    /// X-ZERO-TRAFFIC: recording ran for a while and no request reached the proxy at all.
    fn zero_traffic(&mut self, now: OffsetDateTime) -> Option<FlowFindings> {
        const QUIET_S: f64 = 30.0;
        let start = self.session_start?;
        let quiet = (now - start).as_seconds_f64();
        if self.observed > 0 || quiet < QUIET_S {
            return None;
        }
        self.observed = u64::MAX; // emit once
        let meta = registry::find("X-ZERO-TRAFFIC")?;
        let mut out = Out::new(None, None);
        out.push(
            meta,
            format!("no request reached authtap during {quiet:.0} s of recording"),
        );
        let mut findings: Vec<Finding> = out.items.into_iter().map(|(_, f)| f).collect();
        for f in &mut findings {
            self.config.profile.apply(f);
        }
        let ofids = if self.ofids.is_empty() {
            String::new()
        } else {
            format!(" ofid references noted: {}.", self.ofids.join(", "))
        };
        Some(FlowFindings {
            at: now,
            flow: None,
            findings,
            narrative: Some(format!(
                "No request reached authtap in {quiet:.0} s of recording: the client never connected through it. Check the URL the client was given, then what sits before the proxy (claude.ai about:blank loop, WAF/IP blocks, port or private-address rejection by server-side connectors).{ofids}"
            )),
        })
    }

    fn run_flow_rules(
        &mut self,
        i: usize,
        now: OffsetDateTime,
        finishing: bool,
        current: Option<&ExchangeView<'_>>,
    ) -> Vec<Finding> {
        let Some(flow) = self.flows.get(i) else {
            return Vec::new();
        };
        let mut out = Out::new(None, Some(flow.id));
        let cx = FlowCx {
            flow,
            now,
            finishing,
            current: current.map(|v| v.exchange().id),
            config: &self.config,
            blind_tunnels: &self.blind_tunnels,
        };
        for rule in registry::all() {
            guarded(rule, rule.meta().phase, &mut out, |out| rule.flow(&cx, out));
        }
        let by = judged_by(Some(flow), current, self.offered.get(&flow.id).copied());
        let mut fresh = Vec::new();
        let Some(flow) = self.flows.get_mut(i) else {
            return Vec::new();
        };
        for (key, f) in out.items {
            if let Some(k) = key {
                if !flow.emitted.insert(k) {
                    continue;
                }
            }
            let Some(mut f) = judge(f, by) else { continue };
            f.flow = Some(flow.id);
            self.config.profile.apply(&mut f);
            fresh.push(f);
        }
        // exchange-anchored findings for the current exchange are added to history by observe
        let id = flow.id;
        let hist = self.history.entry(id).or_default();
        hist.extend(
            fresh
                .iter()
                .filter(|f| current.is_none_or(|v| f.exchange != Some(v.exchange().id)))
                .cloned(),
        );
        fresh
    }
}

/// What observing one exchange produced.
struct Judged {
    phase: Phase,
    flow: Option<FlowId>,
    /// Findings anchored to the exchange.
    findings: Vec<Finding>,
    /// Flow-level findings that became due elsewhere.
    due: Vec<FlowFindings>,
}

/// Judges a finding by the revision `by`: `None` where its rule does not apply in that
/// revision; otherwise the revision's severity (a hook's escalation of this occurrence stands,
/// its lowering is kept when lower still), and rules whose meaning varies by revision say
/// which one judged.
fn judge(mut f: Finding, by: JudgedBy) -> Option<Finding> {
    let Some(rule) = registry::rule(f.rule.as_str()) else {
        return Some(f); // AUTHTAP-INTERNAL and other engine findings
    };
    let revisions = rule.revisions();
    if revisions.is_uniform() {
        return Some(f);
    }
    match revisions.standing(by.revision) {
        Standing::NotApplicable => return None,
        Standing::Default => {}
        Standing::At(s) if f.severity == rule.meta().severity => f.severity = s,
        // A hook's escalation for this occurrence stands; a hook's lowering stays lowered.
        Standing::At(_) if f.severity > rule.meta().severity => {}
        Standing::At(s) => f.severity = f.severity.min(s),
    }
    if revisions.severity_varies(rule.meta().severity) {
        f.message = format!("{} [judged by {}]", f.message, by.describe());
    }
    Some(f)
}

/// Runs one hook, turning a panic into an internal finding.
fn guarded(rule: &dyn DynRule, phase: Phase, out: &mut Out, call: impl FnOnce(&mut Out)) {
    let before = out.items.len();
    let result = catch_unwind(AssertUnwindSafe(|| call(out)));
    if let Err(payload) = result {
        out.items.truncate(before);
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let id = rule.meta().id;
        let f = Finding {
            rule: INTERNAL_RULE_ID.into(),
            severity: Severity::Warning,
            phase,
            who: Vec::new(),
            breaks: String::new(),
            message: format!("authtap rule {id} crashed on this exchange ({what}); it was skipped"),
            fix: "Report this authtap bug with the trace attached; the other rules ran normally."
                .into(),
            source: "authtap".into(),
            exchange: out.exchange,
            flow: out.flow,
        };
        out.items.push((
            Some(format!("{INTERNAL_RULE_ID}:{id}:{:?}", out.exchange)),
            f,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExchangeId;
    use crate::model::{Severity, Who};
    use crate::rules::rule::{Rule, RuleMeta};

    struct Panicky;
    impl Rule for Panicky {
        const META: RuleMeta = RuleMeta {
            id: "TEST-PANICKY",
            severity: Severity::Error,
            phase: Phase::Other,
            on: &[],
            who: &[Who::Rs],
            breaks: "",
            source: "test",
            title: "panics",
            fix: "none",
        };
        fn on_flow(&self, _cx: &FlowCx<'_>, out: &mut Out) {
            out.push(&Self::META, "half-written");
            let v: Vec<u8> = Vec::new();
            let _ = v[usize::from(v.is_empty())];
        }
    }

    #[test]
    fn rejects_panics_as_internal_findings() {
        let flow = crate::flow::Flow::new(FlowId(1), OffsetDateTime::UNIX_EPOCH);
        let config = EngineConfig::default();
        let cx = FlowCx {
            flow: &flow,
            now: OffsetDateTime::UNIX_EPOCH,
            finishing: false,
            current: None,
            config: &config,
            blind_tunnels: &[],
        };
        let mut out = Out::new(Some(ExchangeId(3)), Some(FlowId(1)));
        guarded(&Panicky, Phase::Token, &mut out, |o| Panicky.flow(&cx, o));
        assert_eq!(out.ids(), vec![INTERNAL_RULE_ID]);
        let f = &out.items[0].1;
        assert!(f.message.contains("TEST-PANICKY"), "{}", f.message);
        assert_eq!(f.exchange, Some(ExchangeId(3)));
    }

    #[test]
    fn parses_each_exchange_once_for_every_reader() {
        use crate::flow::testkit::Clean;
        use crate::parse::view::counts::{self, Part};
        use crate::rules::testkit::run;
        let steps = Clean::new().steps();
        let exchanges = steps.len();
        counts::take();
        run(steps);
        let parsed = counts::take();
        // One view per exchange, and no part parsed more often than there are exchanges,
        // although classification, correlation and ~200 rules all read them.
        assert_eq!(parsed.get(&Part::View), Some(&exchanges), "{parsed:?}");
        for part in [
            Part::Query,
            Part::Form,
            Part::RequestJson,
            Part::ResponseJson,
            Part::Challenges,
            Part::SseJson,
            Part::IssuedJwt,
        ] {
            let n = parsed.get(&part).copied().unwrap_or(0);
            assert!(
                n >= 1 && n <= exchanges,
                "{part:?} parsed {n} times: {parsed:?}"
            );
        }
    }
}
