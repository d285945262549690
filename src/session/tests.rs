//! Unit tests of the pipeline: the recorder thread (order, marks, drop counting), the session's
//! fan-out to the store, the live view and the kept records, and replay of a read-back trace.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use super::*;
use crate::flow::testkit::{B, Clean};
use crate::model::ExchangeId;
use crate::model::testkit::{bare_exchange, read_records, session_record};
use crate::rules::EngineConfig;

fn stored(path: &Path) -> Session {
    let store = TraceStore::create(path, &session_record()).unwrap();
    Session::new(Engine::default()).with_store(store)
}

#[test]
fn recorder_writes_session_exchanges_marks_and_stats_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/trace.jsonl");
    let rec = Recorder::start(stored(&path), RecorderOptions::default()).unwrap();
    let h = rec.handle();
    h.submit(Box::new(bare_exchange(1)));
    h.mark("error ofid_a41b6f81 here");
    h.submit(Box::new(bare_exchange(2)));
    let stats = rec.finish().unwrap();
    assert_eq!(stats.exchanges, 2);
    let records = read_records(&path);
    assert!(matches!(records[0], Record::Session(_)));
    assert!(matches!(&records[1], Record::Exchange(e) if e.id == ExchangeId(1)));
    assert!(matches!(&records[2], Record::Mark(m) if m.ofids == vec!["ofid_a41b6f81".to_string()]));
    assert!(matches!(&records[3], Record::Exchange(e) if e.id == ExchangeId(2)));
    assert!(matches!(&records[4], Record::Stats(s) if s.exchanges == 2 && s.dropped == 0));
    assert_eq!(records.len(), 5);
}

struct Blocking(std::sync::mpsc::Receiver<()>, Exchange);

impl Assemble for Blocking {
    fn assemble(self: Box<Self>) -> Exchange {
        let _ = self.0.recv();
        self.1
    }
}

#[test]
fn recorder_counts_drops_when_it_falls_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let options = RecorderOptions {
        capacity: 2,
        ..RecorderOptions::default()
    };
    let rec = Recorder::start(stored(&path), options).unwrap();
    let h = rec.handle();
    let (release, wait) = std::sync::mpsc::channel();
    h.submit(Box::new(Blocking(wait, bare_exchange(1))));
    // Wait until the recorder took the blocking entry off the channel.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        h.submit(Box::new(bare_exchange(99)));
        if h.dropped() > 0 || std::time::Instant::now() > deadline {
            break;
        }
    }
    assert!(h.dropped() > 0);
    release.send(()).unwrap();
    let stats = rec.finish().unwrap();
    assert!(stats.dropped > 0);
    let records = read_records(&path);
    match records.last().unwrap() {
        Record::Stats(s) => assert_eq!(s.dropped, stats.dropped),
        other => panic!("{other:?}"),
    }
}

/// A live sink that writes down what it was given.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, what: String) {
        self.0.lock().unwrap().push(what);
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl LiveSink for Seen {
    fn exchange(&mut self, exchange: &Exchange) {
        let phase = exchange.phase.map_or("none", |p| p.as_str());
        self.push(format!("exchange {} {phase}", exchange.id));
    }
    fn flow_findings(&mut self, findings: &FlowFindings) {
        self.push(format!("flow {}", findings.findings.len()));
    }
    fn tls_handshake(&mut self, _failure: &TlsHandshakeFailure) {
        self.push("tls".into());
    }
    fn mark(&mut self, mark: &Mark) {
        self.push(format!("mark {}", mark.text));
    }
    fn finish(&mut self) {
        self.push("finish".into());
    }
}

#[test]
fn every_sink_gets_the_judged_exchange_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let seen = Seen::default();
    let mut session = stored(&path)
        .with_live(Box::new(seen.clone()))
        .keep_records()
        .with_annotate(Box::new(|x: &mut Exchange, _: &Engine| {
            x.ofids.push("ofid_annotated".into())
        }));
    let steps: Vec<B> = Clean::new().steps();
    for (i, step) in steps.into_iter().take(2).enumerate() {
        let mut x = step.build();
        x.id = ExchangeId(i as u64 + 1);
        session.exchange(x);
    }
    session.mark(Mark {
        at: OffsetDateTime::now_utc(),
        text: "note".into(),
        ofids: vec![],
    });
    let finished = session.finish(OffsetDateTime::now_utc(), 0);
    let live = seen.all();
    assert_eq!(
        live.first().map(String::as_str),
        Some("exchange #1 mcp-transport")
    );
    assert_eq!(
        live.get(1).map(String::as_str),
        Some("exchange #2 discovery-prm")
    );
    assert!(live.contains(&"mark note".to_string()));
    assert_eq!(live.last().map(String::as_str), Some("finish"));
    // The store and the kept copy hold the same judged records, annotated.
    let on_disk: Vec<Record> = read_records(&path)
        .into_iter()
        .filter(|r| !matches!(r, Record::Session(_) | Record::Stats(_)))
        .collect();
    assert_eq!(
        serde_json::to_value(&on_disk).unwrap(),
        serde_json::to_value(&finished.records).unwrap()
    );
    assert!(finished.records.iter().all(|r| match r {
        Record::Exchange(x) => x.ofids == ["ofid_annotated"] && x.phase.is_some(),
        _ => true,
    }));
    assert_eq!(finished.stats.exchanges, 2);
}

#[test]
fn replay_judges_out_of_order_records_in_start_order() {
    let mut steps = Clean::new().steps();
    steps.reverse();
    let records: Vec<Record> = steps
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            let mut x = b.build();
            x.id = ExchangeId(i as u64 + 1);
            x.phase = None;
            Record::Exchange(Box::new(x))
        })
        .collect();
    let replayed = replay(&records, EngineConfig::default());
    let phases: Vec<_> = replayed
        .exchanges
        .iter()
        .map(|x| x.phase.map_or("none", |p| p.as_str()))
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
        replayed
            .exchanges
            .iter()
            .all(|x| x.flow.is_some() && x.flow == replayed.exchanges[0].flow)
    );
    // The flow narrative is there; nothing empty is passed on.
    assert!(replayed.flow_findings.iter().any(|f| f.narrative.is_some()));
    assert!(
        replayed
            .flow_findings
            .iter()
            .all(|f| !f.findings.is_empty() || f.narrative.is_some())
    );
}

#[test]
fn replayed_records_keep_the_session_first_and_other_records_after() {
    let mut x = bare_exchange(1);
    x.findings.clear();
    let records = vec![
        Record::Session(session_record()),
        Record::Mark(Mark {
            at: OffsetDateTime::now_utc(),
            text: "m".into(),
            ofids: vec![],
        }),
        Record::Exchange(Box::new(x)),
    ];
    let replayed = replay(&records, EngineConfig::default());
    let out = replayed.into_records(records);
    assert!(matches!(out[0], Record::Session(_)));
    assert!(matches!(&out[1], Record::Exchange(x) if x.phase.is_some()));
    assert!(matches!(out.last(), Some(Record::Mark(_))));
}
