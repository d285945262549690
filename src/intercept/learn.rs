//! Learning the flow's hosts from the responses that name them, before the client sees them.
//!
//! Three kinds of response name the next hosts of an MCP OAuth flow: a `401` whose Bearer
//! challenge carries `resource_metadata` (MCP 2025-11-25 Authorization, RFC 9728 §5.1), the
//! protected resource metadata with its `authorization_servers` (RFC 9728 §2), and the
//! authorization server metadata with its endpoints (RFC 8414 §2). [`learn_from_response`] adds
//! those origins to the [`InterceptScope`] while the response is held: challenge headers are
//! read from the head; a small JSON body of a `GET` is read in full first (the bytes are then
//! replayed unchanged, so the client receives exactly what the server sent). Bodies larger
//! than [`MAX_LEARN_BODY`] stream through unread.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::{Method, Response};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};

use super::scope::{HostPattern, InterceptScope};
use crate::forward::ProxyBody;
use crate::tap::BoxError;

/// Largest JSON body read before forwarding to learn hosts from it.
pub const MAX_LEARN_BODY: usize = 256 * 1024;

/// Metadata members whose URLs the client (or its browser) will contact next.
const ENDPOINT_MEMBERS: [&str; 5] = [
    "authorization_endpoint",
    "token_endpoint",
    "registration_endpoint",
    "revocation_endpoint",
    "pushed_authorization_request_endpoint",
];

/// Learns hosts from a response and returns it with its bytes unchanged.
pub async fn learn_from_response(
    scope: &InterceptScope,
    method: &Method,
    response: Response<ProxyBody>,
) -> (Response<ProxyBody>, Vec<HostPattern>) {
    let mut learned = learn_from_headers(scope, response.headers());
    if !wants_body(method, &response) {
        return (response, learned);
    }
    let (parts, body) = response.into_parts();
    let (frames, complete, rest) = read_prefix(body).await;
    if complete {
        let bytes: Vec<u8> = frames
            .iter()
            .filter_map(|f| f.as_ref().ok().and_then(Frame::data_ref))
            .flat_map(|b| b.iter().copied())
            .collect();
        let encoding = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase());
        let decoded = match encoding.as_deref() {
            None | Some("identity") => Some(bytes),
            Some(coding) => crate::tap::decode::decompress(coding, &bytes, MAX_LEARN_BODY, false)
                .ok()
                .map(|(out, _)| out),
        };
        if let Some(json) =
            decoded.and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        {
            learned.extend(learn_from_metadata(scope, &json));
        }
    }
    let replay = Replay {
        frames: frames.into(),
        rest,
    };
    (Response::from_parts(parts, replay.boxed()), learned)
}

/// `resource_metadata` of every challenge.
fn learn_from_headers(scope: &InterceptScope, headers: &HeaderMap) -> Vec<HostPattern> {
    let lines: Vec<&str> = headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if lines.is_empty() {
        return Vec::new();
    }
    let parsed = crate::parse::www_authenticate::parse(lines);
    parsed
        .challenges
        .iter()
        .filter_map(|c| c.param("resource_metadata"))
        .filter_map(|url| scope.learn_url(url))
        .collect()
}

/// `authorization_servers` of a PRM and the endpoints of AS metadata.
pub fn learn_from_metadata(scope: &InterceptScope, json: &serde_json::Value) -> Vec<HostPattern> {
    let mut urls: Vec<&str> = Vec::new();
    if let Some(servers) = json.get("authorization_servers").and_then(|v| v.as_array()) {
        urls.extend(servers.iter().filter_map(|s| s.as_str()));
    }
    for member in ENDPOINT_MEMBERS {
        if let Some(url) = json.get(member).and_then(|v| v.as_str()) {
            urls.push(url);
        }
    }
    urls.into_iter()
        .filter_map(|url| scope.learn_url(url))
        .collect()
}

/// A `GET` answered with a small JSON body.
fn wants_body(method: &Method, response: &Response<ProxyBody>) -> bool {
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
    let small = response
        .body()
        .size_hint()
        .upper()
        .is_none_or(|n| n <= MAX_LEARN_BODY as u64);
    method == Method::GET && response.status().is_success() && json && small
}

/// Reads frames until the body ends or [`MAX_LEARN_BODY`] bytes arrived. Returns the frames
/// read, whether the body ended within them, and the body (to keep streaming the rest).
async fn read_prefix(
    mut body: ProxyBody,
) -> (Vec<Result<Frame<Bytes>, BoxError>>, bool, ProxyBody)
where
{
    let mut frames = Vec::new();
    let mut size = 0usize;
    loop {
        if body.is_end_stream() {
            return (frames, true, body);
        }
        match body.frame().await {
            None => return (frames, true, body),
            Some(Ok(frame)) => {
                size += frame.data_ref().map_or(0, Bytes::len);
                let trailers = frame.is_trailers();
                frames.push(Ok(frame));
                if trailers {
                    return (frames, true, body);
                }
                if size > MAX_LEARN_BODY {
                    return (frames, false, body);
                }
            }
            Some(Err(err)) => {
                frames.push(Err(err));
                return (frames, false, body);
            }
        }
    }
}

/// The frames already read, then the rest of the body.
struct Replay {
    frames: VecDeque<Result<Frame<Bytes>, BoxError>>,
    rest: ProxyBody,
}

impl Body for Replay {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(frame) = self.frames.pop_front() {
            return Poll::Ready(Some(frame));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let buffered: u64 = self
            .frames
            .iter()
            .filter_map(|f| f.as_ref().ok())
            .filter_map(Frame::data_ref)
            .map(|b| b.len() as u64)
            .sum();
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + buffered);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + buffered);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn scope() -> InterceptScope {
        InterceptScope::new(vec![HostPattern::exact("mcp.example.com", 443)])
    }

    fn json_response(body: &str) -> Response<ProxyBody> {
        Response::builder()
            .header("content-type", "application/json")
            .body(
                Full::new(Bytes::from(body.to_string()))
                    .map_err(|e| match e {})
                    .boxed(),
            )
            .unwrap()
    }

    #[tokio::test]
    async fn prm_names_the_authorization_server_and_bytes_pass_unchanged() {
        let scope = scope();
        let body = r#"{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://auth.example.com:8443/tenant"]}"#;
        let (response, learned) =
            learn_from_response(&scope, &Method::GET, json_response(body)).await;
        assert_eq!(learned, vec![HostPattern::exact("auth.example.com", 8443)]);
        assert!(scope.intercepts("auth.example.com", 8443));
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(bytes, body.as_bytes());
    }

    #[tokio::test]
    async fn as_metadata_endpoints_and_challenges_are_learned() {
        let scope = scope();
        let body = r#"{"issuer":"https://mcp.example.com","authorization_endpoint":"https://login.example.net/authorize","token_endpoint":"https://api.example.org/token","registration_endpoint":"https://mcp.example.com/register"}"#;
        let (_, learned) = learn_from_response(&scope, &Method::GET, json_response(body)).await;
        assert_eq!(
            learned,
            vec![
                HostPattern::exact("login.example.net", 443),
                HostPattern::exact("api.example.org", 443)
            ]
        );
        let challenge = Response::builder()
            .status(401)
            .header(
                "www-authenticate",
                r#"Bearer resource_metadata="https://meta.example.com/prm""#,
            )
            .body(Full::new(Bytes::new()).map_err(|e| match e {}).boxed())
            .unwrap();
        let (_, learned) = learn_from_response(&scope, &Method::POST, challenge).await;
        assert_eq!(learned, vec![HostPattern::exact("meta.example.com", 443)]);
    }

    #[tokio::test]
    async fn non_json_and_post_bodies_are_not_read() {
        let scope = scope();
        let body = r#"{"authorization_servers":["https://auth.example.com"]}"#;
        let (_, learned) = learn_from_response(&scope, &Method::POST, json_response(body)).await;
        assert!(learned.is_empty());
        let html = Response::builder()
            .header("content-type", "text/html")
            .body(Full::new(Bytes::from(body)).map_err(|e| match e {}).boxed())
            .unwrap();
        let (_, learned) = learn_from_response(&scope, &Method::GET, html).await;
        assert!(learned.is_empty());
        assert!(!scope.intercepts("auth.example.com", 443));
    }
}
