//! Just enough HTML form parsing for the authorize leg: find the first `<form>`, its method and
//! action, its hidden inputs and its first submit button — what a user's click would send.

/// A minimal HTML form: method, action, and the fields a user's submit would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlForm {
    /// `method` attribute, upper-case.
    pub method: String,
    /// `action` attribute.
    pub action: String,
    /// Hidden inputs and the first submit button's name/value.
    pub fields: Vec<(String, String)>,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let pos = lower.find(&format!(" {name}="))? + name.len() + 2;
    let rest = tag.get(pos..)?;
    let value = match rest.chars().next()? {
        q @ ('"' | '\'') => rest.get(1..)?.split(q).next()?.to_string(),
        _ => rest
            .split(|c: char| c.is_whitespace() || c == '>')
            .next()?
            .to_string(),
    };
    Some(
        value
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// Finds the first `<form>` of a page.
pub fn parse_form(html: &str) -> Option<HtmlForm> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<form")?;
    let end = lower
        .get(start..)?
        .find("</form>")
        .map_or(html.len(), |e| start + e);
    let form_html = html.get(start..end)?;
    let tag_end = form_html.find('>')?;
    let tag = form_html.get(..tag_end)?;
    let method = attr(tag, "method")
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    let action = attr(tag, "action").unwrap_or_default();
    let mut fields = Vec::new();
    let mut submitted = false;
    for piece in form_html.split('<').skip(1) {
        let tag = piece.split('>').next().unwrap_or("");
        let kind = tag
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let input_type = attr(tag, "type").unwrap_or_default().to_ascii_lowercase();
        let (Some(name), value) = (attr(tag, "name"), attr(tag, "value").unwrap_or_default())
        else {
            continue;
        };
        let is_submit = kind == "button" || (kind == "input" && input_type == "submit");
        if kind == "input" && input_type == "hidden" {
            fields.push((name, value));
        } else if is_submit && !submitted {
            fields.push((name, value));
            submitted = true;
        }
    }
    Some(HtmlForm {
        method,
        action,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_consent_form() {
        let html = r#"<html><form method="post" action="/authorize/consent"><input type="hidden" name="ticket" value="a&amp;b">
            <button type="submit" name="decision" value="approve">Allow</button><button name="decision" value="deny">No</button></form>"#;
        let form = parse_form(html).unwrap();
        assert_eq!(form.method, "POST");
        assert_eq!(form.action, "/authorize/consent");
        assert_eq!(
            form.fields,
            vec![
                ("ticket".into(), "a&b".into()),
                ("decision".into(), "approve".into())
            ]
        );
        assert_eq!(parse_form("<p>no form</p>"), None);
    }

    #[test]
    fn entities_are_decoded_once() {
        let html = r#"<form method="post" action="/c"><input type="hidden" name="t" value="&amp;lt;x&amp;quot;"></form>"#;
        let form = parse_form(html).unwrap();
        assert_eq!(form.fields, vec![("t".into(), "&lt;x&quot;".into())]);
    }
}
