//! Redaction fails closed: canaries planted in every place a secret can sit (headers both
//! ways, query strings, userinfo, form and JSON bodies, SSE data, tool results, binary bodies,
//! base64 inside JSON, gzip, bodies that are not UTF-8, an undecodable encoding, error
//! messages, marks, session facts, and a foreign HAR as input) must not appear in the HAR,
//! Markdown or HTML export, in any view: raw, percent-decoded, HTML-unescaped, JSON-unescaped,
//! and base64-decoded (gunzipped when the bytes are gzip).
//!
//! The same trace exported with `--no-redact` must show every canary in some view, so the
//! test proves its canaries are really planted and its views really look.

use crate::redaction_views;

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use time::OffsetDateTime;

use authtap::export::{ExportOptions, Target};
use authtap::model::{
    BodyCapture, ErrorKind, Exchange, ExchangeError, ExchangeId, Header, Mark, Outcome, Record,
    RequestRecord, ResponseRecord, Rewrite, RewriteDirection, SessionRecord, SseEvent, Timings,
};
use authtap::tap::RawCapture;
use authtap::tap::decode::to_body_capture;
use authtap::trace::load::export_trace;
use redaction_views::leaks;

/// Hands out distinct canaries: `Q7Z<nn>X` + 16 upper-case letters and digits, a shape every
/// secret family accepts (JWT signature, `ghp_` body, `AKIA` body, form value…).
#[derive(Default)]
struct Canaries(Vec<String>);

impl Canaries {
    fn next(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let n = self.0.len();
        let mut state = (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let tail: String = (0..16)
            .map(|_| {
                state ^= state >> 29;
                state = state.wrapping_mul(0xBF58_476D_1CE4_E5B9);
                char::from(ALPHABET[(state >> 59) as usize % ALPHABET.len()])
            })
            .collect();
        let c = format!("Q7Z{n:02}X{tail}");
        self.0.push(c.clone());
        c
    }
}

fn raw(bytes: &[u8]) -> RawCapture {
    RawCapture {
        bytes: bytes.to_vec(),
        wire_size: bytes.len() as u64,
        truncated: false,
        frames: 1,
    }
}

/// A body as the recorder would capture it (the real decoder: gzip, UTF-8 or base64).
fn captured(bytes: &[u8], encoding: Option<&str>) -> Option<BodyCapture> {
    to_body_capture(raw(bytes), encoding, 1024 * 1024)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn h(name: &str, value: &str) -> Header {
    Header::new(name, value)
}

fn exchange(
    id: u64,
    method: &str,
    url: &str,
    req_headers: Vec<Header>,
    req_body: Option<BodyCapture>,
    response: Option<ResponseRecord>,
) -> Exchange {
    Exchange {
        id: ExchangeId(id),
        started_at: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(id as i64),
        timings: Timings::default(),
        client_addr: None,
        request: RequestRecord {
            method: method.into(),
            url: url.into(),
            client_url: None,
            http_version: "HTTP/1.1".into(),
            headers: req_headers,
            body: req_body,
        },
        response,
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

fn response(status: u16, headers: Vec<Header>, body: Option<BodyCapture>) -> ResponseRecord {
    ResponseRecord {
        status,
        http_version: "HTTP/1.1".into(),
        headers,
        body,
        sse_events: vec![],
    }
}

/// The authtap JSONL trace with canaries everywhere; returns its records.
fn planted_trace(c: &mut Canaries) -> Vec<Record> {
    let mut records = Vec::new();
    let mut extra = serde_json::Map::new();
    extra.insert("client_secret".into(), c.next().into());
    records.push(Record::Session(SessionRecord {
        schema: authtap::model::SCHEMA_VERSION,
        authtap_version: env!("CARGO_PKG_VERSION").into(),
        started_at: OffsetDateTime::UNIX_EPOCH,
        upstream: "https://rs.example/mcp".into(),
        listen_url: "https://localhost:8443".into(),
        source: "proxy".into(),
        rewrite: true,
        mode: Default::default(),
        extra,
    }));

    // 1. Token request: query, request headers, a Latin-1 form body, a gzip JSON response,
    //    response headers.
    let mut form = format!(
        "grant_type=authorization_code&code={}&code_verifier={}&client_secret={}&refresh_token={}&note=caf",
        c.next(),
        c.next(),
        c.next(),
        c.next()
    )
    .into_bytes();
    form.push(0xe9);
    let basic = STANDARD.encode(format!("client:{}", c.next()));
    let token_json = format!(
        r#"{{"access_token":"{}","refresh_token":"{}","id_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.{}","token_type":"Bearer"}}"#,
        c.next(),
        c.next(),
        c.next()
    );
    records.push(Record::Exchange(Box::new(exchange(
        1,
        "POST",
        &format!(
            "https://as.example/token?access_token={}&state={}",
            c.next(),
            c.next()
        ),
        vec![
            h("content-type", "application/x-www-form-urlencoded"),
            h("authorization", &format!("Bearer {}", c.next())),
            h("cookie", &format!("sid={}; theme=dark", c.next())),
            h("x-upstream-key", &c.next()),
            h("x-api-key", &c.next()),
            h("proxy-authorization", &format!("Basic {basic}")),
            h("x-session", &c.next()),
        ],
        captured(&form, None),
        Some(response(
            200,
            vec![
                h("content-type", "application/json"),
                h("content-encoding", "gzip"),
                h(
                    "set-cookie",
                    &format!("session={}; Path=/; HttpOnly", c.next()),
                ),
                h("x-upstream-key", &c.next()),
                h("x-refresh-signature", &c.next()),
            ],
            captured(&gzip(token_json.as_bytes()), Some("gzip")),
        )),
    ))));

    // 2. An MCP tool call: JSON arguments, an SSE stream of tool results with provider tokens
    //    and escaped JSON.
    let args = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"db","arguments":{{"password":"{}","api_key":"{}"}}}}}}"#,
        c.next(),
        c.next()
    );
    let tool_texts = [
        format!("your GitHub token is ghp_{}", c.next()),
        format!("OAuth app token gho_{} was issued", c.next()),
        format!("fine-grained github_pat_{}_AB", c.next()),
        format!("Anthropic key sk-ant-api03-{}", c.next()),
        format!("OpenAI key sk-proj-{}", c.next()),
        format!("Slack xoxb-{}-x", c.next()),
        format!("AWS AKIA{}", c.next()),
        format!("GitLab glpat-{}", c.next()),
        format!("config {{\"client_secret\":\"{}\"}}", c.next()),
        format!("header was Authorization: Bearer {}", c.next()),
    ];
    let mut sse = ResponseRecord {
        sse_events: vec![],
        ..response(200, vec![h("content-type", "text/event-stream")], None)
    };
    let mut sse_raw = String::new();
    for (i, text) in tool_texts.iter().enumerate() {
        let data = serde_json::json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": text}]}})
            .to_string();
        sse_raw.push_str(&format!("event: message\ndata: {data}\n\n"));
        sse.sse_events.push(SseEvent {
            at_ms: i as f64,
            event: Some("message".into()),
            id: None,
            retry: None,
            data,
        });
    }
    sse.body = captured(sse_raw.as_bytes(), None);
    records.push(Record::Exchange(Box::new(exchange(
        2,
        "POST",
        "https://rs.example/mcp",
        vec![
            h("content-type", "application/json"),
            h("mcp-session-id", &c.next()),
        ],
        captured(args.as_bytes(), None),
        Some(sse),
    ))));

    // 3. A binary upload holding form secrets, and a JSON answer with base64 blobs.
    let mut binary = vec![0u8, 1, 2, 3, 0x89];
    binary.extend_from_slice(format!("password={}&token={}", c.next(), c.next()).as_bytes());
    binary.extend_from_slice(&[0xff, 0, 0xfe]);
    let blobs = format!(
        r#"{{"blob":"{}","data":"{}","nested":{{"credentials":{{"password":"{}"}}}}}}"#,
        STANDARD.encode(format!("client_secret={}", c.next())),
        URL_SAFE_NO_PAD.encode(format!(r#"{{"access_token":"{}"}}"#, c.next())),
        c.next()
    );
    records.push(Record::Exchange(Box::new(exchange(
        3,
        "POST",
        "https://rs.example/upload",
        vec![h("content-type", "application/octet-stream")],
        captured(&binary, None),
        Some(response(
            200,
            vec![h("content-type", "application/json")],
            captured(blobs.as_bytes(), None),
        )),
    ))));

    // 4. Authorize with userinfo and a callback, a Latin-1 HTML page, a rewrite.
    let code = c.next();
    let state = c.next();
    let mut page =
        format!("<p>Weiter: <a href=\"/cb?code={code}&amp;state={state}\">caf").into_bytes();
    page.extend_from_slice(b"\xe9</a></p>");
    let mut x4 = exchange(
        4,
        "GET",
        &format!(
            "https://user:{}@as.example/authorize?response_type=code&code_challenge={}&state={state}",
            c.next(),
            c.next()
        ),
        vec![],
        None,
        Some(response(
            302,
            vec![
                h(
                    "location",
                    &format!("https://client.example/cb?code={code}&state={state}"),
                ),
                h("content-type", "text/html; charset=iso-8859-1"),
            ],
            captured(&page, None),
        )),
    );
    x4.rewrites.push(Rewrite {
        direction: RewriteDirection::Response,
        location: "header:location".into(),
        from: format!("https://client.example/cb?code={code}"),
        to: format!("https://localhost:8443/cb?code={code}"),
    });
    records.push(Record::Exchange(Box::new(x4)));

    // 5. An encoding authtap does not decode (kept raw), and a truncated gzip.
    let zstd_like = format!("refresh_token={}", c.next());
    let cut_gzip = {
        // Filler that does not compress away, so half the stream still decodes the token.
        let mut seed = 7u64;
        let filler: String = (0..4000)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                char::from(b'a' + (seed >> 59) as u8 % 26)
            })
            .collect();
        let full = gzip(format!(r#"{{"id_token":"{}","x":"{filler}"}}"#, c.next()).as_bytes());
        let mut r = raw(&full[..full.len() / 2]);
        r.wire_size = full.len() as u64;
        r.truncated = true;
        to_body_capture(r, Some("gzip"), 1024 * 1024)
    };
    records.push(Record::Exchange(Box::new(exchange(
        5,
        "POST",
        "https://as.example/introspect",
        vec![
            h("content-type", "application/x-www-form-urlencoded"),
            h("content-encoding", "zstd"),
        ],
        captured(zstd_like.as_bytes(), Some("zstd")),
        Some(response(
            200,
            vec![
                h("content-type", "application/json"),
                h("content-encoding", "gzip"),
            ],
            cut_gzip,
        )),
    ))));

    // 6. Registration response with secrets; 7. an error message quoting a credential.
    records.push(Record::Exchange(Box::new(exchange(
        6,
        "POST",
        "https://as.example/register",
        vec![h("content-type", "application/json")],
        captured(br#"{"redirect_uris":["https://client.example/cb"]}"#, None),
        Some(response(
            201,
            vec![h("content-type", "application/json")],
            captured(
                format!(
                    r#"{{"client_id":"app","client_secret":"{}","registration_access_token":"{}","client_secret_expires_at":0}}"#,
                    c.next(),
                    c.next()
                )
                .as_bytes(),
                None,
            ),
        )),
    ))));
    let mut x7 = exchange(7, "GET", "https://rs.example/mcp", vec![], None, None);
    x7.outcome = Outcome::UpstreamError;
    x7.error = Some(ExchangeError {
        kind: ErrorKind::Connect,
        message: format!("upstream refused Authorization: Bearer {}", c.next()),
    });
    records.push(Record::Exchange(Box::new(x7)));
    records.push(Record::Mark(Mark {
        at: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(8),
        text: format!("pasted my key sk-ant-{} by mistake", c.next()),
        ofids: vec![],
    }));
    records
}

/// A foreign HAR (as Chrome would save it) with canaries in headers, query, form params,
/// base64 content (text and binary) and SSE messages.
fn planted_har(c: &mut Canaries) -> serde_json::Value {
    let json_body = STANDARD.encode(format!(r#"{{"access_token":"{}"}}"#, c.next()));
    let mut bin = vec![0u8, 0, 7];
    bin.extend_from_slice(format!("password={}", c.next()).as_bytes());
    let bin_body = STANDARD.encode(bin);
    let entry = |url: String,
                 req_headers: serde_json::Value,
                 post: serde_json::Value,
                 resp_headers: serde_json::Value,
                 content: serde_json::Value| {
        serde_json::json!({
            "startedDateTime": "2026-11-22T10:00:00.000Z", "time": 1,
            "request": {"method": "POST", "url": url, "httpVersion": "HTTP/1.1",
                "headers": req_headers, "queryString": [], "cookies": [],
                "headersSize": -1, "bodySize": -1, "postData": post},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                "headers": resp_headers, "cookies": [], "content": content,
                "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}
        })
    };
    let e1 = entry(
        format!(
            "https://as.example/token?code={}&state={}",
            c.next(),
            c.next()
        ),
        serde_json::json!([
            {"name": "Authorization", "value": format!("Bearer {}", c.next())},
            {"name": "Cookie", "value": format!("__Host-sess={}", c.next())},
            {"name": "X-Upstream-Key", "value": c.next()},
            {"name": "Content-Type", "value": "application/x-www-form-urlencoded"}
        ]),
        serde_json::json!({"mimeType": "application/x-www-form-urlencoded", "params": [
            {"name": "grant_type", "value": "password"},
            {"name": "password", "value": c.next()},
            {"name": "client_secret", "value": c.next()}
        ]}),
        serde_json::json!([
            {"name": "Content-Type", "value": "application/json"},
            {"name": "X-Api-Key", "value": c.next()}
        ]),
        serde_json::json!({"size": 40, "mimeType": "application/json", "text": json_body, "encoding": "base64"}),
    );
    let e2 = entry(
        "https://rs.example/blob".into(),
        serde_json::json!([{"name": "Content-Type", "value": "application/octet-stream"}]),
        serde_json::json!({"mimeType": "application/octet-stream", "text": STANDARD.encode(format!("\u{0}\u{1}token={}", c.next())), "_encoding": "base64"}),
        serde_json::json!([{"name": "Content-Type", "value": "application/octet-stream"}]),
        serde_json::json!({"size": 20, "mimeType": "application/octet-stream", "text": bin_body, "encoding": "base64"}),
    );
    let mut e3 = entry(
        "https://rs.example/mcp".into(),
        serde_json::json!([{"name": "Content-Type", "value": "application/json"}]),
        serde_json::json!({"mimeType": "application/json", "text": "{}"}),
        serde_json::json!([{"name": "Content-Type", "value": "text/event-stream"}]),
        serde_json::json!({"size": 0, "mimeType": "text/event-stream", "text": ""}),
    );
    e3["_eventSourceMessages"] = serde_json::json!([
        {"time": 1.0, "type": "message", "data": format!("token ghp_{}", c.next())}
    ]);
    serde_json::json!({"log": {"version": "1.2", "creator": {"name": "Chrome", "version": "1"},
        "pages": [], "entries": [e1, e2, e3]}})
}

fn export_all(input: &Path, out: &Path, redact: bool) -> Vec<PathBuf> {
    let files = [out.join("x.har"), out.join("x.md"), out.join("x.html")];
    let opts = ExportOptions {
        redact,
        har: Target::Path(files[0].clone()),
        markdown: Target::Path(files[1].clone()),
        html: Target::Path(files[2].clone()),
        ..ExportOptions::default()
    };
    export_trace(input, &opts).unwrap();
    files.to_vec()
}

#[test]
fn no_planted_canary_survives_any_export_in_any_view() {
    let dir = tempfile::tempdir().unwrap();
    let mut trace_canaries = Canaries::default();
    let records = planted_trace(&mut trace_canaries);
    let trace = dir.path().join("trace.jsonl");
    let lines: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    std::fs::write(&trace, lines.join("\n") + "\n").unwrap();

    let mut har_canaries = Canaries(vec![String::new(); trace_canaries.0.len()]);
    let har_input = dir.path().join("chrome.har");
    std::fs::write(&har_input, planted_har(&mut har_canaries).to_string()).unwrap();
    let har_canaries: Vec<String> = har_canaries.0[trace_canaries.0.len()..].to_vec();

    let total = trace_canaries.0.len() + har_canaries.len();
    assert!(total >= 50, "only {total} canaries planted");

    for (input, canaries) in [(&trace, &trace_canaries.0), (&har_input, &har_canaries)] {
        // Control: unredacted, every canary is visible somewhere.
        let plain_dir = tempfile::tempdir().unwrap();
        let plain = export_all(input, plain_dir.path(), false);
        let shown: std::collections::BTreeSet<String> = leaks(canaries, &plain)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        let hidden: Vec<&String> = canaries.iter().filter(|c| !shown.contains(*c)).collect();
        assert!(
            hidden.is_empty(),
            "canaries not planted where a reader could see them: {hidden:?}"
        );

        let redacted_dir = tempfile::tempdir().unwrap();
        let redacted = export_all(input, redacted_dir.path(), true);
        let leaked = leaks(canaries, &redacted);
        assert!(leaked.is_empty(), "leaked: {leaked:#?}");
        let har = std::fs::read_to_string(&redacted[0]).unwrap();
        assert!(har.contains("redacted:sha256:"), "markers are kept");
    }
}

#[test]
fn binary_bodies_are_placeholders_unless_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Canaries::default();
    let records = planted_trace(&mut c);
    let trace = dir.path().join("trace.jsonl");
    let lines: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    std::fs::write(&trace, lines.join("\n") + "\n").unwrap();
    let har_path = dir.path().join("x.har");
    let mut opts = ExportOptions {
        har: Target::Path(har_path.clone()),
        markdown: Target::Skip,
        html: Target::Skip,
        ..ExportOptions::default()
    };
    export_trace(&trace, &opts).unwrap();
    let har = std::fs::read_to_string(&har_path).unwrap();
    assert!(
        har.contains("binary body omitted by redaction: application/octet-stream"),
        "placeholder names the type"
    );
    assert!(
        har.contains("decoded leniently"),
        "Latin-1 bodies say how they were read"
    );
    let html = dir.path().join("x.html");
    opts.html = Target::Path(html.clone());
    export_trace(&trace, &opts).unwrap();
    assert!(
        std::fs::read_to_string(html)
            .unwrap()
            .contains("decoded leniently")
    );
    opts.html = Target::Skip;
    opts.keep_binary = true;
    export_trace(&trace, &opts).unwrap();
    let kept = std::fs::read_to_string(&har_path).unwrap();
    assert!(!kept.contains("binary body omitted"));
    assert!(
        kept.contains("\"_encoding\": \"base64\""),
        "binary kept as base64"
    );
}
