//! Every TLS stack installed here against the real proxy and its local CA (issue #10).
//!
//! Each stack runs as its own program, trusting the CA the way the README tells users to:
//! OpenSSL through curl (`--cacert`) and Python's `ssl` (`SSL_CERT_FILE`), Node
//! (`NODE_EXTRA_CA_CERTS`), Go's crypto/x509 (`SSL_CERT_FILE`, tests/peers/tls-probe.go) and
//! Chromium's own verifier (the CA added to an NSS store with `certutil`). Each must get a
//! request through by name (`https://localhost:PORT`, the DNS-only leaf) and by address
//! (`https://127.0.0.1:PORT`, the leaf with IP SANs); the proxy's trace is the judge (an exchange
//! at the probe's own path). Then each runs once *without* the CA and must leave a
//! `tls_handshake` record naming the alert it sent (or that it closed without one). BoringSSL's
//! legacy verifier (Claude Code) is covered by tests/it/claude_code_e2e.rs; rustls by
//! tests/it/tls_handshake.rs.
//!
//! The same stacks must accept the forward-mode CA's per-host leaves (by name and by address).
//!
//! A missing stack fails under `CI=true` and is skipped loudly otherwise. Install them with
//! `bash scripts/ci/install-peers.sh` and `bash scripts/ci/install-export.sh` (Chromium).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use authtap::model::{Record, TlsHandshakeFailure};
use support::{TestProxy, Upstream, exchanges};
use time::OffsetDateTime;

/// A client TLS stack, run as an external program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    Curl,
    Python,
    Node,
    Go,
    Chromium,
}

impl Stack {
    const ALL: [Stack; 5] = [
        Stack::Curl,
        Stack::Python,
        Stack::Node,
        Stack::Go,
        Stack::Chromium,
    ];

    fn label(self) -> &'static str {
        match self {
            Stack::Curl => "curl (OpenSSL)",
            Stack::Python => "Python ssl (OpenSSL)",
            Stack::Node => "Node (OpenSSL)",
            Stack::Go => "Go crypto/x509",
            Stack::Chromium => "Chromium (own verifier)",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Stack::Curl => "curl",
            Stack::Python => "python",
            Stack::Node => "node",
            Stack::Go => "go",
            Stack::Chromium => "chromium",
        }
    }

    /// The programs this stack needs on PATH.
    fn programs(self) -> &'static [&'static str] {
        match self {
            Stack::Curl => &["curl"],
            Stack::Python => &["python3"],
            Stack::Node => &["node"],
            Stack::Go => &["go"],
            Stack::Chromium => &["chromium", "certutil"],
        }
    }
}

fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The stacks that can run; a missing one fails under CI and is reported otherwise.
fn available_stacks() -> Vec<Stack> {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    let mut stacks = Vec::new();
    for stack in Stack::ALL {
        let missing: Vec<&str> = stack
            .programs()
            .iter()
            .copied()
            .filter(|p| !on_path(p))
            .collect();
        if missing.is_empty() {
            stacks.push(stack);
            continue;
        }
        let message = format!(
            "{}: {missing:?} not on PATH (bash scripts/ci/install-peers.sh; Chromium: \
             bash scripts/ci/install-export.sh)",
            stack.label()
        );
        assert!(!ci, "FAILED (CI=true): {message}");
        eprintln!("==================== SKIPPED {message}");
    }
    stacks
}

/// Per-stack set-up: the Go probe binary and Chromium's NSS stores.
struct Workspace {
    dir: tempfile::TempDir,
    go_probe: Option<PathBuf>,
}

impl Workspace {
    fn new(stacks: &[Stack], ca: &Path) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let mut go_probe = None;
        if stacks.contains(&Stack::Go) {
            let out = dir.path().join("tls-probe");
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/tls-probe.go");
            let build = Command::new("go")
                .arg("build")
                .arg("-o")
                .arg(&out)
                .arg(&source)
                .output()
                .unwrap();
            assert!(
                build.status.success(),
                "go build tls-probe.go failed: {}",
                String::from_utf8_lossy(&build.stderr)
            );
            go_probe = Some(out);
        }
        if stacks.contains(&Stack::Chromium) {
            for (home, trusted) in [("chromium-trusting", true), ("chromium-plain", false)] {
                let nssdb = dir.path().join(home).join(".pki/nssdb");
                std::fs::create_dir_all(&nssdb).unwrap();
                let db = format!("sql:{}", nssdb.display());
                run_ok(Command::new("certutil").args(["-d", &db, "-N", "--empty-password"]));
                if trusted {
                    run_ok(
                        Command::new("certutil")
                            .args(["-d", &db, "-A", "-t", "C,,", "-n", "authtap-test", "-i"])
                            .arg(ca),
                    );
                }
            }
        }
        Workspace { dir, go_probe }
    }

    /// The command that fetches `url` with `stack`, trusting `ca` when given.
    fn probe(&self, stack: Stack, url: &str, ca: Option<&Path>) -> Command {
        let mut cmd;
        match stack {
            Stack::Curl => {
                cmd = Command::new("curl");
                cmd.args([
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "20",
                ]);
                if let Some(ca) = ca {
                    cmd.arg("--cacert").arg(ca);
                }
                cmd.arg(url);
            }
            Stack::Python => {
                cmd = Command::new("python3");
                cmd.args([
                    "-c",
                    "import sys, urllib.request, urllib.error\n\
                     try:\n    print(urllib.request.urlopen(sys.argv[1], timeout=20).status)\n\
                     except urllib.error.HTTPError as e:\n    print(e.code)\n",
                    url,
                ]);
                if let Some(ca) = ca {
                    cmd.env("SSL_CERT_FILE", ca);
                }
            }
            Stack::Node => {
                cmd = Command::new("node");
                cmd.args([
                    "-e",
                    "fetch(process.argv[1]).then(r => console.log(r.status), \
                     e => { console.log('ERR', e.cause?.code ?? e.message); process.exit(1); })",
                    url,
                ]);
                if let Some(ca) = ca {
                    cmd.env("NODE_EXTRA_CA_CERTS", ca);
                }
            }
            Stack::Go => {
                cmd = Command::new(self.go_probe.as_ref().unwrap());
                cmd.arg(url);
                if let Some(ca) = ca {
                    cmd.env("SSL_CERT_FILE", ca);
                }
            }
            Stack::Chromium => {
                let home = self.dir.path().join(if ca.is_some() {
                    "chromium-trusting"
                } else {
                    "chromium-plain"
                });
                cmd = Command::new("timeout");
                cmd.args(["-k", "5", "60", "chromium", "--headless", "--no-sandbox"])
                    .args(["--disable-gpu", "--no-first-run", "--dump-dom"])
                    .arg(format!(
                        "--user-data-dir={}",
                        home.join("profile").display()
                    ))
                    .arg(url)
                    .env("HOME", &home);
            }
        }
        cmd
    }
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a probe; returns its output (for failure messages).
fn run_probe(mut cmd: Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_installed_tls_stack_trusts_the_local_ca_and_its_rejection_is_recorded() {
    let _peers = crate::heavy::slot();
    let stacks = available_stacks();
    let up = Upstream::start().await;
    let tp = TestProxy::start(&up.url).await;
    let ca = tp.proxy.ca_pem_path().unwrap().to_path_buf();
    let port = tp.proxy.local_addr().port();
    let workspace = Workspace::new(&stacks, &ca);

    // (stack, host, client output) for the trusting runs; (stack, window, output) untrusted.
    let mut trusting = Vec::new();
    let mut untrusted = Vec::new();
    for &stack in &stacks {
        for host in ["localhost", "127.0.0.1"] {
            let url = format!("https://{host}:{port}/probe/{}/{host}", stack.slug());
            let cmd = workspace.probe(stack, &url, Some(&ca));
            let output = tokio::task::spawn_blocking(move || run_probe(cmd))
                .await
                .unwrap();
            trusting.push((stack, host, output));
        }
        let url = format!("https://localhost:{port}/probe/{}/untrusted", stack.slug());
        let cmd = workspace.probe(stack, &url, None);
        let from = OffsetDateTime::now_utc();
        let output = tokio::task::spawn_blocking(move || run_probe(cmd))
            .await
            .unwrap();
        untrusted.push((stack, from, OffsetDateTime::now_utc(), output));
    }

    let (records, _dir) = tp.finish().await;
    let paths: Vec<String> = exchanges(&records)
        .iter()
        .filter_map(|x| x.request.parsed_url().map(|u| u.path().to_string()))
        .collect();
    let failures: Vec<&TlsHandshakeFailure> = records
        .iter()
        .filter_map(|r| match r {
            Record::TlsHandshake(h) => Some(h),
            _ => None,
        })
        .collect();

    let mut problems = Vec::new();
    println!(
        "{:<26} {:<10} {:<10} without the CA",
        "stack", "localhost", "127.0.0.1"
    );
    for &stack in &stacks {
        let mut row = format!("{:<26}", stack.label());
        for (s, host, output) in trusting.iter().filter(|(s, ..)| *s == stack) {
            let path = format!("/probe/{}/{host}", s.slug());
            let passed = paths.contains(&path);
            row.push_str(&format!(
                " {:<10}",
                if passed { "accepted" } else { "REJECTED" }
            ));
            if !passed {
                problems.push(format!(
                    "{} did not get a request through to https://{host} while trusting the CA: {output}",
                    stack.label()
                ));
            }
        }
        let (_, from, to, output) = untrusted.iter().find(|(s, ..)| *s == stack).unwrap();
        if paths.contains(&format!("/probe/{}/untrusted", stack.slug())) {
            problems.push(format!(
                "{} got through without trusting the CA",
                stack.label()
            ));
        }
        let recorded: Vec<String> = failures
            .iter()
            .filter(|h| h.at >= *from && h.at <= *to)
            .map(|h| {
                h.alert
                    .clone()
                    .unwrap_or_else(|| "closed without an alert".to_string())
            })
            .collect();
        if recorded.is_empty() {
            problems.push(format!(
                "{}'s rejected handshake left no tls_handshake record: {output}",
                stack.label()
            ));
        }
        row.push_str(&format!(" rejected, recorded: {}", recorded.join(", ")));
        println!("{row}");
    }
    if stacks.contains(&Stack::Curl) {
        // OpenSSL's verdict for an unknown issuer, as the issue's example names it.
        let curl = untrusted.iter().find(|(s, ..)| *s == Stack::Curl).unwrap();
        assert!(
            failures.iter().any(|h| h.at >= curl.1
                && h.at <= curl.2
                && h.alert.as_deref() == Some("unknown_ca")),
            "curl without the CA should be recorded as alert unknown_ca: {failures:?}"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The forward-mode CA's shape (`authtap run`, `proxy --forward`): a `pathLen:0` CA without
/// name constraints and one-SAN leaves per host. Each installed stack, trusting only that CA,
/// must accept a DNS leaf (`https://localhost:PORT`) and an IP leaf (`https://127.0.0.1:PORT`),
/// both served by the reference server. (BoringSSL: tests/it/forward_peers.rs runs Claude Code over
/// HTTPS through `authtap run`.)
#[test]
fn every_installed_tls_stack_accepts_the_forward_ca_leaves() {
    let _peers = crate::heavy::slot();
    use authtap::ca::forward::ForwardCa;
    use authtap::demo::DemoConfig;

    let stacks = available_stacks();
    authtap::install_crypto_provider();
    let ca = ForwardCa::ephemeral().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("forward-ca.pem");
    std::fs::write(&ca_path, ca.cert_pem()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut servers = Vec::new();
    for host in ["localhost", "127.0.0.1"] {
        let leaf = ca.issue_leaf(host).unwrap();
        let mut tls = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(leaf.chain, leaf.key)
            .unwrap();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let demo = runtime
            .block_on(authtap::demo::start(DemoConfig {
                tls: Some(std::sync::Arc::new(tls)),
                ..DemoConfig::default()
            }))
            .unwrap();
        servers.push((host, demo));
    }
    let workspace = Workspace::new(&stacks, &ca_path);
    let mut problems = Vec::new();
    println!("{:<26} {:<10} {:<10}", "stack", "localhost", "127.0.0.1");
    for &stack in &stacks {
        let mut row = format!("{:<26}", stack.label());
        for (host, demo) in &servers {
            let url = format!(
                "https://{host}:{}/.well-known/oauth-protected-resource/mcp",
                demo.mcp_addr().port()
            );
            let out = workspace
                .probe(stack, &url, Some(&ca_path))
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            // Status 200 for the HTTP clients; the PRM's JSON in the page for Chromium.
            let accepted = stdout.lines().any(|l| l.trim() == "200")
                || stdout.contains("authorization_servers");
            let output = format!(
                "{}{}",
                tail_lines(&stdout, 3),
                tail_lines(&String::from_utf8_lossy(&out.stderr), 3)
            );
            row.push_str(&format!(
                " {:<10}",
                if accepted { "accepted" } else { "REJECTED" }
            ));
            if !accepted {
                problems.push(format!(
                    "{} rejected the forward CA's leaf for {host}: {output}",
                    stack.label()
                ));
            }
        }
        println!("{row}");
    }
    for (_, demo) in servers {
        runtime.block_on(demo.shutdown());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The last `n` lines of `text`, joined with ` | `.
fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
