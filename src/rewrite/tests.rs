//! Unit tests of the rewriter: routing, R1, R2/R3/R5/R6, R4, R7, R9, byte-exactness.

use super::*;

fn rw(upstream: &str, proxy: &str) -> Rewriter {
    Rewriter::new(
        &url::Url::parse(upstream).unwrap(),
        &url::Url::parse(proxy).unwrap(),
        true,
    )
}

fn forward(route: Route) -> String {
    match route {
        Route::Forward { url, .. } => url,
        other => panic!("{other:?}"),
    }
}

#[test]
fn routes_paths_one_to_one_by_default() {
    let r = rw("https://real.example/mcp", "https://localhost:8443");
    assert_eq!(forward(r.route("/mcp?x=1")), "https://real.example/mcp?x=1");
    assert_eq!(
        forward(r.route("/.well-known/oauth-protected-resource/mcp")),
        "https://real.example/.well-known/oauth-protected-resource/mcp"
    );
}

#[test]
fn maps_prefixes_inside_well_known_paths() {
    // Upstream base with a prefix, proxy behind a tunnel with another prefix (R4).
    let r = rw("https://real.example/tenant/", "https://tunnel.example/dbg");
    assert_eq!(
        forward(r.route("/dbg/mcp")),
        "https://real.example/tenant/mcp"
    );
    assert_eq!(
        forward(r.route("/.well-known/oauth-protected-resource/dbg/mcp")),
        "https://real.example/.well-known/oauth-protected-resource/tenant/mcp"
    );
    assert_eq!(
        r.upstream_to_proxy("https://real.example/.well-known/oauth-protected-resource/tenant/mcp")
            .unwrap(),
        "https://tunnel.example/.well-known/oauth-protected-resource/dbg/mcp"
    );
    assert_eq!(
        r.upstream_to_proxy("https://real.example/tenant/mcp")
            .unwrap(),
        "https://tunnel.example/dbg/mcp"
    );
}

#[test]
fn routes_foreign_origins_and_their_well_known_urls() {
    let r = rw("https://real.example/mcp", "https://localhost:8443");
    let issuer = r.any_to_proxy("https://as.example:9000/tenant").unwrap();
    assert_eq!(
        issuer,
        "https://localhost:8443/__authtap/o/https/as.example/9000/tenant"
    );
    assert_eq!(
        forward(r.route("/__authtap/o/https/as.example/9000/tenant/token")),
        "https://as.example:9000/tenant/token"
    );
    // RFC 8414 path insertion on the rewritten issuer.
    assert_eq!(
        forward(r.route(
            "/.well-known/oauth-authorization-server/__authtap/o/https/as.example/9000/tenant"
        )),
        "https://as.example:9000/.well-known/oauth-authorization-server/tenant"
    );
    // OIDC suffix form.
    assert_eq!(
        forward(
            r.route("/__authtap/o/https/as.example/9000/tenant/.well-known/openid-configuration")
        ),
        "https://as.example:9000/tenant/.well-known/openid-configuration"
    );
    assert_eq!(
        r.proxy_to_upstream(&issuer).unwrap(),
        "https://as.example:9000/tenant"
    );
}

#[test]
fn redirects_authorize_and_maps_resource_back() {
    let r = rw("https://real.example/mcp", "https://localhost:8443");
    let ep = r
        .authorize_to_proxy("https://as.example/oauth/authorize")
        .unwrap();
    let path = ep.strip_prefix("https://localhost:8443").unwrap();
    let target =
        format!("{path}?client_id=c&resource=https%3A%2F%2Flocalhost%3A8443%2Fmcp&state=s");
    match r.route(&target) {
        Route::Redirect {
            location,
            rewrites,
            callback,
        } => {
            assert!(
                matches!(callback, CallbackLeg::Direct { .. }),
                "{callback:?}"
            );
            assert_eq!(
                location,
                "https://as.example/oauth/authorize?client_id=c&resource=https%3A%2F%2Freal.example%2Fmcp&state=s"
            );
            assert_eq!(rewrites[0].from, "https://localhost:8443/mcp");
            assert_eq!(rewrites[0].to, "https://real.example/mcp");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn maps_resource_in_token_form_keeping_other_bytes() {
    let r = rw("https://real.example/mcp", "https://localhost:8443");
    let body =
        "grant_type=authorization_code&code=a%2Bb&resource=https%3A%2F%2Flocalhost%3A8443%2Fmcp";
    let (new, rewrites) = r.request_form(body).unwrap();
    assert_eq!(
        new,
        "grant_type=authorization_code&code=a%2Bb&resource=https%3A%2F%2Freal.example%2Fmcp"
    );
    assert_eq!(rewrites.len(), 1);
    assert!(
        r.request_form("grant_type=refresh_token&refresh_token=x")
            .is_none()
    );
}

#[test]
fn rewrites_resource_metadata_in_challenge_only() {
    let r = rw("https://real.example/mcp", "https://localhost:8443");
    let v = r#"Bearer error="invalid_token", resource_metadata="https://real.example/.well-known/oauth-protected-resource/mcp", scope="a b""#;
    assert_eq!(
        r.response_header("www-authenticate", v).unwrap(),
        r#"Bearer error="invalid_token", resource_metadata="https://localhost:8443/.well-known/oauth-protected-resource/mcp", scope="a b""#
    );
    assert_eq!(
        r.response_header("location", "https://real.example/mcp/")
            .unwrap(),
        "https://localhost:8443/mcp/"
    );
    assert!(
        r.response_header("location", "https://elsewhere.example/cb?code=x")
            .is_none()
    );
    assert!(r.response_header("content-type", "text/plain").is_none());
}

#[test]
fn rewrites_prm_and_asm_bodies_byte_exactly() {
    let r = rw("https://real.example/mcp", "https://localhost:8443");
    let prm = br#"{"resource":"https://real.example/mcp","authorization_servers":["https://real.example"],"n":1.50}"#;
    let (body, rewrites) = r.response_json(prm).unwrap();
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        r#"{"resource":"https://localhost:8443/mcp","authorization_servers":["https://localhost:8443"],"n":1.50}"#
    );
    assert_eq!(rewrites.len(), 2);

    let asm = br#"{"issuer":"https://real.example","authorization_endpoint":"https://real.example/authorize","token_endpoint":"https://real.example/token","registration_endpoint":"https://real.example/register","service_documentation":"https://real.example/docs"}"#;
    let (body, _) = r.response_json(asm).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["issuer"], "https://localhost:8443");
    assert_eq!(
        v["authorization_endpoint"],
        "https://localhost:8443/__authtap/authorize/https/real.example/-/authorize"
    );
    assert_eq!(v["token_endpoint"], "https://localhost:8443/token");
    assert_eq!(
        v["registration_endpoint"],
        "https://localhost:8443/register"
    );
    assert_eq!(v["service_documentation"], "https://real.example/docs");
}

#[test]
fn falls_back_to_reserialising_escaped_slashes() {
    let r = rw("https://real.example/mcp", "https://localhost:8443");
    let prm = br#"{"resource":"https:\/\/real.example\/mcp"}"#;
    let (body, _) = r.response_json(prm).unwrap();
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        r#"{"resource":"https://localhost:8443/mcp"}"#
    );
}

#[test]
fn disabled_rewriter_only_routes() {
    let r = Rewriter::new(
        &url::Url::parse("https://real.example/mcp").unwrap(),
        &url::Url::parse("https://localhost:8443").unwrap(),
        false,
    );
    assert_eq!(forward(r.route("/mcp")), "https://real.example/mcp");
    assert!(
        r.response_json(br#"{"resource":"https://real.example/mcp"}"#)
            .is_none()
    );
    assert!(
        r.response_header("location", "https://real.example/x")
            .is_none()
    );
}

/// Registration with bounce URIs, then authorize, the bounce and the token request.
#[test]
fn bounces_a_registered_client_through_authorize_callback_and_token() {
    let r = rw("https://real.example/mcp", "https://localhost:8443")
        .with_loopback_bounce_port(Some(40000));
    let redirect_uri = "http://127.0.0.1:5555/callback";
    let bounce = r.bounce_uri(redirect_uri).unwrap();
    let authorize = r
        .authorize_to_proxy("https://as.example/oauth/authorize")
        .unwrap();
    let path = authorize.strip_prefix("https://localhost:8443").unwrap();
    let target = format!(
        "{path}?client_id=c1&redirect_uri={}&state=s",
        urls::form_encode(redirect_uri)
    );
    // Before the AS accepted a registration with B(r): no bounce, and the reason.
    match r.route(&target) {
        Route::Redirect {
            callback: CallbackLeg::Direct { why },
            location,
            ..
        } => {
            assert!(
                why.contains("did not register through this authtap run"),
                "{why}"
            );
            assert!(location.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback"));
        }
        other => panic!("{other:?}"),
    }
    let resp = format!(r#"{{"client_id":"c1","redirect_uris":["{redirect_uri}","{bounce}"]}}"#);
    let (body, rewrites) = r.response_json(resp.as_bytes()).unwrap();
    assert!(!String::from_utf8(body).unwrap().contains("__authtap"));
    assert_eq!(rewrites[0].location, "body:$.redirect_uris");
    match r.route(&target) {
        Route::Redirect {
            callback,
            location,
            rewrites,
        } => {
            assert_eq!(
                callback,
                CallbackLeg::Bounced {
                    redirect_uri: redirect_uri.into()
                }
            );
            assert_eq!(
                location,
                format!(
                    "https://as.example/oauth/authorize?client_id=c1&redirect_uri={}&state=s",
                    urls::form_encode(&bounce)
                )
            );
            assert_eq!(rewrites[0].location, "query:redirect_uri");
            assert_eq!(rewrites[0].to, bounce);
        }
        other => panic!("{other:?}"),
    }
    // The AS redirects the browser to B(r); authtap sends it on to r.
    let bounce_target = format!(
        "{}?code=k1&state=s&iss=https%3A%2F%2Fas.example",
        bounce.strip_prefix("http://127.0.0.1:40000").unwrap()
    );
    match r.route(&bounce_target) {
        Route::Bounce(back) => {
            assert_eq!(back.redirect_uri, redirect_uri);
            assert_eq!(
                back.upstream_location,
                format!("{redirect_uri}?code=k1&state=s&iss=https%3A%2F%2Fas.example")
            );
            assert_eq!(
                back.location,
                format!(
                    "{redirect_uri}?code=k1&state=s&iss={}",
                    urls::form_encode("https://localhost:8443/__authtap/o/https/as.example/-")
                )
            );
        }
        other => panic!("{other:?}"),
    }
    // Token: redirect_uri r → B(r) for the bounced code only.
    let form = format!(
        "grant_type=authorization_code&code=k1&redirect_uri={}",
        urls::form_encode(redirect_uri)
    );
    let (new, rewrites) = r.request_form(&form).unwrap();
    assert_eq!(
        new,
        format!(
            "grant_type=authorization_code&code=k1&redirect_uri={}",
            urls::form_encode(&bounce)
        )
    );
    assert_eq!(rewrites[0].location, "body:redirect_uri");
    let other = form.replace("code=k1", "code=k2");
    assert!(r.request_form(&other).is_none());
}

#[test]
fn cimd_clients_and_unknown_authtap_paths_are_named() {
    let r = rw("https://real.example/mcp", "https://localhost:8443");
    let authorize = r
        .authorize_to_proxy("https://real.example/authorize")
        .unwrap();
    let path = authorize.strip_prefix("https://localhost:8443").unwrap();
    let target = format!(
        "{path}?client_id=https%3A%2F%2Fapp.example%2Fclient.json&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"
    );
    match r.route(&target) {
        Route::Redirect {
            callback: CallbackLeg::Direct { why },
            ..
        } => {
            assert!(why.contains("Client ID Metadata Document"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    // The colon form a URL normalizer produces is answered by authtap, never forwarded.
    assert_eq!(
        r.route("/__authtap/authorize/http/127.0.0.1%3A39101/authorize?x=1"),
        Route::Unknown {
            path: "/__authtap/authorize/http/127.0.0.1%3A39101/authorize".into()
        }
    );
}

/// A challenge's resource_metadata at any path makes the document there PRM (rewritten).
#[test]
fn learns_custom_resource_metadata_urls_from_challenges() {
    let r = rw("https://real.example/mcp", "https://localhost:8443");
    let prm = "https://real.example/custom/prm-doc";
    assert!(!r.wants_json_body(prm, "GET", Some("application/json")));
    let challenge = format!(r#"Bearer resource_metadata="{prm}""#);
    assert_eq!(
        r.response_header("www-authenticate", &challenge).unwrap(),
        r#"Bearer resource_metadata="https://localhost:8443/custom/prm-doc""#
    );
    assert!(r.wants_json_body(prm, "GET", Some("application/json")));
    assert_eq!(forward(r.route("/custom/prm-doc")), prm);
    // On another origin too: mapped under the proxy, then learned as PRM.
    let foreign = "https://meta.example/prm";
    let mapped = r
        .response_header(
            "www-authenticate",
            &format!("Bearer resource_metadata={foreign}"),
        )
        .unwrap();
    assert_eq!(
        mapped,
        "Bearer resource_metadata=https://localhost:8443/__authtap/o/https/meta.example/-/prm"
    );
    assert!(r.wants_json_body(foreign, "GET", Some("application/json")));
}

/// A registration endpoint at any path (oidc-provider's `/reg`) is learned from the ASM.
#[test]
fn learns_registration_endpoints_from_as_metadata() {
    let r = rw("https://real.example/mcp", "https://localhost:8443");
    let reg = "https://as.example/reg";
    assert!(!r.wants_registration_body(reg, Some("application/json")));
    let asm = format!(r#"{{"issuer":"https://as.example","registration_endpoint":"{reg}"}}"#);
    let (body, _) = r.response_json(asm.as_bytes()).unwrap();
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("/__authtap/o/https/as.example/-/reg")
    );
    assert!(r.wants_registration_body(reg, Some("application/json")));
    assert!(r.wants_json_body(reg, "POST", Some("application/json")));
    assert!(!r.wants_registration_body(reg, Some("text/plain")));
    // RFC 7592: the client's own registration URL, read back or updated.
    let resp = r#"{"client_id":"c1","redirect_uris":["https://a/cb"],"registration_client_uri":"https://as.example/reg/c1"}"#;
    r.response_json(resp.as_bytes()).unwrap();
    assert!(r.wants_json_body("https://as.example/reg/c1", "GET", Some("application/json")));
    assert!(r.wants_registration_body("https://as.example/reg/c1", Some("application/json")));
}

/// `--bounce-client`: a client registered elsewhere with the bounce URIs uses the bounce.
#[test]
fn declared_clients_use_the_bounce_without_a_recorded_registration() {
    let r = rw("https://real.example/mcp", "https://localhost:8443")
        .with_bounce_clients(&["https://app.example/client.json".to_string()]);
    let authorize = r
        .authorize_to_proxy("https://real.example/authorize")
        .unwrap();
    let path = authorize.strip_prefix("https://localhost:8443").unwrap();
    let target = format!(
        "{path}?client_id={}&redirect_uri={}",
        urls::form_encode("https://app.example/client.json"),
        urls::form_encode("https://app.example/cb")
    );
    match r.route(&target) {
        Route::Redirect {
            callback, location, ..
        } => {
            assert_eq!(
                callback,
                CallbackLeg::Bounced {
                    redirect_uri: "https://app.example/cb".into()
                }
            );
            let bounce = r.bounce_uri("https://app.example/cb").unwrap();
            assert!(
                location.ends_with(&urls::form_encode(&bounce)),
                "{location}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Another client still says why not, naming the URI to add and the flag.
    let other = target.replace("client.json", "other.json");
    match r.route(&other) {
        Route::Redirect {
            callback: CallbackLeg::Direct { why },
            ..
        } => {
            assert!(why.contains("--bounce-client"), "{why}");
            assert!(why.contains("/__authtap/cb/"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

/// A registration that came back without the bounce URI gets its own reason at authorize.
#[test]
fn a_registration_without_the_bounce_uri_is_named_at_authorize() {
    let r = rw("https://real.example/mcp", "https://localhost:8443");
    r.response_json(br#"{"client_id":"c7","redirect_uris":["https://app.example/cb"]}"#);
    let authorize = r
        .authorize_to_proxy("https://real.example/authorize")
        .unwrap();
    let path = authorize.strip_prefix("https://localhost:8443").unwrap();
    let target = format!(
        "{path}?client_id=c7&redirect_uri={}",
        urls::form_encode("https://app.example/cb")
    );
    match r.route(&target) {
        Route::Redirect {
            callback: CallbackLeg::Direct { why },
            ..
        } => assert!(why.contains("lists none of authtap's bounce"), "{why}"),
        other => panic!("{other:?}"),
    }
}
