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
    let mut s = Scanner {
        chars: line.chars().collect(),
        i: 0,
    };
    let mut current: Option<Challenge> = None;
    let mut just_scheme = false;
    let mut comma_after_scheme = false;
    while s.i < s.chars.len() {
        s.skip_ws();
        let saw_comma = s.skip_separators();
        if saw_comma && just_scheme {
            comma_after_scheme = true;
        }
        let token = s.token();
        if token.is_empty() {
            if let Some(c) = s.peek() {
                out.issues.push(format!("unexpected `{c}`"));
                s.i += 1;
            }
            continue;
        }
        let space_before = s.skip_ws();
        if s.peek() == Some('=') && !is_token68_tail(&s.chars, s.i) {
            let param = Param {
                name: token,
                space_before,
                comma_after_scheme: std::mem::take(&mut comma_after_scheme),
            };
            s.parameter(param, current.as_mut(), &mut out.issues);
            just_scheme = false;
        } else if s.peek() == Some('=') {
            // token68 (e.g. `Negotiate abc==`)
            while s.peek() == Some('=') {
                s.i += 1;
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

/// A lenient cursor over one header line.
struct Scanner {
    chars: Vec<char>,
    i: usize,
}

/// A parameter name just read, with what the parser noticed before its `=`.
struct Param {
    name: String,
    space_before: bool,
    comma_after_scheme: bool,
}

impl Scanner {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    /// Skips whitespace; whether there was any.
    fn skip_ws(&mut self) -> bool {
        let start = self.i;
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
        self.i > start
    }

    /// Skips commas and whitespace; whether there was a comma.
    fn skip_separators(&mut self) -> bool {
        let mut saw_comma = false;
        while let Some(c) = self.peek().filter(|c| *c == ',' || c.is_whitespace()) {
            saw_comma |= c == ',';
            self.i += 1;
        }
        saw_comma
    }

    /// Reads a token (possibly empty).
    fn token(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(is_token_char) {
            self.i += 1;
        }
        self.chars
            .get(start..self.i)
            .map(|s| s.iter().collect())
            .unwrap_or_default()
    }

    /// A `name=value` parameter, at its `=`: reads the value, notes the lenient cases, and
    /// checks that a comma follows unless a new scheme does.
    fn parameter(
        &mut self,
        param: Param,
        current: Option<&mut Challenge>,
        issues: &mut Vec<String>,
    ) {
        self.i += 1;
        let space_after = self.skip_ws();
        if param.space_before || space_after {
            issues.push("spaces around `=`".into());
        }
        if param.comma_after_scheme {
            issues.push("comma right after the auth scheme".into());
        }
        let value = self.value(issues);
        match current {
            Some(c) => c.params.push((param.name, value)),
            None => issues.push(format!("parameter `{}` before any auth scheme", param.name)),
        }
        self.skip_ws();
        if self.peek().is_some_and(|c| c != ',') && self.assignment_ahead() {
            issues.push("missing comma between parameters".into());
        }
    }

    /// A parameter value: quoted (double, or single with an issue) or up to a comma or space.
    fn value(&mut self, issues: &mut Vec<String>) -> String {
        match self.peek() {
            Some('"') => read_quoted(&self.chars, &mut self.i, '"'),
            Some('\'') => {
                issues.push("single-quoted parameter value".into());
                read_quoted(&self.chars, &mut self.i, '\'')
            }
            _ => {
                let start = self.i;
                while self.peek().is_some_and(|c| c != ',' && !c.is_whitespace()) {
                    self.i += 1;
                }
                self.chars
                    .get(start..self.i)
                    .map(|s| s.iter().collect())
                    .unwrap_or_default()
            }
        }
    }

    /// Whether a `token =` follows (after a parameter: a missing comma, not a new scheme).
    fn assignment_ahead(&self) -> bool {
        let mut j = self.i;
        while self.chars.get(j).is_some_and(|c| is_token_char(*c)) {
            j += 1;
        }
        while self.chars.get(j).is_some_and(|c| c.is_whitespace()) {
            j += 1;
        }
        self.chars.get(j) == Some(&'=')
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
