//! Facts derived from a trace for the reports: the connector issue template's fields (server
//! URL, where it failed, transport, registration type, unauthenticated `POST /mcp`, client
//! fingerprint) and per-exchange correlation hashes.
//!
//! Everything here reads a (usually redacted) [`Trace`]; values that were redacted still
//! correlate because [`crate::redact::correlation_hash`] reads the hash out of the marker.

use std::collections::BTreeMap;

use crate::model::{CaptureMode, Exchange, Headers, Outcome};
use crate::model::{Phase, Severity};
use crate::redact::correlation_hash;

use super::trace::Trace;

/// Names whose values are followed across steps, and where they are looked for.
const CORRELATED: &[&str] = &[
    "state",
    "code",
    "code_verifier",
    "code_challenge",
    "access_token",
    "refresh_token",
    "id_token",
    "registration_access_token",
    "client_secret",
];

/// 8-hex hashes of the correlated values found in one exchange (`state`, `code`,
/// `code_verifier`, `code_challenge`, tokens, `mcp_session_id`).
pub fn correlation(x: &Exchange) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut query = |url: &str| {
        if let Ok(u) = url::Url::parse(url) {
            pairs.extend(
                u.query_pairs()
                    .map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
            if let Some(frag) = u.fragment() {
                pairs.extend(
                    url::form_urlencoded::parse(frag.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned())),
                );
            }
        }
    };
    query(&x.request.url);
    if let Some(loc) = x.response.as_ref().and_then(|r| r.header("location")) {
        query(loc);
    }
    if let Some(body) = x.request.body_text() {
        if x.request.media_type().as_deref() == Some("application/x-www-form-urlencoded") {
            pairs.extend(
                url::form_urlencoded::parse(body.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
        }
    }
    for body in [
        x.request.body.as_ref(),
        x.response.as_ref().and_then(|r| r.body.as_ref()),
    ] {
        if let Some(serde_json::Value::Object(map)) = body.and_then(|b| b.json()) {
            pairs.extend(
                map.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))),
            );
        }
    }
    for (k, v) in pairs {
        if CORRELATED.contains(&k.as_str()) && !v.is_empty() {
            out.entry(k).or_insert_with(|| correlation_hash(&v));
        }
    }
    if let Some(auth) = x.request.header("authorization") {
        if let Some((scheme, token)) = auth.trim().split_once(' ') {
            if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("dpop") {
                out.insert("bearer".into(), correlation_hash(token.trim()));
            }
        }
    }
    let session = x
        .request
        .header("mcp-session-id")
        .or_else(|| x.response.as_ref().and_then(|r| r.header("mcp-session-id")));
    if let Some(s) = session {
        out.insert("mcp_session_id".into(), correlation_hash(s));
    }
    out
}

/// The path and query of a URL (or the URL itself if it does not parse).
pub fn path_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        Err(_) => url.to_string(),
    }
}

/// The phase label of an exchange (`unlabelled` when the rule engine did not label it).
pub fn phase_label(x: &Exchange) -> &'static str {
    x.phase.map_or("unlabelled", Phase::as_str)
}

/// A short status for an exchange: `200`, `502 (upstream error)`, `incomplete`.
pub fn status_label(x: &Exchange) -> String {
    match (&x.response, x.outcome) {
        (Some(r), Outcome::Complete) => r.status.to_string(),
        (Some(r), Outcome::Incomplete) => format!("{} (stream open)", r.status),
        (Some(r), o) => format!("{} ({})", r.status, outcome_label(o)),
        (None, o) => format!("no response ({})", outcome_label(o)),
    }
}

/// Human label of an outcome.
pub fn outcome_label(o: Outcome) -> &'static str {
    match o {
        Outcome::Complete => "complete",
        Outcome::ClientCut => "client cut",
        Outcome::UpstreamCut => "upstream cut",
        Outcome::UpstreamError => "upstream error",
        Outcome::Rejected => "rejected by proxy",
        Outcome::Incomplete => "incomplete",
    }
}

/// The connector issue template's fields, derived from traffic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IssueFacts {
    /// The MCP server URL.
    pub server_url: String,
    /// Connect / Auth screen / Redirect back / During conversation, with the reason.
    pub failed_at: String,
    /// Streamable HTTP, SSE (legacy), or unknown.
    pub transport: String,
    /// DCR, CIMD, static, or unknown, with the evidence.
    pub registration: String,
    /// Status and `WWW-Authenticate` of the first MCP request without credentials.
    pub unauthenticated_mcp: String,
    /// The client, from User-Agent / redirect_uri / Origin / client_id fingerprints.
    pub client: String,
    /// First and last timestamps (RFC 3339, with offset).
    pub time_range: String,
    /// Phases reached, in flow order.
    pub phases_reached: Vec<Phase>,
    /// Which mode captured the exchanges (each record says; counted when they differ).
    pub captured_by: String,
}

/// Derives the issue template's fields from a trace.
pub fn issue_facts(trace: &Trace) -> IssueFacts {
    let mcp: Vec<&Exchange> = trace
        .exchanges
        .iter()
        .filter(|x| x.phase == Some(Phase::McpTransport))
        .collect();
    let server_url = mcp
        .first()
        .map(|x| x.request.url.clone())
        .or_else(|| trace.session.as_ref().map(|s| s.upstream.clone()))
        .unwrap_or_else(|| "unknown".into());
    let mut phases_reached: Vec<Phase> = trace.exchanges.iter().filter_map(|x| x.phase).collect();
    phases_reached.sort();
    phases_reached.dedup();
    IssueFacts {
        server_url,
        failed_at: failed_at(trace),
        transport: transport(&mcp),
        registration: registration(trace),
        unauthenticated_mcp: unauthenticated_mcp(&mcp),
        client: client(trace),
        time_range: time_range(trace),
        phases_reached,
        captured_by: captured_by(trace),
    }
}

/// The capture mode of the exchanges: one description when they agree, each with its count
/// when they do not; the session's mode when there is no exchange.
fn captured_by(trace: &Trace) -> String {
    let mut counts: Vec<(CaptureMode, usize)> = Vec::new();
    for x in &trace.exchanges {
        match counts.iter_mut().find(|(mode, _)| *mode == x.mode) {
            Some((_, n)) => *n += 1,
            None => counts.push((x.mode, 1)),
        }
    }
    match counts.as_slice() {
        [] => trace
            .session
            .as_ref()
            .map_or("unknown", |s| s.mode.describe())
            .to_string(),
        [(mode, _)] => mode.describe().to_string(),
        several => several
            .iter()
            .map(|(mode, n)| {
                let plural = if *n == 1 { "" } else { "s" };
                format!("{} ({n} exchange{plural})", mode.describe())
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn stage_of(phase: Phase, token_seen: bool) -> &'static str {
    match phase {
        Phase::DiscoveryPrm | Phase::DiscoveryAs | Phase::Registration | Phase::Cors => "Connect",
        Phase::Other => "Connect",
        Phase::Authorize => "Auth screen",
        Phase::Callback | Phase::Token => "Redirect back",
        Phase::Refresh => "During conversation",
        Phase::McpTransport if token_seen => "During conversation",
        Phase::McpTransport => "Connect",
    }
}

fn failed_at(trace: &Trace) -> String {
    let token_at = trace
        .exchanges
        .iter()
        .find(|x| {
            x.phase == Some(Phase::Token) && x.response.as_ref().is_some_and(|r| r.status < 300)
        })
        .map(|x| x.started_at);
    let after_token = |x: &Exchange| token_at.is_some_and(|t| x.started_at > t);
    for x in &trace.exchanges {
        if let Some(f) = x.findings.iter().find(|f| f.severity == Severity::Error) {
            return format!(
                "{} — first error finding {} on exchange {} ({} {})",
                stage_of(f.phase, after_token(x)),
                f.rule,
                x.id,
                x.request.method,
                path_of(&x.request.url)
            );
        }
    }
    if let Some(f) = trace
        .flow_findings
        .iter()
        .flat_map(|ff| ff.findings.iter())
        .find(|f| f.severity == Severity::Error)
    {
        return format!(
            "{} — flow-level error finding {}",
            stage_of(f.phase, token_at.is_some()),
            f.rule
        );
    }
    let failed = trace
        .exchanges
        .iter()
        .find(|x| x.response.is_none() || x.response.as_ref().is_some_and(|r| r.status >= 500));
    if let Some(x) = failed {
        let phase = x.phase.unwrap_or(Phase::Other);
        return format!(
            "{} — exchange {} failed: {} {} → {}",
            stage_of(phase, after_token(x)),
            x.id,
            x.request.method,
            path_of(&x.request.url),
            status_label(x)
        );
    }
    let last = trace.exchanges.iter().filter_map(|x| x.phase).max();
    match last {
        Some(p) => format!("No failure visible in the trace (furthest phase reached: {p})"),
        None => "No failure visible in the trace (no labelled exchanges)".into(),
    }
}

fn is_sse(x: &Exchange) -> bool {
    x.response.as_ref().and_then(|r| r.media_type()).as_deref() == Some("text/event-stream")
}

fn transport(mcp: &[&Exchange]) -> String {
    let legacy = mcp.iter().any(|x| {
        x.request.method == "GET"
            && is_sse(x)
            && x.response.as_ref().is_some_and(|r| {
                r.sse_events
                    .iter()
                    .any(|e| e.event.as_deref() == Some("endpoint"))
            })
    });
    let posts = mcp.iter().filter(|x| x.request.method == "POST").count();
    let sse_posts = mcp
        .iter()
        .filter(|x| x.request.method == "POST" && is_sse(x))
        .count();
    match (legacy, posts) {
        (true, _) => "SSE (legacy HTTP+SSE transport: GET stream with an endpoint event)".into(),
        (false, 0) if mcp.is_empty() => "unknown (no MCP traffic in the trace)".into(),
        (false, 0) => "unknown (MCP GET/DELETE only)".into(),
        (false, n) if sse_posts > 0 => {
            format!("Streamable HTTP ({n} POSTs, {sse_posts} answered as text/event-stream)")
        }
        (false, n) => format!("Streamable HTTP ({n} POSTs, JSON responses)"),
    }
}

fn authorize_param(trace: &Trace, name: &str) -> Option<String> {
    trace
        .exchanges
        .iter()
        .filter(|x| x.phase == Some(Phase::Authorize))
        .find_map(|x| {
            let u = url::Url::parse(&x.request.url).ok()?;
            u.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        })
}

fn registration(trace: &Trace) -> String {
    let reg: Vec<&Exchange> = trace
        .exchanges
        .iter()
        .filter(|x| x.phase == Some(Phase::Registration))
        .collect();
    let client_id = authorize_param(trace, "client_id");
    if let Some(x) = reg.iter().find(|x| x.request.method == "POST") {
        return format!(
            "DCR (dynamic client registration: POST {} → {})",
            path_of(&x.request.url),
            status_label(x)
        );
    }
    if let Some(id) = client_id.as_deref().filter(|id| id.starts_with("https://")) {
        return format!("CIMD (client ID metadata document: client_id {id})");
    }
    if reg.iter().any(|x| x.request.method == "GET") {
        return "CIMD (metadata document fetched by the authorization server)".into();
    }
    match client_id {
        Some(id) => format!("static (pre-registered client_id {id}, no registration request seen)"),
        None => "unknown (no registration or authorization request in the trace)".into(),
    }
}

fn unauthenticated_mcp(mcp: &[&Exchange]) -> String {
    let Some(x) = mcp
        .iter()
        .find(|x| x.request.method == "POST" && x.request.header("authorization").is_none())
    else {
        return "not observed (every MCP POST in the trace carried credentials)".into();
    };
    let www = x
        .response
        .as_ref()
        .and_then(|r| r.header("www-authenticate"));
    match www {
        Some(w) => format!(
            "{} with WWW-Authenticate: {w} (exchange {})",
            status_label(x),
            x.id
        ),
        None => format!(
            "{} without a WWW-Authenticate header (exchange {})",
            status_label(x),
            x.id
        ),
    }
}

fn client(trace: &Trace) -> String {
    let mut signals: Vec<String> = Vec::new();
    let mut name: Option<&str> = None;
    let redirect = authorize_param(trace, "redirect_uri").or_else(|| {
        trace
            .exchanges
            .iter()
            .filter(|x| x.phase == Some(Phase::Registration))
            .find_map(|x| {
                let v = x.request.body.as_ref()?.json()?;
                v.get("redirect_uris")?.get(0)?.as_str().map(str::to_string)
            })
    });
    let client_id = authorize_param(trace, "client_id").unwrap_or_default();
    if let Some(r) = &redirect {
        signals.push(format!("redirect_uri {r}"));
        if r.contains("claude.ai/api/mcp/auth_callback")
            || r.contains("claude.com/api/mcp/auth_callback")
        {
            name = Some("claude.ai / Claude Desktop connector (CAI)");
        } else if r.contains(":6274/oauth/callback") {
            name = Some("MCP Inspector (INSP)");
        } else if r.starts_with("http://localhost") || r.starts_with("http://127.0.0.1") {
            name = Some("a local client (Claude Code or an SDK client)");
        }
    }
    if client_id.contains("claude.ai/oauth/claude-code-client-metadata") {
        name = Some("Claude Code (CC)");
        signals.push(format!("client_id {client_id}"));
    } else if client_id.contains("claude.ai/oauth/mcp-oauth-client-metadata") {
        name = Some("claude.ai / Claude Desktop connector (CAI)");
        signals.push(format!("client_id {client_id}"));
    }
    let mut agents: Vec<&str> = trace
        .exchanges
        .iter()
        .filter_map(|x| x.request.header("user-agent"))
        .collect();
    agents.dedup();
    agents.sort_unstable();
    agents.dedup();
    if agents
        .iter()
        .any(|a| a.starts_with("Claude-User") || a.starts_with("python-httpx"))
        && name.is_none()
    {
        name = Some("claude.ai / Claude Desktop connector (CAI)");
    }
    if let Some(o) = trace
        .exchanges
        .iter()
        .find_map(|x| x.request.header("origin"))
    {
        if o.contains(":6274") {
            name = Some("MCP Inspector (INSP)");
        }
        signals.push(format!("Origin {o}"));
    }
    if !agents.is_empty() {
        signals.push(format!(
            "User-Agent {}",
            agents
                .iter()
                .take(3)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let name = name.unwrap_or("unknown client");
    if signals.is_empty() {
        name.to_string()
    } else {
        format!("{name} — {}", signals.join("; "))
    }
}

/// RFC 3339 with offset (`…Z` for UTC).
pub fn timestamp(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn time_range(trace: &Trace) -> String {
    let start = trace
        .session
        .as_ref()
        .map(|s| s.started_at)
        .or(trace.exchanges.first().map(|x| x.started_at));
    let end = trace.exchanges.iter().map(|x| x.started_at).max();
    match (start, end) {
        (Some(s), Some(e)) => format!(
            "{} → {} (offset {})",
            timestamp(s),
            timestamp(e),
            s.offset()
        ),
        (Some(s), None) => format!("{} (offset {})", timestamp(s), s.offset()),
        _ => "unknown".into(),
    }
}
