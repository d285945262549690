//! The real `authtap` binary as a process: bounded memory on a 200 MB stream, a trace that
//! parses after `kill -9`, and the `ca` subcommand's output and key-permission refusal.

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use authtap::model::{Outcome, Record};
use futures_util::StreamExt;
use support::{Upstream, client_trusting, exchanges, read_trace};

const BIN: &str = env!("CARGO_BIN_EXE_authtap");

struct ProxyProcess {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ProxyProcess {
    fn start(upstream: &url::Url) -> ProxyProcess {
        Self::start_with_stdin(upstream, Stdio::piped())
    }

    fn start_with_stdin(upstream: &url::Url, stdin: Stdio) -> ProxyProcess {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(BIN)
            .args([
                "proxy",
                "--upstream",
                upstream.as_str(),
                "--listen",
                "127.0.0.1:0",
            ])
            .arg("--certs-dir")
            .arg(dir.path().join("certs"))
            .arg("--trace")
            .arg(dir.path().join("trace.jsonl"))
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn")
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.split("point your MCP client at:").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                }
                seen.lock().unwrap().push(line);
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("proxy printed no URL");
        ProxyProcess {
            child,
            base,
            dir,
            stdout: lines,
        }
    }

    fn client(&self) -> reqwest::Client {
        client_trusting(&self.dir.path().join("certs/ca.pem"), false)
    }

    fn status_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap()
    }

    fn trace(&self) -> std::path::PathBuf {
        self.dir.path().join("trace.jsonl")
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_200_mb_with_bounded_memory() {
    let up = Upstream::start().await;
    let proxy = ProxyProcess::start(&up.url);
    let total: u64 = 200 * 1024 * 1024;
    let resp = proxy
        .client()
        .get(format!("{}big?bytes={total}", proxy.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut received = 0u64;
    let mut peak_rss = 0;
    while let Some(chunk) = stream.next().await {
        received += chunk.unwrap().len() as u64;
        if received % (16 * 1024 * 1024) < 70_000 {
            peak_rss = peak_rss.max(proxy.status_kb("VmRSS:"));
        }
    }
    assert_eq!(received, total);
    let hwm_mb = proxy.status_kb("VmHWM:") / 1024;
    assert!(
        hwm_mb < 100,
        "proxy peak RSS {hwm_mb} MB while streaming 200 MB (sampled {peak_rss} kB)"
    );

    // The record says truncated, with the full size.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let records = read_trace(&proxy.trace());
        if let Some(ex) = exchanges(&records).first() {
            let body = ex.response.as_ref().unwrap().body.as_ref().unwrap();
            assert!(body.truncated);
            assert_eq!(body.wire_size, total);
            assert_eq!(body.text.as_ref().unwrap().len(), 1024 * 1024);
            break;
        }
        assert!(Instant::now() < deadline, "no exchange record");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_parses_line_by_line_after_kill_9() {
    let up = Upstream::start().await;
    let mut proxy = ProxyProcess::start(&up.url);
    let client = proxy.client();
    for i in 0..20 {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"ping"}}"#);
        let resp = client
            .post(format!("{}echo", proxy.base))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    writeln!(
        proxy.child.stdin.as_mut().unwrap(),
        "ofid_deadbeef01 from the error card"
    )
    .unwrap();
    // An SSE stream is open and a big body is mid-flight when the process dies.
    let mut open = client
        .get(format!("{}slow-stream", proxy.base))
        .send()
        .await
        .unwrap();
    let _ = open.chunk().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(proxy.trace())
        .unwrap()
        .contains("ofid_deadbeef01")
    {
        assert!(Instant::now() < deadline, "mark not written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The mark is shown by the live view, after the exchange lines.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !proxy
        .stdout
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains(" mark  ofid_deadbeef01 from the error card"))
    {
        assert!(Instant::now() < deadline, "mark not shown");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proxy.child.kill().unwrap(); // SIGKILL
    proxy.child.wait().unwrap();

    let text = std::fs::read_to_string(proxy.trace()).unwrap();
    assert!(text.ends_with('\n'), "last line is complete");
    let records = read_trace(&proxy.trace());
    assert!(matches!(records[0], Record::Session(_)));
    let ex = exchanges(&records);
    assert_eq!(ex.len(), 20);
    assert!(ex.iter().all(|e| e.outcome == Outcome::Complete));
    assert!(
        records
            .iter()
            .any(|r| matches!(r, Record::Mark(m) if m.ofids == ["ofid_deadbeef01"]))
    );
    let mode = std::fs::metadata(proxy.trace())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_stdin_at_eof_finishes_the_trace_and_writes_exports() {
    let up = Upstream::start().await;
    let mut proxy = ProxyProcess::start_with_stdin(&up.url, Stdio::null());
    let client = proxy.client();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
    let resp = client
        .post(format!("{}echo", proxy.base))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // stdin is /dev/null, so it is at EOF from the start: SIGTERM must still be heard.
    let killed = Command::new("kill")
        .args(["-TERM", &proxy.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = proxy.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "proxy ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let records = read_trace(&proxy.trace());
    assert!(matches!(records.last(), Some(Record::Stats(_))));
    assert_eq!(exchanges(&records).len(), 1);
    // Exports next to the trace, and their paths on stdout.
    let har = proxy.dir.path().join("trace.har");
    assert!(har.exists());
    // The reader thread may still be catching up with the pipe after the exit.
    let expected = format!("exported {}", har.display());
    let deadline = Instant::now() + Duration::from_secs(10);
    let stdout = loop {
        let stdout = proxy.stdout.lock().unwrap().join("\n");
        if stdout.contains(&expected) || Instant::now() > deadline {
            break stdout;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(stdout.contains(&expected), "{stdout}");
    // The live view is not logging: with RUST_LOG=warn the exchange still has its line, with
    // its phase, and no line starts with a log timestamp and level.
    let line = stdout
        .lines()
        .find(|l| l.contains(" #1  "))
        .unwrap_or_else(|| panic!("no line for exchange #1: {stdout}"));
    let phase = exchanges(&records)[0].phase.map_or("other", |p| p.as_str());
    assert!(
        line.contains(&format!(" #1  {phase}  POST /echo  200  ")) && line.ends_with('B'),
        "{line}"
    );
    assert!(
        stdout
            .lines()
            .all(|l| !starts_with_log_timestamp(l) && !l.contains(" INFO ")),
        "{stdout}"
    );
    assert!(stdout.contains("── 1 exchange(s): "), "{stdout}");
    // Every flow narrative of the trace is printed.
    let narratives: Vec<String> = records
        .iter()
        .filter_map(|r| match r {
            Record::FlowFindings(ff) => ff.narrative.clone(),
            _ => None,
        })
        .collect();
    assert!(!narratives.is_empty(), "no narrative in the trace");
    for n in narratives {
        assert!(stdout.contains(&n), "narrative {n:?} not printed: {stdout}");
    }
}

#[test]
fn ca_command_prints_fingerprint_and_refuses_a_readable_key() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let out = Command::new(BIN)
        .args(["ca", "--certs-dir"])
        .arg(&certs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("NODE_EXTRA_CA_CERTS="), "{stdout}");
    let fingerprint = stdout.lines().find(|l| l.starts_with("SHA-256:")).unwrap();
    assert_eq!(
        fingerprint
            .split_whitespace()
            .nth(1)
            .unwrap()
            .split(':')
            .count(),
        32
    );

    let key = certs.join("ca-key.pem");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(BIN)
        .args(["ca", "--certs-dir"])
        .arg(&certs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("readable by group or others") && stderr.contains("chmod 600"),
        "{stderr}"
    );
}

#[test]
fn non_loopback_listen_is_refused_without_allow_remote() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "proxy",
            "--upstream",
            "http://127.0.0.1:9",
            "--listen",
            "0.0.0.0:0",
            "--plain-http",
        ])
        .arg("--trace")
        .arg(dir.path().join("t.jsonl"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allow-remote"), "{stderr}");
    assert!(
        !dir.path().join("t.jsonl").exists(),
        "refused before recording"
    );
}

/// Whether a line starts like a `tracing` log line, `2026-12-01T14:10:29.148277Z` (the live
/// view's own `20:06:47.335` must not count: it starts with "20" every evening).
fn starts_with_log_timestamp(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() >= 11
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
}

#[test]
fn a_log_timestamp_is_told_from_a_live_line() {
    assert!(starts_with_log_timestamp(
        "2026-12-01T14:10:29.148277Z  INFO 14:10:29.143 #1 POST /mcp -> 401"
    ));
    assert!(!starts_with_log_timestamp(
        "20:06:47.335 #1  mcp-transport  POST /echo  200  2ms  58B"
    ));
}
