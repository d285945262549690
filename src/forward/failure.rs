//! Failures in plain words, blamed on the side that caused them: upstream failures
//! (classification and the 502/504 JSON body) and client faults (a malformed or abandoned
//! request body: 400 and a client-side kind, never a 502).

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::error_chain;
use crate::model::{ErrorKind, ExchangeError, ExchangeId, Outcome};
use crate::tap::BodyEnd;

/// The client broke its own request body: it sent malformed framing, or went away mid-body.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientFault {
    /// `rejected` for a malformed body, `client_cut` for a client that went away.
    pub outcome: Outcome,
    /// Kind `client_protocol` or `client_cut`, and what happened.
    pub error: ExchangeError,
}

impl ClientFault {
    /// The fault a request body's end shows, if any.
    pub fn from_request_end(end: &BodyEnd) -> Option<Self> {
        match end {
            BodyEnd::Malformed(message) => Some(Self {
                outcome: Outcome::Rejected,
                error: ExchangeError {
                    kind: ErrorKind::ClientProtocol,
                    message: format!("the client sent a malformed request body: {message}"),
                },
            }),
            BodyEnd::Failed(message) => Some(Self {
                outcome: Outcome::ClientCut,
                error: ExchangeError {
                    kind: ErrorKind::ClientCut,
                    message: format!("the client's request body broke off: {message}"),
                },
            }),
            BodyEnd::Complete | BodyEnd::Dropped => None,
        }
    }

    /// The 400 the client gets (if it is still there): JSON naming authtap and the exchange.
    pub fn response(&self, id: ExchangeId) -> Response<Bytes> {
        let body = serde_json::json!({
            "error": "authtap_bad_request",
            "error_description": format!("authtap could not forward the request: {}", self.error.message),
            "authtap": {"exchange": id.0, "kind": self.error.kind},
        });
        let mut resp = Response::new(Bytes::from(body.to_string()));
        *resp.status_mut() = StatusCode::BAD_REQUEST;
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        resp.headers_mut()
            .insert("x-authtap-error", http::HeaderValue::from_static("client"));
        resp
    }
}

/// A classified failure to get a response head from the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFailure {
    /// Status the client gets: 502, or 504 for timeouts.
    pub status: StatusCode,
    /// Machine-readable kind (connect, dns, tls, timeout, upstream cut, protocol).
    pub kind: ErrorKind,
    /// One sentence for a human.
    pub message: String,
}

impl UpstreamFailure {
    /// The upstream did not send a response head in time.
    pub fn timeout(upstream: &str, secs: u64) -> Self {
        Self {
            status: StatusCode::GATEWAY_TIMEOUT,
            kind: ErrorKind::Timeout,
            message: format!("{upstream} did not answer within {secs} s"),
        }
    }

    /// Classifies a client error by walking its source chain.
    pub fn classify(err: &(dyn std::error::Error + 'static), upstream: &str) -> Self {
        let chain = error_chain(err);
        let lower = chain.to_ascii_lowercase();
        let mut io_kind = None;
        let mut tls = None;
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = source {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                io_kind.get_or_insert(io.kind());
            }
            if let Some(t) = e.downcast_ref::<rustls::Error>() {
                tls.get_or_insert(t.to_string());
            }
            source = e.source();
        }
        let bad = |kind, message| Self {
            status: StatusCode::BAD_GATEWAY,
            kind,
            message,
        };
        if let Some(t) = tls {
            return bad(
                ErrorKind::Tls,
                format!(
                    "TLS handshake with {upstream} failed: {t} (use --upstream-ca FILE to trust its CA, or --insecure-upstream)"
                ),
            );
        }
        if lower.contains("dns error") || lower.contains("failed to lookup address") {
            return bad(
                ErrorKind::Dns,
                format!("cannot resolve the host of {upstream}: {chain}"),
            );
        }
        match io_kind {
            Some(std::io::ErrorKind::ConnectionRefused) => bad(
                ErrorKind::Connect,
                format!("connection refused by {upstream}: is the server running?"),
            ),
            Some(std::io::ErrorKind::TimedOut) => Self {
                status: StatusCode::GATEWAY_TIMEOUT,
                kind: ErrorKind::Timeout,
                message: format!("connecting to {upstream} timed out"),
            },
            _ if lower.contains("connection closed before message completed")
                || lower.contains("connection reset") =>
            {
                bad(
                    ErrorKind::UpstreamCut,
                    format!("{upstream} closed the connection before sending a response"),
                )
            }
            _ if lower.contains("parse") || lower.contains("invalid") => bad(
                ErrorKind::Protocol,
                format!("{upstream} sent a response authtap could not parse: {chain}"),
            ),
            _ => bad(
                ErrorKind::Connect,
                format!("cannot reach {upstream}: {chain}"),
            ),
        }
    }

    /// The error as recorded in the trace.
    pub fn record(&self) -> ExchangeError {
        ExchangeError {
            kind: self.kind.clone(),
            message: self.message.clone(),
        }
    }

    /// The response the client gets: JSON naming authtap, the exchange and what happened.
    pub fn response(&self, id: ExchangeId, upstream: &str) -> Response<Bytes> {
        let body = serde_json::json!({
            "error": "authtap_upstream_error",
            "error_description": format!("authtap could not get a response from the upstream: {}", self.message),
            "authtap": {
                "exchange": id.0,
                "upstream": upstream,
                "kind": self.kind,
            }
        });
        let mut resp = Response::new(Bytes::from(body.to_string()));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        resp.headers_mut().insert(
            "x-authtap-error",
            http::HeaderValue::from_static("upstream"),
        );
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_refused_connection() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let f = UpstreamFailure::classify(&io, "http://127.0.0.1:1");
        assert_eq!(f.kind, ErrorKind::Connect);
        assert_eq!(f.status, StatusCode::BAD_GATEWAY);
        assert!(f.message.contains("refused"));
    }

    #[test]
    fn client_faults_are_blamed_on_the_client() {
        let bad = ClientFault::from_request_end(&BodyEnd::Malformed("bad chunk".into())).unwrap();
        assert_eq!(
            (bad.outcome, bad.error.kind.as_str()),
            (Outcome::Rejected, "client_protocol")
        );
        assert_eq!(
            bad.response(ExchangeId(3)).status(),
            StatusCode::BAD_REQUEST
        );
        let gone = ClientFault::from_request_end(&BodyEnd::Failed("eof".into())).unwrap();
        assert_eq!(
            (gone.outcome, gone.error.kind.as_str()),
            (Outcome::ClientCut, "client_cut")
        );
        assert_eq!(ClientFault::from_request_end(&BodyEnd::Complete), None);
        assert_eq!(ClientFault::from_request_end(&BodyEnd::Dropped), None);
    }

    #[test]
    fn response_body_names_authtap_and_exchange() {
        let f = UpstreamFailure::timeout("http://up", 5);
        let resp = f.response(ExchangeId(7), "http://up");
        assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
        let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(v["authtap"]["exchange"], 7);
        assert!(
            v["error_description"]
                .as_str()
                .unwrap()
                .contains("did not answer")
        );
    }
}
