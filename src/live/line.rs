//! Pure formatting of the live view's lines: one exchange line, finding lines (severity, rule
//! id, message, then the fix), failed TLS handshakes, marks and the end-of-run summary. Every
//! function returns text; [`super::LiveView`] decides what to print and where.

use time::{OffsetDateTime, UtcOffset};

use crate::model::{CaptureMode, Exchange, Mark, TlsHandshakeFailure, TunnelRecord};
use crate::model::{Finding, Phase, Severity};

/// Longest query string shown in full; longer ones are cut and end with `…`.
const MAX_QUERY_CHARS: usize = 40;
/// Indentation of the lines under an exchange line.
const INDENT: &str = "    ";
/// Width of the severity column (`warning` is the longest label).
const SEVERITY_WIDTH: usize = 7;

/// ANSI styling, or none at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    /// Whether escape sequences are written.
    pub color: bool,
}

/// The ANSI colors the view uses (SGR codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Color {
    Red,
    Green,
    Yellow,
    Blue,
    Magenta,
    Cyan,
    Dim,
    BoldRed,
}

impl Color {
    fn sgr(self) -> &'static str {
        match self {
            Color::Red => "31",
            Color::Green => "32",
            Color::Yellow => "33",
            Color::Blue => "34",
            Color::Magenta => "35",
            Color::Cyan => "36",
            Color::Dim => "2",
            Color::BoldRed => "1;31",
        }
    }
}

impl Paint {
    fn paint(self, color: Color, text: &str) -> String {
        if self.color {
            format!("\x1b[{}m{text}\x1b[0m", color.sgr())
        } else {
            text.to_string()
        }
    }
}

/// `HH:MM:SS.mmm` in the given offset (the local one in a terminal).
pub fn clock(at: OffsetDateTime, offset: UtcOffset) -> String {
    at.to_offset(offset)
        .format(time::macros::format_description!(
            "[hour]:[minute]:[second].[subsecond digits:3]"
        ))
        .unwrap_or_default()
}

fn phase_color(phase: Phase) -> Color {
    match phase {
        Phase::DiscoveryPrm | Phase::DiscoveryAs => Color::Blue,
        Phase::Registration => Color::Magenta,
        Phase::Authorize | Phase::Callback => Color::Yellow,
        Phase::Token | Phase::Refresh => Color::Green,
        Phase::McpTransport => Color::Cyan,
        Phase::Cors | Phase::Other => Color::Dim,
    }
}

fn status_color(status: u16) -> Color {
    match status {
        200..=299 => Color::Green,
        300..=399 => Color::Cyan,
        400..=499 => Color::Yellow,
        _ => Color::Red,
    }
}

fn severity_color(severity: Severity) -> Color {
    match severity {
        Severity::Error => Color::BoldRed,
        Severity::Warning => Color::Yellow,
        Severity::Info => Color::Dim,
    }
}

/// The path and query of a URL as the client sent it, the query cut after
/// `MAX_QUERY_CHARS` characters.
pub fn short_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme
        .find('/')
        .and_then(|i| after_scheme.get(i..))
        .unwrap_or("/");
    match path.split_once('?') {
        Some((path, query)) if query.chars().count() > MAX_QUERY_CHARS => {
            let kept: String = query.chars().take(MAX_QUERY_CHARS).collect();
            format!("{path}?{kept}…")
        }
        _ => path.to_string(),
    }
}

/// A byte count as `206B`, `12.4kB` or `3.1MB`.
pub fn size(bytes: u64) -> String {
    // Display only: the precision lost converting to f64 does not show at one decimal.
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    if bytes < 10_000 {
        format!("{bytes}B")
    } else if bytes < 1_000_000 {
        format!("{:.1}kB", b / 1000.0)
    } else {
        format!("{:.1}MB", b / 1_000_000.0)
    }
}

/// What an exchange line shows of the URL the client used. Reverse mode: the path (every
/// request goes to the one upstream). Forward mode, where the MCP server, its authorization
/// server and any `--intercept` host pass the same proxy: the host (with a non-default port)
/// before the path, so `GET /.well-known/…` on two origins reads as two places.
pub fn target(ex: &Exchange) -> String {
    let url = ex.request.client_url.as_deref().unwrap_or(&ex.request.url);
    let path = short_path(url);
    if ex.mode != CaptureMode::Forward {
        return path;
    }
    let Ok(parsed) = url::Url::parse(url) else {
        return path;
    };
    match (parsed.host_str(), parsed.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}{path}"),
        (Some(host), None) => format!("{host}{path}"),
        (None, _) => path,
    }
}

/// The exchange line: time, id, phase, method, target (path, or host and path in forward
/// mode), status, duration, size (and the transport error when the exchange did not complete).
pub fn exchange(ex: &Exchange, offset: UtcOffset, paint: Paint) -> String {
    let phase = ex.phase.unwrap_or(Phase::Other);
    let status = match &ex.response {
        Some(r) => paint.paint(status_color(r.status), &r.status.to_string()),
        None => paint.paint(Color::Red, "---"),
    };
    let duration = ex.timings.end_ms.unwrap_or_default();
    let bytes = ex
        .response
        .as_ref()
        .and_then(|r| r.body.as_ref())
        .map_or(0, |b| b.wire_size);
    let mut line = format!(
        "{time} {id}  {phase}  {method} {target}  {status}  {duration:.0}ms  {size}",
        time = paint.paint(Color::Dim, &clock(ex.started_at, offset)),
        id = ex.id,
        phase = paint.paint(phase_color(phase), phase.as_str()),
        method = ex.request.method,
        target = target(ex),
        size = size(bytes),
    );
    if let Some(e) = &ex.error {
        line.push_str(&paint.paint(Color::Red, &format!("  ({}: {})", e.kind, e.message)));
    }
    line
}

/// Where a finding belongs when it is printed without its exchange line (`--quiet`, flow
/// findings): `#2 `, `flow 1 ` or nothing.
pub fn place(f: &Finding) -> String {
    match (f.exchange, f.flow) {
        (Some(id), _) => format!("{id} "),
        (None, Some(flow)) => format!("{flow} "),
        (None, None) => String::new(),
    }
}

/// Lines under an exchange line are indented; lines that name their own place are not.
fn indent(lead: &str) -> &'static str {
    if lead.is_empty() { INDENT } else { "" }
}

/// An error or warning: `severity  RULE-ID  message`, then `fix: …` on the next line. `lead`
/// goes between the indentation and the severity (a place, in quiet mode).
pub fn finding(f: &Finding, lead: &str, paint: Paint) -> String {
    let indent = indent(lead);
    let severity = format!("{:<SEVERITY_WIDTH$}", f.severity.as_str());
    let mut text = format!(
        "{indent}{lead}{}  {}  {}",
        paint.paint(severity_color(f.severity), &severity),
        f.rule,
        f.message
    );
    if !f.fix.is_empty() {
        let pad = " ".repeat(lead.chars().count() + SEVERITY_WIDTH + 2);
        text.push_str(&format!("\n{indent}{pad}fix: {}", f.fix));
    }
    text
}

/// The first info finding of a rule: one line, no fix; later ones only count.
pub fn first_info(f: &Finding, lead: &str, paint: Paint) -> String {
    let indent = indent(lead);
    let severity = format!("{:<SEVERITY_WIDTH$}", f.severity.as_str());
    format!(
        "{indent}{lead}{}  {}  {}  {}",
        paint.paint(severity_color(f.severity), &severity),
        f.rule,
        f.message,
        paint.paint(Color::Dim, "(further ones counted in the summary)")
    )
}

/// A client that never got a request through: what happened, then what to do.
pub fn tls_handshake(h: &TlsHandshakeFailure, offset: UtcOffset, paint: Paint) -> String {
    let sni = h.sni.as_deref().unwrap_or("no SNI");
    format!(
        "{time} {tls}  TLS handshake from {addr} ({sni}) failed: {message}\n{INDENT}{advice}",
        time = paint.paint(Color::Dim, &clock(h.at, offset)),
        tls = paint.paint(Color::Yellow, "tls"),
        addr = h.client_addr,
        message = h.message,
        advice = h.advice,
    )
}

/// A forward-mode connection to a host outside the interception set: passed through unread.
pub fn tunnel(t: &TunnelRecord, offset: UtcOffset, paint: Paint) -> String {
    let error = t.error.as_deref().map_or_else(String::new, |e| {
        paint.paint(Color::Red, &format!("  ({e})"))
    });
    format!(
        "{time} {label}  {host}:{port} passed through blind  {up} up  {down} down  {ms:.0}ms{error}",
        time = paint.paint(Color::Dim, &clock(t.at, offset)),
        label = paint.paint(Color::Dim, "tunnel"),
        host = t.host,
        port = t.port,
        up = size(t.bytes_up),
        down = size(t.bytes_down),
        ms = t.duration_ms,
    )
}

/// A note typed on stdin.
pub fn mark(m: &Mark, offset: UtcOffset, paint: Paint) -> String {
    format!(
        "{time} {mark}  {text}",
        time = paint.paint(Color::Dim, &clock(m.at, offset)),
        mark = paint.paint(Color::Magenta, "mark"),
        text = m.text,
    )
}

/// The counts a run ends with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Exchanges seen.
    pub exchanges: usize,
    /// Error findings.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Failed TLS handshakes.
    pub tls_failures: usize,
    /// Info findings per rule, in first-seen order: the first one and the count.
    pub info: Vec<(Finding, usize)>,
}

impl Tally {
    /// Counts one finding; `true` when it is the first info finding of its rule.
    pub fn count(&mut self, f: &Finding) -> bool {
        match f.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Info => {
                if let Some((_, n)) = self.info.iter_mut().find(|(seen, _)| seen.rule == f.rule) {
                    *n += 1;
                    return false;
                }
                self.info.push((f.clone(), 1));
                return true;
            }
        }
        false
    }
}

/// The end-of-run summary: one count line, then one line per info rule with its count.
pub fn summary(tally: &Tally, paint: Paint) -> String {
    let infos: usize = tally.info.iter().map(|(_, n)| n).sum();
    let mut text = format!(
        "── {} exchange(s): {} error(s), {} warning(s), {} info",
        tally.exchanges,
        paint.paint(
            if tally.errors > 0 {
                Color::BoldRed
            } else {
                Color::Green
            },
            &tally.errors.to_string()
        ),
        tally.warnings,
        infos
    );
    if tally.tls_failures > 0 {
        text.push_str(&format!(", {} failed TLS handshake(s)", tally.tls_failures));
    }
    for (f, n) in &tally.info {
        let severity = format!("{:<SEVERITY_WIDTH$}", f.severity.as_str());
        text.push_str(&format!(
            "\n{INDENT}{}  {}  ×{n}  {}",
            paint.paint(severity_color(f.severity), &severity),
            f.rule,
            f.message
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange_to(url: &str, mode: CaptureMode) -> Exchange {
        let mut ex: Exchange = serde_json::from_value(serde_json::json!({
            "id": 1,
            "started_at": "2026-11-22T12:00:00Z",
            "timings": {},
            "request": {"method": "GET", "url": url, "http_version": "HTTP/1.1", "headers": []},
            "outcome": "complete",
        }))
        .unwrap();
        ex.mode = mode;
        ex
    }

    #[test]
    fn forward_mode_lines_name_the_host_reverse_mode_lines_only_the_path() {
        let prm = "https://as.example.com/.well-known/oauth-authorization-server";
        assert_eq!(
            target(&exchange_to(prm, CaptureMode::Forward)),
            "as.example.com/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            target(&exchange_to(
                "http://127.0.0.1:8080/mcp",
                CaptureMode::Forward
            )),
            "127.0.0.1:8080/mcp"
        );
        assert_eq!(
            target(&exchange_to(
                "http://[::1]:9/register",
                CaptureMode::Forward
            )),
            "[::1]:9/register"
        );
        // Near miss: reverse mode has one upstream; the path alone says where.
        assert_eq!(
            target(&exchange_to(prm, CaptureMode::Reverse)),
            "/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn long_queries_are_cut_short_ones_kept() {
        assert_eq!(
            short_path("https://x.example/.well-known/oauth-protected-resource/mcp"),
            "/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(short_path("https://x.example"), "/");
        assert_eq!(short_path("/cb?code=abc"), "/cb?code=abc");
        let long = format!("https://x.example/authorize?{}", "a".repeat(60));
        assert_eq!(
            short_path(&long),
            format!("/authorize?{}…", "a".repeat(MAX_QUERY_CHARS))
        );
    }

    #[test]
    fn sizes_read_as_bytes_then_kilobytes() {
        assert_eq!(size(206), "206B");
        assert_eq!(size(12_400), "12.4kB");
        assert_eq!(size(3_100_000), "3.1MB");
    }

    #[test]
    fn color_only_when_asked() {
        assert_eq!(Paint { color: false }.paint(Color::Red, "x"), "x");
        assert_eq!(
            Paint { color: true }.paint(Color::Red, "x"),
            "\x1b[31mx\x1b[0m"
        );
    }
}
