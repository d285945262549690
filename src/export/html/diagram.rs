//! The sequence diagram of the HTML report, as inline SVG: four lanes (client, authtap proxy,
//! resource server, authorization server), one arrow group per exchange (request and
//! response), labelled with id, phase, method, path and status, findings marked by severity.

use std::fmt::Write as _;

use crate::model::Exchange;
use crate::model::{Phase, Severity};

use crate::export::escape::html as escape;
use crate::export::facts::{path_of, phase_label, status_label};

const LANES: [(&str, f64); 4] = [
    ("Client", 90.0),
    ("authtap proxy", 300.0),
    ("Resource server (MCP)", 590.0),
    ("Authorization server", 870.0),
];
const WIDTH: f64 = 980.0;
const TOP: f64 = 56.0;
const ROW: f64 = 46.0;

/// The host of a URL (empty when it has none).
fn host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

/// Which lane serves an exchange: 2 = resource server, 3 = authorization server.
fn server_lane(x: &Exchange, rs_host: &str) -> usize {
    match x.phase {
        Some(Phase::McpTransport | Phase::DiscoveryPrm) => 2,
        Some(
            Phase::DiscoveryAs
            | Phase::Registration
            | Phase::Authorize
            | Phase::Callback
            | Phase::Token
            | Phase::Refresh,
        ) => 3,
        _ if host(&x.request.url) == rs_host => 2,
        _ => 3,
    }
}

/// `s` cut to `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// Renders the diagram.
pub fn svg(exchanges: &[Exchange]) -> String {
    let rs_host = exchanges
        .iter()
        .find(|x| x.phase == Some(Phase::McpTransport))
        .map(|x| host(&x.request.url))
        .unwrap_or_default();
    let height = TOP + ROW * exchanges.len() as f64 + 30.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="sequence" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="Sequence diagram of the recorded exchanges">"#
    );
    s.push_str(r#"<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="head"/></marker></defs>"#);
    write_lanes(&mut s, height);
    for (i, x) in exchanges.iter().enumerate() {
        write_exchange(&mut s, i, x, &rs_host);
    }
    s.push_str("</svg>");
    s
}

/// Writes the four lanes: a titled box and a lifeline down to `height`.
fn write_lanes(s: &mut String, height: f64) {
    for (name, x) in LANES {
        let _ = write!(
            s,
            r#"<g class="lane"><rect x="{}" y="8" width="170" height="28" rx="6"/><text x="{x}" y="27" text-anchor="middle">{}</text><line x1="{x}" y1="36" x2="{x}" y2="{}"/></g>"#,
            x - 85.0,
            escape(name),
            height - 10.0
        );
    }
}

/// The CSS class of an exchange's arrow: failed, its worst finding, an HTTP error, or ok.
fn arrow_class(x: &Exchange, worst: Option<Severity>) -> &'static str {
    match (&x.response, worst) {
        (None, _) => "failed",
        (_, Some(Severity::Error)) => "sev-error",
        (_, Some(Severity::Warning)) => "sev-warning",
        (Some(r), _) if r.status >= 400 => "http-error",
        _ => "ok",
    }
}

/// Writes the arrow group of the exchange in row `index`: request, response or failure, and
/// its findings mark.
fn write_exchange(s: &mut String, index: usize, x: &Exchange, rs_host: &str) {
    let y = TOP + ROW * index as f64 + 14.0;
    let lane = LANES[server_lane(x, rs_host)].1;
    let client = LANES[0].1;
    let worst = x.findings.iter().map(|f| f.severity).max();
    let class = arrow_class(x, worst);
    let label = format!(
        "{} {} {} {}",
        x.id,
        phase_label(x),
        x.request.method,
        clip(&path_of(&x.request.url), 48)
    );
    let _ = write!(
        s,
        r##"<g class="arrow {class}" data-exchange="{id}" tabindex="0"><a href="#x{id}"><title>{title}</title><rect class="hit" x="{client}" y="{hy}" width="{hw}" height="36"/><line class="req" x1="{client}" y1="{y}" x2="{lane}" y2="{y}" marker-end="url(#head)"/><text class="label" x="{lx}" y="{ty}">{label}</text>"##,
        id = x.id.0,
        title = escape(&format!(
            "{} {} → {}",
            x.request.method,
            x.request.url,
            status_label(x)
        )),
        lx = client + 12.0,
        hy = y - 18.0,
        hw = lane - client,
        ty = y - 5.0,
        label = escape(&label),
    );
    let ry = y + 16.0;
    match &x.response {
        Some(_) => {
            let _ = write!(
                s,
                r#"<line class="resp" x1="{lane}" y1="{ry}" x2="{client}" y2="{ry}" marker-end="url(#head)"/><text class="status" x="{}" y="{}" text-anchor="end">{}</text>"#,
                lane - 10.0,
                ry - 4.0,
                escape(&status_label(x))
            );
        }
        None => {
            let _ = write!(
                s,
                r#"<text class="status failed" x="{}" y="{}" text-anchor="end">✕ {}</text>"#,
                lane - 10.0,
                ry - 2.0,
                escape(&status_label(x))
            );
        }
    }
    if let Some(sev) = worst {
        let _ = write!(
            s,
            r#"<circle class="finding-mark {}" cx="{}" cy="{y}" r="8"/><text class="finding-count" x="{}" y="{}" text-anchor="middle">{}</text>"#,
            sev.as_str(),
            LANES[1].1,
            LANES[1].1,
            y + 4.0,
            x.findings.len()
        );
    }
    s.push_str("</a></g>");
}
