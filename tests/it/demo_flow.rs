//! End-to-end: the built-in client walks the whole flow against the clean reference server,
//! on one origin and with a separate AS origin.

use std::time::Duration;

use authtap::client::{self, ClientConfig, ClientProfile, Outcome};
use authtap::demo::{self, DemoConfig};

fn fast() -> DemoConfig {
    DemoConfig {
        sse_step_delay: Duration::from_millis(20),
        ..DemoConfig::default()
    }
}

fn print(report: &client::FlowReport) {
    for s in &report.steps {
        eprintln!(
            "{:<28} {:<14} {:>4?} {:<5} {} {}",
            s.name,
            s.phase,
            s.status,
            s.outcome.as_str(),
            s.url,
            s.note
        );
    }
}

async fn run(demo_config: DemoConfig, profile: ClientProfile) -> client::FlowReport {
    authtap::install_crypto_provider();
    let server = demo::start(demo_config).await.unwrap();
    let mut config = ClientConfig::new(server.mcp_url());
    config.profile = profile;
    config.timeout = Duration::from_secs(5);
    let report = client::run_flow(config).await;
    print(&report);
    server.shutdown().await;
    report
}

fn assert_clean(report: &client::FlowReport) {
    assert!(report.completed, "stopped at {:?}", report.stopped_at);
    let bad: Vec<_> = report
        .steps
        .iter()
        .filter(|s| s.outcome != Outcome::Ok)
        .collect();
    assert!(bad.is_empty(), "non-ok steps on the clean server: {bad:#?}");
    let names: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "probe",
        "prm",
        "asm",
        "dcr",
        "authorize",
        "callback",
        "token",
        "initialize",
        "notifications/initialized",
        "tools/list",
        "tools/call countdown",
        "refresh",
        "tools/call echo",
        "delete session",
    ] {
        assert!(
            names.contains(&expected),
            "missing step {expected} in {names:?}"
        );
    }
    assert_eq!(report.protocol_version.as_deref(), Some("2025-11-25"));
    // priming event + 3 progress notifications + result
    assert_eq!(report.sse_events, 5);
}

#[tokio::test]
async fn clean_flow_completes_on_one_origin() {
    let report = run(fast(), ClientProfile::native()).await;
    assert_clean(&report);
    let countdown = report.step("tools/call countdown").unwrap();
    assert!(
        countdown.note.contains("3 notifications"),
        "{}",
        countdown.note
    );
}

#[tokio::test]
async fn clean_flow_completes_with_separate_as() {
    let report = run(
        DemoConfig {
            separate_as: true,
            ..fast()
        },
        ClientProfile::native(),
    )
    .await;
    assert_clean(&report);
    let prm = report.step("prm").unwrap();
    let asm = report.step("asm").unwrap();
    assert_ne!(
        url_port(&prm.url),
        url_port(&asm.url),
        "AS must be on its own origin"
    );
}

#[tokio::test]
async fn clean_flow_completes_for_claude_ai_profile() {
    let mut profile = ClientProfile::claude_ai();
    profile.protocol_version = "2025-06-18".into();
    let report = run(fast(), profile).await;
    assert!(report.completed, "stopped at {:?}", report.stopped_at);
    assert_eq!(report.protocol_version.as_deref(), Some("2025-06-18"));
    assert!(
        report
            .step("dcr")
            .unwrap()
            .note
            .contains("client_secret_post")
    );
    assert_eq!(report.with_outcome(Outcome::Ok).count(), report.steps.len());
    // 2025-06-18: no priming event, 3 notifications + result
    assert_eq!(report.sse_events, 4);
}

#[tokio::test]
async fn browser_origin_flow_passes_cors() {
    authtap::install_crypto_provider();
    let server = demo::start(fast()).await.unwrap();
    let mut config = ClientConfig::new(server.mcp_url());
    config.origin = Some("http://localhost:6274".into());
    let report = client::run_flow(config).await;
    print(&report);
    server.shutdown().await;
    assert!(report.completed, "stopped at {:?}", report.stopped_at);
    assert!(
        report
            .steps
            .iter()
            .any(|s| s.name.ends_with("(preflight)") && s.outcome == Outcome::Ok)
    );
    assert_eq!(report.with_outcome(Outcome::Ok).count(), report.steps.len());
}

fn url_port(url: &str) -> Option<u16> {
    url.split("://")
        .nth(1)?
        .split('/')
        .next()?
        .rsplit(':')
        .next()?
        .parse()
        .ok()
}
