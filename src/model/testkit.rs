//! Test fixtures of the record format (test builds only): a session line, a bare exchange, and
//! reading a JSONL trace back, for the units that store or pipeline records.

use std::path::Path;

use time::OffsetDateTime;

use super::{Exchange, ExchangeId, Outcome, Record, RequestRecord, SessionRecord, Timings};

/// A reverse-proxy session line, started now.
pub fn session_record() -> SessionRecord {
    SessionRecord {
        schema: super::SCHEMA_VERSION,
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

/// A complete `GET /x` exchange with no response body, headers or findings.
pub fn bare_exchange(id: u64) -> Exchange {
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

/// Every record of a JSONL trace file; panics on a line that does not parse.
pub fn read_records(path: &Path) -> Vec<Record> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
