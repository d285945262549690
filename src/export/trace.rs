//! The exporters' input: a redacted, sorted view of one trace with its `ofid_…` references.

use time::OffsetDateTime;

use crate::model::{
    Exchange, ExchangeId, FlowFindings, Mark, Record, SessionRecord, Stats, TlsHandshakeFailure,
    TunnelRecord, find_ofids,
};

use super::options::ExportOptions;

/// One `ofid_…` reference and the exchanges just before it.
#[derive(Debug, Clone, PartialEq)]
pub struct OfidRef {
    /// The reference, e.g. `ofid_a41b6f81`.
    pub id: String,
    /// When it was marked or seen; `None` for `--ofid` references.
    pub at: Option<OffsetDateTime>,
    /// Where it came from: `mark`, `command line`, or `traffic #N`.
    pub origins: Vec<String>,
    /// The exchanges just before it (or containing it), oldest first.
    pub exchanges: Vec<ExchangeId>,
}

/// A trace ready for export: redacted (unless turned off), exchanges in start order.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// The session header, if the trace has one.
    pub session: Option<SessionRecord>,
    /// Exchanges sorted by start time (then id).
    pub exchanges: Vec<Exchange>,
    /// Flow-level findings and narratives.
    pub flow_findings: Vec<FlowFindings>,
    /// User marks, in time order.
    pub marks: Vec<Mark>,
    /// The last recorder counters.
    pub stats: Option<Stats>,
    /// TLS handshakes that failed before any request, in time order.
    pub tls_failures: Vec<TlsHandshakeFailure>,
    /// Forward-mode tunnels passed through blind, in time order.
    pub tunnels: Vec<TunnelRecord>,
    /// Every `ofid_…` reference, in time order (command-line ones last).
    pub ofids: Vec<OfidRef>,
    /// Whether the records went through [`crate::redact`].
    pub redacted: bool,
}

impl Trace {
    /// Redacts (per `opts.redact`) and arranges records for the exporters. Pure.
    pub fn build(records: &[Record], opts: &ExportOptions) -> Trace {
        let redacted_records;
        let records = if opts.redact {
            let policy = crate::redact::Policy {
                keep_binary: opts.keep_binary,
            };
            redacted_records = crate::redact::redact_records_with(records, policy);
            &redacted_records
        } else {
            records
        };
        let mut trace = Trace {
            redacted: opts.redact,
            ..Trace::default()
        };
        for record in records {
            match record {
                Record::Session(s) => {
                    if trace.session.is_none() {
                        trace.session = Some(s.clone());
                    }
                }
                Record::Exchange(x) => trace.exchanges.push(x.as_ref().clone()),
                Record::FlowFindings(f) => trace.flow_findings.push(f.clone()),
                Record::Mark(m) => trace.marks.push(m.clone()),
                Record::Stats(s) => trace.stats = Some(s.clone()),
                Record::TlsHandshake(h) => trace.tls_failures.push(h.clone()),
                Record::Tunnel(t) => trace.tunnels.push(t.clone()),
            }
        }
        trace
            .exchanges
            .sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id)));
        trace.marks.sort_by_key(|m| m.at);
        trace.tls_failures.sort_by_key(|h| h.at);
        trace.tunnels.sort_by_key(|t| t.at);
        trace.ofids = collect_ofids(&trace, &opts.ofids, opts.ofid_context.max(1));
        trace
    }

    /// The exchange with this id.
    pub fn exchange(&self, id: ExchangeId) -> Option<&Exchange> {
        self.exchanges.iter().find(|x| x.id == id)
    }

    /// Every finding: per exchange, then flow-level, in that order.
    pub fn all_findings(&self) -> Vec<&crate::model::Finding> {
        let per_exchange = self.exchanges.iter().flat_map(|x| x.findings.iter());
        per_exchange
            .chain(self.flow_findings.iter().flat_map(|f| f.findings.iter()))
            .collect()
    }
}

/// Every `ofid_…` string in an exchange: recorded ones plus any in URL, headers and bodies.
pub fn ofids_in_exchange(x: &Exchange) -> Vec<String> {
    let mut out = x.ofids.clone();
    let mut add = |text: &str| {
        for id in find_ofids(text) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    };
    add(&x.request.url);
    x.request.headers.iter().for_each(|h| add(&h.value));
    if let Some(t) = x.request.body_text() {
        add(t);
    }
    if let Some(r) = &x.response {
        r.headers.iter().for_each(|h| add(&h.value));
        if let Some(t) = r.body_text() {
            add(t);
        }
        r.sse_events.iter().for_each(|e| add(&e.data));
    }
    out
}

fn collect_ofids(trace: &Trace, cli: &[String], context: usize) -> Vec<OfidRef> {
    let before = |at: OffsetDateTime| -> Vec<ExchangeId> {
        let ids: Vec<ExchangeId> = trace
            .exchanges
            .iter()
            .filter(|x| x.started_at <= at)
            .map(|x| x.id)
            .collect();
        ids[ids.len().saturating_sub(context)..].to_vec()
    };
    let mut refs: Vec<OfidRef> = Vec::new();
    let mut add =
        |id: String, at: Option<OffsetDateTime>, origin: String, exchanges: Vec<ExchangeId>| {
            if let Some(existing) = refs.iter_mut().find(|r| r.id == id) {
                if !existing.origins.contains(&origin) {
                    existing.origins.push(origin);
                }
                if existing.at.is_none() && at.is_some() {
                    existing.at = at;
                    existing.exchanges = exchanges;
                }
            } else {
                refs.push(OfidRef {
                    id,
                    at,
                    origins: vec![origin],
                    exchanges,
                });
            }
        };
    let mut timed: Vec<(OffsetDateTime, String, String, Vec<ExchangeId>)> = Vec::new();
    for m in &trace.marks {
        let ids = if m.ofids.is_empty() {
            find_ofids(&m.text)
        } else {
            m.ofids.clone()
        };
        for id in ids {
            timed.push((m.at, id, "mark".into(), before(m.at)));
        }
    }
    for x in &trace.exchanges {
        for id in ofids_in_exchange(x) {
            timed.push((
                x.started_at,
                id,
                format!("traffic {}", x.id),
                before(x.started_at),
            ));
        }
    }
    timed.sort_by_key(|t| t.0);
    for (at, id, origin, exchanges) in timed {
        add(id, Some(at), origin, exchanges);
    }
    let tail: Vec<ExchangeId> = trace.exchanges.iter().map(|x| x.id).collect();
    let tail = tail[tail.len().saturating_sub(context)..].to_vec();
    for text in cli {
        let found = find_ofids(text);
        let ids = if found.is_empty() {
            vec![text.trim().to_string()]
        } else {
            found
        };
        for id in ids.into_iter().filter(|i| !i.is_empty()) {
            add(id, None, "command line".into(), tail.clone());
        }
    }
    refs
}
