//! Unit tests of the recorder: file mode, line order, marks, loss counting, stats.

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::model::{ExchangeId, Outcome, RequestRecord, Timings};

fn session() -> SessionRecord {
    SessionRecord {
        schema: crate::model::SCHEMA_VERSION,
        authtap_version: env!("CARGO_PKG_VERSION").into(),
        started_at: OffsetDateTime::now_utc(),
        upstream: "http://127.0.0.1:1".into(),
        listen_url: "https://localhost:8443".into(),
        source: "proxy".into(),
        rewrite: false,
        mode: Default::default(),
        extra: Default::default(),
    }
}

fn exchange(id: u64) -> Exchange {
    Exchange {
        id: ExchangeId(id),
        started_at: OffsetDateTime::now_utc(),
        timings: Timings::default(),
        client_addr: None,
        request: RequestRecord {
            method: "GET".into(),
            url: "http://127.0.0.1:1/x".into(),
            client_url: None,
            http_version: "HTTP/1.1".into(),
            headers: vec![],
            body: None,
        },
        response: None,
        outcome: Outcome::Complete,
        error: None,
        rewrites: vec![],
        phase: None,
        flow: None,
        findings: vec![],
        ofids: vec![],
        mode: Default::default(),
    }
}

fn read(path: &Path) -> Vec<Record> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn quiet() -> RecorderOptions {
    RecorderOptions {
        live: None,
        ..Default::default()
    }
}

#[test]
fn writes_session_exchanges_marks_and_stats_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/trace.jsonl");
    let rec = Recorder::start(&path, session(), Engine::default(), quiet()).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let h = rec.handle();
    h.submit(Box::new(exchange(1)));
    h.mark("error ofid_a41b6f81 here");
    h.submit(Box::new(exchange(2)));
    let stats = rec.finish().unwrap();
    assert_eq!(stats.exchanges, 2);
    let records = read(&path);
    assert!(matches!(records[0], Record::Session(_)));
    assert!(matches!(&records[1], Record::Exchange(e) if e.id == ExchangeId(1)));
    assert!(matches!(&records[2], Record::Mark(m) if m.ofids == vec!["ofid_a41b6f81".to_string()]));
    assert!(matches!(&records[3], Record::Exchange(e) if e.id == ExchangeId(2)));
    assert!(matches!(&records[4], Record::Stats(s) if s.exchanges == 2 && s.dropped == 0));
    assert_eq!(records.len(), 5);
}

#[test]
fn refuses_to_overwrite_existing_trace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    std::fs::write(&path, "keep me\n").unwrap();
    assert!(Recorder::start(&path, session(), Engine::default(), quiet()).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me\n");
}

struct Blocking(std::sync::mpsc::Receiver<()>, Exchange);

impl Assemble for Blocking {
    fn assemble(self: Box<Self>) -> Exchange {
        let _ = self.0.recv();
        self.1
    }
}

#[test]
fn counts_drops_when_the_writer_falls_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let options = RecorderOptions {
        capacity: 2,
        ..quiet()
    };
    let rec = Recorder::start(&path, session(), Engine::default(), options).unwrap();
    let h = rec.handle();
    let (release, wait) = std::sync::mpsc::channel();
    h.submit(Box::new(Blocking(wait, exchange(1))));
    // Wait until the recorder took the blocking entry off the channel.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        h.submit(Box::new(exchange(99)));
        if h.dropped() > 0 || std::time::Instant::now() > deadline {
            break;
        }
    }
    assert!(h.dropped() > 0);
    release.send(()).unwrap();
    let stats = rec.finish().unwrap();
    assert!(stats.dropped > 0);
    let records = read(&path);
    match records.last().unwrap() {
        Record::Stats(s) => assert_eq!(s.dropped, stats.dropped),
        other => panic!("{other:?}"),
    }
}

/// Waits (up to a generous deadline) until `done` holds.
fn wait_for(mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_full_disk_loses_a_batch_but_never_tears_the_trace() {
    use std::sync::atomic::Ordering;

    use super::sink::testing::{FlakySink, Switches};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let switches = Switches::default();
    let file = create_private(&path).unwrap();
    let sink = Box::new(FlakySink {
        file,
        switches: switches.clone(),
    });
    let rec = Recorder::start_on(&path, sink, session(), Engine::default(), quiet()).unwrap();
    let h = rec.handle();
    h.submit(Box::new(exchange(1)));
    wait_for(|| std::fs::read_to_string(&path).unwrap().lines().count() == 2);
    switches.full.store(true, Ordering::SeqCst);
    h.submit(Box::new(exchange(2)));
    wait_for(|| switches.failures.load(Ordering::SeqCst) > 0);
    switches.full.store(false, Ordering::SeqCst);
    h.submit(Box::new(exchange(3)));
    let stats = rec.finish().unwrap();
    assert_eq!(
        (stats.exchanges, stats.lost_exchanges, stats.write_errors),
        (2, 1, 1)
    );
    // Every line parses: the half-written batch was cut off, not appended to.
    let records = read(&path);
    let ids: Vec<u64> = records
        .iter()
        .filter_map(|r| match r {
            Record::Exchange(x) => Some(x.id.0),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec![1, 3]);
    // The outage is on record as soon as writing works again, and in the final stats.
    let losses: Vec<u64> = records
        .iter()
        .filter_map(|r| match r {
            Record::Stats(s) => Some(s.lost_exchanges),
            _ => None,
        })
        .collect();
    assert_eq!(losses, vec![1, 1]);
}

#[test]
fn a_frozen_disk_leaves_a_fragment_that_readers_skip() {
    use std::sync::atomic::Ordering;

    use super::sink::testing::{FlakySink, Switches};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let switches = Switches::default();
    let file = create_private(&path).unwrap();
    let sink = Box::new(FlakySink {
        file,
        switches: switches.clone(),
    });
    let rec = Recorder::start_on(&path, sink, session(), Engine::default(), quiet()).unwrap();
    let h = rec.handle();
    switches.full.store(true, Ordering::SeqCst);
    switches.frozen.store(true, Ordering::SeqCst);
    h.submit(Box::new(exchange(1)));
    wait_for(|| switches.failures.load(Ordering::SeqCst) > 0);
    switches.full.store(false, Ordering::SeqCst);
    h.submit(Box::new(exchange(2)));
    let stats = rec.finish().unwrap();
    assert_eq!((stats.exchanges, stats.lost_exchanges), (1, 1));
    let read = crate::trace::reader::read_trace(&path).unwrap();
    assert_eq!(read.torn_lines.len(), 1, "{:?}", read.torn_lines);
    assert!(!read.torn_lines[0].recovered);
    assert!(
        read.records
            .iter()
            .any(|r| matches!(r, Record::Exchange(x) if x.id == ExchangeId(2)))
    );
}
