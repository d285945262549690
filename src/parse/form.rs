//! `application/x-www-form-urlencoded` bodies and URL query strings, duplicates and order kept.

/// Decoded name/value pairs in order, duplicates kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    /// Parses a form body or a query string (without the leading `?`).
    pub fn parse(input: &str) -> Self {
        Pairs(
            url::form_urlencoded::parse(input.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The query of a URL (empty when the URL has none or does not parse).
    pub fn from_url_query(url: &str) -> Self {
        match url.split_once('?') {
            Some((_, q)) => Self::parse(q.split('#').next().unwrap_or("")),
            None => Pairs::default(),
        }
    }

    /// The fragment of a URL parsed as pairs (implicit-style responses).
    pub fn from_url_fragment(url: &str) -> Self {
        match url.split_once('#') {
            Some((_, f)) => Self::parse(f),
            None => Pairs::default(),
        }
    }

    /// First value of `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// How many times `name` occurs.
    pub fn count(&self, name: &str) -> usize {
        self.0.iter().filter(|(k, _)| k == name).count()
    }

    /// Whether `name` occurs at all.
    pub fn has(&self, name: &str) -> bool {
        self.count(name) > 0
    }

    /// Names that occur more than once, in first-occurrence order.
    pub fn duplicated(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (k, _) in &self.0 {
            if self.count(k) > 1 && !out.contains(&k.as_str()) {
                out.push(k);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_pairs_with_duplicates() {
        let p = Pairs::parse("a=1&b=x%20y&a=2&c");
        assert_eq!(p.first("a"), Some("1"));
        assert_eq!(p.first("b"), Some("x y"));
        assert_eq!(p.count("a"), 2);
        assert!(p.has("c"));
        assert_eq!(p.duplicated(), vec!["a"]);
        let q = Pairs::from_url_query("https://h/cb?code=1&state=s#x=1");
        assert_eq!(q.first("state"), Some("s"));
        assert_eq!(
            Pairs::from_url_fragment("https://h/#access_token=t").first("access_token"),
            Some("t")
        );
    }
}
