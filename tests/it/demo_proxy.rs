//! The demo job end to end: reference server → recording proxy (TLS, local CA) → built-in
//! client, all on ephemeral loopback ports; the trace is read back.

use std::time::Duration;

use authtap::client::{self, ClientConfig, FlowReport};
use authtap::demo::{self, DemoConfig, Fault, FaultSet};
use authtap::model::Severity;
use authtap::model::{Exchange, Headers, Record};
use authtap::proxy::{self, ProxyConfig};

async fn run_proxied(faults: FaultSet) -> (FlowReport, Vec<Exchange>) {
    authtap::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let server = demo::start(DemoConfig {
        faults,
        sse_step_delay: Duration::from_millis(20),
        ..DemoConfig::default()
    })
    .await
    .unwrap();
    let trace = dir.path().join("trace.jsonl");
    let mut config = ProxyConfig::new(url::Url::parse(server.base_url()).unwrap(), trace.clone());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.certs_dir = dir.path().join("certs");
    config.source = "demo".into();
    config.live = None;
    let running = proxy::start(config).await.unwrap();
    let mut client_config = ClientConfig::new(format!(
        "{}/mcp",
        running.base_url().as_str().trim_end_matches('/')
    ));
    client_config.ca_pem = running.ca_pem_path().map(|p| p.to_path_buf());
    client_config.timeout = Duration::from_secs(5);
    let report = client::run_flow(client_config).await;
    running.shutdown().await.unwrap();
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
    let read = authtap::trace::reader::read_trace(&trace).unwrap();
    let exchanges = read
        .records
        .into_iter()
        .filter_map(|r| match r {
            Record::Exchange(ex) => Some(*ex),
            _ => None,
        })
        .collect();
    (report, exchanges)
}

#[tokio::test]
async fn clean_flow_through_the_proxy_is_recorded_without_errors() {
    let (report, exchanges) = run_proxied(FaultSet::none()).await;
    assert!(report.completed, "stopped at {:?}", report.stopped_at);
    assert!(
        exchanges
            .iter()
            .all(|x| x.mode == authtap::model::CaptureMode::Reverse),
        "every exchange says reverse mode captured it"
    );
    assert!(
        report
            .step("probe")
            .unwrap()
            .url
            .starts_with("https://localhost:")
    );
    let urls: Vec<String> = exchanges
        .iter()
        .map(|e| format!("{} {}", e.request.method, e.request.url))
        .collect();
    for part in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
        "POST http",
        "/register",
        "/token",
        "DELETE",
    ] {
        assert!(
            urls.iter().any(|u| u.contains(part)),
            "{part} not recorded in {urls:#?}"
        );
    }
    let sse = exchanges
        .iter()
        .find(|e| {
            e.response
                .as_ref()
                .is_some_and(|r| r.media_type().as_deref() == Some("text/event-stream"))
        })
        .expect("the countdown SSE answer is recorded");
    assert!(sse.response.as_ref().unwrap().sse_events.len() >= 4);
    let bad: Vec<_> = exchanges
        .iter()
        .flat_map(|e| e.findings.iter())
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| format!("{} {}", f.rule, f.message))
        .collect();
    assert!(
        bad.is_empty(),
        "the clean reference flow must not trigger warnings or errors: {bad:#?}"
    );
}

#[tokio::test]
async fn fault_is_visible_in_the_recorded_exchange() {
    let faults: FaultSet = [Fault::NoWwwAuthenticate].into_iter().collect();
    let (report, exchanges) = run_proxied(faults).await;
    assert!(report.completed);
    let probe = exchanges
        .iter()
        .find(|e| e.response.as_ref().is_some_and(|r| r.status == 401))
        .unwrap();
    assert!(
        probe
            .response
            .as_ref()
            .unwrap()
            .header("www-authenticate")
            .is_none()
    );
}
