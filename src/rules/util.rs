//! Small helpers shared by rule families: response facts, JSON bodies, phase groups.

use serde_json::{Map, Value};

use crate::model::Phase;
use crate::model::{Exchange, Headers};
use crate::parse::view::ExchangeView;

/// Non-browser legs that must answer JSON: PRM, ASM, DCR, token, refresh, MCP.
pub const API: &[Phase] = &[
    Phase::DiscoveryPrm,
    Phase::DiscoveryAs,
    Phase::Registration,
    Phase::Token,
    Phase::Refresh,
    Phase::McpTransport,
];

/// Metadata-ish legs (PRM, ASM, DCR, token, refresh).
pub const META_DOCS: &[Phase] = &[
    Phase::DiscoveryPrm,
    Phase::DiscoveryAs,
    Phase::Registration,
    Phase::Token,
    Phase::Refresh,
];

/// Response status.
pub fn status(ex: &Exchange) -> Option<u16> {
    ex.response.as_ref().map(|r| r.status)
}

/// Whether the response is 2xx.
pub fn ok(ex: &Exchange) -> bool {
    status(ex).is_some_and(|s| (200..300).contains(&s))
}

/// Response body text.
pub fn body(ex: &Exchange) -> Option<&str> {
    ex.response.as_ref()?.body_text()
}

/// Response header.
pub fn rh<'a>(ex: &'a Exchange, name: &str) -> Option<&'a str> {
    ex.response.as_ref()?.header(name)
}

/// Request header.
pub fn qh<'a>(ex: &'a Exchange, name: &str) -> Option<&'a str> {
    ex.request.header(name)
}

/// Response media type.
pub fn media(ex: &Exchange) -> Option<String> {
    ex.response.as_ref()?.media_type()
}

/// The response body as a JSON object (complete, UTF-8).
pub fn json_obj<'v>(view: &'v ExchangeView<'_>) -> Option<&'v Map<String, Value>> {
    view.response_object()
}

/// The response body as a JSON object, when the status is 200.
pub fn json_200<'v>(view: &'v ExchangeView<'_>) -> Option<&'v Map<String, Value>> {
    json_obj(view).filter(|_| view.status() == Some(200))
}

/// A successful token response: 200 with a JSON object carrying `access_token`.
pub fn token_response<'v>(view: &'v ExchangeView<'_>) -> Option<&'v Map<String, Value>> {
    json_200(view).filter(|d| d.contains_key("access_token"))
}

/// The request body as a JSON object.
pub fn req_json_obj<'v>(view: &'v ExchangeView<'_>) -> Option<&'v Map<String, Value>> {
    view.request_object()
}

/// Whether the response looks like HTML (media type or body start).
pub fn looks_html(ex: &Exchange) -> bool {
    if media(ex).as_deref() == Some("text/html") {
        return true;
    }
    body(ex).is_some_and(|b| {
        let start: String = b
            .trim_start()
            .chars()
            .take(15)
            .collect::<String>()
            .to_ascii_lowercase();
        start.starts_with("<!doctype") || start.starts_with("<html")
    })
}

/// Whether a JSON media type (`application/json` or `*+json`).
pub fn is_json_media(m: &str) -> bool {
    m == "application/json" || m.ends_with("+json")
}

/// Method in upper case.
pub fn method(ex: &Exchange) -> String {
    ex.request.method.to_ascii_uppercase()
}

/// Whether the request had `Origin`.
pub fn origin_hdr(ex: &Exchange) -> Option<&str> {
    ex.request.header("origin")
}

/// Comma-separated header tokens, lower-cased.
pub fn tokens(v: Option<&str>) -> Vec<String> {
    v.map(|s| {
        s.split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// The URL the client used (proxy URL in reverse mode), else the upstream URL.
pub fn client_url(ex: &Exchange) -> &str {
    ex.request.client_url.as_deref().unwrap_or(&ex.request.url)
}

/// Joins a possibly relative `Location` onto the request URL.
pub fn resolve(base: &str, loc: &str) -> String {
    url::Url::parse(base)
        .ok()
        .and_then(|b| b.join(loc).ok())
        .map_or_else(|| loc.to_string(), |u| u.to_string())
}
