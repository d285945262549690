//! Small closed vocabularies of the trace format: what kind of failure an exchange ended in
//! ([`ErrorKind`]), which way a reverse-mode rewrite went ([`RewriteDirection`]) and what
//! captured an exchange ([`CaptureMode`]).
//!
//! They serialise as the same lowercase strings traces have always carried (`"tls"`,
//! `"response"`), so old traces load and new ones read the same.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Machine-readable kind of an [`ExchangeError`](super::ExchangeError).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The upstream could not be reached (refused, unreachable).
    Connect,
    /// The upstream's host name did not resolve.
    Dns,
    /// The TLS handshake with the upstream failed.
    Tls,
    /// No answer in time.
    Timeout,
    /// The upstream connection broke before or during the response.
    UpstreamCut,
    /// The client went away mid-exchange.
    ClientCut,
    /// hyper refused the client's request before it reached the proxy (400).
    BadRequest,
    /// The client's request head was too large (431).
    HeadersTooLarge,
    /// The client opened a connection but sent no complete request head in time.
    HeaderTimeout,
    /// The client broke the HTTP/2 protocol (the connection ended with a GOAWAY).
    H2Protocol,
    /// The client sent a malformed request body.
    ClientProtocol,
    /// The upstream sent a response head authtap could not parse.
    Protocol,
    /// The upstream sent a malformed response body.
    UpstreamProtocol,
    /// The exchange was still streaming when it was closed.
    Incomplete,
    /// A request for authtap's own callback path that the client bounce could not serve.
    AuthtapPath,
    /// An error imported from a HAR file.
    Har,
    /// A failure inside authtap itself.
    Internal,
    /// A kind this version does not know (a trace written by a newer authtap), kept verbatim.
    Other(String),
}

impl ErrorKind {
    /// Every named kind (not [`ErrorKind::Other`]).
    pub const NAMED: [ErrorKind; 17] = [
        ErrorKind::Connect,
        ErrorKind::Dns,
        ErrorKind::Tls,
        ErrorKind::Timeout,
        ErrorKind::UpstreamCut,
        ErrorKind::ClientCut,
        ErrorKind::BadRequest,
        ErrorKind::HeadersTooLarge,
        ErrorKind::HeaderTimeout,
        ErrorKind::H2Protocol,
        ErrorKind::ClientProtocol,
        ErrorKind::Protocol,
        ErrorKind::UpstreamProtocol,
        ErrorKind::Incomplete,
        ErrorKind::AuthtapPath,
        ErrorKind::Har,
        ErrorKind::Internal,
    ];

    /// The label used in traces, exports and error bodies.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Dns => "dns",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::UpstreamCut => "upstream_cut",
            ErrorKind::ClientCut => "client_cut",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::HeadersTooLarge => "headers_too_large",
            ErrorKind::HeaderTimeout => "header_timeout",
            ErrorKind::H2Protocol => "h2_protocol",
            ErrorKind::ClientProtocol => "client_protocol",
            ErrorKind::Protocol => "protocol",
            ErrorKind::UpstreamProtocol => "upstream_protocol",
            ErrorKind::Incomplete => "incomplete",
            ErrorKind::AuthtapPath => "authtap_path",
            ErrorKind::Har => "har",
            ErrorKind::Internal => "internal",
            ErrorKind::Other(label) => label,
        }
    }

    /// The kind a trace label names; unknown labels are kept as [`ErrorKind::Other`].
    pub fn from_label(label: &str) -> Self {
        Self::NAMED
            .into_iter()
            .find(|k| k.as_str() == label)
            .unwrap_or_else(|| ErrorKind::Other(label.to_string()))
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let label = String::deserialize(d)?;
        Ok(Self::from_label(&label))
    }
}

/// Which message a reverse-mode [`Rewrite`](super::Rewrite) changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RewriteDirection {
    /// The request, on its way from the client to the upstream.
    Request,
    /// The response, on its way from the upstream to the client.
    Response,
}

impl RewriteDirection {
    /// The label used in traces and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            RewriteDirection::Request => "request",
            RewriteDirection::Response => "response",
        }
    }
}

impl fmt::Display for RewriteDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of proxy (or authtap's own client) captured a trace or an exchange.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMode {
    /// `authtap proxy --upstream`: clients connect to authtap as if it were the server.
    #[default]
    Reverse,
    /// `authtap proxy --forward` and `authtap run`: clients use authtap as their HTTP proxy;
    /// nothing is rewritten.
    Forward,
    /// `authtap check`: authtap's own client made the requests; no proxy in between.
    Client,
}

impl CaptureMode {
    /// Whether this is reverse mode (the default, omitted from the session line).
    pub fn is_reverse(&self) -> bool {
        matches!(self, CaptureMode::Reverse)
    }

    /// The serialized name: `reverse`, `forward`, `client`.
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMode::Reverse => "reverse",
            CaptureMode::Forward => "forward",
            CaptureMode::Client => "client",
        }
    }

    /// How the exports describe it.
    pub fn describe(self) -> &'static str {
        match self {
            CaptureMode::Reverse => "reverse proxy",
            CaptureMode::Forward => "forward proxy, nothing rewritten",
            CaptureMode::Client => "authtap's own client, no proxy",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_serialise_as_their_trace_labels() {
        for kind in ErrorKind::NAMED {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), kind);
        }
        assert_eq!(serde_json::to_string(&ErrorKind::Tls).unwrap(), "\"tls\"");
        assert_eq!(
            serde_json::to_string(&ErrorKind::HeadersTooLarge).unwrap(),
            "\"headers_too_large\""
        );
    }

    #[test]
    fn unknown_error_kinds_load_and_round_trip_verbatim() {
        let kind: ErrorKind = serde_json::from_str("\"quantum_cut\"").unwrap();
        assert_eq!(kind, ErrorKind::Other("quantum_cut".into()));
        assert_eq!(serde_json::to_string(&kind).unwrap(), "\"quantum_cut\"");
    }

    #[test]
    fn labels_are_unique() {
        let labels: std::collections::BTreeSet<&str> =
            ErrorKind::NAMED.iter().map(ErrorKind::as_str).collect();
        assert_eq!(labels.len(), ErrorKind::NAMED.len());
    }

    #[test]
    fn directions_serialise_as_request_and_response() {
        assert_eq!(
            serde_json::to_string(&RewriteDirection::Request).unwrap(),
            "\"request\""
        );
        assert_eq!(
            serde_json::from_str::<RewriteDirection>("\"response\"").unwrap(),
            RewriteDirection::Response
        );
        assert!(serde_json::from_str::<RewriteDirection>("\"sideways\"").is_err());
    }
}
