//! Self-contained HTML report, pure: one file with inline CSS and JS, no network access (a
//! Content-Security-Policy forbids any fetch, and allows only the report's own script by
//! hash). It shows the issue facts, `ofid_…` references, a findings list linked to the
//! exchanges, an SVG sequence diagram (see `diagram`), and every exchange as a `<details>`
//! with headers and bodies. Everything from traffic is HTML-escaped; the embedded JSON data is
//! escaped so no `</script>` can end its element.

mod diagram;

use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::model::{BodyCapture, Exchange, Header};

use super::escape::html as escape;
use super::facts::{correlation, issue_facts, path_of, phase_label, status_label, timestamp};
use super::options::ExportOptions;
use super::trace::Trace;

const STYLE: &str = include_str!("html/style.css");
const SCRIPT: &str = include_str!("html/report.js");
/// Characters of one body shown in the report.
const BODY_CAP: usize = 64 * 1024;

/// JSON safe inside `<script type="application/json">`: `<`, `>` and `&` become `\u` escapes,
/// so neither `</script>` nor `<!--` can appear.
pub fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn csp() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT.as_bytes()));
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{hash}'; connect-src 'none'; form-action 'none'; base-uri 'none'"
    )
}

fn data(trace: &Trace) -> serde_json::Value {
    json!({
        "redacted": trace.redacted,
        "exchanges": trace.exchanges.iter().map(|x| json!({
            "id": x.id.0, "phase": phase_label(x), "method": x.request.method,
            "url": x.request.url, "status": status_label(x), "findings": x.findings.len(),
        })).collect::<Vec<_>>(),
        "findings": trace.all_findings().iter().map(|f| super::har::finding_json(f)).collect::<Vec<_>>(),
        "ofids": trace.ofids.iter().map(|o| &o.id).collect::<Vec<_>>(),
    })
}

/// Renders the HTML report.
pub fn render(trace: &Trace, opts: &ExportOptions) -> String {
    let _ = opts;
    let f = issue_facts(trace);
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>authtap report — {}</title><style>{STYLE}</style></head><body>",
        escape(&csp()),
        escape(&f.server_url)
    );
    if trace.redacted {
        h.push_str("<div id=\"banner\" class=\"banner redacted\">Redacted export: tokens, codes, verifiers, secrets, cookies and passwords are replaced by <code>redacted:sha256:&lt;8 hex&gt;</code>; equal values still match across requests.</div>");
    } else {
        h.push_str("<div id=\"banner\" class=\"banner unredacted\">NOT REDACTED (exported with --no-redact): this report contains live credentials. Do not share it.</div>");
    }
    h.push_str("<main><h1>MCP OAuth trace report</h1><p class=\"toolbar\"><button type=\"button\" id=\"expand-all\">Expand all exchanges</button> <button type=\"button\" id=\"collapse-all\">Collapse all</button> <span id=\"summary-line\"></span></p>");
    let ofids = trace
        .ofids
        .iter()
        .map(|o| o.id.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let rows = [
        ("Server URL", f.server_url.as_str()),
        ("Where it failed", f.failed_at.as_str()),
        ("Transport", f.transport.as_str()),
        ("Registration type", f.registration.as_str()),
        ("POST /mcp without auth", f.unauthenticated_mcp.as_str()),
        ("Timestamps", f.time_range.as_str()),
        ("Client", f.client.as_str()),
        ("Exchanges captured by", f.captured_by.as_str()),
        (
            "Error references",
            if ofids.is_empty() {
                "none"
            } else {
                ofids.as_str()
            },
        ),
    ];
    h.push_str("<section><h2>Summary</h2><table class=\"facts\">");
    for (k, v) in rows {
        let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    h.push_str("</table></section>");
    ofid_section(&mut h, trace);
    tls_failures_section(&mut h, trace);
    findings_section(&mut h, trace);
    let _ = write!(
        h,
        "<section><h2>Sequence</h2><div class=\"diagram\">{}</div></section>",
        diagram::svg(&trace.exchanges)
    );
    h.push_str("<section><h2>Exchanges</h2>");
    for x in &trace.exchanges {
        exchange_section(&mut h, x);
    }
    h.push_str("</section></main>");
    let _ = writeln!(
        h,
        "<script type=\"application/json\" id=\"authtap-data\">{}</script><script>{SCRIPT}</script></body></html>",
        script_json(&data(trace))
    );
    h
}

fn exchange_link(trace: &Trace, id: crate::model::ExchangeId) -> String {
    match trace.exchange(id) {
        Some(x) => format!(
            "<a href=\"#x{}\">{} {} {} → {}</a>",
            id.0,
            id,
            escape(&x.request.method),
            escape(&short_path(&x.request.url)),
            escape(&status_label(x))
        ),
        None => escape(&id.to_string()),
    }
}

/// The path of a URL with its query shortened, for links.
fn short_path(url: &str) -> String {
    let p = path_of(url);
    match p.split_once('?') {
        Some((path, q)) if q.len() > 40 => {
            format!("{path}?{}…", q.chars().take(40).collect::<String>())
        }
        _ => p,
    }
}

/// Clients that never got past the TLS handshake: no exchange exists for them.
fn tls_failures_section(h: &mut String, trace: &Trace) {
    if trace.tls_failures.is_empty() {
        return;
    }
    h.push_str("<section><h2>TLS handshakes that failed</h2><ul id=\"tls-failures\">");
    for f in &trace.tls_failures {
        let _ = write!(
            h,
            "<li class=\"tls-failure\">{} — {} ({}): {}<div class=\"fix\">{}</div></li>",
            escape(&timestamp(f.at)),
            escape(&f.client_addr),
            escape(f.sni.as_deref().unwrap_or("no SNI")),
            escape(&f.message),
            escape(&f.advice)
        );
    }
    h.push_str("</ul></section>");
}

fn ofid_section(h: &mut String, trace: &Trace) {
    if trace.ofids.is_empty() && trace.marks.is_empty() {
        return;
    }
    h.push_str("<section><h2>Error references (ofid)</h2><ul id=\"ofids\">");
    for o in &trace.ofids {
        let at =
            o.at.map_or_else(|| "given on the command line".into(), timestamp);
        let _ = write!(
            h,
            "<li class=\"ofid\"><code>{}</code> — {} (from {})",
            escape(&o.id),
            escape(&at),
            escape(&o.origins.join(", "))
        );
        if !o.exchanges.is_empty() {
            h.push_str("<br>exchanges just before: ");
            let links: Vec<String> = o
                .exchanges
                .iter()
                .map(|id| exchange_link(trace, *id))
                .collect();
            h.push_str(&links.join(" · "));
        }
        h.push_str("</li>");
    }
    h.push_str("</ul>");
    if !trace.marks.is_empty() {
        h.push_str("<h3>Marks</h3><ul id=\"marks\">");
        for m in &trace.marks {
            let _ = write!(
                h,
                "<li class=\"mark\">{} — {}</li>",
                escape(&timestamp(m.at)),
                escape(&m.text)
            );
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>");
}

/// One finding; `count` > 1 when it stands for repeated info findings of its rule.
fn finding_item(h: &mut String, f: &crate::model::Finding, count: usize, link: &str) {
    let who: Vec<&str> = f.who.iter().map(|w| w.as_str()).collect();
    let times = if count > 1 {
        format!(" <span class=\"count\">×{count}</span>")
    } else {
        String::new()
    };
    let _ = write!(
        h,
        "<li class=\"finding sev-{sev}\"><span class=\"sev\">{sev}</span> <strong>{rule}</strong>{times} <span class=\"who\">fix: {who}</span> {link}<div class=\"msg\">{msg}</div><div class=\"fix\">Fix: {fix}</div><div class=\"source\">Source: {src}</div></li>",
        sev = f.severity.as_str(),
        rule = escape(f.rule.as_str()),
        who = escape(&who.join(", ")),
        msg = escape(&f.message),
        fix = escape(&f.fix),
        src = escape(&f.source),
    );
}

fn findings_section(h: &mut String, trace: &Trace) {
    h.push_str("<section><h2>Findings</h2>");
    let total = trace.all_findings().len();
    if total == 0 {
        h.push_str(
            "<p id=\"no-findings\">No findings: authtap saw no spec deviation in this trace.</p>",
        );
    }
    h.push_str("<ol id=\"findings\">");
    let mut items: Vec<(&crate::model::Finding, String)> = Vec::new();
    for x in &trace.exchanges {
        items.extend(x.findings.iter().map(|f| (f, exchange_link(trace, x.id))));
    }
    for ff in &trace.flow_findings {
        let label = ff.flow.map_or_else(|| "trace".into(), |f| f.to_string());
        items.extend(
            ff.findings
                .iter()
                .map(|f| (f, format!("<span class=\"flow\">{}</span>", escape(&label)))),
        );
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.0.severity));
    // Repeated info findings (e.g. one per MCP call) fold into one item with a count.
    for row in crate::rules::format::group_info(items) {
        let links = crate::rules::format::places_text(&row.places, 8);
        finding_item(h, row.finding, row.count, &links);
    }
    h.push_str("</ol>");
    for ff in trace.flow_findings.iter().filter(|f| f.narrative.is_some()) {
        let label = ff.flow.map_or_else(|| "trace".into(), |f| f.to_string());
        let _ = write!(
            h,
            "<p class=\"narrative\"><strong>{}:</strong> {}</p>",
            escape(&label),
            escape(ff.narrative.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</section>");
}

fn headers_table(h: &mut String, headers: &[Header]) {
    h.push_str("<table class=\"headers\">");
    for hd in headers {
        let _ = write!(
            h,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(&hd.name),
            escape(&hd.value)
        );
    }
    h.push_str("</table>");
}

fn body_block(h: &mut String, label: &str, body: &BodyCapture) {
    let text = match (&body.text, &body.base64) {
        (Some(t), _) => {
            let pretty = body
                .json()
                .and_then(|v| serde_json::to_string_pretty(&v).ok());
            pretty.unwrap_or_else(|| t.clone())
        }
        (None, Some(b)) => format!(
            "[binary, {} bytes on the wire; base64]\n{b}",
            body.wire_size
        ),
        _ => String::new(),
    };
    let shown: String = text.chars().take(BODY_CAP).collect();
    let mut notes = Vec::new();
    if body.truncated {
        notes.push(format!(
            "capture truncated ({} bytes on the wire)",
            body.wire_size
        ));
    }
    if body.lenient {
        notes.push("not valid UTF-8: decoded leniently for redaction".to_string());
    }
    if shown.len() < text.len() {
        notes.push("cut for this report; see the HAR".to_string());
    }
    if let Some(enc) = &body.decoded_from {
        notes.push(format!("decoded from {enc}"));
    }
    let _ = write!(
        h,
        "<h4>{}{}</h4><pre class=\"body\">{}</pre>",
        escape(label),
        if notes.is_empty() {
            String::new()
        } else {
            escape(&format!(" ({})", notes.join("; ")))
        },
        escape(&shown)
    );
}

fn exchange_section(h: &mut String, x: &Exchange) {
    exchange_summary(h, x);
    for f in &x.findings {
        h.push_str("<ul class=\"inline-findings\">");
        finding_item(h, f, 1, "");
        h.push_str("</ul>");
    }
    let _ = write!(
        h,
        "<h3>Request</h3><p class=\"line\"><code>{} {} {}</code></p>",
        escape(&x.request.method),
        escape(&x.request.url),
        escape(&x.request.http_version)
    );
    headers_table(h, &x.request.headers);
    if let Some(b) = &x.request.body {
        body_block(h, "Request body", b);
    }
    response_part(h, x);
    correlation_and_rewrites(h, x);
    h.push_str("</div></details>");
}

/// The opening of an exchange's `<details>`: id, phase, method, path, status, time and the
/// finding count, classed by its worst severity.
fn exchange_summary(h: &mut String, x: &Exchange) {
    let worst = x
        .findings
        .iter()
        .map(|f| f.severity.as_str())
        .max_by_key(|s| match *s {
            "error" => 2,
            "warning" => 1,
            _ => 0,
        });
    let _ = write!(
        h,
        "<details class=\"exchange{}\" id=\"x{}\"><summary><span class=\"xid\">{}</span> <span class=\"phase\">{}</span> <span class=\"method\">{}</span> <span class=\"url\">{}</span> → <span class=\"status\">{}</span> <span class=\"time\">{}</span>{}</summary><div class=\"xbody\">",
        worst.map_or(String::new(), |s| format!(" sev-{s}")),
        x.id.0,
        escape(&x.id.to_string()),
        escape(phase_label(x)),
        escape(&x.request.method),
        escape(&path_of(&x.request.url)),
        escape(&status_label(x)),
        escape(&timestamp(x.started_at)),
        if x.findings.is_empty() {
            String::new()
        } else {
            format!(
                " <span class=\"badge\">{} finding(s)</span>",
                x.findings.len()
            )
        }
    );
}

/// The response head, headers, body and SSE events, or why there was no response.
fn response_part(h: &mut String, x: &Exchange) {
    match &x.response {
        Some(r) => {
            let _ = write!(
                h,
                "<h3>Response</h3><p class=\"line\"><code>{} {}</code></p>",
                escape(&r.http_version),
                r.status
            );
            headers_table(h, &r.headers);
            if let Some(b) = &r.body {
                body_block(h, "Response body", b);
            }
            if !r.sse_events.is_empty() {
                h.push_str("<h4>Server-sent events</h4><table class=\"sse\"><tr><th>+ms</th><th>event</th><th>id</th><th>data</th></tr>");
                for e in &r.sse_events {
                    let _ = write!(
                        h,
                        "<tr><td>{:.1}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
                        e.at_ms,
                        escape(e.event.as_deref().unwrap_or("message")),
                        escape(e.id.as_deref().unwrap_or("")),
                        escape(&e.data)
                    );
                }
                h.push_str("</table>");
            }
        }
        None => {
            let err = x.error.as_ref().map_or_else(
                || "no response".to_string(),
                |e| format!("{}: {}", e.kind, e.message),
            );
            let _ = write!(
                h,
                "<h3>No response</h3><p class=\"error\">{}</p>",
                escape(&err)
            );
        }
    }
}

/// The correlation hashes of an exchange and the rewrites the client saw instead.
fn correlation_and_rewrites(h: &mut String, x: &Exchange) {
    let corr = correlation(x);
    if !corr.is_empty() {
        h.push_str("<h4>Correlation hashes</h4><p class=\"corr\">");
        let parts: Vec<String> = corr
            .iter()
            .map(|(k, v)| format!("{}=<code>{}</code>", escape(k), escape(v)))
            .collect();
        h.push_str(&parts.join(" · "));
        h.push_str("</p>");
    }
    if !x.rewrites.is_empty() {
        h.push_str("<h4>Rewrites (what the client saw instead)</h4><ul>");
        for rw in &x.rewrites {
            let _ = write!(
                h,
                "<li>{} {}: <code>{}</code> → <code>{}</code></li>",
                escape(rw.direction.as_str()),
                escape(&rw.location),
                escape(&rw.from),
                escape(&rw.to)
            );
        }
        h.push_str("</ul>");
    }
}
