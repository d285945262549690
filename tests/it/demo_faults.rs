//! Each fault switch changes the observed traffic as its catalog row says: the built-in client,
//! run straight against the faulty reference server, reports the deviation at the right step.

use std::time::Duration;

use authtap::client::{self, ClientConfig, ClientProfile, FlowReport, Outcome, Step};
use authtap::demo::{self, CATALOG, ClientNeed, DemoConfig, Fault, FaultSet};

async fn run_with(fault: Fault, tweak: impl FnOnce(&mut ClientConfig)) -> FlowReport {
    authtap::install_crypto_provider();
    let faults: FaultSet = [fault].into_iter().collect();
    let server = demo::start(DemoConfig {
        faults,
        sse_step_delay: Duration::from_millis(5),
        ..DemoConfig::default()
    })
    .await
    .unwrap();
    let mut config = ClientConfig::new(server.mcp_url());
    config.timeout = Duration::from_secs(5);
    match fault.info().client_need {
        ClientNeed::Nothing => {}
        ClientNeed::BrowserOrigin => config.origin = Some("http://localhost:6274".into()),
        ClientNeed::ClaudeAiProfile => config.profile = ClientProfile::claude_ai(),
    }
    tweak(&mut config);
    let report = client::run_flow(config).await;
    server.shutdown().await;
    for s in &report.steps {
        eprintln!(
            "{:<28} {:>4?} {:<5} {} {}",
            s.name,
            s.status,
            s.outcome.as_str(),
            s.url,
            s.note
        );
    }
    report
}

async fn run(fault: Fault) -> FlowReport {
    run_with(fault, |_| {}).await
}

fn steps<'a>(report: &'a FlowReport, name: &'a str) -> impl Iterator<Item = &'a Step> + 'a {
    report.steps.iter().filter(move |s| s.name == name)
}

fn failed_at<'a>(report: &'a FlowReport, name: &str) -> &'a Step {
    assert!(!report.completed, "flow should not complete");
    assert_eq!(report.stopped_at.as_deref(), Some(name));
    let last = report.steps.last().unwrap();
    assert_eq!(last.outcome, Outcome::Fail);
    last
}

#[tokio::test]
async fn no_www_authenticate_forces_well_known_fallback() {
    let report = run(Fault::NoWwwAuthenticate).await;
    let probe = report.step("probe").unwrap();
    assert_eq!((probe.status, probe.outcome), (Some(401), Outcome::Warn));
    assert!(probe.note.contains("without WWW-Authenticate"));
    // The path-aware well-known URL is used instead of the challenge's.
    assert!(
        report
            .step("prm")
            .unwrap()
            .url
            .ends_with("/.well-known/oauth-protected-resource/mcp")
    );
    assert!(report.completed);
}

#[tokio::test]
async fn no_www_authenticate_stops_a_strict_client() {
    let report = run_with(Fault::NoWwwAuthenticate, |c| c.strict = true).await;
    failed_at(&report, "probe");
}

#[tokio::test]
async fn prm_401_leaves_no_metadata() {
    let report = run(Fault::Prm401).await;
    let prm: Vec<_> = steps(&report, "prm").collect();
    assert!(
        prm.iter().filter(|s| s.status == Some(401)).count() >= 2,
        "{prm:?}"
    );
    assert!(
        failed_at(&report, "prm")
            .note
            .contains("no protected resource metadata")
    );
}

#[tokio::test]
async fn dcr_float_expiry_is_reported_and_tolerated() {
    let report = run(Fault::DcrFloatExpiry).await;
    let dcr = report.step("dcr").unwrap();
    assert_eq!(dcr.outcome, Outcome::Warn);
    assert!(
        dcr.note.contains("client_secret_expires_at") && dcr.note.contains("not an integer"),
        "{}",
        dcr.note
    );
    assert!(report.completed);
}

#[tokio::test]
async fn dcr_null_optional_is_reported_and_tolerated() {
    let report = run(Fault::DcrNullOptional).await;
    let dcr = report.step("dcr").unwrap();
    assert_eq!(dcr.outcome, Outcome::Warn);
    assert!(
        dcr.note.contains("client_uri") && dcr.note.contains("software_version"),
        "{}",
        dcr.note
    );
    assert!(report.completed);
}

#[tokio::test]
async fn waf_challenge_on_prm() {
    let report = run(Fault::WafChallengePrm).await;
    let first = report.step("prm").unwrap();
    assert_eq!(first.status, Some(403));
    assert!(
        first.note.contains("cf-mitigated: challenge") && first.note.contains("HTML"),
        "{}",
        first.note
    );
    failed_at(&report, "prm");
}

#[tokio::test]
async fn vercel_checkpoint_on_mcp() {
    let report = run(Fault::VercelCheckpointMcp).await;
    let probe = failed_at(&report, "probe");
    assert_eq!(probe.status, Some(429));
    assert!(
        probe.note.contains("x-vercel-mitigated: challenge"),
        "{}",
        probe.note
    );
}

#[tokio::test]
async fn no_cors_on_well_known_blocks_a_browser_client() {
    let report = run(Fault::NoCorsWellKnown).await;
    let last = failed_at(&report, "prm (preflight)");
    assert_eq!(last.status, Some(405));
    assert!(last.note.starts_with("CORS:"));
}

#[tokio::test]
async fn no_cors_on_well_known_is_invisible_without_origin() {
    let report = run_with(Fault::NoCorsWellKnown, |c| c.origin = None).await;
    assert!(report.completed);
    assert_eq!(report.with_outcome(Outcome::Ok).count(), report.steps.len());
}

#[tokio::test]
async fn hidden_www_authenticate_forces_fallback_for_browsers() {
    let report = run(Fault::NoExposeWwwAuthenticate).await;
    let probe = report.step("probe").unwrap();
    assert_eq!(probe.outcome, Outcome::Warn);
    assert!(probe.note.contains("not readable"), "{}", probe.note);
    assert!(report.completed);
}

#[tokio::test]
async fn issuer_trailing_slash() {
    let report = run(Fault::IssuerTrailingSlash).await;
    let asm = report.step("asm").unwrap();
    assert_eq!(asm.outcome, Outcome::Warn);
    assert!(
        asm.note.contains("issuer") && asm.note.contains("/ differs"),
        "{}",
        asm.note
    );
    assert!(
        report.completed,
        "a lenient client goes on; tokens stay valid"
    );
    let strict = run_with(Fault::IssuerTrailingSlash, |c| c.strict = true).await;
    failed_at(&strict, "asm");
}

#[tokio::test]
async fn resource_mismatch() {
    let report = run(Fault::ResourceMismatch).await;
    let prm = report.step("prm").unwrap();
    assert_eq!(prm.outcome, Outcome::Warn);
    assert!(
        prm.note.contains("/v1/mcp differs from the MCP URL"),
        "{}",
        prm.note
    );
}

#[tokio::test]
async fn locale_redirect_on_oauth_routes() {
    let report = run(Fault::LocaleRedirect).await;
    assert!(
        report.completed,
        "fetch-like clients follow 307 and the browser follows 302"
    );
    let dcr: Vec<_> = steps(&report, "dcr").collect();
    assert_eq!(dcr.first().unwrap().status, Some(307));
    assert!(dcr.first().unwrap().note.contains("/en/register"));
    assert!(
        steps(&report, "authorize")
            .any(|s| s.status == Some(302) && s.note.contains("/en/authorize"))
    );
    assert!(steps(&report, "token").any(|s| s.status == Some(307) && s.note.contains("/en/token")));
}

#[tokio::test]
async fn consent_form_answered_307_after_post() {
    let report = run(Fault::Consent307AfterPost).await;
    assert!(
        steps(&report, "authorize")
            .any(|s| s.status == Some(200) && s.note.contains("HTML consent form"))
    );
    let last = failed_at(&report, "authorize");
    assert_eq!((last.method.as_str(), last.status), ("POST", Some(307)));
    assert!(last.note.contains("re-POSTs to the callback"));
}

#[tokio::test]
async fn token_with_wrong_audience_is_rejected_by_mcp() {
    let report = run(Fault::TokenWrongAudience).await;
    assert_eq!(report.step("token").unwrap().outcome, Outcome::Ok);
    let last = failed_at(&report, "initialize");
    assert_eq!(last.status, Some(401));
    assert!(
        last.note.contains("invalid_token") && last.note.contains("audience"),
        "{}",
        last.note
    );
}

#[tokio::test]
async fn dcr_rejects_client_secret_post() {
    let report = run(Fault::DcrRejectsSecretPost).await;
    let last = failed_at(&report, "dcr");
    assert_eq!(last.status, Some(400));
    assert!(last.note.contains("invalid_client_metadata"));
    // A public client is still accepted.
    let native = run_with(Fault::DcrRejectsSecretPost, |c| {
        c.profile = ClientProfile::native()
    })
    .await;
    assert!(native.completed);
}

#[tokio::test]
async fn mcp_trailing_slash_redirect() {
    let report = run(Fault::McpTrailingSlashRedirect).await;
    let probe: Vec<_> = steps(&report, "probe").collect();
    assert_eq!(probe.first().unwrap().status, Some(307));
    assert!(probe.first().unwrap().note.contains("/mcp/"));
    assert!(report.completed);
}

#[test]
fn every_catalog_fault_has_a_test_here() {
    let source = include_str!("demo_faults.rs");
    for info in CATALOG {
        let variant = format!("{:?}", info.fault);
        assert!(
            source.contains(&format!("Fault::{variant})")),
            "no test for {}",
            info.name
        );
    }
}
