//! authtap's own endpoints: the callback bounce and unknown `/__authtap/…` paths.
//!
//! The bounce ([`crate::rewrite::BounceBack`]): the AS sent the browser to authtap's bounce
//! URI with the authorization response. authtap records it (phase `callback`) and answers
//! with a 302 to the client's own `redirect_uri` (a 307 when the browser came with a POST: the
//! AS answered a form POST with 307/308, and the client must see that), the parameters as the
//! AS sent them except `iss`, which is mapped to the issuer the client was told (R8). The
//! recorded response is that redirect with the AS's parameters untouched, so the rules judge what the AS sent; the mapped
//! `Location` the browser got is listed as a rewrite, and a note says the 302 is authtap's.
//!
//! A path under `/__authtap/` that authtap did not make (a URL normalizer re-encoded it, or a
//! stale URL from another run) is answered with a 400 and recorded as an `authtap_path`
//! failure, which the rules report; it is never forwarded upstream.
//!
//! [`Forwarder::handle_bounce_port`] serves the plain-HTTP loopback port that bounce URIs of loopback
//! redirect URIs point at: only bounce paths, everything else is a 404.

use std::net::SocketAddr;

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::body::{ProxyBody, empty, plain_response};
use super::service::Forwarder;
use crate::forward::assembly::Assembly;
use crate::forward::headers::{strip_hop_by_hop, version_label};
use crate::model::{
    ErrorKind, ExchangeError, Header, Outcome, RequestRecord, ResponseRecord, Rewrite,
    RewriteDirection,
};
use crate::rewrite::{BOUNCE_PREFIX, BounceBack};

/// Where the registration request's bounce URIs are recorded (`body:$.redirect_uris`).
pub(super) const ADDED: &str = "body:$.redirect_uris";

/// The AS refused a registration to which authtap had added its bounce URIs: say so live and
/// in the record, since authtap's change may be the cause.
pub(super) fn registration_refused(assembly: &Assembly, status: u16) {
    let text = format!(
        "the AS answered {status} to a registration to which authtap had added its callback \
         bounce redirect URI (see the rewrite): if it refuses redirect URIs it does not expect, \
         the refusal is authtap's doing; rerun with --no-rewrite to see the client's own \
         registration (the legs after discovery then bypass authtap)"
    );
    tracing::warn!("{text}");
    assembly.add_rewrites(vec![Rewrite {
        direction: RewriteDirection::Request,
        location: "note".into(),
        from: String::new(),
        to: text,
    }]);
}

/// The note on every bounced authorization response.
const BOUNCE_NOTE: &str = "authorization response received at authtap's callback bounce URI \
     (registered next to the client's redirect_uri); the 302 to the client's redirect_uri \
     recorded here is authtap's, carrying the AS's parameters unchanged";

impl Forwarder {
    /// Records the request of an exchange authtap answers itself (nothing goes upstream).
    fn record_own_request(&self, assembly: &Assembly, parts: &http::request::Parts, url: &str) {
        let mut headers = parts.headers.clone();
        strip_hop_by_hop(&mut headers);
        assembly.set_request(RequestRecord {
            method: parts.method.to_string(),
            url: url.to_string(),
            client_url: None,
            http_version: version_label(parts.version).into(),
            headers: Header::lines(&headers),
            body: None,
        });
    }

    /// The AS's redirect reached the bounce URI: record it and send the browser on.
    pub(super) fn bounce(
        &self,
        assembly: &Assembly,
        parts: &http::request::Parts,
        client_url: &str,
        back: BounceBack,
    ) -> Response<ProxyBody> {
        self.record_own_request(assembly, parts, client_url);
        // A browser arrives with POST only after a 307/308 from the AS (it repeats the
        // consent form's POST): answer in kind, so the client sees what the AS did.
        let status = if parts.method == http::Method::GET || parts.method == http::Method::HEAD {
            StatusCode::FOUND
        } else {
            StatusCode::TEMPORARY_REDIRECT
        };
        assembly.set_response(ResponseRecord {
            status: status.as_u16(),
            http_version: version_label(parts.version).into(),
            headers: vec![
                Header::new("location", &back.upstream_location),
                Header::new("cache-control", "no-store"),
            ],
            body: None,
            sse_events: vec![],
        });
        let mut rewrites = vec![Rewrite {
            direction: RewriteDirection::Response,
            location: "note".into(),
            from: String::new(),
            to: BOUNCE_NOTE.into(),
        }];
        if back.location != back.upstream_location {
            rewrites.push(Rewrite {
                direction: RewriteDirection::Response,
                location: "header:location".into(),
                from: back.upstream_location.clone(),
                to: back.location.clone(),
            });
        }
        assembly.add_rewrites(rewrites);
        redirect(status, &back.location)
    }

    /// A `/__authtap/…` path authtap did not make: a recorded failure, never forwarded.
    pub(super) fn unknown_path(
        &self,
        assembly: &Assembly,
        parts: &http::request::Parts,
        client_url: &str,
        path: &str,
    ) -> Response<ProxyBody> {
        self.record_own_request(assembly, parts, client_url);
        let message = format!(
            "{path} is not a path this authtap run made: a URL normalizer may have re-encoded \
             it (authtap's own paths use only unreserved characters), or it is left from \
             another run"
        );
        tracing::warn!("{message}");
        assembly.fail(
            Outcome::Rejected,
            ExchangeError {
                kind: ErrorKind::AuthtapPath,
                message,
            },
        );
        plain_response(
            StatusCode::BAD_REQUEST,
            "authtap: this /__authtap/ path was not made by this authtap run (see the trace)\n",
        )
    }
}

/// A redirect from authtap itself.
fn redirect(status: StatusCode, location: &str) -> Response<ProxyBody> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, value);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Marks a request that arrived on the plain-HTTP loopback bounce port.
#[derive(Debug, Clone, Copy)]
pub(super) struct ViaBouncePort;

impl Forwarder {
    /// Serves authtap's plain-HTTP loopback bounce port: bounce URIs only, a 404 for anything
    /// else.
    pub async fn handle_bounce_port(
        &self,
        mut req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<ProxyBody> {
        if req.uri().path().starts_with(BOUNCE_PREFIX) {
            req.extensions_mut().insert(ViaBouncePort);
            return self.handle(req, peer).await;
        }
        plain_response(
            StatusCode::NOT_FOUND,
            "authtap: this port only serves authtap's callback bounce\n",
        )
    }
}
