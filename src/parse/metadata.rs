//! Helpers for judging JSON metadata documents (PRM, ASM, DCR, token responses) as sent:
//! nulls, empty arrays, non-integer numbers and string lists are reported, never coerced.

use serde_json::{Map, Value};

/// Members whose value is JSON `null`, in document order.
pub fn null_members(doc: &Map<String, Value>) -> Vec<&str> {
    doc.iter()
        .filter(|(_, v)| v.is_null())
        .map(|(k, _)| k.as_str())
        .collect()
}

/// Members whose value is an empty array, in document order.
pub fn empty_array_members(doc: &Map<String, Value>) -> Vec<&str> {
    doc.iter()
        .filter(|(_, v)| v.as_array().is_some_and(Vec::is_empty))
        .map(|(k, _)| k.as_str())
        .collect()
}

/// A member as a list of strings (non-strings skipped); `None` when absent or not an array.
pub fn str_list<'a>(doc: &'a Map<String, Value>, name: &str) -> Option<Vec<&'a str>> {
    Some(
        doc.get(name)?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .collect(),
    )
}

/// A member as a string.
pub fn str_member<'a>(doc: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    doc.get(name)?.as_str()
}

/// Whether a JSON value is an integer as written (no fraction or exponent, not a string).
pub fn is_json_integer(v: &Value) -> bool {
    matches!(v, Value::Number(n) if n.is_i64() || n.is_u64())
}

/// Short rendering of a JSON value for a finding message (truncated at 80 characters).
pub fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// Parses a body as a JSON object.
pub fn object(text: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str(text).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_member_checks() {
        let d = object(r#"{"a":null,"b":[],"c":["x",1],"d":1.0,"e":2,"f":"s"}"#).unwrap();
        assert_eq!(null_members(&d), vec!["a"]);
        assert_eq!(empty_array_members(&d), vec!["b"]);
        assert_eq!(str_list(&d, "c"), Some(vec!["x"]));
        assert!(!is_json_integer(&d["d"]));
        assert!(is_json_integer(&d["e"]));
        assert_eq!(str_member(&d, "f"), Some("s"));
        assert!(object("[1]").is_none());
    }
}
