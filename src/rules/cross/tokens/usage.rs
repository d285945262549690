//! X-* rules on how issued tokens are used: unused or unknown tokens, missing or rejected credentials, JWT aud/iss, expiry.

use crate::flow::Flow;
use crate::flow::state::{IssuedToken, McpCall, Step, TokenCall};
use crate::model::Phase;
use crate::model::{Severity::*, Who::*};
use crate::parse::urls::{self, UrlDiff};
use crate::rules::rule::{FlowCx, Out, Rule, RuleMeta};

pub(super) fn issued(f: &Flow) -> impl Iterator<Item = (&TokenCall, &IssuedToken, Step)> {
    f.tokens
        .iter()
        .filter_map(|t| Some((t, t.issued.as_ref()?, t.step?)))
}

pub(super) fn uses<'a>(f: &'a Flow, hash: &'a str) -> impl Iterator<Item = &'a McpCall> + 'a {
    f.mcp
        .iter()
        .filter(move |m| m.token_hash.as_deref() == Some(hash))
}

/// X-TOKEN-NOT-USED.
pub struct TokenNotUsed;
impl Rule for TokenNotUsed {
    const META: RuleMeta = meta!(
        "X-TOKEN-NOT-USED",
        Error,
        McpTransport,
        &[Client],
        "CAI (\"Authorization with the MCP server failed\" after /token 200: anthropics/claude-ai-mcp#41, #155, #288)",
        "RFC 6750 §2.1 (the token goes in Authorization); MCP 2025-06-18 Authorization \"Token Requirements\" (every request MUST carry it)",
        "A token was issued and no MCP request carried it within the window",
        "The server side completed OAuth: the client did not send the token. Report it to the client with this trace and the ofid_ reference."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for (_, tok, step) in issued(f) {
            if uses(f, &tok.access_hash).next().is_some()
                || cx.since(step.end) < cx.config.token_use_window_s
            {
                continue;
            }
            // Superseded right away by another token (e.g. an immediate refresh) that was used.
            let superseded = issued(f).any(|(_, o, s)| {
                s.at > step.end
                    && (s.at - step.end).as_seconds_f64() < cx.config.token_use_window_s
                    && uses(f, &o.access_hash).next().is_some()
            });
            if superseded {
                continue;
            }
            let bare = f
                .mcp
                .iter()
                .filter(|m| !m.had_auth && m.step.is_some_and(|s| s.at > step.end))
                .count();
            let tail = if bare > 0 {
                format!("; {bare} MCP request(s) after it carried no Authorization at all")
            } else {
                String::new()
            };
            out.once(
                step.exchange.0.to_string(),
                &Self::META,
                format!(
                    "token {}… issued at {} was never sent to the MCP server within {:.0} s{tail}",
                    tok.access_hash,
                    Flow::clock(step.end),
                    cx.config.token_use_window_s
                ),
            )
            .exchange = Some(step.exchange);
        }
    }
}

/// X-TOKEN-UNKNOWN.
pub struct TokenUnknown;
impl Rule for TokenUnknown {
    const META: RuleMeta = meta!(
        "X-TOKEN-UNKNOWN",
        Warning,
        McpTransport,
        &[Client],
        "RS 401; token passthrough risk",
        "MCP 2025-06-18 \"Token Handling\"",
        "An MCP request carries a bearer that no observed token response issued",
        "Clear stale tokens (remove and re-add the connector); never send tokens minted for another server."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        if f.tokens.iter().all(|t| t.issued.is_none()) {
            return;
        }
        for m in &f.mcp {
            let (Some(h), Some(step)) = (m.token_hash.as_deref(), m.step) else {
                continue;
            };
            if f.issuer_of_token(h).is_none() {
                out.once(
                    h.to_string(),
                    &Self::META,
                    format!("bearer {h}… was not issued by any token response in this flow"),
                )
                .exchange = Some(step.exchange);
            }
        }
    }
}

/// X-AUTH-MISSING-SOMETIMES.
pub struct AuthMissingSometimes;
impl Rule for AuthMissingSometimes {
    const META: RuleMeta = meta!(
        "X-AUTH-MISSING-SOMETIMES",
        Error,
        McpTransport,
        &[Client],
        "RS 401 mid-session",
        "MCP 2025-11-25 Authorization \"Token Requirements\" (MUST be in every HTTP request)",
        "Within a session some requests carry Authorization and others do not",
        "Send Authorization on every request: POSTs, the GET stream, DELETE and reconnects."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        for s in &cx.flow.sessions {
            let calls: Vec<&McpCall> = cx
                .flow
                .mcp
                .iter()
                .filter(|m| m.session_id.as_deref() == Some(s.as_str()))
                .collect();
            let with = calls.iter().filter(|m| m.had_auth).count();
            if let Some(m) = calls.iter().find(|m| !m.had_auth).filter(|_| with > 0) {
                out.once(
                    s.clone(),
                    &Self::META,
                    format!(
                        "session {s}: {with} request(s) with Authorization, but {} {} without",
                        m.method,
                        m.rpc_method.as_deref().unwrap_or("")
                    ),
                )
                .exchange = m.step.map(|x| x.exchange);
            }
        }
    }
}

/// X-TOKEN-REJECTED-AFTER-ISSUE.
pub struct TokenRejectedAfterIssue;
impl Rule for TokenRejectedAfterIssue {
    const META: RuleMeta = meta!(
        "X-TOKEN-REJECTED-AFTER-ISSUE",
        Error,
        McpTransport,
        &[Rs],
        "CAI (anthropics/claude-ai-mcp#480); all",
        "MCP 2025-11-25 Authorization \"Token Handling\" (audience validation); RFC 8707",
        "The MCP server rejects a token its AS issued moments ago",
        "Check the RS's token validation against what the AS issues: accepted audience (the MCP URL), issuer, signing keys (kid/JWKS), and required scopes."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for m in f.mcp.iter().filter(|m| matches!(m.status, Some(401 | 403))) {
            let (Some(h), Some(step)) = (m.token_hash.as_deref(), m.step) else {
                continue;
            };
            let Some(t) = f.issuer_of_token(h) else {
                continue;
            };
            let Some(tok) = t.issued.as_ref() else {
                continue;
            };
            let Some(ts) = t.step else { continue };
            let age = (step.at - ts.end).as_seconds_f64();
            if expired_at(tok, step, age) || age > 600.0 {
                continue;
            }
            if is_step_up(f, m, step, tok) {
                continue;
            }
            let hints = rejection_hints(f, tok, step);
            out.once(
                h.to_string(),
                &Self::META,
                format!(
                    "token {h}… issued {age:.0} s earlier by {} was answered {}{}",
                    ts.exchange,
                    m.status.unwrap_or(0),
                    if hints.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", hints.join("; "))
                    }
                ),
            )
            .exchange = Some(step.exchange);
        }
    }
}

/// Whether the token had expired when the request carrying it was made `age` seconds after
/// its issue (its JWT `exp`, or its `expires_in`).
fn expired_at(tok: &IssuedToken, step: Step, age: f64) -> bool {
    tok.jwt
        .as_ref()
        .and_then(|j| j.exp)
        .is_some_and(|e| e <= step.at.unix_timestamp() as f64)
        || tok.expires_in.is_some_and(|e| age >= e)
}

/// Whether a rejection is step-up authorization rather than a rejected fresh token.
///
/// A 403 `insufficient_scope` asking for scope the token was not granted is step-up
/// authorization (MCP 2025-11-25 Authorization "Scope Challenge Handling"), judged by the
/// WWWAUTH-403 and step-up rules. Asking again for scope the token already holds is a
/// rejection of a fresh token, and still fires.
fn is_step_up(f: &Flow, m: &McpCall, step: Step, tok: &IssuedToken) -> bool {
    let granted = tok.scope.as_deref();
    m.status == Some(403)
        && f.challenges.iter().any(|c| {
            c.step.exchange == step.exchange
                && c.error.as_deref() == Some("insufficient_scope")
                && match (c.scope.as_deref(), granted) {
                    (Some(need), Some(got)) => need
                        .split_whitespace()
                        .any(|s| !got.split_whitespace().any(|g| g == s)),
                    _ => true,
                }
        })
}

/// Likely reasons a fresh token was rejected: its JWT's audience, issuer and key id, and
/// scopes the challenge asks for that were not granted.
fn rejection_hints(f: &Flow, tok: &IssuedToken, step: Step) -> Vec<String> {
    let mut hints = Vec::new();
    if let Some(j) = tok.jwt.as_ref() {
        let mut targets: Vec<&str> = [f.prm_resource(), f.mcp_url.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        targets.dedup();
        if !targets.is_empty() && !j.aud.iter().any(|a| targets.contains(&a.as_str())) {
            hints.push(format!("aud {:?} does not contain {:?}", j.aud, targets));
        }
        if let (Some(i), Some(asm)) = (j.iss.as_deref(), f.asm_str("issuer")) {
            if i != asm {
                hints.push(format!("iss \"{i}\" ≠ ASM issuer \"{asm}\""));
            }
        }
        if let Some(k) = j.kid.as_deref() {
            hints.push(format!("check that kid \"{k}\" is in the AS's JWKS"));
        }
    }
    if let Some(c) = f
        .challenges
        .iter()
        .find(|c| c.step.exchange == step.exchange)
    {
        if let (Some(need), Some(got)) = (c.scope.as_deref(), tok.scope.as_deref()) {
            let missing: Vec<&str> = need
                .split_whitespace()
                .filter(|s| !got.split_whitespace().any(|g| g == *s))
                .collect();
            if !missing.is_empty() {
                hints.push(format!("scopes {missing:?} were not granted"));
            }
        }
    }
    hints
}

/// X-JWT-AUD.
pub struct JwtAud;
impl Rule for JwtAud {
    const META: RuleMeta = meta!(
        "X-JWT-AUD",
        Error,
        Token,
        &[As, Rs],
        "RS rejection, or a security hole if accepted",
        "MCP 2025-06-18 \"Token Audience Binding\"; RFC 8707 §2; RFC 9068 §4",
        "A JWT access token's aud does not contain the PRM resource / MCP URL",
        "Mint tokens with aud = the resource parameter (the MCP URL, byte-exact); the RS must reject tokens for other audiences."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let Some(target) = f.prm_resource().or(f.mcp_url.as_deref()) else {
            return;
        };
        for (_, tok, step) in issued(f) {
            let Some(j) = tok.jwt.as_ref() else { continue };
            if j.aud.iter().any(|a| a == target) {
                continue;
            }
            let label = j
                .aud
                .iter()
                .map(|a| urls::compare(a, target))
                .find(|d| matches!(d, UrlDiff::TrailingSlash | UrlDiff::Normalization))
                .map(|d| format!(" ({})", d.label()))
                .unwrap_or_default();
            out.once(
                step.exchange.0.to_string(),
                &Self::META,
                format!("JWT aud {:?} does not contain \"{target}\"{label}", j.aud),
            )
            .exchange = Some(step.exchange);
            if let Some(m) = uses(f, &tok.access_hash).find(|m| m.ok()) {
                let fi = out.once(format!("accepted:{}", step.exchange.0), &Self::META, format!("the MCP server accepted token {}… whose aud {:?} does not contain \"{target}\": it does not validate the audience", tok.access_hash, j.aud));
                fi.exchange = m.step.map(|s| s.exchange);
                fi.who = vec![Rs];
            }
        }
    }
}

/// X-JWT-ISS.
pub struct JwtIss;
impl Rule for JwtIss {
    const META: RuleMeta = meta!(
        "X-JWT-ISS",
        Warning,
        Token,
        &[As],
        "RS issuer pinning fails",
        "RFC 9068 §4",
        "JWT iss differs from the ASM issuer",
        "Mint tokens with iss equal to the ASM `issuer`."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let Some(asm) = f.asm_str("issuer") else {
            return;
        };
        for (_, tok, step) in issued(f) {
            if let Some(i) = tok
                .jwt
                .as_ref()
                .and_then(|j| j.iss.as_deref())
                .filter(|i| *i != asm)
            {
                out.once(
                    step.exchange.0.to_string(),
                    &Self::META,
                    format!(
                        "JWT iss \"{i}\" ≠ ASM issuer \"{asm}\" ({})",
                        urls::compare(i, asm).label()
                    ),
                )
                .exchange = Some(step.exchange);
            }
        }
    }
}

/// X-EXPIRED-TOKEN-USED.
pub struct ExpiredTokenUsed;
impl Rule for ExpiredTokenUsed {
    const META: RuleMeta = meta!(
        "X-EXPIRED-TOKEN-USED",
        Info,
        McpTransport,
        &[Rs, Client],
        "security (RS); needless 401 round-trips (C)",
        "MCP 2025-11-25 Authorization \"Token Handling\" (expired tokens MUST get 401)",
        "A request carries a token past its expiry",
        "RS: reject expired tokens with 401. Client: refresh before expiry."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for m in &f.mcp {
            let (Some(h), Some(step)) = (m.token_hash.as_deref(), m.step) else {
                continue;
            };
            let Some(t) = f.issuer_of_token(h) else {
                continue;
            };
            let (Some(tok), Some(ts)) = (t.issued.as_ref(), t.step) else {
                continue;
            };
            let exp = tok
                .jwt
                .as_ref()
                .and_then(|j| j.exp)
                .or_else(|| tok.expires_in.map(|e| ts.end.unix_timestamp() as f64 + e));
            let Some(exp) = exp.filter(|e| *e < step.at.unix_timestamp() as f64) else {
                continue;
            };
            let f2 = out.once(
                step.exchange.0.to_string(),
                &Self::META,
                format!(
                    "token {h}… expired {:.0} s before this request",
                    step.at.unix_timestamp() as f64 - exp
                ),
            );
            f2.exchange = Some(step.exchange);
            if m.ok() {
                f2.severity = Error;
                f2.who = vec![Rs];
                f2.message.push_str(", and the MCP server accepted it");
            } else {
                f2.who = vec![Client];
            }
        }
    }
}
