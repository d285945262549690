//! The authorize leg in reverse mode: R8 (RFC 9207 `iss`) without proxying login pages.
//!
//! The browser's visit to `X/__authtap/authorize/…` is forwarded to the real authorization
//! endpoint (redirects are never followed); its `redirect_uri` is authtap's bounce URI when
//! the client registered through authtap (see [`crate::rewrite::CallbackLeg`]). What happens
//! next depends on the answer:
//!
//! - a 3xx to the bounce URI (an auto-approving or already-consented AS): the browser goes
//!   straight to the client's `redirect_uri` with the AS's parameters, only `iss` mapped;
//! - a 3xx to the request's `redirect_uri` (no bounce): only the `iss` parameter of its
//!   `Location` is mapped to the proxy issuer (R8), so it agrees with the rewritten ASM
//!   `issuer` (R5);
//! - a 3xx anywhere else (the AS's login page): passed through with an absolute `Location`, so
//!   the browser leaves the proxy for the login page; when that answer sets cookies (login
//!   state the AS expects on its own origin), the browser gets a 302 to the real endpoint
//!   instead, since cookies set on authtap's origin would never reach the AS's pages;
//! - anything else (a login page served at the authorize URL itself, an error page): the
//!   browser gets a 302 to the real endpoint, and the record notes it.
//!
//! In both redirect cases the record keeps the upstream `Location` (the authorization
//! response the rules judge) and lists the rewrite. After a login page, a bounced flow comes
//! back through authtap ([`super::bounce`]) and is recorded there; an unbounced one goes from
//! the AS straight to the client, carrying the upstream issuer, which a client that checks
//! RFC 9207 `iss` against the rewritten issuer rejects: a live warning says so and why.
//! Pushed authorization requests (`request_uri`) are one-time, so they are never probed.

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::body::{ProxyBody, empty, media_type};
use super::service::Forwarder;
use crate::forward::assembly::Assembly;
use crate::forward::failure::UpstreamFailure;
use crate::forward::headers::version_label;
use crate::model::{Header, ResponseRecord, Rewrite, RewriteDirection};
use crate::rewrite::{CallbackLeg, is_redirect_to, query_param};
use crate::tap::Tap;

/// What the record says when a bounced flow's login pages leave the proxy.
const LOGIN_BOUNCED: &str = "the AS shows its own login/consent pages (not proxied); its \
     authorization response comes back through authtap's callback bounce and is recorded there";

/// What the live warning and the record say when the login leg leaves the proxy for good.
fn login_not_bounced(why: &str) -> String {
    format!(
        "authorize needs a login page and the authorization response cannot come back through \
         authtap: {why}. The AS will send code, state and iss straight to the client, so that \
         leg is not recorded, and a client that checks RFC 9207 iss (Python SDK, claude.ai, \
         Claude Code) will see the upstream issuer instead of the one authtap announced and \
         stop"
    )
}

/// Which kind of request the forwarder is handling.
#[derive(Debug, Clone)]
pub(super) enum Leg {
    /// Any request: streamed through with R1/R9 header rewriting.
    Plain,
    /// The authorization request, and whether its response comes back through authtap.
    Authorize(CallbackLeg),
}

/// A rewrite entry that only explains what authtap did.
fn note(text: impl Into<String>) -> Rewrite {
    Rewrite {
        direction: RewriteDirection::Response,
        location: "note".into(),
        from: String::new(),
        to: text.into(),
    }
}

impl Forwarder {
    /// Handles a visit to the mapped authorization endpoint `url` (already R7-mapped).
    pub(super) async fn authorize(
        &self,
        assembly: Arc<Assembly>,
        parts: http::request::Parts,
        body: Incoming,
        client_url: String,
        url: String,
        callback: CallbackLeg,
    ) -> Response<ProxyBody> {
        if parts.method != http::Method::GET || query_param(&url, "request_uri").is_some() {
            let why = if parts.method == http::Method::GET {
                "a pushed authorization request (request_uri) is one-time use, so authtap did not \
                 send it upstream itself"
            } else {
                "only GET authorization requests are sent upstream by authtap"
            };
            self.record_request_only(&assembly, &parts, &client_url, &url);
            return self.redirect_browser(&assembly, parts.version, &url, why, None);
        }
        self.forward(
            assembly,
            parts,
            body,
            client_url,
            url,
            Leg::Authorize(callback),
        )
        .await
    }

    /// The upstream answered the authorization request: R8, pass-through or a 302 (see the
    /// module doc). `resp_parts` has had its hop-by-hop headers removed.
    pub(super) fn authorize_response(
        &self,
        assembly: &Arc<Assembly>,
        mut resp_parts: http::response::Parts,
        body: Tap<Incoming>,
        url: &str,
        callback: &CallbackLeg,
        client_version: http::Version,
    ) -> Response<ProxyBody> {
        let location = resp_parts
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let location = location.filter(|_| resp_parts.status.is_redirection());
        let Some(location) = location else {
            // A login or error page at the authorize URL: do not serve it from our origin.
            let answered = format!(
                "the authorization endpoint answered {} {}",
                resp_parts.status.as_u16(),
                media_type(&resp_parts.headers).unwrap_or_default()
            );
            return self.login_on_the_as(assembly, body, callback, client_version, url, &answered);
        };
        if let CallbackLeg::Bounced { .. } = callback
            && let Some((redirect_uri, params)) = self.rewriter.decode_bounce_uri(&location)
        {
            // The authorization response, sent to the bounce URI: on to the client directly.
            let back = self.rewriter.bounce_back(&redirect_uri, params);
            replace_location(assembly, &mut resp_parts.headers, location, back.location);
            return Response::from_parts(resp_parts, body.boxed());
        }
        let redirect_uri = query_param(url, "redirect_uri");
        if redirect_uri.is_some_and(|r| is_redirect_to(&location, &r)) {
            // The authorization response itself: R8 on `iss`, nothing else.
            if let Some(new) = self.rewriter.authorization_response_iss(&location) {
                replace_location(assembly, &mut resp_parts.headers, location, new);
            }
            return Response::from_parts(resp_parts, body.boxed());
        }
        if resp_parts.headers.contains_key(header::SET_COOKIE) {
            // The AS keeps its login state in cookies (oidc-provider's interaction cookies):
            // served from authtap's origin they would never reach the AS's login page on its
            // own origin, so the browser makes this request itself.
            let why = format!(
                "the authorization endpoint answered {} to its login page and set cookies the \
                 browser must hold on the AS's own origin",
                resp_parts.status.as_u16()
            );
            return self.login_on_the_as(assembly, body, callback, client_version, url, &why);
        }
        // A hop to the AS's own login or consent page: the browser goes there directly.
        let absolute = url::Url::parse(url)
            .ok()
            .and_then(|base| base.join(&location).ok())
            .map(String::from);
        if let Some(absolute) = absolute.filter(|a| *a != location) {
            replace_location(assembly, &mut resp_parts.headers, location, absolute);
        }
        let (note_text, warning) = login_leg(assembly, callback);
        if let Some(warning) = &warning {
            tracing::warn!("{warning}");
        }
        assembly.add_rewrites(vec![note(warning.unwrap_or(note_text))]);
        Response::from_parts(resp_parts, body.boxed())
    }

    /// A login page authtap must not serve from its own origin: drains the AS's answer and
    /// sends the browser to the authorize URL itself, recording why.
    fn login_on_the_as(
        &self,
        assembly: &Arc<Assembly>,
        body: Tap<Incoming>,
        callback: &CallbackLeg,
        client_version: http::Version,
        url: &str,
        why: &str,
    ) -> Response<ProxyBody> {
        tokio::spawn(drain(body));
        let (note_text, warning) = login_leg(assembly, callback);
        if warning.is_none() {
            assembly.add_rewrites(vec![note(note_text)]);
        }
        self.redirect_browser(assembly, client_version, url, why, warning.as_deref())
    }

    /// The authorization endpoint could not be reached from here: send the browser there
    /// anyway (it may reach it) and record why, with the synthesized response.
    pub(super) fn authorize_unreachable(
        &self,
        assembly: &Arc<Assembly>,
        failure: &UpstreamFailure,
        client_version: http::Version,
        url: &str,
    ) -> Response<ProxyBody> {
        let why = format!(
            "authtap could not reach the authorization endpoint ({})",
            failure.message
        );
        self.redirect_browser(assembly, client_version, url, &why, None)
    }

    /// Records the request of an authorize visit that is not sent upstream.
    fn record_request_only(
        &self,
        assembly: &Assembly,
        parts: &http::request::Parts,
        client_url: &str,
        url: &str,
    ) {
        let mut headers = parts.headers.clone();
        super::headers::strip_hop_by_hop(&mut headers);
        assembly.set_request(crate::model::RequestRecord {
            method: parts.method.to_string(),
            url: url.to_string(),
            client_url: Some(client_url.to_string()),
            http_version: version_label(parts.version).into(),
            headers: Header::lines(&headers),
            body: None,
        });
    }

    /// Answers the browser with a 302 to the real authorization endpoint. `why` says what
    /// happened; with `warning`, it is also logged live. When the exchange has no upstream
    /// response yet, the synthesized 302 is recorded as the response (and noted as such).
    fn redirect_browser(
        &self,
        assembly: &Assembly,
        client_version: http::Version,
        url: &str,
        why: &str,
        warning: Option<&str>,
    ) -> Response<ProxyBody> {
        let mut rewrites = vec![Rewrite {
            direction: RewriteDirection::Response,
            location: "authtap:authorize-redirect".into(),
            from: why.to_string(),
            to: format!("302 Location: {url}"),
        }];
        if assembly.has_response() {
            rewrites.push(note(format!(
                "{why}; authtap answered the browser with a 302 to it instead"
            )));
        } else {
            assembly.set_response(ResponseRecord {
                status: 302,
                http_version: version_label(client_version).into(),
                headers: vec![
                    Header::new("location", url),
                    Header::new("cache-control", "no-store"),
                ],
                body: None,
                sse_events: vec![],
            });
            rewrites.push(note(format!(
                "{why}; the 302 response recorded here was synthesized by authtap, not sent by \
                 the upstream"
            )));
        }
        if let Some(warning) = warning {
            tracing::warn!("{warning}");
            rewrites.push(note(warning));
        }
        assembly.add_rewrites(rewrites);
        let mut resp = Response::new(empty());
        *resp.status_mut() = StatusCode::FOUND;
        if let Ok(value) = HeaderValue::from_str(url) {
            resp.headers_mut().insert(header::LOCATION, value);
        }
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

/// What the record says about the login leg, and the live warning when the authorization
/// response will not come back through authtap.
/// For an unbounced flow, the record also gets a [`Rewrite::CALLBACK_NOT_BOUNCED`] entry with the reason
/// (the rules report it).
fn login_leg(assembly: &Assembly, callback: &CallbackLeg) -> (String, Option<String>) {
    match callback {
        CallbackLeg::Bounced { .. } => (LOGIN_BOUNCED.to_string(), None),
        CallbackLeg::Direct { why } => {
            assembly.add_rewrites(vec![Rewrite {
                direction: RewriteDirection::Response,
                location: Rewrite::CALLBACK_NOT_BOUNCED.into(),
                from: String::new(),
                to: why.clone(),
            }]);
            let warning = login_not_bounced(why);
            (warning.clone(), Some(warning))
        }
    }
}

/// Reads a response body nobody will see to its end, so the tap records it and the upstream
/// connection goes back to the pool.
async fn drain(body: Tap<Incoming>) {
    let mut body = std::pin::pin!(body);
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
}

/// Replaces the `Location` of a response (when the new value is a valid header) and records
/// the rewrite.
fn replace_location(assembly: &Assembly, headers: &mut http::HeaderMap, from: String, to: String) {
    if let Ok(value) = HeaderValue::from_str(&to) {
        headers.insert(header::LOCATION, value);
        assembly.add_rewrites(vec![Rewrite {
            direction: RewriteDirection::Response,
            location: "header:location".into(),
            from,
            to,
        }]);
    }
}
