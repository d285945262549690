//! In-memory state of the reference server: registered clients, pending consents, codes,
//! refresh tokens and MCP sessions. Every map is bounded; the oldest entry goes first.

use std::collections::HashMap;

/// Most entries kept per map.
pub const MAX_ENTRIES: usize = 10_000;

/// A client registered through DCR.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    /// The issued client id.
    pub client_id: String,
    /// The secret, for confidential clients.
    pub client_secret: Option<String>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Registered grant types.
    pub grant_types: Vec<String>,
    /// The whole registration response, for RFC 7592 reads.
    pub document: serde_json::Value,
    /// RFC 7592 registration access token.
    pub registration_access_token: String,
    /// When it was registered.
    pub created: i64,
}

/// A validated authorization request waiting for consent (or being turned into a code).
#[derive(Debug, Clone)]
pub struct AuthzRequest {
    /// Client id.
    pub client_id: String,
    /// The redirect URI exactly as sent.
    pub redirect_uri: String,
    /// Whether `redirect_uri` was present in the request (then token must repeat it).
    pub redirect_uri_sent: bool,
    /// Opaque client state.
    pub state: Option<String>,
    /// S256 challenge.
    pub code_challenge: String,
    /// Granted scopes, space-delimited.
    pub scope: String,
    /// The resource (audience) the code is bound to.
    pub resource: String,
    /// When it was created.
    pub created: i64,
}

/// A refresh token's grant (one rotation family).
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    /// Client id.
    pub client_id: String,
    /// Granted scopes.
    pub scope: String,
    /// Audience.
    pub resource: String,
    /// Rotation family id (shared by all refresh tokens descending from one code).
    pub family: String,
    /// When it was issued.
    pub created: i64,
}

/// An MCP session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Negotiated protocol version.
    pub protocol_version: String,
    /// Next SSE event number.
    pub next_event: u64,
    /// When it was created.
    pub created: i64,
    /// `logging/setLevel`: index of the least severe level sent (RFC 5424 order), if set.
    pub log_level: Option<usize>,
}

/// All mutable server state, behind one mutex.
#[derive(Debug, Default)]
pub struct Store {
    /// Clients by id.
    pub clients: HashMap<String, RegisteredClient>,
    /// Consent forms by their one-time ticket.
    pub consents: HashMap<String, AuthzRequest>,
    /// Authorization codes (single use).
    pub codes: HashMap<String, AuthzRequest>,
    /// Codes already redeemed, with the family they produced (to revoke on reuse).
    pub used_codes: HashMap<String, (String, i64)>,
    /// Live refresh tokens.
    pub refresh: HashMap<String, RefreshGrant>,
    /// Refresh tokens already rotated away, with their family.
    pub rotated: HashMap<String, (String, i64)>,
    /// MCP sessions by id.
    pub sessions: HashMap<String, Session>,
}

/// Something with a creation time, so bounded maps can drop the oldest entry.
pub trait Aged {
    /// Seconds since the epoch when it was created.
    fn created(&self) -> i64;
}

macro_rules! aged {
    ($($t:ty),*) => {$(impl Aged for $t { fn created(&self) -> i64 { self.created } })*};
}
aged!(RegisteredClient, AuthzRequest, RefreshGrant, Session);

impl Aged for (String, i64) {
    fn created(&self) -> i64 {
        self.1
    }
}

/// Inserts into a map holding at most [`MAX_ENTRIES`], evicting the oldest entry first.
pub fn insert_bounded<V: Aged>(map: &mut HashMap<String, V>, key: String, value: V) {
    if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
        let oldest = map
            .iter()
            .min_by_key(|(_, v)| v.created())
            .map(|(k, _)| k.clone());
        if let Some(oldest) = oldest {
            map.remove(&oldest);
        }
    }
    map.insert(key, value);
}

impl Store {
    /// Revokes every live refresh token of a family (after code or refresh-token reuse).
    pub fn revoke_family(&mut self, family: &str) {
        self.refresh.retain(|_, grant| grant.family != family);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_insert_evicts_oldest() {
        let mut map = HashMap::new();
        for i in 0..MAX_ENTRIES as i64 {
            insert_bounded(&mut map, format!("k{i}"), (String::new(), i + 10));
        }
        insert_bounded(&mut map, "new".into(), (String::new(), 1));
        assert_eq!(map.len(), MAX_ENTRIES);
        assert!(!map.contains_key("k0"));
        assert!(map.contains_key("new"));
    }
}
