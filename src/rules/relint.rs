//! Re-running every rule over a recorded trace (what `authtap lint` does): existing phases and
//! findings are cleared, exchanges are fed in start order, and `finish` runs at the end of the
//! recording (the latest timestamp of any record), so time-window rules judge the same span the
//! live proxy saw.

use time::OffsetDateTime;

use crate::flow::correlate::end_time;
use crate::model::{Exchange, FlowFindings, Record};
use crate::rules::config::EngineConfig;
use crate::rules::engine::Engine;

/// The result of re-linting a trace.
#[derive(Debug, Clone, Default)]
pub struct Relinted {
    /// Exchanges in start order, with fresh `phase`, `flow` and `findings`.
    pub exchanges: Vec<Exchange>,
    /// Flow-level findings and narratives, in emission order.
    pub flow_findings: Vec<FlowFindings>,
}

/// Re-runs the rules over the records of one trace.
pub fn relint(records: &[Record], config: EngineConfig) -> Relinted {
    let mut exchanges: Vec<Exchange> = Vec::new();
    let mut end: Option<OffsetDateTime> = None;
    let mut bump = |t: OffsetDateTime| end = Some(end.map_or(t, |e: OffsetDateTime| e.max(t)));
    for r in records {
        match r {
            Record::Exchange(x) => {
                bump(end_time(x));
                exchanges.push((**x).clone());
            }
            Record::Mark(m) => bump(m.at),
            Record::Stats(s) => bump(s.at),
            Record::TlsHandshake(h) => bump(h.at),
            Record::Tunnel(t) => bump(t.at),
            Record::FlowFindings(f) => bump(f.at),
            Record::Session(s) => bump(s.started_at),
        }
    }
    exchanges.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id)));
    let mut engine = Engine::new(config);
    for r in records {
        match r {
            Record::Session(s) => {
                engine.session_started(s.started_at);
                engine.set_capture_mode(s.mode);
            }
            Record::Mark(m) => engine.note_mark(m),
            Record::Tunnel(t) => engine.note_tunnel(t),
            _ => {}
        }
    }
    let mut flow_findings = Vec::new();
    for x in &mut exchanges {
        x.findings.clear();
        x.phase = None;
        x.flow = None;
        flow_findings.extend(engine.observe(x));
    }
    flow_findings.extend(engine.finish(end.unwrap_or(OffsetDateTime::UNIX_EPOCH)));
    Relinted {
        exchanges,
        flow_findings,
    }
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
        let out = relint(&recs, EngineConfig::default());
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
    fn round_trips_out_of_order_records() {
        let mut steps = Clean::new().steps();
        steps.reverse();
        let out = relint(&records(steps), EngineConfig::default());
        let phases: Vec<_> = out
            .exchanges
            .iter()
            .map(|x| x.phase.unwrap().as_str())
            .collect();
        assert_eq!(
            phases,
            [
                "mcp-transport",
                "discovery-prm",
                "discovery-as",
                "registration",
                "authorize",
                "token",
                "mcp-transport",
                "mcp-transport",
                "mcp-transport"
            ]
        );
        assert!(
            out.exchanges
                .iter()
                .all(|x| x.flow == out.exchanges[0].flow)
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
        let out = relint(&recs, EngineConfig::default());
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
        let out = relint(&records(Clean::new().steps()), EngineConfig::default());
        assert!(
            !out.flow_findings
                .iter()
                .flat_map(|f| &f.findings)
                .any(|x| x.rule == "X-ZERO-TRAFFIC")
        );
    }
}
