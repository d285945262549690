//! Cross-request client rules: unknown client ids, registration storms, per-connect registration and inconsistent client authentication.

use crate::flow::Flow;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::Who::*;
use crate::rules::rule::{Cx, FlowCx, Out, Rule, RuleMeta};
use crate::rules::util::*;

pub(super) fn ok_regs(f: &Flow) -> Vec<&crate::flow::state::RegistrationSeen> {
    f.registrations
        .iter()
        .filter(|r| r.client_id.is_some())
        .collect()
}

/// X-CLIENT-ID-UNKNOWN.
pub struct ClientIdUnknown;
impl Rule for ClientIdUnknown {
    const META: RuleMeta = RuleMeta {
        on: &[Phase::Authorize, Phase::Token, Phase::Refresh],
        ..meta!(
            "X-CLIENT-ID-UNKNOWN",
            Error,
            Token,
            &[As, Client],
            "CAI, CC (stale DCR credentials persist after the AS forgets them)",
            "MCP 2026-07-28 \"Authorization Server Binding\"; conformance sep-2352-*",
            "The AS does not know a client_id (lost registration, other issuer, or never registered)",
            "Re-register when the AS answers invalid_client; ASes must persist DCR clients across restarts. Users: remove and re-add the connector to drop cached credentials."
        )
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let st = status(ex).unwrap_or(0);
        if st < 400 {
            return;
        }
        let b = body(ex).unwrap_or("").to_ascii_lowercase();
        let unknown = b.contains("invalid_client")
            || b.contains("client not found")
            || b.contains("unknown client")
            || b.contains("client_id not found");
        if !unknown {
            return;
        }
        let q = cx.view.query();
        let form = cx.view.form();
        let basic = cx.view.basic_user();
        let Some(cid) = q
            .first("client_id")
            .or(form.first("client_id"))
            .map(str::to_owned)
            .or(basic.map(str::to_owned))
        else {
            return;
        };
        let f = cx.flow;
        let reg = f.and_then(|f| {
            f.registrations
                .iter()
                .rev()
                .find(|r| r.client_id.as_deref() == Some(cid.as_str()))
        });
        let issuer = f.and_then(|f| f.asm_str("issuer"));
        let why = match reg {
            Some(r) if r.issuer.as_deref() != issuer => format!("it was registered at issuer {:?}, not the current {:?}", r.issuer, issuer),
            Some(r) => format!("it was registered at {} in this flow: the AS lost the registration (in-memory store or restart?)", r.step.exchange),
            None => "it was never registered in this trace: a cached registration from an earlier run or another AS".to_string(),
        };
        out.push(
            &Self::META,
            format!("AS answered {st} invalid_client for client_id \"{cid}\"; {why}"),
        );
    }
}

/// X-DCR-LOOP.
pub struct DcrLoop;
impl Rule for DcrLoop {
    const META: RuleMeta = meta!(
        "X-DCR-LOOP",
        Error,
        Registration,
        &[Client],
        "CAI loop register → POST /mcp 401 → re-register (anthropics/claude-code#30511, #33578)",
        "field reports; pair with DCR-* and ASM-CIMD-WITHOUT-NONE",
        "Repeated registrations with no authorize in between",
        "Look at the DCR-* findings on these registrations: the client rejects the registration response and retries. Fix the response shape (or offer CIMD with `none`)."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let regs = ok_regs(f);
        let n = cx.config.dcr_storm_count.max(2);
        for w in regs.windows(n) {
            let (Some(first), Some(last)) = (w.first(), w.last()) else {
                continue;
            };
            let span = (last.step.at - first.step.at).as_seconds_f64();
            let authz_between = f.authorizes.iter().any(|a| {
                a.step
                    .is_some_and(|s| s.at > first.step.at && s.at < last.step.at)
            });
            if span <= cx.config.dcr_storm_window_s && !authz_between {
                out.once(
                    first.step.exchange.0.to_string(),
                    &Self::META,
                    format!(
                        "{n} registrations in {span:.0} s ({}…{}) with no authorize in between",
                        first.step.exchange, last.step.exchange
                    ),
                )
                .exchange = Some(last.step.exchange);
                return;
            }
        }
    }
}

/// X-DCR-PER-CONNECT.
pub struct DcrPerConnect;
impl Rule for DcrPerConnect {
    const META: RuleMeta = meta!(
        "X-DCR-PER-CONNECT",
        Info,
        Registration,
        &[Client],
        "orphan clients pile up in the AS",
        "claude.com docs \"Authentication\" (prefer CIMD)",
        "Every new connection registers a new client",
        "Prefer CIMD (client_id_metadata_document_supported + none) or let the AS expire unused clients."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let regs = ok_regs(f);
        if regs.len() >= 2 {
            let a = f
                .authorizes
                .iter()
                .filter(|a| {
                    a.step
                        .is_some_and(|s| regs.first().is_some_and(|r| s.at > r.step.at))
                })
                .count();
            if a >= 2 {
                out.once(
                    "pc",
                    &Self::META,
                    format!(
                        "{} client registrations for {a} authorizations in one flow",
                        regs.len()
                    ),
                )
                .exchange = regs.last().map(|r| r.step.exchange);
            }
        }
    }
}

/// X-AUTH-METHOD-INCONSISTENT.
pub struct AuthMethodInconsistent;
impl Rule for AuthMethodInconsistent {
    const META: RuleMeta = meta!(
        "X-AUTH-METHOD-INCONSISTENT",
        Error,
        Token,
        &[Client, As],
        "CAI (anthropics/claude-ai-mcp#667); brendanlong/lion-reader PR 1121",
        "RFC 7591 §2; RFC 8414 §2; conformance token-endpoint-auth-method",
        "The token request's client authentication differs from the registered method",
        "Authenticate at the token endpoint with the method returned at registration (and listed in the ASM)."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for t in &f.tokens {
            let (Some(cid), Some(step)) = (t.client_id.as_deref(), t.step) else {
                continue;
            };
            let Some(m) = f
                .registrations
                .iter()
                .rev()
                .find(|r| r.client_id.as_deref() == Some(cid))
                .and_then(|r| r.method.as_deref())
            else {
                continue;
            };
            if m != t.auth_method && !(m == "none" && t.auth_method == "none") {
                out.once(
                    step.exchange.0.to_string(),
                    &Self::META,
                    format!(
                        "registered token_endpoint_auth_method \"{m}\", token request used \"{}\"",
                        t.auth_method
                    ),
                )
                .exchange = Some(step.exchange);
            }
        }
    }
}
