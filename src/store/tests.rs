//! Unit tests of the trace store: file mode, line order, refusal to overwrite, full and frozen
//! disks.

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::model::testkit::{bare_exchange, read_records, session_record};
use crate::model::{ExchangeId, Mark};

fn exchange_record(id: u64) -> Record {
    Record::Exchange(Box::new(bare_exchange(id)))
}

#[test]
fn writes_session_records_and_stats_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/trace.jsonl");
    let mut store = TraceStore::create(&path, &session_record()).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    store.append(&exchange_record(1));
    store.append(&Record::Mark(Mark {
        at: OffsetDateTime::now_utc(),
        text: "here".into(),
        ofids: vec![],
    }));
    store.append(&exchange_record(2));
    let stats = store.finish(0);
    assert_eq!(stats.exchanges, 2);
    let records = read_records(&path);
    assert!(matches!(records[0], Record::Session(_)));
    assert!(matches!(&records[1], Record::Exchange(e) if e.id == ExchangeId(1)));
    assert!(matches!(&records[2], Record::Mark(m) if m.text == "here"));
    assert!(matches!(&records[3], Record::Exchange(e) if e.id == ExchangeId(2)));
    assert!(matches!(&records[4], Record::Stats(s) if s.exchanges == 2 && s.dropped == 0));
    assert_eq!(records.len(), 5);
}

#[test]
fn refuses_to_overwrite_existing_trace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    std::fs::write(&path, "keep me\n").unwrap();
    assert!(TraceStore::create(&path, &session_record()).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me\n");
}

#[test]
fn dropped_entries_are_on_record_once_per_increase_and_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let mut store = TraceStore::create(&path, &session_record()).unwrap();
    store.note_dropped(0);
    store.append(&exchange_record(1));
    store.note_dropped(3);
    store.note_dropped(3);
    store.finish(5);
    let dropped: Vec<u64> = read_records(&path)
        .iter()
        .filter_map(|r| match r {
            Record::Stats(s) => Some(s.dropped),
            _ => None,
        })
        .collect();
    assert_eq!(dropped, vec![3, 5]);
}

fn flaky_store(path: &Path) -> (TraceStore, super::sink::testing::Switches) {
    use super::sink::testing::{FlakySink, Switches};
    let switches = Switches::default();
    let file = create_private(path).unwrap();
    let sink = Box::new(FlakySink {
        file,
        switches: switches.clone(),
    });
    let store = TraceStore::create_on(path, sink, &session_record()).unwrap();
    (store, switches)
}

#[test]
fn a_full_disk_loses_a_batch_but_never_tears_the_trace() {
    use std::sync::atomic::Ordering;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let (mut store, switches) = flaky_store(&path);
    store.append(&exchange_record(1));
    store.flush();
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    switches.full.store(true, Ordering::SeqCst);
    store.append(&exchange_record(2));
    store.flush();
    assert!(switches.failures.load(Ordering::SeqCst) > 0);
    switches.full.store(false, Ordering::SeqCst);
    store.append(&exchange_record(3));
    let stats = store.finish(0);
    assert_eq!(
        (stats.exchanges, stats.lost_exchanges, stats.write_errors),
        (2, 1, 1)
    );
    // Every line parses: the half-written batch was cut off, not appended to.
    let records = read_records(&path);
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

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let (mut store, switches) = flaky_store(&path);
    switches.full.store(true, Ordering::SeqCst);
    switches.frozen.store(true, Ordering::SeqCst);
    store.append(&exchange_record(1));
    store.flush();
    assert!(switches.failures.load(Ordering::SeqCst) > 0);
    switches.full.store(false, Ordering::SeqCst);
    store.append(&exchange_record(2));
    let stats = store.finish(0);
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
