//! The "callback view": the authorization response as carried by a redirect `Location`
//! (reverse mode with an auto-approving AS) or by the browser's request to the `redirect_uri`.
//! It borrows the pairs the exchange's [`ExchangeView`] parsed.

use crate::flow::state::Flow;
use crate::model::Phase;
use crate::parse::form::Pairs;
use crate::parse::urls;
use crate::parse::view::ExchangeView;

/// The authorization response carried by an exchange.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallbackView<'a> {
    /// The callback URL (the `Location`, or the request URL).
    pub url: &'a str,
    /// Query parameters of the callback URL.
    pub query: &'a Pairs,
    /// Fragment parameters of the callback URL.
    pub fragment: &'a Pairs,
    /// Seen as a redirect `Location` (true) or as the request to the redirect URI (false).
    pub via_location: bool,
    /// Status of the redirect, when via `Location`.
    pub redirect_status: Option<u16>,
}

impl<'a> CallbackView<'a> {
    /// First query value.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.query.first(name)
    }
}

/// Finds the authorization response in an exchange: a 3xx `Location` to a known redirect URI
/// or carrying `code`/`error` with `state`, or the request to a redirect URI itself.
pub fn callback_view<'a>(
    view: &'a ExchangeView<'_>,
    phase: Phase,
    flows: &[Flow],
) -> Option<CallbackView<'a>> {
    let redirect_status = view.status().filter(|s| (300..400).contains(s));
    if let Some(loc) = view.redirect_location() {
        let (q, f) = (view.location_query(), view.location_fragment());
        let known = flows
            .iter()
            .any(|fl| fl.knows_redirect_uri(urls::without_query(loc)));
        let shaped = (q.has("code") || q.has("error") || f.has("access_token"))
            && (q.has("state") || f.has("state"));
        let from_authorize = matches!(phase, Phase::Authorize | Phase::Callback);
        if known || (shaped && from_authorize) {
            return Some(CallbackView {
                url: loc,
                query: q,
                fragment: f,
                via_location: true,
                redirect_status,
            });
        }
    }
    (phase == Phase::Callback && redirect_status.is_none()).then(|| CallbackView {
        url: view.url(),
        query: view.query(),
        fragment: view.fragment(),
        via_location: false,
        redirect_status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::testkit::*;

    #[test]
    fn finds_callback_in_authorize_redirect() {
        let ex = get(
            "https://as/authorize?response_type=code&state=s&redirect_uri=http://127.0.0.1:9/cb",
        )
        .status(302)
        .resp_header(
            "location",
            "http://127.0.0.1:9/cb?code=c1&state=s&iss=https%3A%2F%2Fas",
        )
        .build();
        let view = ExchangeView::new(&ex);
        let v = callback_view(&view, Phase::Authorize, &[]).unwrap();
        assert!(v.via_location);
        assert_eq!(v.get("iss"), Some("https://as"));
    }
}
