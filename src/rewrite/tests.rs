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
        Route::Redirect { location, rewrites } => {
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
