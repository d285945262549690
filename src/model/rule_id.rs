//! [`RuleId`]: a rule's catalog id (`WWWAUTH-MISSING`) as its own type.
//!
//! A finding's id serialises as the plain string traces have always carried. Ids read from a
//! trace are taken as they are (an old trace may name a retired rule); ids written by hand —
//! client profiles' severity overrides — are checked against the registry with
//! [`crate::rules::registry::rule_id`].

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A rule's catalog id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(Cow<'static, str>);

impl RuleId {
    /// The id of a rule's static metadata (no allocation).
    pub const fn from_static(id: &'static str) -> Self {
        RuleId(Cow::Borrowed(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RuleId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for RuleId {
    fn from(id: &str) -> Self {
        RuleId(Cow::Owned(id.to_string()))
    }
}

impl From<String> for RuleId {
    fn from(id: String) -> Self {
        RuleId(Cow::Owned(id))
    }
}

impl PartialEq<str> for RuleId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<RuleId> for &str {
    fn eq(&self, other: &RuleId) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<RuleId> for str {
    fn eq(&self, other: &RuleId) -> bool {
        self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_the_bare_id() {
        let id = RuleId::from_static("WWWAUTH-MISSING");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"WWWAUTH-MISSING\"");
        let back: RuleId = serde_json::from_str("\"WWWAUTH-MISSING\"").unwrap();
        assert_eq!(back, id);
        assert_eq!(back, "WWWAUTH-MISSING");
        assert_ne!(back, "WWWAUTH-MISSIN");
    }

    #[test]
    fn ids_a_registry_no_longer_knows_still_load() {
        let id: RuleId = serde_json::from_str("\"OLD-RETIRED-RULE\"").unwrap();
        assert_eq!(id.as_str(), "OLD-RETIRED-RULE");
        assert_eq!(id.to_string(), "OLD-RETIRED-RULE");
    }
}
