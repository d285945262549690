//! Forward mode with real processes and sockets (issue #12): `authtap run -- CMD` and
//! `authtap proxy --forward`, in front of authtap's reference server served over HTTPS with its
//! own certificate (a CA the test makes; authtap trusts it through `--upstream-ca`).
//!
//! - curl under `authtap run`: the PRM recorded is byte for byte what curl received, the
//!   authorization server on its second origin is learned from the PRM and intercepted, the
//!   session says `"mode":"forward"`, the exit code is curl's, and exports are written.
//! - a blind tunnel: a TLS server outside the interception set is reached with its own
//!   certificate (curl verifies it against that server's CA only) and leaves a tunnel record
//!   with byte counts and no content; the same request to an intercepted host fails that check.
//! - `authtap proxy --forward` creates its persistent forward CA (key 0600), prints its
//!   fingerprint, and serves HTTP/2 inside a tunnel.
//! - X-LEG-BYPASSED-PROXY fires on real traffic: the Python SDK client with `NO_PROXY` covering
//!   its authorization server completes its flow, and the trace says that leg went around.

use crate::harness;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use authtap::demo::DemoConfig;
use harness::tls_demo::{demo_tls, start_tls_demo};
use harness::trace::Trace;
use harness::{Proc, tail};

const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// `authtap run ARGS -- CMD…` with the proxy variables of the test runner removed and a
/// `NO_PROXY` that would bypass loopback (authtap must take loopback out of it).
fn authtap_run(args: &[&str], cmd: &[&str], cwd: &Path) -> Proc {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authtap"));
    command
        .arg("run")
        .args(args)
        .arg("--")
        .args(cmd)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .env("NO_PROXY", "localhost,127.0.0.1,::1")
        .env("no_proxy", "localhost,127.0.0.1,::1");
    for name in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
        "ALL_PROXY",
    ] {
        command.env_remove(name);
    }
    Proc::spawn("authtap run", command)
}

fn exchange_for<'a>(trace: &'a Trace, url: &str) -> &'a serde_json::Value {
    trace
        .exchanges()
        .find(|x| x["request"]["url"] == url)
        .unwrap_or_else(|| panic!("no exchange for {url}:\n{}", trace.summary()))
}

fn curl_or_skip(test: &str) -> bool {
    let ok = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(!harness::in_ci(), "{test}: curl is not installed");
        eprintln!("{test}: SKIPPED, curl is not installed");
    }
    ok
}

#[test]
fn run_curl_records_the_servers_own_bytes_and_learns_the_authorization_server() {
    if !curl_or_skip("run_curl_records_the_servers_own_bytes") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (tls, demo_ca) = demo_tls(dir.path());
    let demo = start_tls_demo(tls, &[]);
    let prm_url = demo
        .mcp_url
        .replace("/mcp", "/.well-known/oauth-protected-resource/mcp");
    let asm_url = format!("{}/.well-known/oauth-authorization-server", demo.as_issuer);
    let script = format!(
        "curl -sS --fail -o prm.json '{prm_url}' && curl -sS --fail -o asm.json '{asm_url}' \
         && exit 7"
    );
    let trace_path = dir.path().join("t.jsonl");
    let out_dir = dir.path().join("out");
    let proc = authtap_run(
        &[
            "--mcp",
            &demo.mcp_url,
            "--upstream-ca",
            demo_ca.to_str().unwrap(),
            "--trace",
            trace_path.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &["sh", "-c", &script],
        dir.path(),
    );
    let (status, log) = proc.finish_logged(RUN_TIMEOUT);
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(7),
        "authtap run must exit with the command's code; log:\n{log}"
    );
    let trace = Trace::read(&trace_path);
    assert_eq!(trace.bad_lines, 0);
    let session = &trace.records[0];
    assert_eq!(session["type"], "session");
    assert_eq!(session["mode"], "forward");
    assert_eq!(session["source"], "run");
    // Each exchange record says which mode captured it, too.
    assert!(
        trace.exchanges().all(|x| x["mode"] == "forward"),
        "{}",
        trace.summary()
    );

    // The PRM in the trace is what curl received, byte for byte (nothing rewritten).
    let prm = exchange_for(&trace, &prm_url);
    let received = std::fs::read_to_string(dir.path().join("prm.json")).unwrap();
    assert_eq!(prm["response"]["body"]["text"], received.as_str());
    assert!(prm["request"].get("client_url").is_none());
    assert!(prm.get("rewrites").is_none());
    assert_eq!(prm["phase"], "discovery-prm");

    // The AS origin (another port) was learned from the PRM and intercepted.
    let asm = exchange_for(&trace, &asm_url);
    let received = std::fs::read_to_string(dir.path().join("asm.json")).unwrap();
    assert_eq!(asm["response"]["body"]["text"], received.as_str());
    let as_authority = url::Url::parse(&demo.as_issuer).unwrap();
    let as_authority = format!(
        "{}:{}",
        as_authority.host_str().unwrap(),
        as_authority.port().unwrap()
    );
    assert!(
        log.contains(&format!("learned from the flow: {as_authority}")),
        "the summary should name the learned host; log:\n{}",
        tail(&log, 30)
    );
    assert!(
        trace.records.iter().all(|r| r["type"] != "tunnel"),
        "nothing should be tunneled blind:\n{}",
        trace.summary()
    );
    for ext in ["har", "md", "html"] {
        assert!(
            out_dir.join(format!("t.{ext}")).is_file(),
            "no {ext} export"
        );
    }
}

#[test]
fn hosts_outside_the_set_are_tunneled_blind_with_their_own_certificate() {
    if !curl_or_skip("hosts_outside_the_set_are_tunneled_blind") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (tls, demo_ca) = demo_tls(dir.path());
    let intercepted = start_tls_demo(tls.clone(), &[]);
    let untouched = start_tls_demo(tls, &[]);
    let untouched_prm = untouched
        .mcp_url
        .replace("/mcp", "/.well-known/oauth-protected-resource/mcp");
    let intercepted_prm = intercepted
        .mcp_url
        .replace("/mcp", "/.well-known/oauth-protected-resource/mcp");
    let ca = demo_ca.to_str().unwrap();
    // --cacert: trust ONLY the servers' own CA. The untouched host must pass that check (its
    // certificate reached curl); the intercepted one must fail it (authtap's leaf did).
    let script = format!(
        "curl -sS --fail --cacert '{ca}' -o blind.json '{untouched_prm}' || exit 3; \
         if curl -sS --fail --cacert '{ca}' -o /dev/null '{intercepted_prm}'; then exit 4; fi; \
         exit 0"
    );
    let trace_path = dir.path().join("t.jsonl");
    let proc = authtap_run(
        &[
            "--mcp",
            &intercepted.mcp_url,
            "--upstream-ca",
            ca,
            "--trace",
            trace_path.to_str().unwrap(),
        ],
        &["sh", "-c", &script],
        dir.path(),
    );
    let (status, log) = proc.finish_logged(RUN_TIMEOUT);
    let trace = Trace::read(&trace_path);
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "curl exit 3: the untouched host's certificate did not verify; 4: the intercepted \
         host's did (it should be authtap's)\n{}\n{}",
        trace.summary(),
        tail(&log, 30)
    );
    let port = url::Url::parse(&untouched.mcp_url).unwrap().port().unwrap();
    let tunnel = trace
        .records
        .iter()
        .find(|r| r["type"] == "tunnel" && r["port"] == port)
        .unwrap_or_else(|| panic!("no tunnel record for port {port}:\n{:?}", trace.records));
    assert_eq!(tunnel["host"], "127.0.0.1");
    assert!(tunnel["bytes_up"].as_u64().unwrap() > 0);
    assert!(tunnel["bytes_down"].as_u64().unwrap() > 0);
    assert!(tunnel["duration_ms"].as_f64().is_some());
    let keys: Vec<&str> = tunnel
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "type",
            "at",
            "client_addr",
            "host",
            "port",
            "bytes_up",
            "bytes_down",
            "duration_ms"
        ],
        "a tunnel record carries no content"
    );
    assert!(
        trace.exchanges().all(|x| !x["request"]["url"]
            .as_str()
            .unwrap()
            .contains(&format!(":{port}/"))),
        "the untouched host must not appear as an exchange:\n{}",
        trace.summary()
    );
    // The refused leaf of the intercepted host is recorded with advice.
    assert!(
        trace.records.iter().any(|r| r["type"] == "tls_handshake"),
        "curl's refusal of authtap's leaf should be recorded:\n{:?}",
        trace.records
    );
}

#[test]
fn proxy_forward_uses_a_persistent_ca_and_serves_http2_in_the_tunnel() {
    if !curl_or_skip("proxy_forward_uses_a_persistent_ca") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (tls, demo_ca) = demo_tls(dir.path());
    let demo = start_tls_demo(tls, &[]);
    let certs = dir.path().join("certs");
    let trace_path = dir.path().join("t.jsonl");
    let mut command = Command::new(env!("CARGO_BIN_EXE_authtap"));
    command
        .args(["proxy", "--forward", "--listen", "127.0.0.1:0"])
        .arg("--certs-dir")
        .arg(&certs)
        .arg("--trace")
        .arg(&trace_path)
        .arg("--upstream-ca")
        .arg(&demo_ca)
        .env("NO_COLOR", "1");
    let mut proc = Proc::spawn("authtap proxy --forward", command);
    let proxy_url = proc.wait_for_line(Duration::from_secs(30), |line| {
        line.starts_with("authtap forward proxy on")
            .then(|| harness::first_url(line))
            .flatten()
    });
    let fingerprint = proc.wait_for_line(Duration::from_secs(5), |line| {
        line.trim()
            .strip_prefix("its SHA-256 fingerprint:")
            .map(|f| f.trim().to_string())
    });
    assert_eq!(fingerprint.len(), 95, "SHA-256 as colon hex: {fingerprint}");
    proc.wait_for_line(Duration::from_secs(5), |line| {
        line.contains("intercepting EVERY host").then_some(())
    });
    let key = certs.join("forward-ca-key.pem");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        !certs.join("ca-key.pem").exists(),
        "the reverse CA is separate"
    );
    let prm_url = demo
        .mcp_url
        .replace("/mcp", "/.well-known/oauth-protected-resource/mcp");
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--http2", "-w", "%{http_version}", "-o"])
        .arg(dir.path().join("prm.json"))
        .args(["--proxy", &proxy_url, "--cacert"])
        .arg(certs.join("forward-ca.pem"))
        .arg(&prm_url)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl through the forward proxy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2");
    let status = proc.terminate(Duration::from_secs(10));
    assert!(status.is_some(), "the proxy did not stop on SIGTERM");
    let trace = Trace::read(&trace_path);
    let prm = exchange_for(&trace, &prm_url);
    assert_eq!(prm["request"]["http_version"], "HTTP/2.0");
    assert_eq!(trace.records[0]["mode"], "forward");

    // A key others can read is refused.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_authtap"))
        .args(["proxy", "--forward", "--listen", "127.0.0.1:0"])
        .arg("--certs-dir")
        .arg(&certs)
        .arg("--trace")
        .arg(dir.path().join("t2.jsonl"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("chmod 600"), "{stderr}");
}

/// A forward-mode trace in which the authorization server legs went around the proxy: the Python
/// SDK client uses `authtap proxy --forward` through `HTTP_PROXY`, but `NO_PROXY=localhost`
/// sends its requests to the authorization server (announced as `http://localhost:PORT`)
/// directly. The flow still completes; X-LEG-BYPASSED-PROXY must name the bypassed server.
/// (The near miss is every `authtap run` test of tests/it/forward_peers.rs, where it stays quiet.)
#[test]
fn a_bypassed_authorization_server_is_named_by_x_leg_bypassed_proxy() {
    let _peers = crate::heavy::slot();
    let test = "a_bypassed_authorization_server_is_named_by_x_leg_bypassed_proxy";
    let Some(peers) = harness::peers::peers_or_skip(test) else {
        return;
    };
    let as_port = harness::free_port();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let demo = runtime
        .block_on(authtap::demo::start(DemoConfig {
            separate_as: true,
            as_port,
            public_as_url: Some(format!("http://localhost:{as_port}")),
            ..DemoConfig::default()
        }))
        .unwrap();
    let mcp_url = demo.mcp_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let trace_path = dir.path().join("t.jsonl");
    let mut command = Command::new(env!("CARGO_BIN_EXE_authtap"));
    command
        .args([
            "proxy",
            "--forward",
            "--listen",
            "127.0.0.1:0",
            "--mcp",
            &mcp_url,
        ])
        .arg("--certs-dir")
        .arg(dir.path().join("certs"))
        .arg("--trace")
        .arg(&trace_path)
        .env("NO_COLOR", "1");
    let mut proxy = Proc::spawn("authtap proxy --forward", command);
    let proxy_url = proxy.wait_for_line(Duration::from_secs(30), |line| {
        line.starts_with("authtap forward proxy on")
            .then(|| harness::first_url(line))
            .flatten()
    });
    let client = Command::new(&peers.python)
        .arg(peers.dir.join("py_client.py"))
        .args([&mcp_url, "--timeout", "30"])
        .current_dir(&peers.dir)
        .env("HTTP_PROXY", &proxy_url)
        .env("http_proxy", &proxy_url)
        .env("NO_PROXY", "localhost")
        .env("no_proxy", "localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let client_log = String::from_utf8_lossy(&client.stderr).into_owned();
    assert!(
        client.status.success(),
        "the Python client should still complete (only the proxy was bypassed):\n{}",
        tail(&client_log, 30)
    );
    assert!(proxy.terminate(Duration::from_secs(10)).is_some());
    runtime.block_on(demo.shutdown());
    let trace = Trace::read(&trace_path);
    let finding = trace
        .findings()
        .into_iter()
        .find(|f| f.rule == "X-LEG-BYPASSED-PROXY")
        .unwrap_or_else(|| {
            panic!(
                "X-LEG-BYPASSED-PROXY did not fire: {:?}\n{}",
                trace.rule_ids(),
                trace.summary()
            )
        });
    assert!(
        finding
            .message
            .contains(&format!("http://localhost:{as_port}")),
        "{}",
        finding.message
    );
    assert!(
        trace.exchanges().all(|x| !x["request"]["url"]
            .as_str()
            .unwrap()
            .contains(&format!(":{as_port}/"))),
        "no AS request should have reached authtap:\n{}",
        trace.summary()
    );
}
