//! The body type of both directions and authtap's own small responses.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};

use crate::tap::BoxError;

/// The body type both directions use.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// The media type of a `Content-Type` header, lower-cased, without parameters.
pub(super) fn media_type(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// An empty body.
pub(super) fn empty() -> ProxyBody {
    http_body_util::Empty::new().map_err(|e| match e {}).boxed()
}

/// A short plain-text response from authtap itself.
pub(super) fn plain_response(status: StatusCode, text: &'static str) -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|e| match e {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
