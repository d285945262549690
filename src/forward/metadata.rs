//! Buffered rewriting of discovery and registration JSON (R2–R6, R12) with R15 framing.
//!
//! Only responses the rewriter asks for ([`crate::rewrite::Rewriter::wants_json_body`]) come
//! here. They are read up to [`MAX_JSON_BODY`] bytes whatever their framing (Content-Length,
//! chunked, HTTP/2 frames). A compressed body (`gzip`, `deflate`, `br`, as Express
//! `compression` or Cloudflare send them) is decoded first; when the JSON changes it is sent
//! as identity with `Content-Encoding` removed (R15), otherwise the upstream bytes go out as
//! they came. `Content-Length` is set to what is sent; `ETag` is dropped after a change. A
//! body larger than the cap streams through unchanged (the bytes read so far first). A body
//! the upstream breaks off is passed on broken: the bytes read so far, then an error, so
//! hyper closes the HTTP/1.1 connection (what it had buffered may not go out first) or resets
//! the HTTP/2 stream; never a clean response.

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};

use super::body::ProxyBody;
use super::service::Forwarder;
use crate::forward::assembly::Assembly;
use crate::model::{Rewrite, RewriteDirection};
use crate::tap::{BoxError, Tap};

/// Largest JSON metadata body buffered for rewriting.
pub(super) const MAX_JSON_BODY: u64 = 256 * 1024;
/// Largest decoded metadata document rewritten (a decompression-bomb guard).
const MAX_DECODED_JSON: usize = 4 * 1024 * 1024;

/// What reading the body up to the cap gave.
enum Read {
    /// The whole body.
    Whole(Bytes),
    /// More than the cap: the bytes read so far and the rest of the body.
    TooBig(Bytes, Box<Tap<Incoming>>),
    /// The upstream broke off: the bytes read so far and why.
    Failed(Bytes, String),
}

impl Forwarder {
    /// Buffers a metadata body (see the module doc), rewrites it and fixes the framing
    /// headers. The tap still records the upstream bytes.
    pub(super) async fn rewrite_json_body(
        &self,
        assembly: &Assembly,
        headers: &mut HeaderMap,
        tapped: Tap<Incoming>,
    ) -> ProxyBody {
        let bytes = match read_capped(tapped).await {
            Read::Whole(bytes) => bytes,
            Read::TooBig(prefix, rest) => return prefixed(prefix, *rest),
            Read::Failed(prefix, err) => {
                // The tap recorded the cut; the client gets the same broken body.
                return broken(prefix, err);
            }
        };
        let encoding = headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty() && v != "identity");
        let decoded = match &encoding {
            None => Some(bytes.to_vec()),
            Some(enc) => crate::tap::decode::decompress(enc, &bytes, MAX_DECODED_JSON, false)
                .ok()
                .filter(|(_, cut)| !cut)
                .map(|(out, _)| out),
        };
        let rewritten = decoded.and_then(|d| self.rewriter.response_json(&d));
        let bytes = match rewritten {
            Some((new, mut rewrites)) => {
                headers.remove(header::ETAG);
                if let Some(enc) = encoding {
                    headers.remove(header::CONTENT_ENCODING);
                    rewrites.push(Rewrite {
                        direction: RewriteDirection::Response,
                        location: "header:content-encoding".into(),
                        from: enc,
                        to: "identity (decoded to rewrite the body)".into(),
                    });
                }
                assembly.add_rewrites(rewrites);
                Bytes::from(new)
            }
            None => bytes,
        };
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        full(bytes)
    }
}

/// Reads data frames until the end or until more than [`MAX_JSON_BODY`] bytes arrived.
async fn read_capped(mut body: Tap<Incoming>) -> Read {
    let cap = usize::try_from(MAX_JSON_BODY).unwrap_or(usize::MAX);
    let mut buf = BytesMut::new();
    loop {
        match body.frame().await {
            None => return Read::Whole(buf.freeze()),
            Some(Err(err)) => return Read::Failed(buf.freeze(), err.to_string()),
            Some(Ok(frame)) => {
                // Trailers on a metadata document carry nothing a client needs.
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                    if buf.len() > cap {
                        return Read::TooBig(buf.freeze(), Box::new(body));
                    }
                }
            }
        }
    }
}

fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes).map_err(|e| match e {}).boxed()
}

/// The bytes already read, then the upstream's failure.
fn broken(prefix: Bytes, err: String) -> ProxyBody {
    let frames: Vec<Result<Frame<Bytes>, BoxError>> = vec![
        Ok(Frame::data(prefix)),
        Err(format!("the upstream broke off the response: {err}").into()),
    ];
    BodyExt::boxed(StreamBody::new(futures_util::stream::iter(frames)))
}

/// The bytes already read, then the rest of the body, streamed.
fn prefixed(prefix: Bytes, rest: Tap<Incoming>) -> ProxyBody {
    let head = futures_util::stream::once(async move { Ok::<_, BoxError>(Frame::data(prefix)) });
    let tail = http_body_util::BodyStream::new(rest);
    BodyExt::boxed(StreamBody::new(futures_util::StreamExt::chain(head, tail)))
}
