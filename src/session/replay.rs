//! Re-running the engine over a trace read back from disk (what `authtap lint` does, and what
//! exports do for a HAR that has no phases or findings yet), through the same [`Session`] the
//! live sources feed.
//!
//! Existing phases and findings are cleared, exchanges go in start order, session, mark and
//! tunnel facts reach the engine first, and `finish` runs at the end of the recording (the
//! latest timestamp of any record), so time-window rules judge the same span the live proxy saw.

use time::OffsetDateTime;

use super::Session;
use crate::flow::correlate::end_time;
use crate::model::{Exchange, FlowFindings, Record};
use crate::rules::{Engine, EngineConfig};

/// The result of replaying a trace.
#[derive(Debug, Clone, Default)]
pub struct Replayed {
    /// Exchanges in start order, with fresh `phase`, `flow` and `findings`.
    pub exchanges: Vec<Exchange>,
    /// Flow-level findings and narratives, in emission order.
    pub flow_findings: Vec<FlowFindings>,
}

impl Replayed {
    /// The records of the trace with the replayed exchanges and flow findings in place of the
    /// old ones: the session line first, then the exchanges, the flow findings, and every other
    /// record (marks, TLS failures, tunnels, stats) in file order.
    pub fn into_records(self, records: Vec<Record>) -> Vec<Record> {
        let mut out: Vec<Record> = records
            .into_iter()
            .filter(|r| !matches!(r, Record::Exchange(_) | Record::FlowFindings(_)))
            .collect();
        let at = out
            .iter()
            .position(|r| !matches!(r, Record::Session(_)))
            .unwrap_or(out.len());
        let tail = out.split_off(at);
        out.extend(
            self.exchanges
                .into_iter()
                .map(|x| Record::Exchange(Box::new(x))),
        );
        out.extend(self.flow_findings.into_iter().map(Record::FlowFindings));
        out.extend(tail);
        out
    }
}

/// Re-runs the engine (configured by `config`) over the records of one trace.
pub fn replay(records: &[Record], config: EngineConfig) -> Replayed {
    let mut exchanges: Vec<Exchange> = Vec::new();
    let mut end: Option<OffsetDateTime> = None;
    let mut bump = |t: OffsetDateTime| end = Some(end.map_or(t, |e: OffsetDateTime| e.max(t)));
    let mut engine = Engine::new(config);
    for r in records {
        match r {
            Record::Exchange(x) => {
                bump(end_time(x));
                exchanges.push((**x).clone());
            }
            Record::Mark(m) => {
                bump(m.at);
                engine.note_mark(m);
            }
            Record::Stats(s) => bump(s.at),
            Record::TlsHandshake(h) => bump(h.at),
            Record::Tunnel(t) => {
                bump(t.at);
                engine.note_tunnel(t);
            }
            Record::FlowFindings(f) => bump(f.at),
            Record::Session(s) => {
                bump(s.started_at);
                engine.session_started(s.started_at);
                engine.set_capture_mode(s.mode);
            }
        }
    }
    exchanges.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id)));
    let mut session = Session::new(engine).keep_records();
    for mut x in exchanges {
        x.findings.clear();
        x.phase = None;
        x.flow = None;
        session.exchange(x);
    }
    let finished = session.finish(end.unwrap_or(OffsetDateTime::UNIX_EPOCH), 0);
    let mut out = Replayed::default();
    for record in finished.records {
        match record {
            Record::Exchange(x) => out.exchanges.push(*x),
            Record::FlowFindings(ff) => out.flow_findings.push(ff),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::testkit::*;
    use crate::model::{ExchangeId, Stats};

    fn records(steps: Vec<B>) -> Vec<Record> {
        steps
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                let mut x = b.build();
                x.id = ExchangeId(i as u64 + 1);
                Record::Exchange(Box::new(x))
            })
            .collect()
    }

    #[test]
    fn fires_on_dropped_code_when_recording_went_on() {
        let c = Clean::new();
        let mut recs = records(vec![c.challenge, c.prm, c.asm, c.dcr, c.authorize]);
        recs.push(Record::Stats(Stats {
            at: t0() + time::Duration::seconds(300),
            exchanges: 5,
            dropped: 0,
            write_errors: 0,
            lost_exchanges: 0,
        }));
        let out = replay(&recs, EngineConfig::default());
        let all: Vec<_> = out
            .flow_findings
            .iter()
            .flat_map(|f| f.findings.iter())
            .collect();
        assert!(all.iter().any(|f| f.rule == "X-CODE-NOT-EXCHANGED"));
        let narrative = out
            .flow_findings
            .iter()
            .find_map(|f| f.narrative.clone())
            .unwrap();
        assert!(
            narrative.contains("X-CODE-NOT-EXCHANGED")
                || narrative.contains("authorization code was issued"),
            "{narrative}"
        );
    }

    #[test]
    fn fires_on_zero_traffic() {
        use crate::model::{Mark, SessionRecord};
        let recs = vec![
            Record::Session(SessionRecord {
                schema: 1,
                authtap_version: "t".into(),
                started_at: t0(),
                upstream: "https://mcp.example.com".into(),
                listen_url: "https://localhost:8443".into(),
                source: "proxy".into(),
                rewrite: false,
                mode: Default::default(),
                extra: Default::default(),
            }),
            Record::Mark(Mark {
                at: t0() + time::Duration::seconds(40),
                text: "ofid_a41b6f81".into(),
                ofids: vec!["ofid_a41b6f81".into()],
            }),
            Record::Stats(Stats {
                at: t0() + time::Duration::seconds(60),
                exchanges: 0,
                dropped: 0,
                write_errors: 0,
                lost_exchanges: 0,
            }),
        ];
        let out = replay(&recs, EngineConfig::default());
        let f = out
            .flow_findings
            .iter()
            .find(|f| f.findings.iter().any(|x| x.rule == "X-ZERO-TRAFFIC"))
            .expect("fires");
        assert!(
            f.narrative
                .as_deref()
                .unwrap_or("")
                .contains("ofid_a41b6f81")
        );
    }

    #[test]
    fn quiet_on_zero_traffic() {
        let out = replay(&records(Clean::new().steps()), EngineConfig::default());
        assert!(
            !out.flow_findings
                .iter()
                .flat_map(|f| &f.findings)
                .any(|x| x.rule == "X-ZERO-TRAFFIC")
        );
    }
}
