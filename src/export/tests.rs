//! Unit tests of the exporters over the shared canary fixture.

use super::testkit::{self, fixture};
use super::*;

fn outputs(opts: &ExportOptions) -> [String; 3] {
    let trace = testkit::trace(opts);
    [
        serde_json::to_string_pretty(&har::to_har(&trace, opts)).unwrap(),
        markdown::render(&trace, opts),
        html::render(&trace, opts),
    ]
}

#[test]
fn no_canary_in_any_redacted_output() {
    let opts = ExportOptions::default();
    for (name, text) in ["har", "md", "html"].iter().zip(outputs(&opts)) {
        for canary in fixture::CANARIES {
            assert!(!text.contains(canary), "{canary} leaked into {name}");
        }
        assert!(text.contains("redacted:sha256:"), "{name} has no markers");
    }
}

#[test]
fn unredacted_export_keeps_values() {
    let opts = ExportOptions {
        redact: false,
        ..ExportOptions::default()
    };
    let [har, md, _] = outputs(&opts);
    assert!(har.contains("CANARYcode0007"));
    assert!(har.contains(har::UNREDACTED_COMMENT));
    assert!(md.contains("NOT REDACTED"));
}

#[test]
fn ofids_from_marks_traffic_and_command_line() {
    let opts = ExportOptions {
        ofids: vec!["ofid_cli00001".into()],
        ..ExportOptions::default()
    };
    let trace = testkit::trace(&opts);
    let ids: Vec<&str> = trace.ofids.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["ofid_a41b6f81", "ofid_traffic9876", "ofid_cli00001"]);
    let mark = &trace.ofids[0];
    assert_eq!(mark.origins, ["mark"]);
    // the 5 exchanges started before the mark (at +4200 ms): #4..#8
    let before: Vec<u64> = mark.exchanges.iter().map(|e| e.0).collect();
    assert_eq!(before, [4, 5, 6, 7, 8]);
    assert_eq!(trace.ofids[1].origins, ["traffic #11"]);
    assert_eq!(trace.ofids[2].at, None);
}

#[test]
fn facts_fill_the_issue_template() {
    let trace = testkit::trace(&ExportOptions::default());
    let f = facts::issue_facts(&trace);
    assert_eq!(f.server_url, "https://mcp.example.test/mcp");
    assert!(
        f.failed_at
            .starts_with("Connect — first error finding DCR-FLOAT-EXPIRY"),
        "{}",
        f.failed_at
    );
    assert!(
        f.transport.starts_with("Streamable HTTP"),
        "{}",
        f.transport
    );
    assert!(f.registration.starts_with("DCR"), "{}", f.registration);
    assert!(
        f.unauthenticated_mcp
            .contains("401 with WWW-Authenticate: Bearer resource_metadata="),
        "{}",
        f.unauthenticated_mcp
    );
    assert!(
        f.client
            .starts_with("claude.ai / Claude Desktop connector (CAI)"),
        "{}",
        f.client
    );
    assert!(
        f.time_range.contains("2026-11-22T11:29:59.5Z"),
        "{}",
        f.time_range
    );
}

#[test]
fn correlation_hashes_match_across_steps() {
    let trace = testkit::trace(&ExportOptions::default());
    let c = |id: u64| facts::correlation(trace.exchange(crate::model::ExchangeId(id)).unwrap());
    let code = crate::redact::hash8("CANARYcode0007");
    assert_eq!(c(6).get("code"), Some(&code), "callback Location");
    assert_eq!(c(7).get("code"), Some(&code), "token body");
    let at = crate::redact::hash8(&fixture::access_token());
    assert_eq!(c(7).get("access_token"), Some(&at));
    assert_eq!(c(8).get("bearer"), Some(&at));
    assert_eq!(c(5).get("state"), c(6).get("state"));
}

#[test]
fn exports_list_failed_tls_handshakes() {
    use crate::model::{TlsFailureKind, TlsHandshakeFailure};
    let mut records = testkit::records();
    records.push(Record::TlsHandshake(TlsHandshakeFailure {
        at: time::OffsetDateTime::UNIX_EPOCH,
        client_addr: "127.0.0.1:50412".into(),
        sni: Some("localhost".into()),
        alpn: vec!["h2".into()],
        kind: TlsFailureKind::AlertReceived,
        alert: Some("unknown_ca".into()),
        message: "the client aborted the handshake with the TLS alert unknown_ca".into(),
        advice: "Make the client trust authtap's CA certs/ca.pem".into(),
    }));
    let opts = ExportOptions::default();
    let md = markdown::render(&Trace::build(&records, &opts), &opts);
    assert!(md.contains("## TLS handshakes that failed"), "{md}");
    assert!(md.contains("127.0.0.1:50412 (localhost)"), "{md}");
    assert!(md.contains("TLS alert unknown_ca"), "{md}");
    let har = har::to_har(&Trace::build(&records, &opts), &opts);
    assert_eq!(
        har["log"]["_authtap"]["tls_handshakes"][0]["alert"],
        "unknown_ca"
    );
    let html = html::render(&Trace::build(&records, &opts), &opts);
    assert!(html.contains("id=\"tls-failures\""), "no HTML section");
    assert!(html.contains("127.0.0.1:50412 (localhost)"));
    // Near miss: a trace without failed handshakes has no such section.
    let plain = markdown::render(&testkit::trace(&opts), &opts);
    assert!(!plain.contains("TLS handshakes that failed"));
}

#[test]
fn exports_list_blind_tunnels_and_the_capture_mode() {
    use crate::model::{CaptureMode, TunnelRecord};
    let mut records = testkit::records();
    if let Some(Record::Session(s)) = records.first_mut() {
        s.mode = CaptureMode::Forward;
    }
    records.push(Record::Tunnel(TunnelRecord {
        at: time::OffsetDateTime::UNIX_EPOCH,
        client_addr: "127.0.0.1:50500".into(),
        host: "api.example.net".into(),
        port: 443,
        bytes_up: 517,
        bytes_down: 4096,
        duration_ms: 12.0,
        error: None,
    }));
    let opts = ExportOptions::default();
    let md = markdown::render(&Trace::build(&records, &opts), &opts);
    assert!(md.contains("## Tunneled blind"), "{md}");
    assert!(
        md.contains("api.example.net:443 (517 B up, 4096 B down"),
        "{md}"
    );
    assert!(md.contains("forward proxy, nothing rewritten"), "{md}");
    let har = har::to_har(&Trace::build(&records, &opts), &opts);
    assert_eq!(har["log"]["_authtap"]["capture_mode"], "forward");
    assert_eq!(
        har["log"]["_authtap"]["tunnels"][0]["host"],
        "api.example.net"
    );
    // Near miss: a reverse-mode trace has no tunnel section.
    let plain = markdown::render(&testkit::trace(&opts), &opts);
    assert!(!plain.contains("Tunneled blind"));
    assert!(plain.contains("reverse proxy"));
}

#[test]
fn repeated_info_findings_are_grouped_with_a_count() {
    let mut records = testkit::records();
    let mut added = 0;
    for r in &mut records {
        if let crate::model::Record::Exchange(x) = r {
            x.findings.push(crate::model::Finding {
                rule: "TEST-REPEATED-INFO".into(),
                severity: crate::model::Severity::Info,
                phase: crate::model::Phase::McpTransport,
                who: vec![crate::model::Who::Rs],
                breaks: String::new(),
                message: "seen again".into(),
                fix: "nothing".into(),
                source: "RFC 9110".into(),
                exchange: Some(x.id),
                flow: x.flow,
            });
            added += 1;
        }
    }
    assert!(added > 2, "fixture too small: {added}");
    let opts = ExportOptions::default();
    let trace = Trace::build(&records, &opts);
    let md = markdown::render(&trace, &opts);
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| info | TEST-REPEATED-INFO |"))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert!(
        rows[0].contains(&format!("(×{added}; first shown)")),
        "{}",
        rows[0]
    );
    let html = html::render(&trace, &opts);
    let items = html.matches("<strong>TEST-REPEATED-INFO</strong>").count();
    // One grouped item in the findings list, plus the per-exchange inline lists.
    assert_eq!(items, 1 + added, "grouped list item missing");
    assert!(html.contains(&format!(
        "<strong>TEST-REPEATED-INFO</strong> <span class=\"count\">×{added}</span>"
    )));
}

#[test]
fn each_exchange_says_which_mode_captured_it() {
    use crate::model::CaptureMode;
    let mut records = testkit::records();
    let mut exchanges = 0;
    for r in &mut records {
        if let Record::Exchange(x) = r {
            x.mode = CaptureMode::Forward;
            exchanges += 1;
        }
    }
    assert!(exchanges > 2, "fixture too small: {exchanges}");
    let opts = ExportOptions::default();
    let trace = Trace::build(&records, &opts);
    let har = har::to_har(&trace, &opts);
    let entries = har["log"]["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e["_authtap"]["capture_mode"] == "forward"),
        "{entries:?}"
    );
    let md = markdown::render(&trace, &opts);
    assert!(
        md.contains("| Exchanges captured by | forward proxy, nothing rewritten |"),
        "{md}"
    );
    assert!(html::render(&trace, &opts).contains("forward proxy, nothing rewritten"));
    // An authtap HAR round-trips each entry's mode.
    let imported = crate::trace::har_import::from_har(&har).unwrap();
    let modes: Vec<CaptureMode> = imported
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Exchange(x) => Some(x.mode),
            _ => None,
        })
        .collect();
    assert_eq!(modes, vec![CaptureMode::Forward; exchanges]);

    // Near miss: one exchange of another mode is counted, not hidden.
    if let Some(Record::Exchange(x)) = records
        .iter_mut()
        .find(|r| matches!(r, Record::Exchange(_)))
    {
        x.mode = CaptureMode::Reverse;
    }
    let md = markdown::render(&Trace::build(&records, &opts), &opts);
    assert!(
        md.contains(&format!(
            "reverse proxy (1 exchange), forward proxy, nothing rewritten ({} exchanges)",
            exchanges - 1
        )),
        "{md}"
    );
}
