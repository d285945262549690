//! `authtap check`: probes an MCP server's OAuth setup directly, as a chosen client would,
//! with no proxy in between and no client to configure.
//!
//! [`run`] drives the scripted client ([`crate::client`]) straight at the server — read-only by
//! default (unauthenticated `initialize`, protected resource metadata, authorization server
//! metadata, CORS preflights for a browser origin), with `--register` also dynamic client
//! registration, with `--login` the whole authorization-code flow in the user's browser and
//! MCP calls with the token. Every HTTP exchange the client makes is recorded through the
//! client's [`ExchangeHook`] and handed to the same pipeline the proxy feeds
//! ([`crate::session::Session`]: engine, trace store, live view), so rule ids, fixes and exports
//! are identical; the trace (session `source: "check"`) is created like the proxy's (mode 0600,
//! an existing file is never overwritten) and `authtap export` and `authtap lint` read it.
//! [`report`] turns it into a checklist; [`render`] prints it as text, JSON or JUnit, [`sarif`]
//! as SARIF 2.1.0.

pub mod login;
pub mod profile;
pub mod render;
pub mod report;
pub mod sarif;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::client::{self, ClientConfig, ExchangeHook, McpPlan, Stage};
use crate::flow::revision::JudgedBy;
use crate::model::{Exchange, FlowFindings, Record, SessionRecord};
use crate::rules::{Engine, EngineConfig, Out, registry};
use crate::session::{HookEntry, Session, feed_from_hook};

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
    /// The JSONL trace to write (created 0600; an existing file is refused).
    pub trace: PathBuf,
    /// An extra CA to trust (PEM).
    pub ca_pem: Option<PathBuf>,
    /// Direct, or through the proxy the environment names.
    pub route: client::Route,
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
            route: client::Route::Direct,
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
        source: crate::store::Error,
    },
    /// The trace file exists already (a trace is never overwritten).
    #[error(
        "the trace {path} already exists; authtap never overwrites a trace: remove it or \
         choose another --trace"
    )]
    TraceExists {
        /// The trace path.
        path: PathBuf,
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
    let mode = mode_of(&config);
    let (tx, rx) = mpsc::unbounded_channel();
    let hook_tx = tx.clone();
    let hook = ExchangeHook::new(move |step, ex| {
        let _ = hook_tx.send(HookEntry::Exchange {
            step: step.to_string(),
            exchange: Box::new(ex),
        });
    });

    let cc = client_config(&config, origin.clone(), hook).await?;
    // The trace is created once nothing else can stop the check (an existing file is refused).
    let pipeline = open_pipeline(&config, mode, origin.as_deref())?;
    let via_proxy = config.route.proxy_for(url.as_str());
    let (facts, dns_finding) = reachability_facts(&url, via_proxy.as_deref()).await;
    let pipeline = pipeline
        .keep_records()
        .with_annotate(private_address(dns_finding));
    let recorder = tokio::spawn(record(rx, pipeline));
    let flow = client::run_flow(cc).await;
    let _ = tx.send(HookEntry::End);
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

/// The mode of the check: `login`, `register` or `read-only`.
fn mode_of(config: &CheckConfig) -> &'static str {
    if config.login {
        "login"
    } else if config.register {
        "register"
    } else {
        "read-only"
    }
}

/// The scripted client's configuration for the check: the profile, where to stop, the MCP
/// calls to make and, with `--login`, the loopback callback listener (bound here).
async fn client_config(
    config: &CheckConfig,
    origin: Option<String>,
    hook: ExchangeHook,
) -> Result<ClientConfig, CheckError> {
    let mut client_profile = config.profile.client.clone();
    let mut cc = ClientConfig::new(config.mcp_url.clone());
    cc.ca_pem = config.ca_pem.clone();
    cc.route = config.route;
    cc.origin = origin;
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
    Ok(cc)
}

/// The check's pipeline: the engine configured for the profile, a new trace (session
/// `source: "check"`) and the live view when asked for.
fn open_pipeline(
    config: &CheckConfig,
    mode: &str,
    origin: Option<&str>,
) -> Result<Session, CheckError> {
    let mut extra = serde_json::Map::new();
    extra.insert("client_profile".into(), config.profile.name.into());
    extra.insert("mode".into(), mode.into());
    if let Some(o) = origin {
        extra.insert("origin".into(), o.into());
    }
    let session = SessionRecord {
        schema: crate::model::SCHEMA_VERSION,
        authtap_version: env!("CARGO_PKG_VERSION").into(),
        started_at: time::OffsetDateTime::now_utc(),
        upstream: config.mcp_url.clone(),
        listen_url: config.mcp_url.clone(),
        source: "check".into(),
        rewrite: false,
        mode: crate::model::CaptureMode::Client,
        extra,
    };
    let engine = Engine::new(EngineConfig {
        profile: config.profile.rules.clone(),
        // The user checks an OAuth setup: an unauthenticated initialize must get 401.
        requires_auth: true,
        ..EngineConfig::default()
    });
    Session::recording(engine, &config.trace, &session, config.live).map_err(|source| {
        // (A parent that is a file also fails with `AlreadyExists`: look at the path itself.)
        let exists = matches!(&source, crate::store::Error::Io { source, .. }
                if source.kind() == std::io::ErrorKind::AlreadyExists)
            && std::fs::symlink_metadata(&config.trace).is_ok();
        if exists {
            CheckError::TraceExists {
                path: config.trace.clone(),
            }
        } else {
            CheckError::Trace {
                path: config.trace.clone(),
                source,
            }
        }
    })
}

/// Feeds the client's exchanges to the pipeline (engine, trace, live view) as they complete;
/// at the end finishes the session and pairs the judged exchanges with their steps.
async fn record(mut rx: mpsc::UnboundedReceiver<HookEntry>, mut session: Session) -> Recorded {
    let steps = feed_from_hook(&mut session, &mut rx).await;
    let end = session
        .kept()
        .iter()
        .filter_map(|r| match r {
            Record::Exchange(ex) => Some(crate::flow::correlate::end_time(ex)),
            _ => None,
        })
        .max()
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    let judged_by = session.engine().flows().first().map_or_else(
        || JudgedBy::ASSUMED.describe(),
        |flow| session.engine().judged_by(flow).describe(),
    );
    let finished = session.finish(end, 0);
    let mut out = Recorded {
        judged_by,
        exchanges: Vec::new(),
        flow_findings: Vec::new(),
        write_errors: finished.stats.write_errors,
    };
    let mut steps = steps.into_iter();
    for record in finished.records {
        match record {
            Record::Exchange(ex) => {
                let step = steps.next().unwrap_or_default();
                out.exchanges.push((step, *ex));
            }
            Record::FlowFindings(ff) => out.flow_findings.push(ff),
            _ => {}
        }
    }
    out
}

/// Attaches the private-address finding (from the DNS answer, which the URL-based rule cannot
/// see) to the first exchange with the host that resolved only to private addresses.
fn private_address(mut dns_finding: Option<(String, String)>) -> crate::session::Annotate {
    Box::new(move |ex: &mut Exchange, engine: &Engine| {
        let host = ex
            .request
            .parsed_url()
            .and_then(|u| u.host_str().map(str::to_string));
        if let Some((_, message)) = dns_finding.take_if(|(h, _)| host.as_deref() == Some(h))
            && let Some(meta) = registry::find("GEN-PRIVATE-ADDRESS")
        {
            let mut sink = Out::new(Some(ex.id), ex.flow);
            let mut f = sink.push(meta, message).clone();
            f.phase = ex.phase.unwrap_or(f.phase);
            engine.config().profile.apply(&mut f);
            ex.findings.push(f);
        }
    })
}

/// DNS, port and scheme facts about the MCP URL, and a private-address finding to attach when
/// a host name resolves only to private addresses (the URL-based rule sees only literals).
/// Through a proxy (`via_proxy`) the name is the proxy's to resolve: a local lookup would judge
/// this machine's DNS, not the route the requests take, so none is made.
async fn reachability_facts(
    url: &url::Url,
    via_proxy: Option<&str>,
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
    if let Some(proxy) = via_proxy {
        facts.push((
            Fine,
            format!("DNS: {host} is resolved by the proxy {proxy}, not looked up here"),
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(facts: &[(client::Outcome, String)]) -> Vec<&str> {
        facts
            .iter()
            .filter(|(o, _)| *o == client::Outcome::Fail)
            .map(|(_, s)| s.as_str())
            .collect()
    }

    #[tokio::test]
    async fn a_name_behind_a_proxy_is_left_to_the_proxy_to_resolve() {
        let url = url::Url::parse("https://mcp.does-not-exist.invalid/mcp").unwrap();
        let (facts, finding) = reachability_facts(&url, Some("127.0.0.1:3128")).await;
        assert!(failures(&facts).is_empty(), "{facts:?}");
        assert!(
            facts
                .iter()
                .any(|(_, s)| s.contains("resolved by the proxy 127.0.0.1:3128")),
            "{facts:?}"
        );
        assert!(finding.is_none());
        // Without a proxy the same name is looked up here, and it does not resolve.
        let (facts, _) = reachability_facts(&url, None).await;
        assert!(
            failures(&facts).iter().any(|s| s.starts_with("DNS:")),
            "{facts:?}"
        );
    }
}
