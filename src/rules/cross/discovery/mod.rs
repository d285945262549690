//! Cross-request discovery rules: the issuer chain, resource consistency, AS reachability,
//! discovery order, default endpoints and challenges the client ignores.

use crate::flow::Flow;
use crate::flow::revision::Revision;
use crate::model::Exchange;
use crate::model::Phase;
use crate::model::{Severity::*, Who::*};
use crate::parse::urls::{self, UrlDiff};
use crate::rules::revision::Revisions;
use crate::rules::rule::{Cx, FlowCx, Out, Rule, RuleMeta};

/// Cross-rule [`RuleMeta`] shorthand: the phase is named per rule; hooks are flow hooks.
macro_rules! meta {
    ($id:literal, $sev:ident, $phase:ident, $($rest:tt)*) => {
        crate::rules::rule::rule_meta!(Phase::$phase, &[], $id, $sev, $($rest)*)
    };
}

/// X-ISSUER-CHAIN.
pub struct IssuerChain;
impl Rule for IssuerChain {
    const META: RuleMeta = meta!(
        "X-ISSUER-CHAIN",
        Error,
        DiscoveryAs,
        &[Rs, As],
        "TS v2, CC (RFC 9207), Strict; CAI lenient",
        "RFC 8414 §3.3; RFC 9207 §2.4; RFC 9728 §7.6",
        "The issuer identity changes along PRM → ASM URL → ASM issuer → callback iss → JWT iss",
        "Use one byte-identical issuer string everywhere: PRM authorization_servers, ASM issuer, the callback's iss and the tokens' iss."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let Some(asm) = f.asm.iter().rev().find(|d| d.ok_doc().is_some()) else {
            return;
        };
        let mut chain: Vec<(&str, String, Option<crate::model::ExchangeId>)> = Vec::new();
        if let Some(p) = f.prm_auth_servers().first() {
            chain.push((
                "PRM authorization_servers[0]",
                p.to_string(),
                f.prm
                    .iter()
                    .rev()
                    .find(|d| d.ok_doc().is_some())
                    .map(|d| d.step.exchange),
            ));
        }
        // Without a PRM the client derived the issuer from the ASM URL. With one, the PRM entry
        // is the derived issuer (a root `https://h/` and `https://h` share one well-known URL).
        if chain.is_empty() {
            if let Some(d) = urls::issuer_from_asm_url(&asm.url) {
                chain.push(("issuer derived for the ASM URL", d, Some(asm.step.exchange)));
            }
        }
        if let Some(i) = asm
            .ok_doc()
            .and_then(|d| d.get("issuer"))
            .and_then(|v| v.as_str())
        {
            chain.push(("ASM issuer", i.to_string(), Some(asm.step.exchange)));
        }
        if let Some(c) = f.callbacks.iter().rev().find(|c| c.iss.is_some()) {
            chain.push((
                "callback iss",
                c.iss.clone().unwrap_or_default(),
                Some(c.step.exchange),
            ));
        }
        if let Some((t, iss)) = f
            .tokens
            .iter()
            .rev()
            .find_map(|t| Some((t, t.issued.as_ref()?.jwt.as_ref()?.iss.clone()?)))
        {
            chain.push(("JWT iss", iss, t.step.map(|s| s.exchange)));
        }
        for w in chain.windows(2) {
            let (Some(a), Some(b)) = (w.first(), w.get(1)) else {
                continue;
            };
            if a.1 != b.1 {
                out.once(
                    format!("{}>{}", a.0, b.0),
                    &Self::META,
                    format!(
                        "first break in the issuer chain: {} \"{}\" ≠ {} \"{}\" ({})",
                        a.0,
                        a.1,
                        b.0,
                        b.1,
                        urls::compare(&a.1, &b.1).label()
                    ),
                )
                .exchange = b.2;
                return;
            }
        }
    }
}

/// X-RESOURCE-VS-PRM.
pub struct ResourceVsPrm;
impl Rule for ResourceVsPrm {
    const META: RuleMeta = meta!(
        "X-RESOURCE-VS-PRM",
        Error,
        Authorize,
        &[Client, Rs],
        "RS audience rejection; Entra AADSTS9010010; anthropics/claude-code#52871",
        "MCP 2025-11-25 Authorization \"Canonical Server URI\"; RFC 8707 §2",
        "The resource parameter differs from PRM resource or the MCP URL",
        "Send resource byte-identical to PRM `resource` (client), and publish the MCP URL itself as PRM `resource` (server)."
    );
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        // Every PRM `resource` the flow was served (path-aware or root well-known, or via the
        // challenge): sending one of them byte for byte is what RFC 8707 and the MCP spec ask,
        // whatever the server chose to publish (PRM-RESOURCE-* judge that choice).
        let published: Vec<&str> = f
            .prm
            .iter()
            .filter_map(|d| crate::parse::metadata::str_member(d.ok_doc()?, "resource"))
            .collect();
        // Against the PRM when there is one; against the MCP URL only without any PRM.
        let refs: Vec<(&str, &str)> = match (f.prm_resource(), f.mcp_url.as_deref()) {
            (Some(prm), _) => vec![("PRM resource", prm)],
            (None, Some(mcp)) => vec![("MCP URL", mcp)],
            (None, None) => return,
        };
        let sent = f
            .authorizes
            .iter()
            .filter_map(|a| Some(("authorize", a.step?.exchange, a.resource.clone())))
            .chain(
                f.tokens
                    .iter()
                    .filter_map(|t| Some(("token", t.step?.exchange, t.resource.clone()))),
            );
        for (leg, ex, resources) in sent {
            for r in &resources {
                if published
                    .iter()
                    .any(|p| urls::compare(r, p) == UrlDiff::Same)
                {
                    continue;
                }
                for (name, v) in &refs {
                    let d = urls::compare(r, v);
                    if d == UrlDiff::Same {
                        continue;
                    }
                    let fi = out.once(
                        format!("{}:{name}", ex.0),
                        &Self::META,
                        format!("{leg} resource \"{r}\" ≠ {name} \"{v}\" ({})", d.label()),
                    );
                    fi.exchange = Some(ex);
                    fi.phase = if leg == "token" {
                        Phase::Token
                    } else {
                        Phase::Authorize
                    };
                    if matches!(d, UrlDiff::TrailingSlash | UrlDiff::Normalization) {
                        fi.severity = Warning;
                    }
                }
            }
        }
    }
}

/// X-MCP-URL-VS-PRM.
pub struct McpUrlVsPrm;
impl Rule for McpUrlVsPrm {
    const META: RuleMeta = meta!(
        "X-MCP-URL-VS-PRM",
        Error,
        McpTransport,
        &[Rs, Client],
        "CAI (posts to the connector URL as entered)",
        "anthropics/claude-ai-mcp#62",
        "Authenticated MCP requests go to a path other than PRM resource and get 404",
        "Serve MCP at the URL the PRM names (or fix the PRM), and give clients that exact URL."
    );
    const REVISIONS: Revisions = Revisions::since(Revision::R2025_06_18);
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let (Some(res), Some(mcp)) = (f.prm_resource(), f.mcp_url.as_deref()) else {
            return;
        };
        if matches!(
            urls::compare(res, mcp),
            UrlDiff::Same | UrlDiff::TrailingSlash
        ) {
            return;
        }
        // Only POSTs carry MCP messages (a 404 to the optional GET stream says nothing about
        // the URL), and once an authenticated POST succeeded the URL is the right one.
        let posts = || f.mcp.iter().filter(|m| m.had_auth && m.method == "POST");
        if posts().any(|m| m.ok()) {
            return;
        }
        if let Some(m) = posts().find(|m| m.status == Some(404)) {
            out.once(
                "u",
                &Self::META,
                format!("authenticated MCP requests to {mcp} answer 404; the PRM names {res}"),
            )
            .exchange = m.step.map(|s| s.exchange);
        }
    }
}

/// X-AS-UNREACHABLE.
pub struct AsUnreachable;
impl Rule for AsUnreachable {
    const META: RuleMeta = meta!(
        "X-AS-UNREACHABLE",
        Error,
        DiscoveryAs,
        &[As, Rs],
        "all",
        "RFC 9728 §7.6; MCP 2025-11-25",
        "Every ASM candidate URL failed (DNS, TLS, timeout, 5xx)",
        "Make the AS's metadata reachable from where the client runs (DNS, certificate, firewall), or fix the PRM authorization_servers entry."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        if f.asm.is_empty() || f.asm_doc().is_some() {
            return;
        }
        let failed = |d: &crate::flow::state::DocFetch| {
            d.error_kind.is_some() || d.status.is_some_and(|s| s >= 500)
        };
        if !f.asm.iter().all(failed) {
            return;
        }
        let issuer = f.prm_auth_servers().first().map(|s| s.to_string());
        let all = issuer.as_deref().is_some_and(|i| {
            urls::asm_candidates(i)
                .iter()
                .all(|c| f.asm.iter().any(|d| &d.url == c))
        });
        if all || cx.finishing {
            let what: Vec<String> = f
                .asm
                .iter()
                .map(|d| {
                    format!(
                        "{} → {}",
                        d.url,
                        d.error_kind
                            .as_ref()
                            .map_or_else(|| d.status.unwrap_or(0).to_string(), ToString::to_string)
                    )
                })
                .collect();
            out.once(
                "u",
                &Self::META,
                format!(
                    "authorization server metadata unreachable: {}",
                    what.join(", ")
                ),
            )
            .exchange = f.asm.last().map(|d| d.step.exchange);
        }
    }
}

/// X-AS-CHANGED-REUSE.
pub struct AsChangedReuse;
impl Rule for AsChangedReuse {
    const META: RuleMeta = meta!(
        "X-AS-CHANGED-REUSE",
        Error,
        Authorize,
        &[Client],
        "invalid_client; mix-up risk",
        "MCP 2026-07-28 \"Authorization Server Binding\"; conformance sep-2352-no-reuse-on-as-change",
        "A client_id registered at one AS is reused after the PRM names another",
        "Register again whenever the issuer changes; bind stored credentials to the issuer."
    );
    const REVISIONS: Revisions = Revisions::since(Revision::R2026_07_28);
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for a in &f.authorizes {
            let (Some(cid), Some(step), Some(now_iss)) =
                (a.client_id.as_deref(), a.step, a.issuer.as_deref())
            else {
                continue;
            };
            if let Some(r) = f.registrations.iter().find(|r| {
                r.client_id.as_deref() == Some(cid)
                    && r.issuer.as_deref().is_some_and(|i| i != now_iss)
            }) {
                out.once(step.exchange.0.to_string(), &Self::META, format!("client_id \"{cid}\" was registered at {:?} but is used with issuer \"{now_iss}\"", r.issuer)).exchange = Some(step.exchange);
            }
        }
    }
}

/// X-DISCOVERY-ORDER.
pub struct DiscoveryOrder;
impl Rule for DiscoveryOrder {
    const META: RuleMeta = meta!(
        "X-DISCOVERY-ORDER",
        Info,
        DiscoveryPrm,
        &[Client],
        "conformance prm-priority-order, authorization-server-metadata-wrong-path",
        "MCP 2025-11-25 discovery sections",
        "The client's discovery order deviates from the spec",
        "Clients: probe the challenge's resource_metadata first, then path-aware, then root; RFC 8414 before OIDC."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        if let Some(ok) = f.prm.iter().find(|p| p.ok_doc().is_some()) {
            if let Some(later) = f
                .prm
                .iter()
                .find(|p| p.step.at > ok.step.end && p.url != ok.url)
            {
                out.once(
                    "prm",
                    &Self::META,
                    format!(
                        "PRM {} was fetched although {} already succeeded",
                        later.url, ok.url
                    ),
                )
                .exchange = Some(later.step.exchange);
            }
        }
        let first_oidc = f
            .asm
            .iter()
            .position(|d| d.url.contains("openid-configuration"));
        let first_8414 = f
            .asm
            .iter()
            .position(|d| d.url.contains("oauth-authorization-server"));
        if let (Some(o), Some(r)) = (first_oidc, first_8414) {
            if o < r {
                out.once(
                    "oidc",
                    &Self::META,
                    "OIDC discovery was tried before RFC 8414 metadata",
                )
                .exchange = f.asm.get(o).map(|d| d.step.exchange);
            }
        }
    }
}

/// X-DEFAULT-ENDPOINTS.
pub struct DefaultEndpoints;
impl Rule for DefaultEndpoints {
    const META: RuleMeta = RuleMeta {
        on: &[Phase::Authorize, Phase::Token, Phase::Registration],
        ..meta!(
            "X-DEFAULT-ENDPOINTS",
            Warning,
            Authorize,
            &[Client],
            "CAI when ASM discovery fails (anthropics/claude-ai-mcp#82, #341); TS legacy defaults",
            "MCP 2025-03-26 \"Fallbacks for Servers without Metadata Discovery\"",
            "The client uses /authorize, /token or /register on the MCP origin instead of the ASM's endpoints",
            "Make ASM discovery succeed (see ASM-*/PRM-* findings); clients should use the advertised endpoints."
        )
    };
    /// 2025-03-26 specified these defaults for servers without metadata discovery.
    const REVISIONS: Revisions =
        Revisions::ALL.at(Revision::R2025_03_26, crate::model::Severity::Info);
    fn on_exchange(&self, cx: &Cx<'_>, _ex: &Exchange, out: &mut Out) {
        let Some(f) = cx.flow else { return };
        let path = cx.view.path();
        let name = match cx.phase {
            Phase::Authorize if path == "/authorize" => "authorization_endpoint",
            Phase::Token if path == "/token" => "token_endpoint",
            Phase::Registration if path == "/register" => "registration_endpoint",
            _ => return,
        };
        let on_mcp_origin =
            f.mcp_url.as_deref().and_then(urls::origin).as_deref() == cx.view.origin();
        if !on_mcp_origin {
            return;
        }
        match f.asm_str(name) {
            Some(adv) if urls::without_query(adv) != cx.view.base_url() => {
                out.push(&Self::META, format!("{} sent to the default {path} on the MCP origin although the ASM advertises {name} {adv}", cx.phase)).severity = Error;
            }
            None if f.asm_doc().is_none() && !f.asm.is_empty() => {
                out.push(&Self::META, format!("{} sent to the default {path} on the MCP origin because ASM discovery failed", cx.phase));
            }
            _ => {}
        }
    }
}

/// X-CHALLENGE-IGNORED.
pub struct ChallengeIgnored;
impl Rule for ChallengeIgnored {
    const META: RuleMeta = meta!(
        "X-CHALLENGE-IGNORED",
        Warning,
        McpTransport,
        &[Client],
        "CAI (anthropics/claude-ai-mcp#217), CC (anthropics/claude-code#52565)",
        "MCP 2025-06-18 and later (clients MUST parse WWW-Authenticate and respond)",
        "A valid 401 challenge, and the client never fetches PRM or ASM nor sends a token",
        "Client bug: a 401 with a Bearer challenge must start discovery (\"needs authentication\"), not \"failed to connect\"; report it with this trace."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        for c in f
            .challenges
            .iter()
            .filter(|c| c.status == 401 && !c.had_auth && c.resource_metadata.is_some())
        {
            let after = |at: time::OffsetDateTime| at > c.step.at;
            // A client that fetched metadata or a token, or that sent a token it already held
            // (a stored one: no discovery needed), answered the challenge.
            let answered = f.prm.iter().chain(f.asm.iter()).any(|d| after(d.step.at))
                || f.tokens.iter().any(|t| t.step.is_some_and(|s| after(s.at)))
                || f.mcp
                    .iter()
                    .any(|m| m.had_auth && m.step.is_some_and(|s| after(s.at)));
            let retries: Vec<_> = f
                .mcp
                .iter()
                .filter(|m| !m.had_auth)
                .filter_map(|m| m.step.filter(|s| after(s.at)))
                .collect();
            // Retries are judged once the client has been quiet for a while, so a token sent
            // just after them still counts as an answer. A challenge with no retries is judged
            // only at the end: a client may wait for a person to press "Connect".
            let last = retries.last().map_or(c.step.end, |s| s.end);
            let settled = cx.finishing || cx.since(last) > QUIET_SECS;
            let ignored = (retries.len() >= 2 && settled)
                || (cx.finishing && cx.since(c.step.end) > QUIET_SECS);
            if !answered && ignored {
                out.once(c.step.exchange.0.to_string(), &Self::META, format!("401 with a Bearer challenge at {}; the client then sent {} more unauthenticated request(s) and never fetched the PRM", Flow::clock(c.step.end), retries.len())).exchange = Some(c.step.exchange);
                return;
            }
        }
    }
}

/// Seconds without a new request after which X-CHALLENGE-IGNORED judges a challenge.
const QUIET_SECS: f64 = 5.0;

/// X-RESOURCE-METADATA-CHANGED.
pub struct ResourceMetadataChanged;
impl Rule for ResourceMetadataChanged {
    const META: RuleMeta = meta!(
        "X-RESOURCE-METADATA-CHANGED",
        Info,
        McpTransport,
        &[Client],
        "stale AS after migration",
        "RFC 9728 §5.2",
        "A new challenge names a different resource_metadata, and the client does not refetch it",
        "Clients should refetch the PRM when resource_metadata changes."
    );
    fn on_flow(&self, cx: &FlowCx<'_>, out: &mut Out) {
        let f = cx.flow;
        let rms: Vec<_> = f
            .challenges
            .iter()
            .filter(|c| c.resource_metadata.is_some())
            .collect();
        for w in rms.windows(2) {
            let (Some(a), Some(b)) = (w.first(), w.get(1)) else {
                continue;
            };
            if a.resource_metadata != b.resource_metadata {
                let refetched = f
                    .prm
                    .iter()
                    .any(|p| p.step.at > b.step.at && Some(&p.url) == b.resource_metadata.as_ref());
                if !refetched
                    && (cx.finishing
                        || f.mcp.iter().any(|m| {
                            m.step
                                .is_some_and(|s| s.at > b.step.end + time::Duration::seconds(5))
                        }))
                {
                    out.once(b.step.exchange.0.to_string(), &Self::META, format!("resource_metadata changed from {:?} to {:?} and the new PRM was not fetched", a.resource_metadata, b.resource_metadata)).exchange = Some(b.step.exchange);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
