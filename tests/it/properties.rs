//! Property tests for every parser that reads network bytes (proptest): `WWW-Authenticate`,
//! SSE, forms, JWT decoding, the metadata JSON lints (the rule engine over arbitrary documents),
//! the trace and HAR readers, and redaction.
//!
//! Properties: no panics on arbitrary input; SSE parsed identically whatever the chunk
//! boundaries; forms and JWTs round-trip; the trace reader recovers every complete record
//! among torn lines; redaction is idempotent and never leaks a planted canary.
//!
//! `cargo test` runs a bounded number of cases per property (`PROPTEST_CASES` overrides it);
//! `scripts/fuzz` runs them for minutes each.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use time::OffsetDateTime;

use authtap::model::{
    Exchange, ExchangeId, Header, Outcome, Record, RequestRecord, ResponseRecord, SseEvent, Timings,
};
use authtap::parse::form::Pairs;
use authtap::parse::jwt::Jwt;
use authtap::parse::sse::SseParser;
use authtap::redact::redact_records;
use authtap::tap::RawCapture;
use authtap::tap::decode::to_body_capture;

/// Cases per property: `PROPTEST_CASES` when set, else `default`.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        // Failures are reported with their seed; no files written into the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Arbitrary JSON, a few levels deep, with keys that OAuth metadata and secrets use.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        Just("issuer".to_string()),
        Just("resource".to_string()),
        Just("authorization_servers".to_string()),
        Just("token_endpoint".to_string()),
        Just("registration_endpoint".to_string()),
        Just("code_challenge_methods_supported".to_string()),
        Just("client_secret".to_string()),
        Just("client_secret_expires_at".to_string()),
        Just("redirect_uris".to_string()),
        Just("access_token".to_string()),
        Just("scopes_supported".to_string()),
        "[a-z_]{1,12}",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
        "https?://[a-z.]{1,12}(:[0-9]{1,5})?(/[a-z./-]{0,20})?".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn exchange(
    url: &str,
    req_headers: Vec<Header>,
    req_body: Option<&[u8]>,
    status: u16,
    resp_headers: Vec<Header>,
    resp_body: Option<&[u8]>,
) -> Exchange {
    let capture = |b: &[u8], headers: &[Header]| {
        let enc = headers
            .iter()
            .find(|h| h.name == "content-encoding")
            .map(|h| h.value.clone());
        to_body_capture(
            RawCapture {
                bytes: b.to_vec(),
                wire_size: b.len() as u64,
                truncated: false,
                frames: 1,
            },
            enc.as_deref(),
            1 << 20,
        )
    };
    Exchange {
        id: ExchangeId(1),
        started_at: OffsetDateTime::UNIX_EPOCH,
        timings: Timings::default(),
        client_addr: None,
        request: RequestRecord {
            method: "POST".into(),
            url: url.into(),
            client_url: None,
            http_version: "HTTP/1.1".into(),
            body: req_body.and_then(|b| capture(b, &req_headers)),
            headers: req_headers,
        },
        response: Some(ResponseRecord {
            status,
            http_version: "HTTP/1.1".into(),
            body: resp_body.and_then(|b| capture(b, &resp_headers)),
            headers: resp_headers,
            sse_events: vec![],
        }),
        outcome: Outcome::Complete,
        error: None,
        rewrites: vec![],
        phase: None,
        flow: None,
        findings: vec![],
        ofids: vec![],
        mode: Default::default(),
    }
}

/// Text around a planted secret: anything but the characters that would fuse with it
/// (quotes, backslashes, `=`, and name characters right next to it are cut by separators).
fn filler() -> impl Strategy<Value = String> {
    "[^\"\\\\=]{0,40}"
}

/// A canary: unique, long, letters and digits only (every secret family accepts it).
fn canary() -> impl Strategy<Value = String> {
    "[A-Z2-9]{20}".prop_map(|s| format!("CNRY{s}"))
}

/// Where a secret sits, as (request header, request body, response header, response body).
#[derive(Debug, Clone)]
enum Place {
    AuthorizationHeader,
    CustomRequestHeader(String),
    CustomResponseHeader(String),
    SetCookie,
    QueryParam(String),
    FormParam(String),
    JsonMember(String),
    JsonBase64,
    ProviderToken(String),
    Latin1Form,
    BinaryBody,
    GzipJson,
}

fn place() -> impl Strategy<Value = Place> {
    let secret_param = prop_oneof![
        Just("code"),
        Just("code_verifier"),
        Just("client_secret"),
        Just("refresh_token"),
        Just("access_token"),
        Just("password"),
        Just("state"),
        Just("id_token"),
        Just("api_key"),
    ]
    .prop_map(str::to_string);
    let header = prop_oneof![
        Just("x-upstream-key"),
        Just("x-api-key"),
        Just("x-auth-token"),
        Just("x-session"),
        Just("x-signature"),
        Just("x-db-password"),
        Just("cookie"),
    ]
    .prop_map(str::to_string);
    let prefix = prop_oneof![
        Just("ghp_"),
        Just("gho_"),
        Just("github_pat_"),
        Just("sk-ant-"),
        Just("sk-"),
        Just("xoxb-"),
        Just("AKIA"),
    ]
    .prop_map(str::to_string);
    prop_oneof![
        Just(Place::AuthorizationHeader),
        header.clone().prop_map(Place::CustomRequestHeader),
        header.prop_map(Place::CustomResponseHeader),
        Just(Place::SetCookie),
        secret_param.clone().prop_map(Place::QueryParam),
        secret_param.clone().prop_map(Place::FormParam),
        secret_param.prop_map(Place::JsonMember),
        Just(Place::JsonBase64),
        prefix.prop_map(Place::ProviderToken),
        Just(Place::Latin1Form),
        Just(Place::BinaryBody),
        Just(Place::GzipJson),
    ]
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// An exchange with `secret` planted at `place`, surrounded by `before`/`after` text.
fn planted(place: &Place, secret: &str, before: &str, after: &str) -> Exchange {
    let text = |inner: String| format!("{before} {inner} {after}");
    let form = vec![Header::new(
        "content-type",
        "application/x-www-form-urlencoded",
    )];
    let json = vec![Header::new("content-type", "application/json")];
    match place {
        Place::AuthorizationHeader => exchange(
            "https://rs.example/mcp",
            vec![Header::new("authorization", format!("Bearer {secret}"))],
            None,
            200,
            vec![],
            Some(text(String::new()).as_bytes()),
        ),
        Place::CustomRequestHeader(name) => exchange(
            "https://rs.example/mcp",
            vec![Header::new(name, format!("sid={secret}"))],
            None,
            200,
            vec![],
            None,
        ),
        Place::CustomResponseHeader(name) => exchange(
            "https://rs.example/mcp",
            vec![],
            None,
            200,
            vec![Header::new(name, format!("sid={secret}"))],
            None,
        ),
        Place::SetCookie => exchange(
            "https://rs.example/mcp",
            vec![],
            None,
            200,
            vec![Header::new("set-cookie", format!("s={secret}; Path=/"))],
            None,
        ),
        Place::QueryParam(name) => exchange(
            &format!("https://as.example/cb?x=1&{name}={secret}&y=2"),
            vec![],
            None,
            302,
            vec![Header::new(
                "location",
                format!("https://c.example/cb?{name}={secret}"),
            )],
            Some(text(format!("see /cb?{name}={secret}")).as_bytes()),
        ),
        Place::FormParam(name) => exchange(
            "https://as.example/token",
            form,
            Some(format!("grant_type=x&{name}={secret}&n={}", before.len()).as_bytes()),
            200,
            vec![],
            None,
        ),
        Place::JsonMember(name) => exchange(
            "https://as.example/token",
            json.clone(),
            None,
            200,
            json,
            Some(
                serde_json::json!({"note": before, "nested": {name.as_str(): secret}, "after": after})
                    .to_string()
                    .as_bytes(),
            ),
        ),
        Place::JsonBase64 => {
            let blob = base64::engine::general_purpose::STANDARD
                .encode(format!("client_secret={secret}"));
            exchange(
                "https://rs.example/mcp",
                vec![],
                None,
                200,
                json,
                Some(
                    serde_json::json!({"note": before, "blob": blob})
                        .to_string()
                        .as_bytes(),
                ),
            )
        }
        Place::ProviderToken(prefix) => exchange(
            "https://rs.example/mcp",
            vec![],
            None,
            200,
            json,
            Some(
                serde_json::json!({"result": {"content": [{"type": "text", "text": text(format!("{prefix}{secret}"))}]}})
                    .to_string()
                    .as_bytes(),
            ),
        ),
        Place::Latin1Form => {
            let mut body = format!("code={secret}&note=caf").into_bytes();
            body.push(0xe9);
            body.extend_from_slice(before.as_bytes());
            exchange("https://as.example/token", form, Some(&body), 200, vec![], None)
        }
        Place::BinaryBody => {
            let mut body = vec![0u8, 1, 2, 0xff];
            body.extend_from_slice(format!("password={secret}").as_bytes());
            exchange(
                "https://rs.example/upload",
                vec![Header::new("content-type", "application/octet-stream")],
                Some(&body),
                200,
                vec![],
                None,
            )
        }
        Place::GzipJson => {
            let mut headers = json;
            headers.push(Header::new("content-encoding", "gzip"));
            let body = gzip(
                serde_json::json!({"access_token": secret, "note": before})
                    .to_string()
                    .as_bytes(),
            );
            exchange("https://as.example/token", vec![], None, 200, headers, Some(&body))
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn www_authenticate_never_panics(lines in prop::collection::vec(".{0,200}", 0..4)) {
        let _ = authtap::parse::www_authenticate::parse(lines.iter().map(String::as_str));
    }

    #[test]
    fn www_authenticate_reads_back_written_params(
        params in prop::collection::vec(("[a-z_]{1,12}", "[a-zA-Z0-9 ./:_-]{0,30}"), 1..5)
    ) {
        let line = format!(
            "Bearer {}",
            params
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let parsed = authtap::parse::www_authenticate::parse([line.as_str()]);
        let bearer = parsed.bearer().expect("a Bearer challenge");
        for (k, v) in &params {
            prop_assert!(bearer.param(k).is_some(), "{k} missing from {line}");
            // The first occurrence wins for repeated names.
            let first = params.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v);
            prop_assert_eq!(bearer.param(k), first.map(String::as_str), "{} in {}", v, line);
        }
    }

    #[test]
    fn sse_is_parsed_the_same_whatever_the_chunk_boundaries(
        body in prop::collection::vec(
            prop_oneof![
                Just(b"data: ".to_vec()),
                Just(b"event: message\n".to_vec()),
                Just(b"id: 7\r\n".to_vec()),
                Just(b"retry: 10\r".to_vec()),
                Just(b"\n".to_vec()),
                Just(b"\r\n".to_vec()),
                Just(b": comment\n".to_vec()),
                Just("\u{feff}".as_bytes().to_vec()),
                prop::collection::vec(any::<u8>(), 0..12),
            ],
            0..40,
        ).prop_map(|parts| parts.concat()),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut whole = SseParser::new(1 << 16);
        let expected = whole.feed(&body);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
        at.sort_unstable();
        let mut chunked = SseParser::new(1 << 16);
        let mut got = Vec::new();
        let mut last = 0;
        for cut in at.into_iter().chain(std::iter::once(body.len())) {
            got.extend(chunked.feed(&body[last..cut]));
            last = cut;
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn forms_never_panic_and_round_trip(
        input in ".{0,200}",
        pairs in prop::collection::vec((".{0,20}", ".{0,20}"), 0..8),
    ) {
        let _ = Pairs::parse(&input);
        let _ = Pairs::from_url_query(&input);
        let _ = Pairs::from_url_fragment(&input);
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            ser.append_pair(k, v);
        }
        let parsed = Pairs::parse(&ser.finish());
        prop_assert_eq!(parsed.0, pairs);
    }

    #[test]
    fn jwt_decoding_never_panics_and_round_trips(
        junk in ".{0,200}",
        header in json_value(),
        claims in json_value(),
        sig in "[A-Za-z0-9_-]{0,40}",
    ) {
        let _ = Jwt::decode(&junk);
        let token = format!(
            "{}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let decoded = Jwt::decode(&token);
        // Compare with what JSON parsing gives (floats may not survive printing exactly).
        let reparse = |v: &serde_json::Value| -> serde_json::Value {
            serde_json::from_str(&v.to_string()).unwrap()
        };
        match (&reparse(&header), &reparse(&claims)) {
            (serde_json::Value::Object(h), serde_json::Value::Object(c)) => {
                let jwt = decoded.expect("objects decode");
                prop_assert_eq!(&jwt.header, h);
                prop_assert_eq!(&jwt.claims, c);
            }
            _ => prop_assert!(decoded.is_none()),
        }
    }

    #[test]
    fn trace_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = authtap::trace::reader::parse_bytes(&bytes);
    }

    #[test]
    fn trace_reader_recovers_every_complete_record_among_torn_lines(
        ids in prop::collection::vec(1u64..1000, 1..12),
        tears in prop::collection::vec((any::<bool>(), any::<prop::sample::Index>()), 1..12),
    ) {
        // Each record is written whole; some are preceded by a fragment of a lost record,
        // either on a line of its own or with the record appended onto it (old writers).
        let mut text = String::new();
        for (i, id) in ids.iter().enumerate() {
            let line = serde_json::to_string(&Record::Exchange(Box::new(exchange(
                &format!("https://rs.example/{id}"), vec![], None, 200, vec![], None,
            )))).unwrap();
            if let Some((own_line, cut)) = tears.get(i) {
                let fragment = &line[..cut.index(line.len() - 1)];
                text.push_str(fragment);
                if *own_line {
                    text.push('\n');
                }
            }
            text.push_str(&line);
            text.push('\n');
        }
        let read = authtap::trace::reader::parse_bytes(text.as_bytes());
        let urls: Vec<String> = read.records.iter().filter_map(|r| match r {
            Record::Exchange(x) => Some(x.request.url.clone()),
            _ => None,
        }).collect();
        let expected: Vec<String> = ids.iter().map(|id| format!("https://rs.example/{id}")).collect();
        // Every complete record is there, in order (a fragment may parse as its own record
        // only if it is complete, which a strict prefix of a JSON object never is).
        prop_assert_eq!(urls, expected);
    }

    #[test]
    fn har_reader_never_panics(text in ".{0,300}", doc in json_value()) {
        let _ = authtap::trace::har_import::from_har_str(&text);
        let _ = authtap::trace::har_import::from_har(&doc);
        let wrapped = serde_json::json!({"log": {"entries": [doc.clone(), {"request": doc, "response": {}}]}});
        let _ = authtap::trace::har_import::from_har(&wrapped);
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn metadata_lints_never_panic(
        doc in json_value(),
        path in prop_oneof![
            Just("/.well-known/oauth-protected-resource"),
            Just("/.well-known/oauth-authorization-server"),
            Just("/.well-known/openid-configuration"),
            Just("/register"),
            Just("/token"),
            Just("/mcp"),
        ],
        status in prop_oneof![Just(200u16), Just(201), Just(400), Just(401)],
    ) {
        let body = doc.to_string();
        let json = vec![Header::new("content-type", "application/json")];
        let www = Header::new(
            "www-authenticate",
            format!("Bearer resource_metadata=\"https://rs.example{path}\""),
        );
        let x = exchange(
            &format!("https://rs.example{path}"),
            json.clone(),
            Some(body.as_bytes()),
            status,
            [json, vec![www]].concat(),
            Some(body.as_bytes()),
        );
        let records = vec![Record::Exchange(Box::new(x))];
        let _ = authtap::session::replay(&records, authtap::rules::EngineConfig::default());
    }

    #[test]
    fn redaction_never_panics_on_arbitrary_bodies(
        req in prop::collection::vec(any::<u8>(), 0..400),
        resp in prop::collection::vec(any::<u8>(), 0..400),
        header in ".{0,80}",
        data in ".{0,200}",
    ) {
        let mut x = exchange(
            "https://rs.example/mcp",
            vec![Header::new("x-anything", header.clone()), Header::new("authorization", header)],
            Some(&req),
            200,
            vec![Header::new("content-type", "text/event-stream")],
            Some(&resp),
        );
        if let Some(r) = x.response.as_mut() {
            r.sse_events.push(SseEvent { data, ..SseEvent::default() });
        }
        let _ = redact_records(&[Record::Exchange(Box::new(x))]);
    }

    #[test]
    fn redaction_never_leaks_a_planted_canary_and_is_idempotent(
        place in place(),
        secret in canary(),
        before in filler(),
        after in filler(),
    ) {
        let records = vec![Record::Exchange(Box::new(planted(&place, &secret, &before, &after)))];
        let once = redact_records(&records);
        let line = serde_json::to_string(&once).unwrap();
        prop_assert!(!line.contains(&secret), "{:?} leaked: {}", place, line);
        let twice = redact_records(&once);
        prop_assert_eq!(twice, once);
    }
}
