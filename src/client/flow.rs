//! The flow driver: shared state of one run, step recording, and the request helper that does
//! what a real HTTP client would do around each call (redirects by hand; for a browser client,
//! `Origin`, CORS preflights and the exposed-headers filter).

use http::{HeaderMap, Method};
use serde_json::Value;

use super::challenge::Challenge;
use super::config::{ClientConfig, McpPlan, Stage};
use super::http::Http;
use super::message::{Reply, Req};
use super::report::{FlowReport, Outcome, Step};
use crate::model::Phase;

/// The flow stopped; the failing step is already recorded.
#[derive(Debug)]
pub(super) struct Stop;

/// Result of a step.
pub(super) type Res<T> = Result<T, Stop>;

/// What registration gave us.
#[derive(Debug, Clone)]
pub(super) struct Registered {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub auth_method: String,
}

/// Tokens from the token endpoint.
#[derive(Debug, Clone)]
pub(super) struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
}

/// One run of the flow.
pub(super) struct Flow {
    pub cfg: ClientConfig,
    pub http: Http,
    pub report: FlowReport,
    pub challenge: Option<Challenge>,
    pub prm: Option<Value>,
    pub resource: String,
    pub asm: Option<Value>,
    pub registered: Option<Registered>,
    pub redirect_uri: String,
    pub tokens: Option<Tokens>,
    pub session_id: Option<String>,
    pub next_id: u64,
    /// Holds the loopback redirect port for the duration of the flow.
    _callback_port: Option<std::net::TcpListener>,
}

/// CORS-safelisted response headers (always readable by a browser script).
const SAFELISTED_RESPONSE: &[&str] = &[
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
];

impl Flow {
    pub async fn run(cfg: ClientConfig) -> FlowReport {
        let mut report = FlowReport {
            mcp_url: cfg.mcp_url.clone(),
            steps: Vec::new(),
            completed: false,
            stopped_at: None,
            protocol_version: None,
            tools: Vec::new(),
            sse_events: 0,
            registered_client_id: None,
        };
        let http = match Http::new(
            cfg.ca_pem.as_deref(),
            cfg.timeout,
            &cfg.profile.user_agent,
            cfg.route,
        ) {
            Ok(http) => http.with_hook(cfg.hook.clone()),
            Err(err) => {
                let step = Step {
                    name: "setup".into(),
                    phase: Phase::Other,
                    method: String::new(),
                    url: cfg.mcp_url.clone(),
                    status: None,
                    outcome: Outcome::Fail,
                    note: err.to_string(),
                    elapsed_ms: 0,
                };
                if let Some(tx) = &cfg.progress {
                    let _ = tx.send(step.clone());
                }
                report.stopped_at = Some(step.name.clone());
                report.steps.push(step);
                return report;
            }
        };
        let (redirect_uri, listener) = match &cfg.redirect_uri {
            Some(uri) => (uri.clone(), None),
            None => bind_redirect(&cfg.profile.redirect_uri),
        };
        let resource = cfg.mcp_url.clone();
        let mut flow = Flow {
            cfg,
            http,
            report,
            challenge: None,
            prm: None,
            resource,
            asm: None,
            registered: None,
            redirect_uri,
            tokens: None,
            session_id: None,
            next_id: 1,
            _callback_port: listener,
        };
        if flow.steps().await.is_ok() {
            flow.report.completed = true;
        } else if flow.report.stopped_at.is_none() {
            flow.report.stopped_at = flow.report.steps.last().map(|s| s.name.clone());
        }
        flow.report
    }

    async fn steps(&mut self) -> Res<()> {
        let needs_auth = self.probe().await?;
        let stop = self.cfg.stop_after;
        if needs_auth {
            self.discover_prm().await?;
            self.discover_asm().await?;
            if stop == Some(Stage::Discovery) {
                return Ok(());
            }
            self.register().await?;
            if stop == Some(Stage::Registration) {
                return Ok(());
            }
            let (code, verifier) = self.authorize().await?;
            self.exchange_code(&code, &verifier).await?;
        } else if stop.is_some() {
            return Ok(());
        }
        self.initialize().await?;
        self.initialized().await?;
        self.list_tools().await?;
        match self.cfg.mcp_plan.clone() {
            McpPlan::Demo => {
                self.countdown().await?;
                if needs_auth {
                    self.refresh().await?;
                }
                self.echo().await?;
            }
            McpPlan::Tools(call) => {
                if let Some((tool, args)) = call {
                    self.call_tool(&tool, args).await?;
                }
            }
        }
        self.delete_session().await
    }

    /// Outcome for a deviation strict clients refuse.
    pub fn lenient(&self) -> Outcome {
        if self.cfg.strict {
            Outcome::Fail
        } else {
            Outcome::Warn
        }
    }

    /// Records a step for a request that got no response.
    pub fn transport_failure(
        &mut self,
        name: &str,
        phase: Phase,
        req: &Req,
        err: impl std::fmt::Display,
    ) -> Stop {
        let method = req.method.to_string();
        let _ = self
            .step(name, phase)
            .at(&method, &req.url)
            .fail(err.to_string());
        Stop
    }

    /// Sends an API request as the configured client would: redirects followed by hand (at
    /// most three; 301/302/303 after a non-GET are returned, since the method would change),
    /// and for a browser client a preflight, `Origin`, the ACAO check and header filtering.
    pub async fn call(&mut self, name: &str, phase: Phase, mut req: Req) -> Res<Reply> {
        if req.step.is_empty() {
            req.step = name.to_string();
        }
        for _hop in 0..4 {
            if let Some(origin) = self.cfg.origin.clone() {
                let retry = self.cfg.cors_retry_simple
                    && req.method == Method::GET
                    && req.has_header("mcp-protocol-version");
                match self.preflight(name, &req, &origin).await {
                    Ok(()) => {}
                    Err(_) if retry => {
                        // TS SDK in a browser: retry a CORS-blocked discovery GET without
                        // MCP-Protocol-Version, as a simple request (no preflight).
                        self.report.stopped_at = None;
                        req.headers
                            .retain(|(n, _)| !n.eq_ignore_ascii_case("mcp-protocol-version"));
                    }
                    Err(stop) => return Err(stop),
                }
                req = req.header("origin", origin);
            }
            let reply = match self.http.send(&req).await {
                Ok(r) => r,
                Err(err) => return Err(self.transport_failure(name, phase, &req, err)),
            };
            let mut reply = reply;
            if let Some(origin) = self.cfg.origin.clone() {
                let acao = reply.header("access-control-allow-origin").unwrap_or("");
                if acao != "*" && acao != origin {
                    let note = format!(
                        "CORS: no Access-Control-Allow-Origin for {origin}; a browser hides this response"
                    );
                    let method = req.method.to_string();
                    self.step(name, phase)
                        .at(&method, &req.url)
                        .reply(&reply)
                        .fail(note)?;
                }
                reply.headers = exposed_only(&reply.headers);
            }
            let Some(location) = redirect_target(&req, &reply) else {
                return Ok(reply);
            };
            let keeps_method = matches!(reply.status, 307 | 308) || req.method == Method::GET;
            if !keeps_method {
                return Ok(reply);
            }
            let cross_origin = origin_of(&location) != origin_of(&req.url);
            let mut note = format!(
                "{} redirect to {location}; following with {}",
                reply.status, req.method
            );
            if cross_origin {
                note.push_str(" (cross-origin: Authorization dropped)");
                req.headers
                    .retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
            }
            let method = req.method.to_string();
            let outcome = self.lenient();
            self.step(name, phase)
                .at(&method, &req.url)
                .reply(&reply)
                .outcome(outcome, note)?;
            req.url = location;
        }
        let method = req.method.to_string();
        let _ = self
            .step(name, phase)
            .at(&method, &req.url)
            .fail("too many redirects");
        Err(Stop)
    }

    async fn preflight(&mut self, name: &str, req: &Req, origin: &str) -> Res<()> {
        let mut custom: Vec<String> = req
            .headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .filter(|n| {
                !matches!(
                    n.as_str(),
                    "accept" | "accept-language" | "content-language" | "origin"
                )
            })
            .collect();
        if matches!(&req.body, Some((ct, _)) if *ct == "application/json") {
            custom.push("content-type".into());
        }
        custom.sort();
        custom.dedup();
        let simple_method = matches!(req.method, Method::GET | Method::HEAD | Method::POST);
        if simple_method && custom.is_empty() {
            return Ok(());
        }
        let pre = Req::new(Method::OPTIONS, req.url.clone())
            .header("origin", origin)
            .header("access-control-request-method", req.method.to_string())
            .header("access-control-request-headers", custom.join(","))
            .step(&format!("{name} (preflight)"));
        let step = format!("{name} (preflight)");
        let reply = match self.http.send(&pre).await {
            Ok(r) => r,
            Err(err) => return Err(self.transport_failure(&step, Phase::Cors, &pre, err)),
        };
        let acao = reply.header("access-control-allow-origin").unwrap_or("");
        let allow_headers = reply
            .header("access-control-allow-headers")
            .unwrap_or("")
            .to_ascii_lowercase();
        let allow_methods = reply
            .header("access-control-allow-methods")
            .unwrap_or("")
            .to_ascii_uppercase();
        let listed = |h: &str| {
            allow_headers
                .split(',')
                .any(|a| a.trim() == h || (a.trim() == "*" && h != "authorization"))
        };
        let missing: Vec<&String> = custom.iter().filter(|h| !listed(h)).collect();
        let method_ok = simple_method
            || allow_methods
                .split(',')
                .any(|m| m.trim() == req.method.as_str() || m.trim() == "*");
        let problem = if !(200..300).contains(&reply.status) {
            Some(format!("preflight answered {}", reply.status))
        } else if acao != "*" && acao != origin {
            Some(format!(
                "preflight has no Access-Control-Allow-Origin for {origin}"
            ))
        } else if !missing.is_empty() {
            Some(format!("Access-Control-Allow-Headers lacks {missing:?}"))
        } else if !method_ok {
            Some(format!("Access-Control-Allow-Methods lacks {}", req.method))
        } else {
            None
        };
        let (outcome, note) = match problem {
            Some(p) => (
                Outcome::Fail,
                format!("CORS: {p}; the browser blocks the request"),
            ),
            None => (
                Outcome::Ok,
                format!("allowed: {} with {}", req.method, custom.join(",")),
            ),
        };
        self.step(&step, Phase::Cors)
            .at("OPTIONS", &pre.url)
            .reply(&reply)
            .outcome(outcome, note)
    }

    /// The next JSON-RPC id.
    pub fn rpc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

/// The absolute redirect target of a 3xx with `Location`.
pub(super) fn redirect_target(req: &Req, reply: &Reply) -> Option<String> {
    if !(300..400).contains(&reply.status) {
        return None;
    }
    let location = reply.header("location")?;
    url::Url::parse(&req.url)
        .ok()?
        .join(location)
        .ok()
        .map(String::from)
}

/// `scheme://host:port` of a URL.
pub(super) fn origin_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

fn exposed_only(headers: &HeaderMap) -> HeaderMap {
    let exposed: Vec<String> = headers
        .get_all("access-control-expose-headers")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        if SAFELISTED_RESPONSE.contains(&n)
            || exposed.iter().any(|e| e == n || e == "*")
            || n.starts_with("access-control-")
        {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Picks the concrete redirect URI: `{port}` becomes a free loopback port, held open.
fn bind_redirect(template: &str) -> (String, Option<std::net::TcpListener>) {
    if !template.contains("{port}") {
        return (template.to_string(), None);
    }
    match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| Ok((l.local_addr()?.port(), l))) {
        Ok((port, l)) => (template.replace("{port}", &port.to_string()), Some(l)),
        Err(_) => (template.replace("{port}", "33418"), None),
    }
}
