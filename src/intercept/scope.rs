//! The interception set: which hosts forward mode decrypts, and which it tunnels blind.
//!
//! Entries come from three places: the host of `--mcp URL` (with its port), each
//! `--intercept HOST[:PORT]` (`*.example.com` matches every subdomain, not the apex), and hosts
//! learned from the flow itself ([`InterceptScope::learn_url`]). With no configured entry at all
//! everything is intercepted ([`InterceptScope::intercepts_all`]). The set is shared by every
//! connection and only grows; a learned host is added while the response naming it is still
//! held, so the client's next `CONNECT` to it is already intercepted.

use std::sync::RwLock;

/// One host pattern: an exact name or a `*.` wildcard, with an optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// Lower-case host without brackets or trailing dot; for wildcards, the suffix after `*.`.
    host: String,
    wildcard: bool,
    /// `None` = any port.
    port: Option<u16>,
}

/// Why a `--intercept` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--intercept {value}: {reason}")]
pub struct PatternError {
    value: String,
    reason: &'static str,
}

impl HostPattern {
    /// Parses `HOST`, `HOST:PORT`, `*.DOMAIN[:PORT]`, `[IPv6]:PORT`.
    pub fn parse(value: &str) -> Result<Self, PatternError> {
        let err = |reason| PatternError {
            value: value.to_string(),
            reason,
        };
        let trimmed = value.trim();
        let (host, port) = split_host_port(trimmed).ok_or_else(|| err("bad port"))?;
        let (host, wildcard) = match host.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (host, false),
        };
        let host = normalize_host(host);
        if host.is_empty() || host.contains('*') || host.contains('/') {
            return Err(err("expected HOST, HOST:PORT or *.DOMAIN"));
        }
        Ok(Self {
            host,
            wildcard,
            port,
        })
    }

    /// The pattern for exactly this host and port.
    pub fn exact(host: &str, port: u16) -> Self {
        Self {
            host: normalize_host(host),
            wildcard: false,
            port: Some(port),
        }
    }

    /// Whether `host:port` matches.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        let host = normalize_host(host);
        if self.wildcard {
            host.strip_suffix(&self.host)
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
        } else {
            host == self.host
        }
    }

    /// The host part (the wildcard's suffix for `*.` patterns).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether this is a `*.` pattern.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// Splits `host[:port]` (IPv6 in brackets). `None` for an unparsable port.
fn split_host_port(value: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match value.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((host, _)) if host.contains(':') => Some((value, None)),
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((value, None)),
    }
}

/// Lower case, no brackets, no trailing dot.
pub fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// The shared interception set (see the module docs).
#[derive(Debug, Default)]
pub struct InterceptScope {
    configured: Vec<HostPattern>,
    learned: RwLock<Vec<HostPattern>>,
}

impl InterceptScope {
    /// A set from the configured patterns; empty means intercept everything.
    pub fn new(configured: Vec<HostPattern>) -> Self {
        Self {
            configured,
            learned: RwLock::default(),
        }
    }

    /// Whether everything is intercepted (no `--mcp`, no `--intercept`).
    pub fn intercepts_all(&self) -> bool {
        self.configured.is_empty()
    }

    /// The configured patterns.
    pub fn configured(&self) -> &[HostPattern] {
        &self.configured
    }

    /// Hosts learned from the flow so far.
    pub fn learned(&self) -> Vec<HostPattern> {
        self.learned
            .read()
            .map(|l| l.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Whether traffic to `host:port` is decrypted and recorded.
    pub fn intercepts(&self, host: &str, port: u16) -> bool {
        if self.intercepts_all() || self.configured.iter().any(|p| p.matches(host, port)) {
            return true;
        }
        let learned = self
            .learned
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        learned.iter().any(|p| p.matches(host, port))
    }

    /// Adds the origin of an `http(s)` URL the flow named. Returns the pattern when it is new.
    pub fn learn_url(&self, url: &str) -> Option<HostPattern> {
        let url = url::Url::parse(url).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let host = url.host_str()?;
        let port = url.port_or_known_default()?;
        if self.intercepts(host, port) {
            return None;
        }
        let pattern = HostPattern::exact(host, port);
        let mut learned = self
            .learned
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if learned.contains(&pattern) {
            return None;
        }
        learned.push(pattern.clone());
        Some(pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_port_patterns() {
        let p = HostPattern::parse("MCP.Example.com").unwrap();
        assert!(p.matches("mcp.example.com", 443));
        assert!(p.matches("mcp.example.com.", 8443));
        assert!(!p.matches("example.com", 443));
        let p = HostPattern::parse("auth.example.com:8443").unwrap();
        assert!(p.matches("auth.example.com", 8443));
        assert!(!p.matches("auth.example.com", 443));
        assert_eq!(p.to_string(), "auth.example.com:8443");
    }

    #[test]
    fn wildcards_match_subdomains_not_the_apex() {
        let p = HostPattern::parse("*.example.com").unwrap();
        assert!(p.matches("a.example.com", 443));
        assert!(p.matches("b.a.example.com", 80));
        assert!(!p.matches("example.com", 443));
        assert!(!p.matches("badexample.com", 443));
        assert_eq!(p.to_string(), "*.example.com");
    }

    #[test]
    fn ipv6_literals() {
        let p = HostPattern::parse("[::1]:9000").unwrap();
        assert!(p.matches("[::1]", 9000));
        assert!(p.matches("::1", 9000));
        assert_eq!(p.to_string(), "[::1]:9000");
        let any_port = HostPattern::parse("::1").unwrap();
        assert!(any_port.matches("::1", 1));
    }

    #[test]
    fn refuses_garbage() {
        assert!(HostPattern::parse("").is_err());
        assert!(HostPattern::parse("a.com:port").is_err());
        assert!(HostPattern::parse("a.*.com").is_err());
        assert!(HostPattern::parse("https://a.com/x").is_err());
    }

    #[test]
    fn empty_scope_intercepts_all_configured_scope_learns() {
        assert!(InterceptScope::default().intercepts("anything.example", 443));
        let scope = InterceptScope::new(vec![HostPattern::exact("mcp.example.com", 443)]);
        assert!(scope.intercepts("mcp.example.com", 443));
        assert!(!scope.intercepts("auth.example.com", 443));
        let learned = scope.learn_url("https://auth.example.com/oauth/token");
        assert_eq!(learned, Some(HostPattern::exact("auth.example.com", 443)));
        assert!(scope.intercepts("auth.example.com", 443));
        assert!(!scope.intercepts("auth.example.com", 8443));
        // Known already, or not http(s): nothing new.
        assert_eq!(scope.learn_url("https://auth.example.com/authorize"), None);
        assert_eq!(scope.learn_url("https://mcp.example.com/x"), None);
        assert_eq!(scope.learn_url("urn:ietf:x"), None);
        assert_eq!(scope.learned().len(), 1);
    }
}
