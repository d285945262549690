//! The `Bearer` challenge of a `WWW-Authenticate` header, as the client reads it.

/// The parsed `Bearer` challenge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// `resource_metadata`.
    pub resource_metadata: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `error`.
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
}

/// Parses the `Bearer` challenge out of a `WWW-Authenticate` value (any position; other
/// schemes are skipped) with the shared lenient parser; the first value of a repeated
/// parameter wins.
pub fn parse_bearer(value: &str) -> Option<Challenge> {
    let parsed = crate::parse::www_authenticate::parse([value]);
    let bearer = parsed.bearer()?;
    let param = |name: &str| bearer.param(name).map(str::to_string);
    Some(Challenge {
        resource_metadata: param("resource_metadata"),
        scope: param("scope"),
        error: param("error"),
        error_description: param("error_description"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_among_other_schemes() {
        let ch = parse_bearer(
            r#"Basic realm="x", Bearer error="invalid_token", error_description="a, \"b\"", resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", scope="mcp:tools""#,
        )
        .unwrap();
        assert_eq!(
            ch.resource_metadata.as_deref(),
            Some("https://h/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(ch.scope.as_deref(), Some("mcp:tools"));
        assert_eq!(ch.error.as_deref(), Some("invalid_token"));
        assert_eq!(ch.error_description.as_deref(), Some("a, \"b\""));
        assert_eq!(parse_bearer("Bearer"), Some(Challenge::default()));
        assert_eq!(parse_bearer("Basic realm=\"x\""), None);
        assert_eq!(
            parse_bearer("Bearer scope=a, scope=b")
                .unwrap()
                .scope
                .as_deref(),
            Some("a")
        );
    }
}
