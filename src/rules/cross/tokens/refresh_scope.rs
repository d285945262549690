//! Cross-request refresh and scope rules: missed refreshes, refresh-token reuse and recovery, insufficient scopes and step-up loops.

use super::usage::*;
use crate::flow::revision::Revision;
use crate::flow::state::TokenCall;
use crate::model::Phase;
use crate::model::Who::*;
use crate::rules::revision::Revisions;
use crate::rules::rule::{FlowCx, Out, Rule, RuleMeta};

/// X-NO-REFRESH.
pub struct NoRefresh;
impl Rule for NoRefresh {
    const META: RuleMeta = meta!(
        "X-NO-REFRESH",
        Warning,
        Refresh,
        &[Client],
        "CC (anthropics/claude-code#21333, #55055); CAI (anthropics/claude-ai-mcp#702)",
        "MCP 2026-07-28 \"Refresh Tokens\"; OAuth 2.1 §4.3",
        "After a 401 the client runs a full authorize although it holds an unused refresh token",
        "Client: on 401 invalid_token, try the refresh_token grant before re-authorizing."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for m in f.mcp.iter().filter(|m| m.had_auth && m.status == Some(401)) {
            let Some(step) = m.step else { continue };
            let held = issued(f)
                .filter(|(_, t, s)| s.end < step.at && t.refresh_hash.is_some())
                .last();
            let Some((_, tok, _)) = held else { continue };
            let presented = f.tokens.iter().any(|t| {
                t.refresh_hash == tok.refresh_hash && t.step.is_some_and(|s| s.at > step.at)
            });
            let reauth = f
                .authorizes
                .iter()
                .any(|a| a.step.is_some_and(|s| s.at > step.at));
            if reauth && !presented {
                out.once(step.exchange.0.to_string(), &Self::META, "after the 401 the client started a new authorization instead of using its refresh token").exchange = Some(step.exchange);
            }
        }
    }
}

/// X-REFRESH-REUSE.
pub struct RefreshReuse;
impl Rule for RefreshReuse {
    const META: RuleMeta = meta!(
        "X-REFRESH-REUSE",
        Warning,
        Refresh,
        &[Client],
        "CC (anthropics/claude-code#66210); concurrent sessions sharing one keyring",
        "OAuth 2.1 §4.3.1; RFC 9700 §4.14",
        "A refresh request presents a refresh token that was already rotated",
        "Store the rotated refresh token atomically and use only the newest one."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let refreshes: Vec<&TokenCall> = f
            .tokens
            .iter()
            .filter(|t| t.grant == "refresh_token")
            .collect();
        for (i, t) in refreshes.iter().enumerate() {
            let rotated = refreshes.iter().take(i).any(|p| {
                p.refresh_hash == t.refresh_hash
                    && p.issued.as_ref().is_some_and(|x| {
                        x.refresh_hash.is_some() && x.refresh_hash != p.refresh_hash
                    })
            });
            if let (true, Some(step)) = (rotated, t.step) {
                out.once(
                    step.exchange.0.to_string(),
                    &Self::META,
                    format!(
                        "refresh token presented again after it was rotated (answered {})",
                        t.status.unwrap_or(0)
                    ),
                )
                .exchange = Some(step.exchange);
            }
        }
    }
}

/// X-REFRESH-RECOVERY.
pub struct RefreshRecovery;
impl Rule for RefreshRecovery {
    const META: RuleMeta = meta!(
        "X-REFRESH-RECOVERY",
        Warning,
        Refresh,
        &[Client, As],
        "CAI, CC",
        "Claude Help Center (re-register on 401 invalid_client); RFC 6749 §5.2",
        "The client loops on a failing refresh instead of re-authorizing / re-registering",
        "After invalid_grant re-authorize; after 401 invalid_client re-register. ASes: answer invalid_client with 401."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let failed: Vec<&TokenCall> = f
            .tokens
            .iter()
            .filter(|t| t.grant == "refresh_token" && t.status.is_some_and(|s| s >= 400))
            .collect();
        for (i, t) in failed.iter().enumerate() {
            if failed
                .iter()
                .take(i)
                .any(|p| p.refresh_hash == t.refresh_hash)
            {
                if let Some(step) = t.step {
                    out.once(
                        "loop",
                        &Self::META,
                        format!(
                            "the same failing refresh token was retried ({} → {})",
                            t.error.as_deref().unwrap_or("error"),
                            t.status.unwrap_or(0)
                        ),
                    )
                    .exchange = Some(step.exchange);
                }
                return;
            }
        }
    }
}

/// X-SCOPE-INSUFFICIENT.
pub struct ScopeInsufficient;
impl Rule for ScopeInsufficient {
    const META: RuleMeta = meta!(
        "X-SCOPE-INSUFFICIENT",
        Warning,
        McpTransport,
        &[As, Rs],
        "step-up loops (anthropics/claude-ai-mcp#420)",
        "MCP 2025-11-25 \"Scope Challenge Handling\"",
        "The granted scopes lack scopes named by a 403 insufficient_scope challenge",
        "Grant the scopes the RS demands (AS policy), or demand only scopes the AS can grant (RS)."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for c in f
            .challenges
            .iter()
            .filter(|c| c.status == 403 && c.error.as_deref() == Some("insufficient_scope"))
        {
            let Some(need) = c.scope.as_deref() else {
                continue;
            };
            let tok = f
                .mcp
                .iter()
                .find(|m| m.step.is_some_and(|s| s.exchange == c.step.exchange))
                .and_then(|m| m.token_hash.as_deref())
                .and_then(|h| f.issuer_of_token(h))
                .and_then(|t| t.issued.as_ref());
            let Some(tok) = tok else { continue };
            let granted: Vec<String> = tok
                .scope
                .as_deref()
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .or_else(|| tok.jwt.as_ref().map(|j| j.scopes.clone()))
                .unwrap_or_default();
            let missing: Vec<&str> = need
                .split_whitespace()
                .filter(|s| !granted.iter().any(|g| g == s))
                .collect();
            if !missing.is_empty() {
                out.once(
                    c.step.exchange.0.to_string(),
                    &Self::META,
                    format!(
                        "403 insufficient_scope wants {missing:?}; the token grants {granted:?}"
                    ),
                )
                .exchange = Some(c.step.exchange);
            }
        }
    }
}

/// X-STEPUP-LOOP.
pub struct StepupLoop;
impl Rule for StepupLoop {
    const META: RuleMeta = meta!(
        "X-STEPUP-LOOP",
        Warning,
        McpTransport,
        &[Client, Rs],
        "infinite re-auth prompts",
        "MCP 2025-11-25 (retry limits SHOULD); conformance scope-retry-limit",
        "More than 3 insufficient_scope → re-authorize cycles",
        "Client: stop after a few step-up attempts; RS/AS: make the demanded scope grantable."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let cycles = f
            .challenges
            .iter()
            .filter(|c| c.status == 403 && c.error.as_deref() == Some("insufficient_scope"))
            .filter(|c| {
                f.authorizes
                    .iter()
                    .any(|a| a.step.is_some_and(|s| s.at > c.step.at))
            })
            .count();
        if cycles > 3 {
            out.once(
                "loop",
                &Self::META,
                format!("{cycles} insufficient_scope → re-authorize cycles"),
            )
            .exchange = f.challenges.last().map(|c| c.step.exchange);
        }
    }
}

/// X-STEPUP-SCOPE-DROP.
pub struct StepupScopeDrop;
impl Rule for StepupScopeDrop {
    const META: RuleMeta = meta!(
        "X-STEPUP-SCOPE-DROP",
        Info,
        Authorize,
        &[Client],
        "lost permissions for other tools",
        "MCP 2026-07-28 \"Step-Up Authorization Flow\"; conformance sep-2350-scope-union-on-reauth",
        "A re-authorization after 403 drops previously requested scopes",
        "Request the union of previously granted and newly required scopes."
    );
    const REVISIONS: Revisions = Revisions::since(Revision::R2026_07_28);
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for c in f.challenges.iter().filter(|c| c.status == 403) {
            let before = f
                .authorizes
                .iter()
                .rev()
                .find(|a| a.step.is_some_and(|s| s.at < c.step.at));
            let after = f
                .authorizes
                .iter()
                .find(|a| a.step.is_some_and(|s| s.at > c.step.at));
            let (Some(b), Some(a)) = (before, after) else {
                continue;
            };
            let old: Vec<&str> = b
                .scope
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            let new: Vec<&str> = a
                .scope
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            let dropped: Vec<&&str> = old.iter().filter(|s| !new.contains(s)).collect();
            if let (false, Some(step)) = (dropped.is_empty(), a.step) {
                out.once(
                    step.exchange.0.to_string(),
                    &Self::META,
                    format!("step-up authorization dropped {dropped:?}"),
                )
                .exchange = Some(step.exchange);
            }
        }
    }
}
