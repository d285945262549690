//! Reverse-mode rewriting: pure string functions, no I/O.
//!
//! In reverse mode the client talks to the proxy (`X`, e.g. `https://localhost:8443`) instead
//! of the upstream (`U`). For the whole OAuth flow to keep passing through the proxy, URLs in
//! discovery metadata, challenges and redirects are rewritten from `U` to `X` on the way to the
//! client, and `resource` indicators back from `X` to `U` on the way to the upstream. Every
//! substitution is on exact strings of origins (pitfall 5); URLs are never re-serialised.
//!
//! Origins other than the upstream's (an authorization server on another host) are mapped
//! under the proxy as `X/__authtap/o/<scheme>/<host>/<port or ->/<path>`: only
//! unreserved characters, so URL normalizers leave it alone, and the port spelled exactly as
//! the origin spelled it, so the mapping is exactly reversible. Because the mapped URL keeps the
//! foreign path after the origin, RFC 8414 / RFC 9728 path-inserted well-known URLs work too:
//! `X/.well-known/oauth-authorization-server/__authtap/o/https/as.example/-/tenant` is routed to
//! `https://as.example/.well-known/oauth-authorization-server/tenant` (R4).
//!
//! The authorization endpoint is mapped to `X/__authtap/authorize/…` ([`Route::Redirect`]),
//! with the `resource` parameter mapped back (R7) and `redirect_uri` mapped to authtap's
//! callback bounce URI when the client registered through authtap (`bounce` module,
//! [`CallbackLeg`]). The forwarder sends that request to the real endpoint itself: a redirect
//! straight back gets its `iss` mapped to the proxy issuer (R8,
//! [`Rewriter::authorization_response_iss`]) so RFC 9207 checks agree with the rewritten ASM
//! `issuer` (R5); anything else (a login page) sends the browser to the real endpoint, and the
//! AS's eventual redirect comes back to the bounce URI ([`Route::Bounce`]). The login pages
//! themselves are never proxied. Any other `/__authtap/` path is [`Route::Unknown`].
//!
//! What the rewriter learns from the traffic (custom `resource_metadata` URLs, clients
//! registered with a bounce URI, codes that came back through it) lives in `learned`.
//!
//! The forwarder calls [`Rewriter::route`] for every request, [`Rewriter::request_form`] on
//! small form bodies, [`Rewriter::request_registration`] on small JSON registration requests,
//! [`Rewriter::response_header`] on every response header and [`Rewriter::response_json`] on
//! small JSON bodies of discovery and registration responses.

mod authorize;
mod bounce;
mod json;
mod learned;
mod urls;

use std::sync::Arc;

use crate::model::{Rewrite, RewriteDirection};

pub use authorize::{is_redirect_to, query_param};
pub use bounce::{BOUNCE_PREFIX, BounceBack};
pub use urls::split_origin;

/// Path prefix of foreign-origin mappings.
pub const FOREIGN_PREFIX: &str = "/__authtap/o/";
/// Path prefix of authorization-endpoint redirects.
pub const AUTHORIZE_PREFIX: &str = "/__authtap/authorize/";
/// Path prefix of everything authtap serves itself.
pub const AUTHTAP_PREFIX: &str = "/__authtap/";

/// Where a client request goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Forward to this absolute upstream URL.
    Forward {
        /// Absolute URL, exactly as the upstream should receive it.
        url: String,
        /// Rewrites applied to the request target (query `resource`).
        rewrites: Vec<Rewrite>,
    },
    /// The authorization endpoint (this absolute URL): forwarded for R8 when the AS answers
    /// with the authorization response, otherwise the browser is sent there with a 302.
    Redirect {
        /// Absolute URL of the real authorization request.
        location: String,
        /// Rewrites applied to its query.
        rewrites: Vec<Rewrite>,
        /// Whether the authorization response will come back through authtap, and why not.
        callback: CallbackLeg,
    },
    /// The AS sent the browser to authtap's bounce URI with the authorization response.
    Bounce(BounceBack),
    /// A path under `/__authtap/` that authtap did not make (e.g. re-encoded by a URL
    /// normalizer); never forwarded upstream.
    Unknown {
        /// The path as received.
        path: String,
    },
}

/// Whether an authorization request's response comes back through authtap (the bounce).
#[derive(Debug, Clone, PartialEq)]
pub enum CallbackLeg {
    /// `redirect_uri` was mapped to the bounce URI: the response will be recorded.
    Bounced {
        /// The client's own redirect URI.
        redirect_uri: String,
    },
    /// No bounce: the response goes from the AS straight to the client. Says why.
    Direct {
        /// Why the bounce is impossible for this request, in one sentence.
        why: String,
    },
}

/// The mapping between one proxy base and one upstream base.
#[derive(Debug, Clone)]
pub struct Rewriter {
    enabled: bool,
    /// `scheme://authority` of the proxy as clients see it.
    proxy_origin: String,
    /// Path prefix of the proxy (from `--public-url`), no trailing slash.
    proxy_prefix: String,
    /// Spellings of the upstream origin that are recognised (`https://h`, `https://h:443`).
    upstream_origins: Vec<String>,
    /// Upstream path prefix (only when `--upstream` ends with `/`), no trailing slash.
    upstream_prefix: String,
    /// Port of authtap's plain-HTTP loopback listener for bounce URIs of loopback clients.
    loopback_bounce_port: Option<u16>,
    /// What was learned from the traffic so far (shared by clones).
    learned: Arc<learned::Learned>,
}

impl Rewriter {
    /// A rewriter from `proxy_base` (what clients use) to `upstream` (`--upstream`). The
    /// upstream path counts as a prefix only when it ends with `/`; otherwise it names the
    /// MCP endpoint and paths map one to one. With `enabled` false only routing happens.
    pub fn new(upstream: &url::Url, proxy_base: &url::Url, enabled: bool) -> Self {
        let upstream_origin = upstream.origin().ascii_serialization();
        let mut upstream_origins = vec![upstream_origin.clone()];
        if upstream.port().is_none()
            && let Some(port) = upstream.port_or_known_default()
        {
            upstream_origins.push(format!("{upstream_origin}:{port}"));
        }
        let upstream_prefix = if upstream.path().ends_with('/') {
            upstream.path().trim_end_matches('/').to_string()
        } else {
            String::new()
        };
        Self {
            enabled,
            proxy_origin: proxy_base.origin().ascii_serialization(),
            proxy_prefix: proxy_base.path().trim_end_matches('/').to_string(),
            upstream_origins,
            upstream_prefix,
            loopback_bounce_port: None,
            learned: Arc::default(),
        }
    }

    /// Clients whose registration at the AS already lists the bounce URIs (pre-registered,
    /// a CIMD document, or an earlier authtap run on the same ports): use the bounce for them.
    #[must_use]
    pub fn with_bounce_clients(self, client_ids: &[String]) -> Self {
        for id in client_ids {
            self.learned.declared_client(id);
        }
        self
    }

    /// Bounce URIs of loopback redirect URIs use `http://127.0.0.1:port` (a plain-HTTP
    /// loopback listener of authtap) instead of the proxy base; see the `bounce` module.
    #[must_use]
    pub fn with_loopback_bounce_port(mut self, port: Option<u16>) -> Self {
        self.loopback_bounce_port = port;
        self
    }

    /// Whether rewriting is on (`--no-rewrite` turns it off).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The canonical upstream origin.
    pub fn upstream_origin(&self) -> &str {
        self.upstream_origins.first().map_or("", String::as_str)
    }

    /// The proxy base (`origin` + prefix).
    pub fn proxy_base(&self) -> String {
        format!("{}{}", self.proxy_origin, self.proxy_prefix)
    }

    /// Maps a client request target (`/path?query`) to where it goes.
    pub fn route(&self, target: &str) -> Route {
        let target = if target.starts_with('/') {
            target.to_string()
        } else {
            format!("/{target}")
        };
        if self.enabled {
            let inner = strip_path_prefix(&target, &self.proxy_prefix).unwrap_or(&target);
            if let Some(rest) = inner.strip_prefix(AUTHORIZE_PREFIX)
                && let Some(url) = urls::decode_foreign(rest)
            {
                let (url, mut rewrites) = self.map_query_resource(&url);
                let (location, callback, more) = self.map_query_redirect_uri(&url);
                rewrites.extend(more);
                return Route::Redirect {
                    location,
                    rewrites,
                    callback,
                };
            }
            if let Some(rest) = inner.strip_prefix(FOREIGN_PREFIX)
                && let Some(url) = urls::decode_foreign(rest)
            {
                let (url, rewrites) = self.map_query_resource(&url);
                return Route::Forward { url, rewrites };
            }
            if let Some(rest) = inner.strip_prefix(BOUNCE_PREFIX)
                && let Some((redirect_uri, params)) = Self::decode_bounce_target(rest)
            {
                return Route::Bounce(self.bounce_back(&redirect_uri, params));
            }
            if inner.starts_with(AUTHTAP_PREFIX) {
                return Route::Unknown {
                    path: inner.split('?').next().unwrap_or(inner).to_string(),
                };
            }
            // Path-inserted well-known URL of a foreign issuer or resource (R4).
            if let Some((name, rest)) = urls::split_well_known(&target) {
                let rest = strip_path_prefix(rest, &self.proxy_prefix).unwrap_or(rest);
                if let Some(foreign) = rest.strip_prefix(FOREIGN_PREFIX)
                    && let Some(url) = urls::decode_foreign(foreign)
                    && let Some((origin, path)) = split_origin(&url)
                {
                    let path = if path.starts_with('/') || path.is_empty() {
                        path
                    } else {
                        ""
                    };
                    return Route::Forward {
                        url: format!("{origin}/.well-known/{name}{path}"),
                        rewrites: vec![],
                    };
                }
            }
        }
        let path = self.map_path(&target);
        let url = format!("{}{}", self.upstream_origin(), path);
        if self.enabled {
            let (url, rewrites) = self.map_query_resource(&url);
            Route::Forward { url, rewrites }
        } else {
            Route::Forward {
                url,
                rewrites: vec![],
            }
        }
    }

    /// Maps a proxy path onto the upstream path, including well-known insertion (R4).
    fn map_path(&self, target: &str) -> String {
        if let Some((name, rest)) = urls::split_well_known(target) {
            if rest.is_empty() || rest.starts_with('?') {
                return target.to_string();
            }
            let rest = strip_path_prefix(rest, &self.proxy_prefix).unwrap_or(rest);
            return format!("/.well-known/{name}{}{rest}", self.upstream_prefix);
        }
        let rest = strip_path_prefix(target, &self.proxy_prefix).unwrap_or(target);
        format!("{}{rest}", self.upstream_prefix)
    }

    /// An upstream URL as the client should see it: the upstream base becomes the proxy base
    /// (R1, R2, R9, R12). `None` when `s` is not under the upstream.
    pub fn upstream_to_proxy(&self, s: &str) -> Option<String> {
        for origin in &self.upstream_origins {
            let Some(after) = strip_origin(s, origin) else {
                continue;
            };
            if let Some((name, rest)) = urls::split_well_known(after)
                && !rest.is_empty()
                && !rest.starts_with('?')
            {
                let rest = strip_path_prefix(rest, &self.upstream_prefix).unwrap_or(rest);
                return Some(format!(
                    "{}/.well-known/{name}{}{rest}",
                    self.proxy_origin, self.proxy_prefix
                ));
            }
            let rest = strip_path_prefix(after, &self.upstream_prefix).unwrap_or(after);
            return Some(format!("{}{rest}", self.proxy_base()));
        }
        None
    }

    /// Like [`Self::upstream_to_proxy`], but other absolute http(s) URLs are mapped under the
    /// proxy too (for issuers and AS endpoints on another origin: R3, R5, R6).
    pub fn any_to_proxy(&self, s: &str) -> Option<String> {
        if let Some(mapped) = self.upstream_to_proxy(s) {
            return Some(mapped);
        }
        let (origin, rest) = split_origin(s)?;
        let foreign = urls::encode_foreign(origin)?;
        Some(format!(
            "{}{FOREIGN_PREFIX}{foreign}{rest}",
            self.proxy_base()
        ))
    }

    /// The authorization endpoint as the client should see it: a proxy URL that records the
    /// visit and redirects to the real one.
    pub fn authorize_to_proxy(&self, s: &str) -> Option<String> {
        let (origin, rest) = split_origin(s)?;
        let foreign = urls::encode_foreign(origin)?;
        Some(format!(
            "{}{AUTHORIZE_PREFIX}{foreign}{rest}",
            self.proxy_base()
        ))
    }

    /// A proxy URL back to the upstream URL it stands for (R7). `None` when `s` is not a
    /// proxy URL.
    pub fn proxy_to_upstream(&self, s: &str) -> Option<String> {
        let after = strip_origin(s, &self.proxy_origin)?;
        let inner = strip_path_prefix(after, &self.proxy_prefix)?;
        if let Some(rest) = inner.strip_prefix(FOREIGN_PREFIX) {
            return urls::decode_foreign(rest);
        }
        Some(format!(
            "{}{}{inner}",
            self.upstream_origin(),
            self.upstream_prefix
        ))
    }

    /// R7 on a URL's query: a `resource` parameter naming a proxy URL is mapped back.
    fn map_query_resource(&self, url: &str) -> (String, Vec<Rewrite>) {
        let Some((head, query)) = url.split_once('?') else {
            return (url.to_string(), vec![]);
        };
        match self.map_form(query, "query:resource") {
            Some((query, rewrites)) => (format!("{head}?{query}"), rewrites),
            None => (url.to_string(), vec![]),
        }
    }

    /// The bounce on an authorization request's query: `redirect_uri=r` becomes `B(r)` when
    /// the AS registered this client with `B(r)`; otherwise says why the response cannot
    /// come back through authtap.
    fn map_query_redirect_uri(&self, url: &str) -> (String, CallbackLeg, Vec<Rewrite>) {
        let client_id = query_param(url, "client_id").unwrap_or_default();
        let Some(redirect_uri) = query_param(url, "redirect_uri") else {
            let why = "the authorization request names no redirect_uri".to_string();
            return (url.to_string(), CallbackLeg::Direct { why }, vec![]);
        };
        let bounce = self.bounce_uri(&redirect_uri).unwrap_or_default();
        let why = if self.learned.is_bounced_client(&client_id, &redirect_uri) {
            String::new()
        } else if client_id.starts_with("https://") {
            format!(
                "client_id {client_id} is a Client ID Metadata Document URL: the AS reads the \
                 redirect URIs from that document, so authtap cannot add its own (if you control \
                 the document, add {bounce} to its redirect_uris and rerun authtap with \
                 --bounce-client {client_id})"
            )
        } else if self.learned.is_registered_without_bounce(&client_id) {
            format!(
                "client {client_id:?} registered through authtap, but the registration the AS \
                 returned lists none of authtap's bounce redirect URIs (the AS dropped them, or \
                 the request could not be rewritten), so the AS would refuse {bounce}"
            )
        } else {
            format!(
                "client {client_id:?} did not register through this authtap run (pre-registered, \
                 or registered before authtap started), so the AS knows no authtap redirect URI \
                 for it (let the client register again while authtap records, or add {bounce} \
                 to its redirect URIs at the AS and rerun authtap with --bounce-client \
                 {client_id})"
            )
        };
        let mapped = why
            .is_empty()
            .then(|| url.split_once('?'))
            .flatten()
            .and_then(|(head, query)| {
                let bounce = self.bounce_uri(&redirect_uri)?;
                let (query, rewrites) =
                    map_form_param(query, "redirect_uri", "query:redirect_uri", |value| {
                        (value == redirect_uri).then(|| bounce.clone())
                    })?;
                Some((format!("{head}?{query}"), rewrites))
            });
        match mapped {
            Some((url, rewrites)) => (url, CallbackLeg::Bounced { redirect_uri }, rewrites),
            None => {
                let why = if why.is_empty() {
                    format!("redirect_uri {redirect_uri} cannot be bounced")
                } else {
                    why
                };
                (url.to_string(), CallbackLeg::Direct { why }, vec![])
            }
        }
    }

    /// R7 and the bounce on an `application/x-www-form-urlencoded` request body (token and
    /// refresh requests): `resource` mapped back, and `redirect_uri=r` mapped to `B(r)` when
    /// the code came back through the bounce. Returns the new body and the rewrites, or
    /// `None` when nothing changed.
    pub fn request_form(&self, body: &str) -> Option<(String, Vec<Rewrite>)> {
        if !self.enabled {
            return None;
        }
        let (body, mut rewrites) = match self.map_form(body, "body:resource") {
            Some((new, rewrites)) => (new, rewrites),
            None => (body.to_string(), vec![]),
        };
        let bounced = url::form_urlencoded::parse(body.as_bytes())
            .any(|(k, v)| k == "code" && self.learned.is_bounced_code(&v));
        let body = if bounced {
            match map_form_param(&body, "redirect_uri", "body:redirect_uri", |value| {
                self.bounce_uri(value)
            }) {
                Some((new, more)) => {
                    rewrites.extend(more);
                    new
                }
                None => body,
            }
        } else {
            body
        };
        (!rewrites.is_empty()).then_some((body, rewrites))
    }

    /// Rewrites `resource=` pairs in a form string, keeping every other byte as it was.
    fn map_form(&self, form: &str, location: &str) -> Option<(String, Vec<Rewrite>)> {
        map_form_param(form, "resource", location, |value| {
            self.proxy_to_upstream(value)
        })
    }

    /// Rewrites one response header value (R1 `WWW-Authenticate` `resource_metadata`, R9
    /// `Location` under the upstream, R8 `iss` in an authorization response `Location`).
    /// Returns the new value, or `None` to keep it.
    pub fn response_header(&self, name: &str, value: &str) -> Option<String> {
        if !self.enabled {
            return None;
        }
        match name {
            "www-authenticate" => {
                let (start, end) = urls::find_param_value(value, "resource_metadata")?;
                let old = value.get(start..end)?;
                // The document served there is PRM whatever its path (RFC 9728 §5.1).
                self.learned.prm_url(old);
                let new = self.any_to_proxy(old)?;
                Some(format!("{}{new}{}", value.get(..start)?, value.get(end..)?))
            }
            "location" | "content-location" => self.upstream_to_proxy(value),
            _ => None,
        }
    }

    /// Whether a response body should be buffered for [`Self::response_json`]: JSON from a
    /// discovery or registration endpoint, or from a URL a challenge named as its
    /// `resource_metadata` (any path).
    pub fn wants_json_body(
        &self,
        upstream_url: &str,
        method: &str,
        media_type: Option<&str>,
    ) -> bool {
        if !self.enabled {
            return false;
        }
        let path = split_origin(upstream_url).map_or(upstream_url, |(_, rest)| rest);
        let json = media_type.is_some_and(|m| m == "application/json" || m.ends_with("+json"));
        json && (path.contains("/.well-known/")
            || self.learned.is_prm_url(upstream_url)
            || ["POST", "PUT", "GET"]
                .iter()
                .any(|m| method.eq_ignore_ascii_case(m))
                && self.is_registration(upstream_url))
    }

    /// Whether a request body should be buffered for [`Self::request_registration`]: a small
    /// JSON body to a registration endpoint (RFC 7591 POST, RFC 7592 PUT).
    pub fn wants_registration_body(&self, upstream_url: &str, media_type: Option<&str>) -> bool {
        self.enabled
            && media_type.is_some_and(|m| m == "application/json" || m.ends_with("+json"))
            && self.is_registration(upstream_url)
    }

    /// A registration endpoint: named by AS metadata, or shaped like one.
    fn is_registration(&self, upstream_url: &str) -> bool {
        let path = split_origin(upstream_url).map_or(upstream_url, |(_, rest)| rest);
        self.learned.is_registration_endpoint(upstream_url) || looks_like_registration(path)
    }

    /// Rewrites a PRM, ASM or DCR JSON body (R2, R3, R5, R6, R12) and removes authtap's
    /// bounce URIs from a registration response. Returns the new body and the rewrites, or
    /// `None` when nothing changed or the body is not a JSON object.
    pub fn response_json(&self, body: &[u8]) -> Option<(Vec<u8>, Vec<Rewrite>)> {
        if !self.enabled {
            return None;
        }
        let stripped = self.strip_bounce_uris(body);
        let (body, mut rewrites) = match &stripped {
            Some((new, rewrites)) => (new.as_slice(), rewrites.clone()),
            None => (body, vec![]),
        };
        match self.rewrite_metadata(body) {
            Some((new, more)) => {
                rewrites.extend(more);
                Some((new, rewrites))
            }
            None => stripped,
        }
    }
}

/// Rewrites the values of `name=` pairs in a form string with `map` (given the decoded
/// value), keeping every other byte as it was. `None` when nothing changed.
fn map_form_param(
    form: &str,
    name: &str,
    location: &str,
    map: impl Fn(&str) -> Option<String>,
) -> Option<(String, Vec<Rewrite>)> {
    let prefix = format!("{name}=");
    let mut rewrites = Vec::new();
    let pairs: Vec<String> = form
        .split('&')
        .map(|pair| {
            let Some(value) = pair.strip_prefix(&prefix) else {
                return pair.to_string();
            };
            let decoded = urls::form_decode(value);
            match map(&decoded) {
                Some(new) if new != decoded => {
                    let pair = format!("{prefix}{}", urls::form_encode(&new));
                    rewrites.push(Rewrite {
                        direction: RewriteDirection::Request,
                        location: location.into(),
                        from: decoded,
                        to: new,
                    });
                    pair
                }
                _ => pair.to_string(),
            }
        })
        .collect();
    (!rewrites.is_empty()).then(|| (pairs.join("&"), rewrites))
}

fn looks_like_registration(path: &str) -> bool {
    let p = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    p.ends_with("/register") || p.ends_with("/registration") || p.ends_with("/clients")
}

/// `s` without `origin`, when `s` starts with it at a boundary (`/`, `?`, `#` or the end).
fn strip_origin<'a>(s: &'a str, origin: &str) -> Option<&'a str> {
    let rest = s.strip_prefix(origin)?;
    (rest.is_empty() || rest.starts_with(['/', '?', '#'])).then_some(rest)
}

/// `path` without `prefix` at a segment boundary (an empty prefix always matches).
fn strip_path_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        return Some(path);
    }
    strip_origin(path, prefix)
}

#[cfg(test)]
mod tests;
