//! The [`Rule`] trait and its metadata: a rule is a unit struct with a `META` constant (catalog
//! id, severity, phase, who fixes it, which clients it breaks, source, fix) and two hooks with
//! no-op defaults — `on_exchange` for single-exchange checks and `on_flow` for cross-request
//! checks as a flow advances, ticks or finishes. Adding a rule touches only its family file.

use time::OffsetDateTime;

use crate::flow::Flow;
use crate::flow::callback::CallbackView;
use crate::model::{Exchange, ExchangeId, FlowId};
use crate::model::{Finding, Phase, RuleId, Severity, Who};
use crate::parse::view::ExchangeView;
use crate::rules::config::EngineConfig;
use crate::rules::revision::Revisions;

/// Everything static about a rule (one place per rule).
#[derive(Debug, Clone, Copy)]
pub struct RuleMeta {
    /// Catalog id (`docs/rules.md` lists them all).
    pub id: &'static str,
    /// Default severity (a hook may lower or raise it per occurrence, e.g. error/warning rows;
    /// `Rule::REVISIONS` may set another one per protocol revision).
    pub severity: Severity,
    /// Phase the finding is reported under.
    pub phase: Phase,
    /// Exchange phases whose `on_exchange` hook runs; empty = every exchange. `Callback`
    /// matches any exchange carrying an authorization response (see `flow::callback::callback_view`).
    pub on: &'static [Phase],
    /// Who fixes it.
    pub who: &'static [Who],
    /// Which clients it breaks (abbreviations of the catalog's `CLIENTS`).
    pub breaks: &'static str,
    /// Spec section or issue behind it.
    pub source: &'static str,
    /// What it flags, in one line (for `authtap rules` and reports).
    pub title: &'static str,
    /// The concrete fix.
    pub fix: &'static str,
}

impl RuleMeta {
    /// Whether the exchange hook runs for an exchange of `phase` (with a callback view or not).
    pub fn runs_on(&self, phase: Phase, has_callback: bool) -> bool {
        self.on.is_empty()
            || self.on.contains(&phase)
            || (has_callback && self.on.contains(&Phase::Callback))
    }
}

/// Builds a [`RuleMeta`] from positional parts:
/// `rule_meta!(phase, on, "ID", Severity, &[who], "breaks", "source", "title", "fix")`.
/// Families wrap it in a local `meta!` that fixes their phase and hook phases.
macro_rules! rule_meta {
    ($phase:expr, $on:expr, $id:literal, $sev:ident, $who:expr, $breaks:literal, $src:literal, $title:literal, $fix:literal $(,)?) => {
        $crate::rules::rule::RuleMeta {
            id: $id,
            severity: $crate::model::Severity::$sev,
            phase: $phase,
            on: $on,
            who: $who,
            breaks: $breaks,
            source: $src,
            title: $title,
            fix: $fix,
        }
    };
}
pub(crate) use rule_meta;

/// Context of the exchange hook.
#[derive(Debug, Clone, Copy)]
pub struct Cx<'a> {
    /// The flow's state *before* this exchange, if it belongs to one.
    pub flow: Option<&'a Flow>,
    /// Every flow, for lookups across flows.
    pub flows: &'a [Flow],
    /// This exchange's phase.
    pub phase: Phase,
    /// This exchange, parsed once: URL parts, query and form pairs, JSON bodies, challenges.
    pub view: &'a ExchangeView<'a>,
    /// The authorization response carried by this exchange, if any.
    pub callback: Option<&'a CallbackView<'a>>,
    /// Engine configuration.
    pub config: &'a EngineConfig,
}

impl<'a> Cx<'a> {
    /// The flow's negotiated or announced protocol version, if known.
    pub fn protocol_version(&self, ex: &'a Exchange) -> Option<&'a str> {
        use crate::model::Headers;
        self.flow
            .and_then(|f| f.protocol_version.as_deref())
            .or_else(|| ex.request.header("mcp-protocol-version"))
    }
}

/// Context of the flow hook.
#[derive(Debug, Clone, Copy)]
pub struct FlowCx<'a> {
    /// The flow, including the exchange that just advanced it.
    pub flow: &'a Flow,
    /// The current time (exchange end, tick time or finish time).
    pub now: OffsetDateTime,
    /// True when called from `finish` (end of recording).
    pub finishing: bool,
    /// The exchange that just advanced the flow, if any.
    pub current: Option<ExchangeId>,
    /// Engine configuration.
    pub config: &'a EngineConfig,
    /// Hosts (`host:port`) forward mode tunneled blind, in first-seen order.
    pub blind_tunnels: &'a [String],
}

impl FlowCx<'_> {
    /// Seconds between `at` and now.
    pub fn since(&self, at: OffsetDateTime) -> f64 {
        (self.now - at).as_seconds_f64()
    }
}

/// Where hooks push findings.
#[derive(Debug, Default)]
pub struct Out {
    pub(crate) items: Vec<(Option<String>, Finding)>,
    pub(crate) exchange: Option<ExchangeId>,
    pub(crate) flow: Option<FlowId>,
}

impl Out {
    /// An empty sink anchored to an exchange and flow.
    pub fn new(exchange: Option<ExchangeId>, flow: Option<FlowId>) -> Self {
        Out {
            items: Vec::new(),
            exchange,
            flow,
        }
    }

    /// Pushes a finding built from `meta` with an observed-values message.
    pub fn push(&mut self, meta: &RuleMeta, message: impl Into<String>) -> &mut Finding {
        self.push_keyed(None, meta, message)
    }

    /// Pushes a finding that is emitted at most once per flow for `key` (flow hooks run
    /// repeatedly; the key names the occurrence, e.g. the exchange or code it concerns).
    pub fn once(
        &mut self,
        key: impl Into<String>,
        meta: &RuleMeta,
        message: impl Into<String>,
    ) -> &mut Finding {
        let key = format!("{}:{}", meta.id, key.into());
        self.push_keyed(Some(key), meta, message)
    }

    fn push_keyed(
        &mut self,
        key: Option<String>,
        meta: &RuleMeta,
        message: impl Into<String>,
    ) -> &mut Finding {
        self.items.push((
            key,
            Finding {
                rule: RuleId::from_static(meta.id),
                severity: meta.severity,
                phase: meta.phase,
                who: meta.who.to_vec(),
                breaks: meta.breaks.to_string(),
                message: message.into(),
                fix: meta.fix.to_string(),
                source: meta.source.to_string(),
                exchange: self.exchange,
                flow: self.flow,
            },
        ));
        let last = self.items.len() - 1;
        &mut self.items[last].1
    }

    /// Rule ids pushed so far (tests).
    pub fn ids(&self) -> Vec<&str> {
        self.items.iter().map(|(_, f)| f.rule.as_str()).collect()
    }
}

/// A lint rule. Implement `META` and the hook(s) you need; list the struct in the family's
/// `RULES` slice.
pub trait Rule: Sync {
    /// The rule's metadata.
    const META: RuleMeta;

    /// The MCP revisions the rule applies to and its severity in each (default: every
    /// revision at `META.severity`).
    const REVISIONS: Revisions = Revisions::ALL;

    /// Single-exchange check, run when an exchange completes (phase-filtered by `META.on`).
    fn on_exchange(&self, _cx: &Cx<'_>, _ex: &Exchange, _out: &mut Out) {}

    /// Cross-request check, run after each exchange of the flow, on ticks and at finish.
    fn on_flow(&self, _cx: &FlowCx<'_>, _out: &mut Out) {}
}

/// Object-safe face of [`Rule`], implemented for every rule; what `RULES` slices hold.
pub trait DynRule: Sync {
    /// The rule's metadata.
    fn meta(&self) -> &'static RuleMeta;
    /// See [`Rule::REVISIONS`].
    fn revisions(&self) -> &'static Revisions;
    /// See [`Rule::on_exchange`].
    fn exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out);
    /// See [`Rule::on_flow`].
    fn flow(&self, cx: &FlowCx<'_>, out: &mut Out);
}

impl<T: Rule> DynRule for T {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }
    fn revisions(&self) -> &'static Revisions {
        &Self::REVISIONS
    }
    fn exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        self.on_exchange(cx, ex, out)
    }
    fn flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        self.on_flow(cx, out)
    }
}
