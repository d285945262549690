//! What the rewriter learns while flows pass through it (no I/O; bounded; shared by clones).
//!
//! - `resource_metadata` URLs named by challenges: the documents served there are PRM
//!   whatever their path (RFC 9728 §5.1 lets a server put it anywhere), so their bodies are
//!   rewritten like a well-known PRM.
//! - Registration endpoints named by AS metadata (`/reg`, `/api/auth/mcp/register`…): their
//!   JSON requests get the bounce URIs added and their responses lose them again.
//! - Which `(client_id, redirect_uri)` pairs the AS registered together with authtap's
//!   callback bounce URI: only those authorization requests may name the bounce URI.
//! - Which authorization codes came back through the bounce: only those token requests get
//!   their `redirect_uri` mapped to the bounce URI.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

/// Most entries kept per kind; the oldest go first.
const CAPACITY: usize = 4096;

/// A set that forgets its oldest entries beyond [`CAPACITY`].
#[derive(Debug)]
struct BoundedSet<T> {
    order: VecDeque<T>,
    members: HashSet<T>,
}

impl<T> Default for BoundedSet<T> {
    fn default() -> Self {
        Self {
            order: VecDeque::new(),
            members: HashSet::new(),
        }
    }
}

impl<T: Eq + Hash + Clone> BoundedSet<T> {
    fn insert(&mut self, value: T) {
        if !self.members.insert(value.clone()) {
            return;
        }
        self.order.push_back(value);
        while self.order.len() > CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.members.remove(&old);
            }
        }
    }

    fn contains(&self, value: &T) -> bool {
        self.members.contains(value)
    }
}

#[derive(Debug, Default)]
struct Inner {
    prm_urls: BoundedSet<String>,
    registration_endpoints: BoundedSet<String>,
    bounced_clients: BoundedSet<(String, String)>,
    /// Clients the user said are registered with the bounce URIs (`--bounce-client`).
    declared_clients: HashSet<String>,
    /// Clients whose registration response came back without any bounce URI.
    registered_without_bounce: BoundedSet<String>,
    bounced_codes: BoundedSet<String>,
}

/// The learned facts (see the module doc).
#[derive(Debug, Default)]
pub struct Learned {
    inner: Mutex<Inner>,
}

impl Learned {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A challenge named `url` (upstream space) as its `resource_metadata`.
    pub fn prm_url(&self, url: &str) {
        let url = url.split(['?', '#']).next().unwrap_or(url);
        self.lock().prm_urls.insert(url.to_string());
    }

    /// Whether `url` (upstream space, query ignored) was named as a `resource_metadata` URL.
    pub fn is_prm_url(&self, url: &str) -> bool {
        let url = url.split(['?', '#']).next().unwrap_or(url);
        self.lock().prm_urls.contains(&url.to_string())
    }

    /// AS metadata named `url` (upstream space) as its `registration_endpoint`.
    pub fn registration_endpoint(&self, url: &str) {
        self.lock().registration_endpoints.insert(url.to_string());
    }

    /// Whether `url` (upstream space, query ignored) is a known registration endpoint.
    pub fn is_registration_endpoint(&self, url: &str) -> bool {
        let url = url.split(['?', '#']).next().unwrap_or(url);
        self.lock()
            .registration_endpoints
            .contains(&url.to_string())
    }

    /// The AS registered `client_id` with the bounce URI of `redirect_uri`.
    pub fn bounced_client(&self, client_id: &str, redirect_uri: &str) {
        self.lock()
            .bounced_clients
            .insert((client_id.to_string(), redirect_uri.to_string()));
    }

    /// A registration response for `client_id` listed no bounce URI (the AS dropped it, or
    /// authtap could not add it).
    pub fn registered_without_bounce(&self, client_id: &str) {
        self.lock()
            .registered_without_bounce
            .insert(client_id.to_string());
    }

    /// Whether `client_id` registered through authtap but without a bounce URI.
    pub fn is_registered_without_bounce(&self, client_id: &str) -> bool {
        self.lock()
            .registered_without_bounce
            .contains(&client_id.to_string())
    }

    /// The user said `client_id` is registered with the bounce URIs of its redirect URIs.
    pub fn declared_client(&self, client_id: &str) {
        self.lock().declared_clients.insert(client_id.to_string());
    }

    /// Whether `client_id` may use the bounce URI of `redirect_uri`.
    pub fn is_bounced_client(&self, client_id: &str, redirect_uri: &str) -> bool {
        let inner = self.lock();
        inner.declared_clients.contains(client_id)
            || inner
                .bounced_clients
                .contains(&(client_id.to_string(), redirect_uri.to_string()))
    }

    /// An authorization code came back through the bounce.
    pub fn bounced_code(&self, code: &str) {
        self.lock().bounced_codes.insert(code.to_string());
    }

    /// Whether `code` came back through the bounce.
    pub fn is_bounced_code(&self, code: &str) -> bool {
        self.lock().bounced_codes.contains(&code.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets_the_oldest_beyond_capacity() {
        let l = Learned::default();
        l.prm_url("https://u/custom/prm?v=1");
        assert!(l.is_prm_url("https://u/custom/prm?x=1"));
        assert!(!l.is_prm_url("https://u/custom"));
        l.registration_endpoint("https://as/reg");
        assert!(l.is_registration_endpoint("https://as/reg"));
        assert!(!l.is_registration_endpoint("https://as/reg/x"));
        l.bounced_client("c1", "http://127.0.0.1:5/cb");
        assert!(l.is_bounced_client("c1", "http://127.0.0.1:5/cb"));
        assert!(!l.is_bounced_client("c2", "http://127.0.0.1:5/cb"));
        l.registered_without_bounce("c3");
        assert!(l.is_registered_without_bounce("c3"));
        assert!(!l.is_registered_without_bounce("c2"));
        l.declared_client("c2");
        assert!(l.is_bounced_client("c2", "https://any/cb"));
        for i in 0..=CAPACITY {
            l.bounced_code(&format!("code-{i}"));
        }
        assert!(!l.is_bounced_code("code-0"));
        assert!(l.is_bounced_code(&format!("code-{CAPACITY}")));
    }
}
