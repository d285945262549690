//! Lenient `WWW-Authenticate` parsing (RFC 9110 §11.6.1, RFC 6750 §3) that also reports the
//! syntax faults real clients trip over: a comma right after the scheme, single quotes, spaces
//! around `=`, repeated parameters, stray tokens and relative `resource_metadata` URLs.

/// One challenge: a scheme and its parameters as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Challenge {
    /// Auth scheme as written (`Bearer`, `Basic`…).
    pub scheme: String,
    /// Parameters in order: (name as written, unquoted value).
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// First value of a parameter (case-insensitive name).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this is a Bearer challenge.
    pub fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }
}

/// Every challenge found in the combined header value(s), plus syntax problems.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedChallenges {
    /// Challenges in order.
    pub challenges: Vec<Challenge>,
    /// Syntax faults, one phrase each.
    pub issues: Vec<String>,
    /// How many header lines carried challenges.
    pub header_lines: usize,
}

impl ParsedChallenges {
    /// The first Bearer challenge.
    pub fn bearer(&self) -> Option<&Challenge> {
        self.challenges.iter().find(|c| c.is_bearer())
    }

    /// Whether the very first challenge is Bearer.
    pub fn bearer_first(&self) -> bool {
        self.challenges.first().is_some_and(Challenge::is_bearer)
    }
}

/// Parses all `WWW-Authenticate` header lines of one response.
pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> ParsedChallenges {
    let mut out = ParsedChallenges::default();
    for line in lines {
        out.header_lines += 1;
        parse_line(line, &mut out);
    }
    for c in &out.challenges {
        let mut seen: Vec<String> = Vec::new();
        for (k, v) in &c.params {
            let lk = k.to_ascii_lowercase();
            if seen.contains(&lk) {
                out.issues
                    .push(format!("parameter `{k}` repeated in one challenge"));
            }
            seen.push(lk);
            if k.eq_ignore_ascii_case("resource_metadata") && !v.contains("://") {
                out.issues
                    .push(format!("relative resource_metadata URL `{v}`"));
            }
        }
    }
    out.issues.dedup();
    out
}

fn is_token_char(c: char) -> bool {
    !(c.is_whitespace() || matches!(c, ',' | '=' | '"' | '\''))
}

fn parse_line(line: &str, out: &mut ParsedChallenges) {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut current: Option<Challenge> = None;
    let mut just_scheme = false;
    let mut comma_after_scheme = false;
    let skip_ws = |i: &mut usize| {
        let start = *i;
        while chars.get(*i).is_some_and(|c| c.is_whitespace()) {
            *i += 1;
        }
        *i > start
    };
    while i < chars.len() {
        skip_ws(&mut i);
        let mut saw_comma = false;
        while chars.get(i).is_some_and(|c| *c == ',' || c.is_whitespace()) {
            saw_comma |= chars.get(i) == Some(&',');
            i += 1;
        }
        if saw_comma && just_scheme {
            comma_after_scheme = true;
        }
        let start = i;
        while chars.get(i).is_some_and(|c| is_token_char(*c)) {
            i += 1;
        }
        let token: String = chars
            .get(start..i)
            .map(|s| s.iter().collect())
            .unwrap_or_default();
        if token.is_empty() {
            if let Some(c) = chars.get(i) {
                out.issues.push(format!("unexpected `{c}`"));
                i += 1;
            }
            continue;
        }
        let space_before = skip_ws(&mut i);
        if chars.get(i) == Some(&'=') && !is_token68_tail(&chars, i) {
            i += 1;
            let space_after = skip_ws(&mut i);
            if space_before || space_after {
                out.issues.push("spaces around `=`".into());
            }
            if comma_after_scheme {
                out.issues.push("comma right after the auth scheme".into());
                comma_after_scheme = false;
            }
            let value = match chars.get(i) {
                Some('"') => read_quoted(&chars, &mut i, '"'),
                Some('\'') => {
                    out.issues.push("single-quoted parameter value".into());
                    read_quoted(&chars, &mut i, '\'')
                }
                _ => {
                    let s = i;
                    while chars
                        .get(i)
                        .is_some_and(|c| *c != ',' && !c.is_whitespace())
                    {
                        i += 1;
                    }
                    chars
                        .get(s..i)
                        .map(|s| s.iter().collect())
                        .unwrap_or_default()
                }
            };
            match current.as_mut() {
                Some(c) => c.params.push((token, value)),
                None => out
                    .issues
                    .push(format!("parameter `{token}` before any auth scheme")),
            }
            just_scheme = false;
            skip_ws(&mut i);
            if let Some(c) = chars.get(i) {
                if *c != ',' {
                    // Either a new scheme (legal) or a missing comma between parameters.
                    let mut j = i;
                    while chars.get(j).is_some_and(|c| is_token_char(*c)) {
                        j += 1;
                    }
                    while chars.get(j).is_some_and(|c| c.is_whitespace()) {
                        j += 1;
                    }
                    if chars.get(j) == Some(&'=') {
                        out.issues.push("missing comma between parameters".into());
                    }
                }
            }
        } else if chars.get(i) == Some(&'=') {
            // token68 (e.g. `Negotiate abc==`)
            while chars.get(i) == Some(&'=') {
                i += 1;
            }
            if let Some(c) = current.as_mut() {
                c.params.push((String::new(), format!("{token}=")));
            }
        } else if (!saw_comma && current.as_ref().is_some_and(|c| !c.params.is_empty()))
            || !token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            out.issues.push(format!(
                "stray token `{token}` (unquoted value containing a comma or space?)"
            ));
        } else {
            if let Some(c) = current.take() {
                out.challenges.push(c);
            }
            comma_after_scheme = false;
            current = Some(Challenge {
                scheme: token,
                params: Vec::new(),
            });
            just_scheme = true;
        }
    }
    if let Some(c) = current.take() {
        out.challenges.push(c);
    }
}

fn is_token68_tail(chars: &[char], i: usize) -> bool {
    // `abc==` followed by end or comma: token68 padding, not a parameter.
    let mut j = i;
    while chars.get(j) == Some(&'=') {
        j += 1;
    }
    j > i + 1 && chars.get(j).is_none_or(|c| *c == ',' || c.is_whitespace())
}

fn read_quoted(chars: &[char], i: &mut usize, quote: char) -> String {
    let mut v = String::new();
    *i += 1;
    while let Some(c) = chars.get(*i) {
        *i += 1;
        match *c {
            '\\' if quote == '"' => {
                if let Some(n) = chars.get(*i) {
                    v.push(*n);
                    *i += 1;
                }
            }
            c if c == quote => return v,
            c => v.push(c),
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_bearer_challenge() {
        let p = parse([
            r#"Bearer resource_metadata="https://h/.well-known/oauth-protected-resource", scope="a b""#,
        ]);
        assert!(p.issues.is_empty(), "{:?}", p.issues);
        let b = p.bearer().unwrap();
        assert_eq!(
            b.param("resource_metadata"),
            Some("https://h/.well-known/oauth-protected-resource")
        );
        assert_eq!(b.param("scope"), Some("a b"));
        assert!(p.bearer_first());
    }

    #[test]
    fn round_trips_multiple_schemes() {
        let p = parse([r#"Basic realm="x", Bearer error="invalid_token""#]);
        assert_eq!(p.challenges.len(), 2);
        assert!(!p.bearer_first());
        assert_eq!(p.bearer().unwrap().param("error"), Some("invalid_token"));
        assert!(p.issues.is_empty(), "{:?}", p.issues);
        let bare = parse(["Bearer"]);
        assert!(bare.issues.is_empty());
        assert!(bare.bearer().unwrap().params.is_empty());
    }

    #[test]
    fn rejects_malformed_challenges() {
        for (input, needle) in [
            (
                r#"Bearer, resource_metadata="https://h/x""#,
                "comma right after",
            ),
            ("Bearer resource_metadata='https://h/x'", "single-quoted"),
            (
                r#"Bearer resource_metadata = "https://h/x""#,
                "spaces around",
            ),
            (
                r#"Bearer resource_metadata="https://h/a", resource_metadata="https://h/b""#,
                "repeated",
            ),
            (
                r#"Bearer resource_metadata="/.well-known/oauth-protected-resource""#,
                "relative",
            ),
            ("Bearer resource_metadata=https://h/x,y/z", "stray token"),
        ] {
            let p = parse([input]);
            assert!(
                p.issues.iter().any(|i| i.contains(needle)),
                "{input}: {:?}",
                p.issues
            );
        }
    }
}
