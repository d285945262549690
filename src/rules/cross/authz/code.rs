//! X-* rules on the authorization code leg: PKCE, state, callbacks, code use, redirect_uri and resource across authorize and token.

use crate::flow::Flow;
use crate::flow::state::{AuthorizeSeen, TokenCall};
use crate::model::Phase;
use crate::model::Who::*;
use crate::parse::urls;
use crate::rules::rule::{FlowCx, Out, Rule, RuleMeta};

pub(super) fn short(h: &str) -> String {
    h.chars().take(10).collect()
}

/// The authorize request that produced the code redeemed by this token call: through the
/// callback (code → state → authorize) when the callback was seen, else the latest authorize
/// that started before the token call (the callback may bypass the proxy).
pub(super) fn authorize_of<'a>(f: &'a Flow, t: &TokenCall) -> Option<&'a AuthorizeSeen> {
    if let Some(cb) = t.code_hash.as_deref().and_then(|c| f.callback_by_code(c)) {
        return f.authorizes.get(cb.authorize?);
    }
    let at = t.step?.at;
    f.authorizes
        .iter()
        .rev()
        .find(|a| a.step.is_some_and(|s| s.at < at))
}

/// Whether the authorize for this token call is known through its callback (not inferred).
pub(super) fn via_callback(f: &Flow, t: &TokenCall) -> bool {
    t.code_hash
        .as_deref()
        .and_then(|c| f.callback_by_code(c))
        .is_some_and(|c| c.authorize.is_some())
}

pub(super) fn code_calls(f: &Flow) -> impl Iterator<Item = (&TokenCall, crate::model::ExchangeId)> {
    f.tokens
        .iter()
        .filter(|t| t.grant == "authorization_code")
        .filter_map(|t| Some((t, t.step?.exchange)))
}

/// X-PKCE-MISMATCH.
pub struct PkceMismatch;
impl Rule for PkceMismatch {
    const META: RuleMeta = meta!(
        "X-PKCE-MISMATCH",
        Error,
        Token,
        &[Client],
        "AS invalid_grant (PKCE state lost, concurrent flows)",
        "RFC 7636 §4.6; conformance pkce-verifier-matches-challenge",
        "The code_verifier does not hash to the code_challenge of the authorize request that produced the code",
        "Keep the PKCE verifier with the state of the authorize request that produced this code; don't reuse a verifier from another attempt."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for (t, ex) in code_calls(f) {
            let (Some(v), Some(a)) = (t.verifier_s256.as_deref(), authorize_of(f, t)) else {
                continue;
            };
            let Some(ch) = a
                .code_challenge
                .as_deref()
                .filter(|_| a.challenge_method.as_deref() == Some("S256"))
                .filter(|c| !crate::parse::is_redacted(c))
            else {
                continue;
            };
            // Without the callback, only a verifier matching no authorize at all is a mismatch.
            let inferred_ok = !via_callback(f, t)
                && f.authorizes
                    .iter()
                    .any(|o| o.code_challenge.as_deref() == Some(v));
            if v != ch && !inferred_ok {
                let other = f.authorizes.iter().find(|o| o.code_challenge.as_deref() == Some(v)).and_then(|o| o.step).map(|s| format!("; it matches the challenge of authorize {} instead (a verifier from another attempt)", s.exchange)).unwrap_or_default();
                let from = a.step.map(|s| s.exchange.to_string()).unwrap_or_default();
                out.once(ex.0.to_string(), &Self::META, format!("code_verifier hashes to {}…, but authorize {from} (state {}) sent code_challenge {}…{other}", short(v), a.state.as_deref().unwrap_or("-"), short(ch))).exchange = Some(ex);
            }
        }
    }
}

/// X-PKCE-NOT-ENFORCED.
pub struct PkceNotEnforced;
impl Rule for PkceNotEnforced {
    const META: RuleMeta = meta!(
        "X-PKCE-NOT-ENFORCED",
        Error,
        Token,
        &[As],
        "security (PKCE not enforced)",
        "RFC 7636 §4.6; OAuth 2.1 §4.1.3",
        "A wrong or missing code_verifier still got tokens",
        "Verify code_verifier against the stored code_challenge and answer invalid_grant on mismatch."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for (t, ex) in code_calls(f).filter(|(t, _)| t.status == Some(200)) {
            if t.verifier_redacted {
                continue;
            }
            let Some(ch) = authorize_of(f, t)
                .and_then(|a| a.code_challenge.clone())
                .filter(|c| !crate::parse::is_redacted(c))
            else {
                continue;
            };
            let bad = match t.verifier_s256.as_deref() {
                None => Some("no code_verifier"),
                Some(v) if v != ch => Some("a code_verifier that does not match"),
                _ => None,
            };
            if let Some(b) = bad {
                out.once(
                    ex.0.to_string(),
                    &Self::META,
                    format!("token request with {b} was answered 200"),
                )
                .exchange = Some(ex);
            }
        }
    }
}

/// X-STATE-MISMATCH.
pub struct StateMismatch;
impl Rule for StateMismatch {
    const META: RuleMeta = meta!(
        "X-STATE-MISMATCH",
        Error,
        Callback,
        &[As, Client],
        "client MUST discard (\"No OAuth flow is in progress\")",
        "MCP 2025-06-18 Authorization \"Open Redirection\"; RFC 6749 §10.12",
        "The callback state matches no open authorize request",
        "Return state unchanged (AS); keep the pending state until the callback arrives (client)."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        if f.authorizes.is_empty() {
            return;
        }
        for c in f.callbacks.iter().filter(|c| c.authorize.is_none()) {
            if let Some(s) = c
                .state
                .as_deref()
                .filter(|s| f.authorize_by_state(s).is_none())
            {
                let open: Vec<&str> = f
                    .authorizes
                    .iter()
                    .filter_map(|a| a.state.as_deref())
                    .collect();
                out.once(
                    c.step.exchange.0.to_string(),
                    &Self::META,
                    format!("callback state \"{s}\" matches none of the authorize states {open:?}"),
                )
                .exchange = Some(c.step.exchange);
            }
        }
    }
}

/// X-CALLBACK-ORPHAN.
pub struct CallbackOrphan;
impl Rule for CallbackOrphan {
    const META: RuleMeta = meta!(
        "X-CALLBACK-ORPHAN",
        Warning,
        Callback,
        &[Client],
        "CC (HTTP MCP servers with OAuth tools)",
        "RFC 7636 §4.5 (the verifier of the same authorization request); RFC 6749 §10.12 (state binds the response to the request)",
        "A callback was never redeemed and a fresh authorize restarted the flow (client lost the pending state)",
        "Client bug: keep the PKCE verifier and state across authenticate/complete_authentication; report it with the trace and the client's error."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for c in f
            .callbacks
            .iter()
            .filter(|c| c.code_hash.is_some() && c.authorize.is_some())
        {
            let redeemed = f.tokens.iter().any(|t| t.code_hash == c.code_hash);
            let restarted = f
                .authorizes
                .iter()
                .any(|a| a.step.is_some_and(|s| s.at > c.step.end));
            if !redeemed && restarted {
                out.once(c.step.exchange.0.to_string(), &Self::META, format!("the code from {} (state {}) was never sent to the token endpoint, and a new authorize started", c.step.exchange, c.state.as_deref().unwrap_or("-"))).exchange = Some(c.step.exchange);
            }
        }
    }
}

/// X-CODE-NOT-EXCHANGED.
pub struct CodeNotExchanged;
impl Rule for CodeNotExchanged {
    const META: RuleMeta = meta!(
        "X-CODE-NOT-EXCHANGED",
        Warning,
        Token,
        &[Client],
        "CAI (\"never calls /token\": anthropics/claude-ai-mcp#124, #215, #719); CC",
        "issue cluster in anthropics/claude-ai-mcp",
        "A successful callback and no token request within the window",
        "The AS and callback look healthy: the client dropped the flow — attach the ofid_ reference from its error card and report it to the client."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for c in f
            .callbacks
            .iter()
            .filter(|c| c.code_hash.is_some() && c.error.is_none() && c.authorize.is_some())
        {
            let redeemed = f.tokens.iter().any(|t| t.code_hash == c.code_hash);
            let restarted = f
                .authorizes
                .iter()
                .any(|a| a.step.is_some_and(|s| s.at > c.step.end));
            let waited = cx.since(c.step.end);
            if !redeemed && !restarted && waited >= cx.config.code_exchange_window_s {
                out.once(c.step.exchange.0.to_string(), &Self::META, format!("the authorization code was issued at {} and no token request followed within {:.0} s: the client dropped the flow — attach the ofid_ reference from its error card", Flow::clock(c.step.end), cx.config.code_exchange_window_s)).exchange = Some(c.step.exchange);
            }
        }
    }
}

/// X-CODE-REUSE.
pub struct CodeReuse;
impl Rule for CodeReuse {
    const META: RuleMeta = meta!(
        "X-CODE-REUSE",
        Warning,
        Token,
        &[Client, As],
        "user logged out by its own retry",
        "OAuth 2.1 §4.1.2 / §7.5 (single use)",
        "The same code is redeemed twice",
        "Client: never retry a code redemption; AS: reject the second use (and revoke tokens from the first)."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let calls: Vec<_> = code_calls(cx.flow).collect();
        for (i, (t, ex)) in calls.iter().enumerate() {
            let processed = |p: &TokenCall| p.status.is_some_and(|st| !(300..400).contains(&st));
            if processed(t)
                && t.code_hash.is_some()
                && calls
                    .iter()
                    .take(i)
                    .any(|(p, _)| p.code_hash == t.code_hash && processed(p))
            {
                let f = out.once(
                    ex.0.to_string(),
                    &Self::META,
                    format!("code redeemed again (answered {})", t.status.unwrap_or(0)),
                );
                f.exchange = Some(*ex);
                if t.status == Some(200) {
                    f.who = vec![As, Client];
                    f.message.push_str(": the AS accepted a reused code");
                }
            }
        }
    }
}

/// X-REDIRECT-URI-TOKEN.
pub struct RedirectUriToken;
impl Rule for RedirectUriToken {
    const META: RuleMeta = meta!(
        "X-REDIRECT-URI-TOKEN",
        Error,
        Token,
        &[Client],
        "AS invalid_grant",
        "RFC 6749 §4.1.3, OAuth 2.1 §4.1.3",
        "The token redirect_uri differs from the authorize redirect_uri",
        "Send the identical redirect_uri string in the token request."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for (t, ex) in code_calls(f) {
            let Some(want) = authorize_of(f, t).and_then(|a| a.redirect_uri.clone()) else {
                continue;
            };
            if t.redirect_uri.as_deref() != Some(want.as_str()) {
                out.once(
                    ex.0.to_string(),
                    &Self::META,
                    format!(
                        "token redirect_uri {:?} ≠ authorize redirect_uri \"{want}\"",
                        t.redirect_uri
                    ),
                )
                .exchange = Some(ex);
            }
        }
    }
}

/// X-REDIRECT-URI-UNREGISTERED.
pub struct RedirectUriUnregistered;
impl Rule for RedirectUriUnregistered {
    const META: RuleMeta = meta!(
        "X-REDIRECT-URI-UNREGISTERED",
        Error,
        Authorize,
        &[Client, As],
        "AS rejects (PrefectHQ/fastmcp#1564); anthropics/claude-code#58595",
        "MCP 2025-06-18 \"Open Redirection\"; RFC 9700 §2.1",
        "The authorize redirect_uri is not among the registered redirect_uris",
        "Send a redirect_uri registered for this client (exact string; only the loopback port may differ)."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for a in &f.authorizes {
            let (Some(r), Some(cid), Some(step)) =
                (a.redirect_uri.as_deref(), a.client_id.as_deref(), a.step)
            else {
                continue;
            };
            let Some(reg) = f
                .registrations
                .iter()
                .rev()
                .find(|g| g.client_id.as_deref() == Some(cid))
            else {
                continue;
            };
            if !reg
                .redirect_uris
                .iter()
                .any(|u| urls::same_ignoring_loopback_port(u, r))
            {
                out.once(
                    step.exchange.0.to_string(),
                    &Self::META,
                    format!(
                        "redirect_uri \"{r}\" is not in the registered {:?}",
                        reg.redirect_uris
                    ),
                )
                .exchange = Some(step.exchange);
            }
        }
    }
}

/// X-CLIENT-ID-MISMATCH.
pub struct ClientIdMismatch;
impl Rule for ClientIdMismatch {
    const META: RuleMeta = meta!(
        "X-CLIENT-ID-MISMATCH",
        Error,
        Token,
        &[Client],
        "AS invalid_client/invalid_grant",
        "RFC 6749 §4.1.3",
        "client_id differs between registration, authorize and token",
        "Use the client_id from the latest registration with this issuer in both authorize and token requests."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for a in &f.authorizes {
            let (Some(cid), Some(step)) = (a.client_id.as_deref(), a.step) else {
                continue;
            };
            let latest = f
                .registrations
                .iter()
                .rev()
                .filter(|r| r.step.at < step.at)
                .find(|r| r.client_id.is_some());
            if let Some(r) = latest.filter(|r| {
                r.client_id.as_deref() != Some(cid)
                    && r.issuer == a.issuer
                    && !cid.starts_with("https://")
            }) {
                out.once(
                    step.exchange.0.to_string(),
                    &Self::META,
                    format!(
                        "authorize client_id \"{cid}\" ≠ latest registered client_id \"{}\"",
                        r.client_id.as_deref().unwrap_or("")
                    ),
                )
                .exchange = Some(step.exchange);
            }
        }
        for (t, ex) in code_calls(f) {
            let (Some(tc), Some(ac)) = (
                t.client_id.as_deref(),
                authorize_of(f, t).and_then(|a| a.client_id.as_deref()),
            ) else {
                continue;
            };
            if tc != ac {
                out.once(
                    format!("t{}", ex.0),
                    &Self::META,
                    format!("token client_id \"{tc}\" ≠ authorize client_id \"{ac}\""),
                )
                .exchange = Some(ex);
            }
        }
    }
}

/// X-RESOURCE-AUTHZ-TOKEN.
pub struct ResourceAuthzToken;
impl Rule for ResourceAuthzToken {
    const META: RuleMeta = meta!(
        "X-RESOURCE-AUTHZ-TOKEN",
        Error,
        Token,
        &[Client],
        "AS invalid_target or wrong audience (punkpeye/mcp-remote#217)",
        "MCP 2025-11-25 Authorization \"Resource Parameter Implementation\"; conformance resource-parameter-consistency",
        "The token request's resource differs from the authorize request's",
        "Send the same resource value(s) in authorize and token requests."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for (t, ex) in code_calls(f) {
            let Some(a) = authorize_of(f, t) else {
                continue;
            };
            if !a.resource.is_empty() && !t.resource.is_empty() && a.resource != t.resource {
                out.once(
                    ex.0.to_string(),
                    &Self::META,
                    format!(
                        "token resource {:?} ≠ authorize resource {:?}",
                        t.resource, a.resource
                    ),
                )
                .exchange = Some(ex);
            }
        }
    }
}
