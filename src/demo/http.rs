//! Small HTTP helpers for the reference server: the response body type (full or streamed),
//! response builders, bounded request-body reading, and form/query parsing.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming, SizeHint};
use tokio::sync::mpsc;

/// The response body of every handler: a full buffer or a live stream.
pub type Body = BoxBody<Bytes, Infallible>;

/// Largest request body the server reads (1 MiB).
pub const MAX_REQUEST_BODY: usize = 1 << 20;

/// A body fed by a channel: each message is sent to the client as soon as it is queued;
/// dropping the sender ends the body.
#[derive(Debug)]
pub struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// A streamed body and the sender that feeds it.
pub fn channel_body() -> (mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = mpsc::channel(16);
    (tx, ChannelBody { rx }.boxed())
}

/// An empty body.
pub fn empty() -> Body {
    Full::new(Bytes::new()).boxed()
}

/// A response with the given status, content type and body.
pub fn with_body(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut resp = Response::new(Full::new(body.into()).boxed());
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    with_body(
        status,
        "application/json",
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

/// An HTML response.
pub fn html(status: StatusCode, page: String) -> Response<Body> {
    with_body(status, "text/html; charset=utf-8", page)
}

/// A bodiless response.
pub fn status(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = status;
    resp
}

/// A redirect with `Location`.
pub fn redirect(status: StatusCode, location: &str) -> Response<Body> {
    let mut resp = self::status(status);
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Sets a header from a string, skipping values that are not valid header values.
pub fn set(resp: &mut Response<Body>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// Sets `Cache-Control: no-store` (and `Pragma: no-cache` for old caches).
pub fn no_store(resp: &mut Response<Body>) {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Reads a request body, at most [`MAX_REQUEST_BODY`] bytes.
pub async fn read_body(body: Incoming) -> Result<Bytes, Response<Body>> {
    match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(json(
            StatusCode::PAYLOAD_TOO_LARGE,
            &serde_json::json!({"error": "invalid_request", "error_description": "request body too large or cut"}),
        )),
    }
}

/// Parses `application/x-www-form-urlencoded` (a query string or a form body) into pairs,
/// keeping duplicates so callers can reject them.
pub fn parse_form(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// One parameter of a parsed form: `Ok(None)` if absent, `Err(name)` if repeated.
pub fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut found = pairs.iter().filter(|(k, _)| k == name);
    let first = found.next().map(|(_, v)| v.as_str());
    if found.next().is_some() {
        return Err(name.to_string());
    }
    Ok(first)
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A random URL-safe token of `bytes` random bytes (base64url, no padding).
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    rand::Rng::fill(&mut rand::rng(), buf.as_mut_slice());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_rejects_duplicates() {
        let pairs = parse_form(b"a=1&b=2&a=3");
        assert_eq!(single(&pairs, "b"), Ok(Some("2")));
        assert_eq!(single(&pairs, "c"), Ok(None));
        assert_eq!(single(&pairs, "a"), Err("a".to_string()));
    }

    #[test]
    fn random_tokens_differ() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
    }
}
