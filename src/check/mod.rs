//! `authtap check`: probes an MCP server's OAuth setup directly, as a chosen client would,
//! with no proxy in between and no client to configure.
//!
//! [`run`] drives the scripted client ([`crate::client`]) straight at the server — read-only by
//! default (unauthenticated `initialize`, protected resource metadata, authorization server
//! metadata, CORS preflights for a browser origin), with `--register` also dynamic client
//! registration, with `--login` the whole authorization-code flow in the user's browser and
//! MCP calls with the token. Every HTTP exchange the client makes is recorded through the
//! client's [`ExchangeHook`], fed to the same [`Engine`] the proxy uses (so rule ids, fixes and
//! exports are identical), and written to a JSONL trace (session `source: "check"`) that
//! `authtap export` and `authtap lint` read. [`report`] turns it into a checklist; [`render`]
//! prints it as text, JSON or JUnit, [`sarif`] as SARIF 2.1.0.

pub mod login;
pub mod profile;
pub mod render;
pub mod report;
pub mod sarif;
mod trace_out;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::client::{self, ClientConfig, ExchangeHook, McpPlan, Stage};
use crate::flow::revision::JudgedBy;
use crate::model::{Exchange, ExchangeId, FlowFindings, Record, SessionRecord};
use crate::rules::{Engine, EngineConfig, Out, registry};

pub use login::{BrowserLogin, Opener};
pub use profile::CheckProfile;
pub use report::{CheckReport, CheckStep, StepStatus};

/// What to check and how.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// The MCP URL as a user would configure it.
    pub mcp_url: String,
    /// The client to behave like.
    pub profile: CheckProfile,
    /// Browser origin (overrides the profile's; `None` keeps it).
    pub origin: Option<String>,
    /// Perform dynamic client registration (creates a client on the server).
    pub register: bool,
    /// Complete the authorization-code flow in the browser and call MCP with the token.
    pub login: bool,
    /// With `login`: a tool to call (name, JSON arguments).
    pub call_tool: Option<(String, serde_json::Value)>,
    /// The JSONL trace to write (created 0600, overwritten).
    pub trace: PathBuf,
    /// An extra CA to trust (PEM).
    pub ca_pem: Option<PathBuf>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// How long `--login` waits for the browser.
    pub login_wait: Duration,
    /// How the browser is opened.
    pub opener: Opener,
    /// Live output: each client step as it completes.
    pub progress: Option<mpsc::UnboundedSender<client::Step>>,
    /// Lines for the user while running (the authorize URL to open, …).
    pub notices: Option<mpsc::UnboundedSender<String>>,
    /// The live view of each exchange and its findings as it is recorded; `None` prints nothing.
    pub live: Option<crate::live::LiveOptions>,
}

impl CheckConfig {
    /// Defaults: read-only, the given profile, 10 s timeout, 5 min for the browser.
    pub fn new(mcp_url: impl Into<String>, profile: CheckProfile, trace: PathBuf) -> Self {
        Self {
            mcp_url: mcp_url.into(),
            profile,
            origin: None,
            register: false,
            login: false,
            call_tool: None,
            trace,
            ca_pem: None,
            timeout: Duration::from_secs(10),
            login_wait: Duration::from_secs(300),
            opener: Opener::System,
            progress: None,
            notices: None,
            live: None,
        }
    }
}

/// Why the check could not run at all (exit code 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The MCP URL is not an absolute http(s) URL.
    #[error("`{url}` is not an MCP URL: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The trace file could not be created.
    #[error("cannot write the trace {path}")]
    Trace {
        /// The trace path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The loopback callback listener could not be bound.
    #[error(transparent)]
    Login(#[from] login::BindError),
}

/// Validates an MCP URL: absolute http(s) with a host, no fragment.
pub fn parse_mcp_url(raw: &str) -> Result<url::Url, CheckError> {
    let bad = |reason: &str| CheckError::Url {
        url: raw.to_string(),
        reason: reason.to_string(),
    };
    let url = url::Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be https (or http for local servers)"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    if url.fragment().is_some() {
        return Err(bad("an MCP URL has no #fragment"));
    }
    Ok(url)
}

enum Entry {
    Exchange(String, Box<Exchange>),
    Finish,
}

/// What the recorder task hands back.
struct Recorded {
    /// The revision the (first) flow was judged by, described.
    judged_by: String,
    exchanges: Vec<(String, Exchange)>,
    flow_findings: Vec<FlowFindings>,
    write_errors: u64,
}

/// Runs the check. Problems with the server become steps and findings; only an unusable URL,
/// an unwritable trace or an unbindable callback port are errors.
pub async fn run(config: CheckConfig) -> Result<CheckReport, CheckError> {
    crate::install_crypto_provider();
    let url = parse_mcp_url(&config.mcp_url)?;
    let origin = config.origin.clone().or(config.profile.origin.clone());
    let mode = if config.login {
        "login"
    } else if config.register {
        "register"
    } else {
        "read-only"
    };
    let mut trace =
        trace_out::TraceFile::create(&config.trace).map_err(|source| CheckError::Trace {
            path: config.trace.clone(),
            source,
        })?;
    let mut extra = serde_json::Map::new();
    extra.insert("client_profile".into(), config.profile.name.into());
    extra.insert("mode".into(), mode.into());
    if let Some(o) = &origin {
        extra.insert("origin".into(), o.clone().into());
    }
    let session = SessionRecord {
        schema: crate::model::SCHEMA_VERSION,
        authtap_version: env!("CARGO_PKG_VERSION").into(),
        started_at: time::OffsetDateTime::now_utc(),
        upstream: config.mcp_url.clone(),
        listen_url: config.mcp_url.clone(),
        source: "check".into(),
        rewrite: false,
        mode: Default::default(),
        extra,
    };
    trace
        .write(&Record::Session(session))
        .map_err(|source| CheckError::Trace {
            path: config.trace.clone(),
            source,
        })?;

    let (facts, dns_finding) = reachability_facts(&url).await;
    let (tx, rx) = mpsc::unbounded_channel();
    let engine = Engine::new(EngineConfig {
        profile: config.profile.rules.clone(),
        // The user checks an OAuth setup: an unauthenticated initialize must get 401.
        requires_auth: true,
        ..EngineConfig::default()
    });
    let recorder = tokio::spawn(record(rx, engine, trace, dns_finding, config.live));
    let hook_tx = tx.clone();
    let hook = ExchangeHook::new(move |step, ex| {
        let _ = hook_tx.send(Entry::Exchange(step.to_string(), Box::new(ex)));
    });

    let mut client_profile = config.profile.client.clone();
    let mut cc = ClientConfig::new(config.mcp_url.clone());
    cc.ca_pem = config.ca_pem.clone();
    cc.origin = origin.clone();
    cc.timeout = config.timeout;
    cc.progress = config.progress.clone();
    cc.hook = Some(hook.clone());
    cc.stop_after = if config.login {
        None
    } else if config.register {
        Some(Stage::Registration)
    } else {
        Some(Stage::Discovery)
    };
    cc.mcp_plan = McpPlan::Tools(config.call_tool.clone());
    cc.cors_retry_simple = true;
    if config.login {
        let browser = BrowserLogin::bind(
            config.opener.clone(),
            config.login_wait,
            Some(hook),
            config.notices.clone(),
        )
        .await?;
        // The AS must send the code to us: register (and authorize with) the loopback URI only.
        cc.redirect_uri = Some(browser.redirect_uri().to_string());
        client_profile.extra_redirect_uris.clear();
        cc.browser = Some(Arc::new(browser));
    }
    cc.profile = client_profile;
    let flow = client::run_flow(cc).await;
    let _ = tx.send(Entry::Finish);
    let recorded = recorder.await.unwrap_or(Recorded {
        judged_by: JudgedBy::ASSUMED.describe(),
        exchanges: Vec::new(),
        flow_findings: Vec::new(),
        write_errors: 1,
    });

    let cover = report::Coverage {
        browser: origin.is_some(),
        register: config.register || config.login,
        login: config.login,
        facts,
    };
    let steps = report::build_steps(&flow, &recorded.exchanges, &recorded.flow_findings, &cover);
    let verdict = report::verdict(&steps, config.profile.name);
    Ok(CheckReport {
        mcp_url: config.mcp_url.clone(),
        client: config.profile.name.to_string(),
        vantage: config.profile.vantage.to_string(),
        mode: mode.to_string(),
        origin,
        judged_by: recorded.judged_by.clone(),
        steps,
        verdict,
        trace: config.trace.clone(),
        exchanges: recorded.exchanges.len(),
        trace_write_errors: recorded.write_errors,
        registered_client_id: flow.registered_client_id.clone(),
        tools: flow.tools.clone(),
    })
}

/// Numbers, lints and writes each exchange as it completes; at the end runs `finish`.
async fn record(
    mut rx: mpsc::UnboundedReceiver<Entry>,
    mut engine: Engine,
    mut trace: trace_out::TraceFile,
    mut dns_finding: Option<(String, String)>,
    live: Option<crate::live::LiveOptions>,
) -> Recorded {
    use crate::live::LiveSink;
    let mut live = live.map(crate::live::LiveView::new);
    let mut out = Recorded {
        judged_by: JudgedBy::ASSUMED.describe(),
        exchanges: Vec::new(),
        flow_findings: Vec::new(),
        write_errors: 0,
    };
    let mut next = 1;
    let write = |trace: &mut trace_out::TraceFile, record: &Record, errors: &mut u64| {
        if trace.write(record).is_err() {
            *errors += 1;
        }
    };
    while let Some(Entry::Exchange(step, ex)) = rx.recv().await {
        let mut ex = *ex;
        ex.id = ExchangeId(next);
        next += 1;
        let due = engine.observe(&mut ex);
        let host = ex
            .request
            .parsed_url()
            .and_then(|u| u.host_str().map(str::to_string));
        if let Some((_, message)) = dns_finding.take_if(|(h, _)| host.as_deref() == Some(h)) {
            if let Some(meta) = registry::find("GEN-PRIVATE-ADDRESS") {
                let mut sink = Out::new(Some(ex.id), ex.flow);
                let mut f = sink.push(meta, message).clone();
                f.phase = ex.phase.unwrap_or(f.phase);
                engine.config().profile.apply(&mut f);
                ex.findings.push(f);
            }
        }
        write(
            &mut trace,
            &Record::Exchange(Box::new(ex.clone())),
            &mut out.write_errors,
        );
        if let Some(view) = &mut live {
            view.exchange(&ex);
        }
        for ff in due {
            if let Some(view) = &mut live {
                view.flow_findings(&ff);
            }
            write(
                &mut trace,
                &Record::FlowFindings(ff.clone()),
                &mut out.write_errors,
            );
            out.flow_findings.push(ff);
        }
        out.exchanges.push((step, ex));
    }
    let end = out
        .exchanges
        .iter()
        .map(|(_, ex)| crate::flow::correlate::end_time(ex))
        .max()
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    if let Some(flow) = engine.flows().first() {
        out.judged_by = engine.judged_by(flow).describe();
    }
    for ff in engine.finish(end) {
        if let Some(view) = &mut live {
            view.flow_findings(&ff);
        }
        write(
            &mut trace,
            &Record::FlowFindings(ff.clone()),
            &mut out.write_errors,
        );
        out.flow_findings.push(ff);
    }
    let stats = crate::model::Stats {
        at: time::OffsetDateTime::now_utc(),
        exchanges: out.exchanges.len() as u64,
        dropped: 0,
        write_errors: out.write_errors,
        lost_exchanges: 0,
    };
    write(&mut trace, &Record::Stats(stats), &mut out.write_errors);
    if let Some(view) = &mut live {
        view.finish();
    }
    out
}

/// DNS, port and scheme facts about the MCP URL, and a private-address finding to attach when
/// a host name resolves only to private addresses (the URL-based rule sees only literals).
async fn reachability_facts(
    url: &url::Url,
) -> (Vec<(client::Outcome, String)>, Option<(String, String)>) {
    use client::Outcome::{Fail, Ok as Fine};
    let mut facts = Vec::new();
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let tls = if url.scheme() == "http" {
        " (no TLS)"
    } else {
        ""
    };
    facts.push((Fine, format!("{} on port {port}{tls}", url.scheme())));
    let literal = url::Host::parse(host.trim_start_matches('[').trim_end_matches(']'))
        .is_ok_and(|h| !matches!(h, url::Host::Domain(_)));
    if literal || host.eq_ignore_ascii_case("localhost") {
        return (facts, None);
    }
    let lookup = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await;
    let addrs: Vec<IpAddr> = match lookup {
        Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
        Ok(Err(e)) => {
            facts.push((Fail, format!("DNS: {host} does not resolve ({e})")));
            return (facts, None);
        }
        Err(_) => {
            facts.push((Fail, format!("DNS: no answer for {host} within 5 s")));
            return (facts, None);
        }
    };
    let kinds: Vec<(IpAddr, Option<&str>)> = addrs
        .iter()
        .map(|a| (*a, crate::parse::urls::private_host_kind(&a.to_string())))
        .collect();
    let shown: Vec<String> = kinds
        .iter()
        .map(|(a, k)| k.map_or_else(|| a.to_string(), |k| format!("{a} ({k})")))
        .collect();
    facts.push((
        Fine,
        format!("DNS: {host} resolves to {}", shown.join(", ")),
    ));
    let finding = (!kinds.is_empty() && kinds.iter().all(|(_, k)| k.is_some())).then(|| {
        (
            host.clone(),
            format!(
                "{host} resolves only to non-public addresses ({}); clients connecting from elsewhere cannot reach it",
                shown.join(", ")
            ),
        )
    });
    (facts, finding)
}
