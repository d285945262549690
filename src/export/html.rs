//! HTML report (to be written).

use super::{ExportOptions, Trace};

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Renders the HTML report.
pub fn render(trace: &Trace, opts: &ExportOptions) -> String {
    let _ = (trace, opts);
    String::new()
}
