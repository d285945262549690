//! `authtap check` end to end: the real binary against the embedded reference server (started
//! in-process on 127.0.0.1:0) and a bare 403-answering server: the clean server passes, every
//! fault fails with its rule ids (each failed step naming them), `--login` completes against the
//! auto-approving server, JSON and JUnit outputs parse, and the exit codes are 0 / 1 / 2 (SARIF:
//! `check_sarif`).
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use authtap::demo::{self, CATALOG, ClientNeed, DemoConfig, Fault, FaultSet, RunningDemo};
use serde_json::Value;

pub(super) async fn server(faults: &[Fault]) -> RunningDemo {
    authtap::install_crypto_provider();
    demo::start(DemoConfig {
        faults: faults.iter().copied().collect::<FaultSet>(),
        sse_step_delay: Duration::from_millis(5),
        ..DemoConfig::default()
    })
    .await
    .unwrap()
}

/// Runs the binary off the async runtime (the server lives on it).
pub(super) async fn check(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_authtap"))
            .arg("check")
            .args(&args)
            .env("AUTHTAP_BROWSER", "none")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

pub(super) fn args(url: &str, trace: &Path, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        url.to_string(),
        "--trace".into(),
        trace.display().to_string(),
        "--timeout".into(),
        "5".into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

pub(super) fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn rule_ids(report: &Value) -> Vec<String> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["findings"].as_array().unwrap().iter())
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

fn step<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
}

/// Flags that make the check perform the leg where a fault is observable.
fn flags_for(fault: Fault) -> Option<&'static [&'static str]> {
    let info = fault.info();
    if info.browser_leg_only {
        // The consent POST and its 307 happen inside the user's browser: check sees only what
        // reaches the loopback callback, so those rules are not observable.
        return None;
    }
    match (info.client_need, info.name) {
        (ClientNeed::BrowserOrigin, _) => Some(&["--client", "inspector"]),
        (ClientNeed::ClaudeAiProfile, _) => Some(&["--register", "--client", "claude-ai"]),
        (_, "dcr-float-expiry" | "dcr-null-optional" | "locale-redirect") => Some(&["--register"]),
        (_, "token-wrong-audience") => Some(&["--login"]),
        _ => Some(&[]),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn clean_server_passes_with_exit_0_and_an_exportable_trace() {
    let server = server(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("clean.jsonl");
    let out = check(args(server.mcp_url(), &trace, &[])).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("[PASS] Unauthenticated initialize"), "{text}");
    assert!(
        text.contains("[SKIP] Dynamic client registration"),
        "{text}"
    );
    assert!(text.contains("Verdict: PASS"), "{text}");
    // The probe's initialize offers the client's revision: the report says what it judged by.
    assert!(text.contains("judged by MCP 20"), "{text}");
    assert!(text.contains(&trace.display().to_string()));

    // The trace is a regular authtap trace: session from `check`, exchanges with phases.
    let lines: Vec<Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "session");
    assert_eq!(lines[0]["source"], "check");
    let exchanges: Vec<&Value> = lines.iter().filter(|l| l["type"] == "exchange").collect();
    assert_eq!(exchanges.len(), 3, "probe, PRM, ASM");
    assert_eq!(exchanges[0]["phase"], "mcp-transport");
    assert_eq!(exchanges[0]["response"]["status"], 401);
    assert_eq!(exchanges[1]["phase"], "discovery-prm");
    assert_eq!(exchanges[2]["phase"], "discovery-as");
    // authtap's own client made these requests: each record says so.
    assert_eq!(lines[0]["mode"], "client");
    assert!(exchanges.iter().all(|x| x["mode"] == "client"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&trace).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let export = tokio::task::spawn_blocking({
        let trace = trace.clone();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_authtap"))
                .arg("export")
                .arg(&trace)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(export.status.success(), "{export:?}");
    assert!(dir.path().join("clean.har").exists());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_fails_with_its_rule_ids() {
    let mut unobservable = Vec::new();
    for info in CATALOG {
        let Some(flags) = flags_for(info.fault) else {
            unobservable.push(info.name);
            continue;
        };
        let server = server(&[info.fault]).await;
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.jsonl");
        let mut extra = vec!["--format", "json", "--login-timeout", "2"];
        extra.extend_from_slice(flags);
        let out = check(args(server.mcp_url(), &trace, &extra)).await;
        let report = json_of(&out);
        let seen = rule_ids(&report);
        for rule in info.rules {
            assert!(
                seen.iter().any(|r| r == rule),
                "fault {}: {rule} not reported (flags {flags:?}); saw {seen:?}",
                info.name
            );
        }
        for st in report["steps"].as_array().unwrap() {
            if st["status"] == "fail" {
                assert!(
                    !st["rules"].as_array().unwrap().is_empty(),
                    "fault {}: failed step {} names no rule id: {st:#}",
                    info.name,
                    st["id"]
                );
            }
        }
        let status = report["verdict"]["status"].as_str().unwrap();
        assert_ne!(status, "pass", "fault {} passed cleanly", info.name);
        let expected = if status == "fail" { 1 } else { 0 };
        assert_eq!(out.status.code(), Some(expected), "fault {}", info.name);
        server.shutdown().await;
    }
    assert_eq!(unobservable, ["consent-307-after-post"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_completes_against_the_auto_approving_server() {
    let server = server(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("login.jsonl");
    let extra = [
        "--login",
        "--call-tool",
        "echo",
        "--tool-args",
        r#"{"text":"hi from check"}"#,
        "--format",
        "json",
    ];
    let out = check(args(server.mcp_url(), &trace, &extra)).await;
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["mode"], "login");
    for id in ["registration", "authorize", "token", "mcp"] {
        assert_eq!(step(&report, id)["status"], "pass", "{id}: {report:#}");
    }
    assert!(
        report["registered_client_id"]
            .as_str()
            .unwrap()
            .starts_with("demo-client-")
    );
    assert_eq!(report["tools"], serde_json::json!(["echo", "countdown"]));
    let mcp_notes = step(&report, "mcp")["notes"].to_string();
    assert!(mcp_notes.contains("hi from check"), "{mcp_notes}");
    // The redirect URI was our loopback listener, registered alone.
    let trace_text = std::fs::read_to_string(&trace).unwrap();
    assert!(trace_text.contains(r#"\"redirect_uris\":[\"http://127.0.0.1:"#));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn register_says_it_created_a_client_with_claude_ai_body() {
    let server = server(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("reg.jsonl");
    let out = check(args(
        server.mcp_url(),
        &trace,
        &["--register", "--client", "claude-ai"],
    ))
    .await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("registered a client on the server: client_id demo-client-"),
        "{text}"
    );
    // claude.ai connects from the cloud: loopback and a non-443 port are fatal for it.
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("error   GEN-PRIVATE-ADDRESS"), "{text}");
    assert!(text.contains("error   GEN-NON-443"), "{text}");
    let trace_text = std::fs::read_to_string(&trace).unwrap();
    let dcr: Value = trace_text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["phase"] == "registration")
        .unwrap();
    let body: Value =
        serde_json::from_str(dcr["request"]["body"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(body["client_name"], "Claude");
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(
        body["redirect_uris"],
        serde_json::json!([
            "https://claude.ai/api/mcp/auth_callback",
            "https://claude.com/api/mcp/auth_callback"
        ])
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn junit_is_well_formed_and_counts_failures() {
    let server = server(&[Fault::NoWwwAuthenticate]).await;
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("j.jsonl");
    let out = check(args(server.mcp_url(), &trace, &["--format", "junit"])).await;
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8(out.stdout).unwrap();
    let root = support_xml::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(root.name, "testsuites");
    let suite = &root.children[0];
    assert_eq!(suite.name, "testsuite");
    let cases: Vec<_> = suite
        .children
        .iter()
        .filter(|c| c.name == "testcase")
        .collect();
    assert_eq!(cases.len(), 10);
    let failures: usize = cases
        .iter()
        .map(|c| c.children.iter().filter(|f| f.name == "failure").count())
        .sum();
    assert!(failures >= 1);
    assert!(xml.contains("type=\"WWWAUTH-MISSING\""), "{xml}");
    assert_eq!(suite.attr("failures"), root.attr("failures"));
    assert_ne!(suite.attr("failures"), Some("0"));
    server.shutdown().await;
}

/// A server that answers every request with `status` and a small JSON body (one request per
/// connection), e.g. an auth guard answering 403 where MCP requires 401.
async fn answering(status: &'static str) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut seen = Vec::new();
                // Read the head and a body of Content-Length bytes, then answer.
                loop {
                    let Ok(n) = sock.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if seen.len() >= head_end + 4 + len {
                            break;
                        }
                    }
                }
                let body = r#"{"error":"forbidden"}"#;
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_403_to_the_unauthenticated_probe_names_mcp_unauth_not_401() {
    let (url, task) = answering("403 Forbidden").await;
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("403.jsonl");
    let out = check(args(&url, &trace, &["--format", "json"])).await;
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    let challenge = step(&report, "challenge");
    assert_eq!(challenge["status"], "fail", "{challenge:#}");
    assert!(
        challenge["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "MCP-UNAUTH-NOT-401"),
        "{challenge:#}"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_2_when_the_check_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("x.jsonl");
    let bad_url = check(args("ftp://example.invalid/mcp", &trace, &[])).await;
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_url.stderr).contains("not an MCP URL"));
    assert!(!trace.exists());

    let server = server(&[]).await;
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let unwritable = blocker.join("trace.jsonl");
    let out = check(args(server.mcp_url(), &unwritable, &[])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the trace"));

    let bad_profile = check(args(server.mcp_url(), &trace, &["--client", "chatgpt"])).await;
    assert_eq!(bad_profile.status.code(), Some(2));

    // A trace is never overwritten: the same --trace twice refuses the second run and leaves
    // the first trace as it was.
    let first = check(args(server.mcp_url(), &trace, &["--format", "json"])).await;
    assert_eq!(first.status.code(), Some(0));
    let written = std::fs::read(&trace).unwrap();
    let again = check(args(server.mcp_url(), &trace, &["--format", "json"])).await;
    assert_eq!(again.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read(&trace).unwrap(), written);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_and_tls_failures_are_recorded_errors() {
    // A port nobody listens on: bind, learn the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("r.jsonl");
    let url = format!("http://127.0.0.1:{port}/mcp");
    let out = check(args(&url, &trace, &["--format", "json"])).await;
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    assert_eq!(step(&report, "reachability")["status"], "fail");
    // The failed step names its rule.
    assert!(
        rule_ids(&report).contains(&"GEN-UNREACHABLE".to_string()),
        "{report:#}"
    );
    let line = std::fs::read_to_string(&trace).unwrap();
    let ex: Value = line
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["type"] == "exchange")
        .unwrap();
    assert_eq!(ex["outcome"], "upstream_error");
    assert_eq!(ex["error"]["kind"], "connect");

    // https to a plain-HTTP server: the TLS handshake fails → GEN-TLS.
    let server = server(&[]).await;
    let trace = dir.path().join("tls.jsonl");
    let https = server.mcp_url().replace("http://", "https://");
    let out = check(args(&https, &trace, &["--format", "json"])).await;
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    assert!(
        rule_ids(&report).contains(&"GEN-TLS".to_string()),
        "{report:#}"
    );
    server.shutdown().await;
}

/// A tiny XML well-formedness parser (elements, attributes, text, entities, declaration).
mod support_xml {
    #[derive(Debug)]
    pub struct Element {
        pub name: String,
        pub attrs: Vec<(String, String)>,
        pub children: Vec<Element>,
    }

    impl Element {
        pub fn attr(&self, name: &str) -> Option<&str> {
            self.attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    fn check_text(t: &str) -> Result<(), String> {
        if t.contains('<') {
            return Err(format!("raw < in {t:?}"));
        }
        let mut rest = t;
        while let Some(i) = rest.find('&') {
            let tail = &rest[i + 1..];
            let end = tail
                .find(';')
                .ok_or_else(|| format!("unterminated entity in {t:?}"))?;
            let ent = &tail[..end];
            let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
                || (ent.starts_with('#') && ent[1..].parse::<u32>().is_ok());
            if !ok {
                return Err(format!("bad entity &{ent}; in {t:?}"));
            }
            rest = &tail[end + 1..];
        }
        if t.chars()
            .any(|c| (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err("control character".into());
        }
        Ok(())
    }

    pub fn parse(xml: &str) -> Result<Element, String> {
        let mut s = xml.trim_start();
        if let Some(rest) = s.strip_prefix("<?xml") {
            s = &rest[rest.find("?>").ok_or("bad declaration")? + 2..];
        }
        let mut stack: Vec<Element> = Vec::new();
        let mut root = None;
        loop {
            let Some(lt) = s.find('<') else {
                check_text(s)?;
                if !s.trim().is_empty() {
                    return Err("text after root".into());
                }
                break;
            };
            check_text(&s[..lt])?;
            if stack.is_empty() && !s[..lt].trim().is_empty() {
                return Err("text outside root".into());
            }
            s = &s[lt + 1..];
            let gt = s.find('>').ok_or("unterminated tag")?;
            let tag = &s[..gt];
            s = &s[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let el = stack.pop().ok_or("close without open")?;
                if el.name != name.trim() {
                    return Err(format!("</{name}> closes <{}>", el.name));
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
            let name = body[..name_end].to_string();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_.:".contains(c))
            {
                return Err(format!("bad tag name {name:?}"));
            }
            let mut attrs = Vec::new();
            let mut rest = body[name_end..].trim();
            while !rest.is_empty() {
                let eq = rest.find('=').ok_or("attribute without value")?;
                let key = rest[..eq].trim().to_string();
                let after = rest[eq + 1..].trim_start();
                let quoted = after.strip_prefix('"').ok_or("unquoted attribute")?;
                let close = quoted.find('"').ok_or("unterminated attribute")?;
                let value = &quoted[..close];
                check_text(value)?;
                if value.contains('\n') {
                    return Err("raw newline in attribute".into());
                }
                attrs.push((key, value.to_string()));
                rest = quoted[close + 1..].trim_start();
            }
            let el = Element {
                name,
                attrs,
                children: Vec::new(),
            };
            if self_closing {
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            } else {
                stack.push(el);
            }
        }
        if !stack.is_empty() {
            return Err("unclosed element".into());
        }
        root.ok_or_else(|| "no root element".to_string())
    }

    #[test]
    fn rejects_broken_xml() {
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<a x=\"1 & 2\"/>").is_err());
        assert!(parse("<a>x < y</a>").is_err());
        assert!(parse("<a x=\"&lt;\">t&amp;u</a>").is_ok());
    }
}

#[test]
fn demo_direct_feeds_the_clients_own_recording_to_the_pipeline() {
    // No proxy: the built-in client's recording hook feeds the engine and the live view, so
    // the fault's rule is seen, and no trace is written.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authtap"))
        .args([
            "demo",
            "--direct",
            "--fault",
            "no-www-authenticate",
            "--out",
        ])
        .arg(dir.path().join("out"))
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("fault no-www-authenticate: WWWAUTH-MISSING seen"),
        "{text}"
    );
    assert!(text.contains("#1  mcp-transport  POST /mcp  401"), "{text}");
    assert!(text.contains("error    WWWAUTH-MISSING"), "{text}");
    assert!(!dir.path().join("out").exists(), "no trace is written");
}
