//! The typed view of one exchange, built once when the engine receives it: URL parts, query,
//! fragment and form pairs, the JSON bodies and JSON-RPC method, the `WWW-Authenticate`
//! challenges, the `Location` of a redirect and the claims of an issued JWT access token.
//!
//! Phase classification, correlation and every rule read the same [`ExchangeView`], so each
//! part of an exchange is parsed at most once. Parts are parsed lazily on first use (a big
//! JSON body is never parsed as a form, a body no one asks about is never parsed at all) and
//! kept for every later reader.

use std::cell::OnceCell;

use serde_json::{Map, Value};

use crate::model::{Exchange, Headers};
use crate::parse::form::Pairs;
use crate::parse::jwt::Jwt;
use crate::parse::urls;
use crate::parse::www_authenticate::{self, ParsedChallenges};

/// One exchange and what was parsed out of it, each part at most once.
#[derive(Debug)]
pub struct ExchangeView<'a> {
    exchange: &'a Exchange,
    method: String,
    origin: OnceCell<Option<String>>,
    query: OnceCell<Pairs>,
    fragment: OnceCell<Pairs>,
    form: OnceCell<Pairs>,
    request_json: OnceCell<Option<Value>>,
    response_json: OnceCell<Option<Value>>,
    challenges: OnceCell<Option<ParsedChallenges>>,
    location_query: OnceCell<Pairs>,
    location_fragment: OnceCell<Pairs>,
    basic_user: OnceCell<Option<String>>,
    sse_json: OnceCell<Vec<Option<Value>>>,
    issued_jwt: OnceCell<Option<Jwt>>,
}

impl<'a> ExchangeView<'a> {
    /// The view of `exchange`; nothing is parsed until asked for.
    pub fn new(exchange: &'a Exchange) -> Self {
        #[cfg(test)]
        counts::bump(counts::Part::View);
        Self {
            exchange,
            method: exchange.request.method.to_ascii_uppercase(),
            origin: OnceCell::new(),
            query: OnceCell::new(),
            fragment: OnceCell::new(),
            form: OnceCell::new(),
            request_json: OnceCell::new(),
            response_json: OnceCell::new(),
            challenges: OnceCell::new(),
            location_query: OnceCell::new(),
            location_fragment: OnceCell::new(),
            basic_user: OnceCell::new(),
            sse_json: OnceCell::new(),
            issued_jwt: OnceCell::new(),
        }
    }

    /// The raw record.
    pub fn exchange(&self) -> &'a Exchange {
        self.exchange
    }

    /// The request method, upper-case.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request URL as sent.
    pub fn url(&self) -> &'a str {
        &self.exchange.request.url
    }

    /// The request URL without query and fragment, as written.
    pub fn base_url(&self) -> &'a str {
        urls::without_query(self.url())
    }

    /// The request path as written (`""` for a bare origin).
    pub fn path(&self) -> &'a str {
        urls::raw_path(self.url())
    }

    /// The request URL's origin, normalised (see [`urls::origin`]).
    pub fn origin(&self) -> Option<&str> {
        self.origin
            .get_or_init(|| {
                #[cfg(test)]
                counts::bump(counts::Part::Origin);
                urls::origin(self.url())
            })
            .as_deref()
    }

    /// The request URL's query pairs.
    pub fn query(&self) -> &Pairs {
        self.query.get_or_init(|| {
            #[cfg(test)]
            counts::bump(counts::Part::Query);
            Pairs::from_url_query(self.url())
        })
    }

    /// The request URL's fragment parsed as pairs.
    pub fn fragment(&self) -> &Pairs {
        self.fragment
            .get_or_init(|| Pairs::from_url_fragment(self.url()))
    }

    /// The request body parsed as form pairs (empty without a text body).
    pub fn form(&self) -> &Pairs {
        self.form.get_or_init(|| {
            #[cfg(test)]
            counts::bump(counts::Part::Form);
            Pairs::parse(self.request_text().unwrap_or(""))
        })
    }

    /// The request media type (lower-case, without parameters).
    pub fn request_media_type(&self) -> Option<String> {
        self.exchange.request.media_type()
    }

    /// The request body text, if captured as UTF-8.
    pub fn request_text(&self) -> Option<&'a str> {
        self.exchange.request.body_text()
    }

    /// The request body parsed as JSON.
    pub fn request_json(&self) -> Option<&Value> {
        self.request_json
            .get_or_init(|| {
                #[cfg(test)]
                counts::bump(counts::Part::RequestJson);
                serde_json::from_str(self.request_text()?).ok()
            })
            .as_ref()
    }

    /// The request body as a JSON object.
    pub fn request_object(&self) -> Option<&Map<String, Value>> {
        self.request_json()?.as_object()
    }

    /// The JSON-RPC method of the request body (a single message).
    pub fn rpc_method(&self) -> Option<&str> {
        self.request_json()?.get("method")?.as_str()
    }

    /// The credentials of `Authorization: Bearer <t>`.
    pub fn bearer_token(&self) -> Option<&'a str> {
        let v = self.exchange.request.header("authorization")?;
        let (scheme, rest) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    }

    /// The user name of `Authorization: Basic <credentials>` (form-decoded, RFC 6749 §2.3.1).
    pub fn basic_user(&self) -> Option<&str> {
        self.basic_user
            .get_or_init(|| basic_user(self.exchange.request.header("authorization")?))
            .as_deref()
    }

    /// The response status, if a response arrived.
    pub fn status(&self) -> Option<u16> {
        self.exchange.response.as_ref().map(|r| r.status)
    }

    /// The response body parsed as JSON (complete UTF-8 bodies only).
    pub fn response_json(&self) -> Option<&Value> {
        self.response_json
            .get_or_init(|| {
                #[cfg(test)]
                counts::bump(counts::Part::ResponseJson);
                self.exchange.response.as_ref()?.body.as_ref()?.json()
            })
            .as_ref()
    }

    /// The response body as a JSON object.
    pub fn response_object(&self) -> Option<&Map<String, Value>> {
        self.response_json()?.as_object()
    }

    /// The data of each server-sent event of the response parsed as JSON, in event order
    /// (`None` for an event whose data is not JSON).
    pub fn sse_json(&self) -> &[Option<Value>] {
        self.sse_json.get_or_init(|| {
            let Some(r) = self.exchange.response.as_ref() else {
                return Vec::new();
            };
            #[cfg(test)]
            counts::bump(counts::Part::SseJson);
            r.sse_events
                .iter()
                .map(|e| serde_json::from_str(&e.data).ok())
                .collect()
        })
    }

    /// The response's `WWW-Authenticate` challenges; `None` without such a header.
    pub fn challenges(&self) -> Option<&ParsedChallenges> {
        self.challenges
            .get_or_init(|| {
                let r = self.exchange.response.as_ref()?;
                let lines: Vec<&str> = r.header_all("www-authenticate").collect();
                if lines.is_empty() {
                    return None;
                }
                #[cfg(test)]
                counts::bump(counts::Part::Challenges);
                Some(www_authenticate::parse(lines))
            })
            .as_ref()
    }

    /// The `Location` of a 3xx response.
    pub fn redirect_location(&self) -> Option<&'a str> {
        self.exchange
            .response
            .as_ref()
            .filter(|r| (300..400).contains(&r.status))?
            .header("location")
    }

    /// The query pairs of the redirect `Location` (empty without one).
    pub fn location_query(&self) -> &Pairs {
        self.location_query.get_or_init(|| {
            self.redirect_location()
                .map(Pairs::from_url_query)
                .unwrap_or_default()
        })
    }

    /// The fragment pairs of the redirect `Location` (empty without one).
    pub fn location_fragment(&self) -> &Pairs {
        self.location_fragment.get_or_init(|| {
            self.redirect_location()
                .map(Pairs::from_url_fragment)
                .unwrap_or_default()
        })
    }

    /// The `access_token` of the response's JSON object, decoded when it is a JWT (whatever
    /// the status; callers judge that).
    pub fn issued_jwt(&self) -> Option<&Jwt> {
        self.issued_jwt
            .get_or_init(|| {
                let token = self.response_object()?.get("access_token")?.as_str()?;
                #[cfg(test)]
                counts::bump(counts::Part::IssuedJwt);
                Jwt::decode(token)
            })
            .as_ref()
    }
}

/// The user name of a `Basic` Authorization header value.
fn basic_user(value: &str) -> Option<String> {
    use base64::Engine as _;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let user = text.split(':').next()?;
    Some(
        url::form_urlencoded::parse(format!("u={user}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default(),
    )
}

/// How often each part was parsed on this thread (test builds only): the engine's tests
/// check that one exchange is parsed once however many rules read it.
#[cfg(test)]
pub(crate) mod counts {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// A counted part of the view.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub(crate) enum Part {
        View,
        Origin,
        Query,
        Form,
        RequestJson,
        ResponseJson,
        Challenges,
        SseJson,
        IssuedJwt,
    }

    thread_local! {
        static COUNTS: RefCell<BTreeMap<Part, usize>> = const { RefCell::new(BTreeMap::new()) };
    }

    pub(super) fn bump(part: Part) {
        COUNTS.with(|c| *c.borrow_mut().entry(part).or_default() += 1);
    }

    /// The counts so far, and resets them.
    pub(crate) fn take() -> BTreeMap<Part, usize> {
        COUNTS.with(|c| std::mem::take(&mut *c.borrow_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(url: &str, www_authenticate: &str) -> Exchange {
        let record = serde_json::json!({
            "id": 1,
            "started_at": "2026-01-01T00:00:00Z",
            "timings": {},
            "request": {"method": "get", "url": url, "http_version": "HTTP/1.1", "headers": []},
            "response": {
                "status": 401,
                "http_version": "HTTP/1.1",
                "headers": [{"name": "www-authenticate", "value": www_authenticate}]
            },
            "outcome": "complete"
        });
        serde_json::from_value(record).expect("a valid exchange record")
    }

    #[test]
    fn parses_each_part_once_however_often_it_is_read() {
        let ex = exchange(
            "https://h/mcp?a=1&b=2#f=3",
            r#"Bearer resource_metadata="https://h/.well-known/oauth-protected-resource""#,
        );
        counts::take();
        let view = ExchangeView::new(&ex);
        for _ in 0..3 {
            assert_eq!(view.query().first("b"), Some("2"));
            assert!(view.challenges().and_then(|c| c.bearer()).is_some());
            assert_eq!(view.origin(), Some("https://h"));
        }
        assert_eq!(view.method(), "GET");
        assert_eq!(view.base_url(), "https://h/mcp");
        assert_eq!(view.path(), "/mcp");
        assert_eq!(view.fragment().first("f"), Some("3"));
        let counts = counts::take();
        for part in [
            counts::Part::View,
            counts::Part::Query,
            counts::Part::Challenges,
            counts::Part::Origin,
        ] {
            assert_eq!(counts.get(&part), Some(&1), "{part:?}: {counts:?}");
        }
        assert_eq!(counts.get(&counts::Part::Form), None, "never asked for");
    }
}
