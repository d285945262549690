//! GEN-* redirect rules: redirects on API legs, trailing-slash and locale-prefix redirects.

use crate::model::Exchange;
use crate::model::Phase;
use crate::model::{Severity::*, Who::*};
use crate::parse::urls;
use crate::rules::rule::{Cx, Out, Rule, RuleMeta};
use crate::rules::util::*;

pub(super) fn redirect_target(ex: &Exchange) -> Option<(u16, String)> {
    let st = status(ex).filter(|s| (300..400).contains(s) && *s != 304)?;
    let loc = rh(ex, "location")?;
    Some((st, resolve(&ex.request.url, loc)))
}

/// The locale segment inserted by a redirect, if `to`'s path is `from`'s with `/<locale>` first.
pub(super) fn locale_inserted(from: &str, to: &str) -> Option<String> {
    let (pf, pt) = (urls::raw_path(from), urls::raw_path(to));
    let rest = pt.strip_prefix('/')?;
    let (seg, tail) = rest.split_once('/')?;
    let is_locale = {
        let (lang, region) = seg.split_once('-').unwrap_or((seg, ""));
        lang.len() == 2
            && lang.chars().all(|c| c.is_ascii_lowercase())
            && (region.is_empty()
                || (2..=4).contains(&region.len())
                    && region.chars().all(|c| c.is_ascii_alphabetic()))
    };
    (is_locale && format!("/{tail}") == pf).then(|| seg.to_string())
}

/// Whether `to` is `from` with a trailing slash added or removed.
pub(super) fn slash_twin(from: &str, to: &str) -> bool {
    let (a, b) = (urls::without_query(from), urls::without_query(to));
    a != b && a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// GEN-REDIRECT-ON-API.
pub struct RedirectOnApi;
impl Rule for RedirectOnApi {
    const META: RuleMeta = RuleMeta {
        id: "GEN-REDIRECT-ON-API",
        severity: Warning,
        phase: Phase::Other,
        on: API,
        who: &[Rs, Infra],
        breaks: "CAI (treats redirects on /mcp as failure), CC (ECONNRESET behind ingress), Browser",
        source: "RFC 9110 §15.4; BerriAI/litellm PR 34845",
        title: "A redirect on a non-browser leg (PRM, ASM, DCR, token, MCP)",
        fix: "Serve the resource at the URL clients are given (publish the final URL, e.g. the www host, in metadata); never redirect API calls.",
    };
    fn on_exchange(&self, cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        let Some((st, to)) = redirect_target(ex) else {
            return;
        };
        let post = method(ex) == "POST";
        let cross = urls::origin(&to).as_deref() != cx.view.origin();
        let downgrade = ex.request.url.starts_with("https:") && to.starts_with("http:");
        let mut why = Vec::new();
        if post && matches!(st, 301..=303) {
            why.push("a POST redirected with 301/302/303 becomes GET and loses its body");
        }
        if cross {
            why.push("cross-origin: clients drop Authorization and URL checks fail");
        }
        if downgrade {
            why.push("https→http downgrade");
        }
        let f = out.push(
            &Self::META,
            format!(
                "{} {} → {st} Location {to}{}",
                ex.request.method,
                ex.request.url,
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", why.join("; "))
                }
            ),
        );
        if !why.is_empty() {
            f.severity = Error;
        }
    }
}

/// GEN-TRAILING-SLASH-REDIRECT.
pub struct TrailingSlashRedirect;
impl Rule for TrailingSlashRedirect {
    const META: RuleMeta = RuleMeta {
        id: "GEN-TRAILING-SLASH-REDIRECT",
        severity: Warning,
        phase: Phase::Other,
        on: API,
        who: &[Rs, Infra],
        breaks: "CAI (\"Authorization with the MCP server failed\" after a valid token), redirect-averse clients",
        source: "zoho/analytics-mcp-server PR 22; PrefectHQ/fastmcp PR 2277",
        title: "A redirect that only adds or removes a trailing slash",
        fix: "Serve the endpoint on both forms (e.g. Starlette: route instead of Mount, Next.js: trailingSlash off for the API) or publish the exact form clients call.",
    };
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if let Some((st, to)) =
            redirect_target(ex).filter(|(_, to)| slash_twin(&ex.request.url, to))
        {
            out.push(
                &Self::META,
                format!(
                    "{} {} → {st} {to} (trailing slash only)",
                    ex.request.method, ex.request.url
                ),
            );
        }
    }
}

/// GEN-LOCALE-REDIRECT.
pub struct LocaleRedirect;
impl Rule for LocaleRedirect {
    const META: RuleMeta = RuleMeta {
        id: "GEN-LOCALE-REDIRECT",
        severity: Error,
        phase: Phase::Other,
        on: &[],
        who: &[Rs],
        breaks: "all",
        source: "RFC 8414 §3.1 and RFC 9728 §3.1 (metadata URLs are fixed); next-intl locale middleware prefixing /oauth/*",
        title: "An OAuth or well-known path redirected to a locale-prefixed twin",
        fix: "Exclude /.well-known, /oauth, /authorize, /token, /register and the MCP path from i18n middleware (e.g. the next-intl matcher).",
    };
    fn on_exchange(&self, _cx: &Cx<'_>, ex: &Exchange, out: &mut Out) {
        if let Some((st, to)) = redirect_target(ex) {
            if let Some(seg) = locale_inserted(&ex.request.url, &to) {
                out.push(
                    &Self::META,
                    format!(
                        "{} → {st} {to}: locale segment `/{seg}` inserted",
                        ex.request.url
                    ),
                );
            }
        }
    }
}
