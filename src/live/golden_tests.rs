//! Golden tests: the live view over the recorded traces in `tests/fixtures/traces/`, compared
//! with the snapshots committed next to this file (`cargo insta review` after a deliberate
//! change).

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::{LiveOptions, LiveSink, LiveView};
use crate::model::{Record, TlsFailureKind, TlsHandshakeFailure};

/// A writer the test can read back after the view is done with it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn view_of(records: &[Record], color: bool, quiet: bool) -> String {
    let out = Shared::default();
    let options = LiveOptions {
        quiet,
        ..LiveOptions::default()
    };
    let mut view = LiveView::to_writer(Box::new(out.clone()), color, options);
    for record in records {
        match record {
            Record::Exchange(ex) => view.exchange(ex),
            Record::FlowFindings(ff) => view.flow_findings(ff),
            Record::Mark(m) => view.mark(m),
            Record::TlsHandshake(h) => view.tls_handshake(h),
            _ => {}
        }
    }
    view.finish();
    let bytes = out.0.lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn fixture(name: &str) -> Vec<Record> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/traces")
        .join(name);
    match crate::trace::load::load_any(&path) {
        Ok(records) => records,
        Err(err) => panic!("cannot load {}: {err}", path.display()),
    }
}

#[test]
fn every_recorded_trace_reads_as_its_snapshot() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/traces");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "fixtures missing in {}", dir.display());
    for name in names {
        let text = view_of(&fixture(&name), false, false);
        // Named by what the trace shows (`seed-NNN-` prefixes are dropped).
        let stem = name.trim_end_matches(".jsonl");
        let stem = stem
            .strip_prefix("seed-")
            .and_then(|rest| rest.split_once('-').map(|(_, what)| what))
            .unwrap_or(stem);
        insta::assert_snapshot!(stem.to_string(), text);
    }
}

#[test]
fn quiet_prints_only_findings_and_the_summary() {
    let text = view_of(&fixture("fault-token-wrong-audience.jsonl"), false, true);
    insta::assert_snapshot!("quiet-fault-token-wrong-audience", text);
}

#[test]
fn colored_view_marks_phase_status_and_severity() {
    let text = view_of(&fixture("fault-no-www-authenticate.jsonl"), true, false);
    insta::assert_snapshot!("color-fault-no-www-authenticate", text);
}

#[test]
fn tls_failures_and_marks_go_through_the_view() {
    let at = time::macros::datetime!(2026-12-01 14:10:29.100 UTC);
    let records = vec![
        Record::TlsHandshake(TlsHandshakeFailure {
            at,
            client_addr: "127.0.0.1:50000".into(),
            sni: Some("localhost".into()),
            alpn: vec![],
            kind: TlsFailureKind::AlertReceived,
            alert: Some("unknown_ca".into()),
            message: "the client rejected the certificate (unknown_ca)".into(),
            advice: "Make the client trust authtap's CA.".into(),
        }),
        Record::Mark(crate::model::Mark {
            at,
            text: "ofid_deadbeef01 sign-in failed".into(),
            ofids: vec!["ofid_deadbeef01".into()],
        }),
    ];
    let text = view_of(&records, false, false);
    assert_eq!(
        text,
        "14:10:29.100 tls  TLS handshake from 127.0.0.1:50000 (localhost) failed: the client \
         rejected the certificate (unknown_ca)\n    Make the client trust authtap's CA.\n\
         14:10:29.100 mark  ofid_deadbeef01 sign-in failed\n\
         ── 0 exchange(s): 0 error(s), 0 warning(s), 0 info, 1 failed TLS handshake(s)\n"
    );
    let quiet = view_of(&records, false, true);
    assert!(!quiet.contains("mark "), "{quiet}");
    assert!(quiet.contains("TLS handshake from"), "{quiet}");
}
