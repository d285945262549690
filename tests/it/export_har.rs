//! End-to-end tests of `authtap export` on the canary trace: files and modes, no canary in any
//! output, hashes that still match across steps, HAR 1.2 validity (har-validator), ofids,
//! Markdown template fields, and HAR input (round trip and foreign HAR).

use crate::export_support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use export_support::{fixture, node};
use serde_json::Value;

fn write_trace(dir: &Path) -> PathBuf {
    let path = dir.join("trace.jsonl");
    std::fs::write(&path, fixture::canary_jsonl()).unwrap();
    path
}

fn export(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("authtap")
        .unwrap()
        .arg("export")
        .args(args)
        .output()
        .unwrap()
}

fn read_har(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn validate(path: &Path) {
    if !node::ready("HAR validation", false) {
        return;
    }
    let out = node::run("validate-har.js", &[path]);
    assert!(
        out.status.success(),
        "har-validator rejected {}:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn exports_all_three_beside_the_trace_redacted_0600() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path());
    let out = export(&[trace.to_str().unwrap(), "--ofid", "ofid_cli00001"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for ext in ["har", "md", "html"] {
        let path = dir.path().join(format!("trace.{ext}"));
        let text = std::fs::read_to_string(&path).unwrap();
        for canary in fixture::CANARIES {
            assert!(
                !text.contains(canary),
                "{canary} leaked into {}",
                path.display()
            );
        }
        assert!(
            text.contains("ofid_cli00001")
                && text.contains("ofid_a41b6f81")
                && text.contains("ofid_traffic9876"),
            "{ext}: ofids"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("trace.har (redacted)"), "{stdout}");
    validate(&dir.path().join("trace.har"));
}

#[test]
fn har_structure_hashes_sse_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path());
    let har_path = dir.path().join("out.har");
    let out = export(&[trace.to_str().unwrap(), "--har", har_path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !dir.path().join("trace.md").exists(),
        "only the asked format is written"
    );
    validate(&har_path);
    let har = read_har(&har_path);
    let log = &har["log"];
    assert!(
        log["comment"]
            .as_str()
            .unwrap()
            .starts_with("Redacted by authtap")
    );
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 11);
    let by_id = |id: u64| entries.iter().find(|e| e["_authtap"]["id"] == id).unwrap();
    let code = authtap::redact::marker("CANARYcode0007");
    // callback Location, its redirectURL and the token body hash the code identically
    let login = by_id(6);
    assert!(
        login["response"]["redirectURL"]
            .as_str()
            .unwrap()
            .contains(&code)
    );
    let token = by_id(7);
    let params = token["request"]["postData"]["params"].as_array().unwrap();
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "code" && p["value"] == code.as_str())
    );
    assert_eq!(
        login["_authtap"]["correlation"]["code"],
        token["_authtap"]["correlation"]["code"]
    );
    // the access token from the token response is the bearer of the MCP requests
    let at_hash = authtap::redact::hash8(&fixture::access_token());
    assert_eq!(
        token["_authtap"]["correlation"]["access_token"],
        at_hash.as_str()
    );
    let init = by_id(8);
    assert_eq!(init["_authtap"]["correlation"]["bearer"], at_hash.as_str());
    let auth = init["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "authorization")
        .unwrap();
    assert_eq!(
        auth["value"],
        format!(
            "Bearer {}.{}.redacted:sha256:{at_hash}",
            fixture::JWT_HEADER,
            fixture::JWT_PAYLOAD
        )
    );
    // SSE: raw text plus _eventSourceMessages
    assert!(
        init["response"]["content"]["text"]
            .as_str()
            .unwrap()
            .starts_with("event: message")
    );
    assert_eq!(init["_eventSourceMessages"][0]["id"], "1");
    // open stream marked incomplete
    let stream = by_id(9);
    assert_eq!(stream["_authtap"]["incomplete"], true);
    assert!(stream["comment"].as_str().unwrap().contains("incomplete"));
    // failed exchange: status 0 with _error
    let failed = by_id(10);
    assert_eq!(failed["response"]["status"], 0);
    assert!(
        failed["response"]["_error"]
            .as_str()
            .unwrap()
            .contains("connection refused")
    );
    // findings with every field, and a comment
    let reg = by_id(4);
    let f = &reg["_authtap"]["findings"][0];
    for key in ["rule", "severity", "who", "message", "fix", "source"] {
        assert!(!f[key].is_null(), "finding field {key}");
    }
    assert!(
        reg["comment"]
            .as_str()
            .unwrap()
            .contains("DCR-FLOAT-EXPIRY")
    );
    // the float stays a float in the evidence body
    assert!(
        reg["response"]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("\"client_secret_expires_at\":1749600000.0")
    );
    // WWW-Authenticate is never blanked
    let first = by_id(1);
    assert!(
        first["response"]["headers"][0]["value"]
            .as_str()
            .unwrap()
            .contains("resource_metadata=\"https://mcp.example.test/")
    );
    // timings add up; entries sorted
    for e in entries {
        let t = &e["timings"];
        let sum: f64 = ["blocked", "dns", "connect", "send", "wait", "receive"]
            .iter()
            .map(|k| t[k].as_f64().unwrap().max(0.0))
            .sum();
        assert!((sum - e["time"].as_f64().unwrap()).abs() < 1e-6);
    }
    // session extension
    let ext = &log["_authtap"];
    assert_eq!(ext["redaction"]["enabled"], true);
    assert_eq!(ext["marks"][0]["ofids"][0], "ofid_a41b6f81");
    assert!(
        ext["flows"][0]["narratives"][0]
            .as_str()
            .unwrap()
            .contains("float expiry")
    );
    assert_eq!(
        ext["session"]["extra"]["client_secret"],
        authtap::redact::marker("CANARYclientSECRET77")
    );
}

#[test]
fn no_redact_is_explicit_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path());
    let har_path = dir.path().join("raw.har");
    let out = export(&[
        trace.to_str().unwrap(),
        "--no-redact",
        "--har",
        har_path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("WARNING: --no-redact"));
    let text = std::fs::read_to_string(&har_path).unwrap();
    assert!(text.contains("CANARYcode0007") && text.contains("NOT REDACTED"));
    validate(&har_path);
}

#[test]
fn har_input_round_trips_and_foreign_har_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path());
    let first = dir.path().join("first.har");
    assert!(
        export(&[trace.to_str().unwrap(), "--har", first.to_str().unwrap()])
            .status
            .success()
    );
    // authtap HAR → records: phases, findings, marks and SSE survive
    let loaded = authtap::trace::load::load(&first).unwrap();
    assert_eq!(loaded.format, authtap::trace::load::Format::Har);
    assert!(!loaded.needs_rules);
    let again = dir.path().join("again.har");
    let out = export(&[
        first.to_str().unwrap(),
        "--har",
        again.to_str().unwrap(),
        "--md",
        dir.path().join("again.md").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    validate(&again);
    let (a, b) = (read_har(&first), read_har(&again));
    for i in 0..11 {
        let (ea, eb) = (&a["log"]["entries"][i], &b["log"]["entries"][i]);
        for key in ["phase", "findings", "correlation", "ofid", "incomplete"] {
            assert_eq!(ea["_authtap"][key], eb["_authtap"][key], "entry {i} {key}");
        }
        assert_eq!(ea["request"], eb["request"], "entry {i} request");
        assert_eq!(ea["response"], eb["response"], "entry {i} response");
        assert_eq!(ea["timings"], eb["timings"], "entry {i} timings");
        assert_eq!(
            ea["_eventSourceMessages"], eb["_eventSourceMessages"],
            "entry {i} sse"
        );
    }
    assert_eq!(a["log"]["_authtap"]["marks"], b["log"]["_authtap"]["marks"]);
    // a foreign HAR (no _authtap anywhere) is accepted and the rules are re-run
    let mut foreign = a.clone();
    foreign["log"].as_object_mut().unwrap().remove("_authtap");
    for e in foreign["log"]["entries"].as_array_mut().unwrap() {
        e.as_object_mut().unwrap().remove("_authtap");
    }
    let foreign_path = dir.path().join("chrome.har");
    std::fs::write(&foreign_path, format!("\u{feff}{foreign}")).unwrap();
    let loaded = authtap::trace::load::load(&foreign_path).unwrap();
    assert!(loaded.needs_rules);
    let out_path = dir.path().join("chrome-out.har");
    let out = export(&[
        foreign_path.to_str().unwrap(),
        "--har",
        out_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    validate(&out_path);
    assert_eq!(
        read_har(&out_path)["log"]["_authtap"]["session"]["source"],
        "har-import"
    );
}

#[test]
fn missing_trace_is_a_clear_error() {
    let out = export(&["/nonexistent/trace.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/trace.jsonl"));
}
