//! Unit tests of the tap: frames pass untouched, the cap holds, the sink hears once.

use std::sync::Mutex;

use http_body_util::{BodyExt, StreamBody};

use super::*;

#[derive(Default)]
struct Collect(Mutex<Vec<(Side, TapResult)>>);

impl TapSink for Collect {
    fn finished(&self, side: Side, result: TapResult) {
        self.0.lock().unwrap().push((side, result));
    }
}

fn frames(chunks: &[&'static [u8]]) -> impl Body<Data = Bytes, Error = BoxError> + Unpin {
    let items: Vec<Result<Frame<Bytes>, BoxError>> = chunks
        .iter()
        .map(|c| Ok(Frame::data(Bytes::from_static(c))))
        .collect();
    StreamBody::new(futures_util::stream::iter(items))
}

fn options(max_capture: usize, sse: bool) -> TapOptions {
    TapOptions {
        max_capture,
        sse,
        start: Instant::now(),
    }
}

#[tokio::test]
async fn forwards_frames_untouched_and_caps_capture() {
    let sink = Arc::new(Collect::default());
    let tap = Tap::new(
        frames(&[b"hello ", b"world", b"!"]),
        Side::Response,
        options(8, false),
        sink.clone(),
    );
    let mut tap = Box::pin(tap);
    let mut seen = Vec::new();
    while let Some(frame) = tap.frame().await {
        seen.push(frame.unwrap().into_data().unwrap());
    }
    assert_eq!(
        seen,
        vec![
            Bytes::from_static(b"hello "),
            Bytes::from_static(b"world"),
            Bytes::from_static(b"!")
        ]
    );
    drop(tap);
    let results = sink.0.lock().unwrap();
    assert_eq!(results.len(), 1);
    let (side, result) = &results[0];
    assert_eq!(*side, Side::Response);
    assert_eq!(result.end, BodyEnd::Complete);
    assert_eq!(result.capture.bytes, b"hello wo");
    assert_eq!(result.capture.wire_size, 12);
    assert!(result.capture.truncated);
}

#[tokio::test]
async fn reports_drop_before_end() {
    let sink = Arc::new(Collect::default());
    let mut tap = Tap::new(
        frames(&[b"a", b"b"]),
        Side::Response,
        options(64, false),
        sink.clone(),
    );
    let _ = tap.frame().await;
    drop(tap);
    let results = sink.0.lock().unwrap();
    assert_eq!(results[0].1.end, BodyEnd::Dropped);
    assert_eq!(results[0].1.capture.bytes, b"a");
}

#[tokio::test]
async fn empty_body_dropped_unpolled_is_complete() {
    let sink = Arc::new(Collect::default());
    let tap = Tap::new(
        http_body_util::Empty::<Bytes>::new(),
        Side::Request,
        options(64, false),
        sink.clone(),
    );
    drop(tap);
    assert_eq!(sink.0.lock().unwrap()[0].1.end, BodyEnd::Complete);
}

#[tokio::test]
async fn reports_failure_mid_body() {
    let sink = Arc::new(Collect::default());
    let items: Vec<Result<Frame<Bytes>, BoxError>> = vec![
        Ok(Frame::data(Bytes::from_static(b"x"))),
        Err("connection reset".into()),
    ];
    let body = StreamBody::new(futures_util::stream::iter(items));
    let mut tap = Tap::new(body, Side::Response, options(64, false), sink.clone());
    assert!(tap.frame().await.unwrap().is_ok());
    assert!(tap.frame().await.unwrap().is_err());
    drop(tap);
    let results = sink.0.lock().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].1.end, BodyEnd::Failed("connection reset".into()));
}

#[tokio::test]
async fn malformed_framing_is_told_apart_from_a_cut() {
    let sink = Arc::new(Collect::default());
    let bad_chunk = std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        "Invalid chunk size line: Invalid Size",
    );
    let items: Vec<Result<Frame<Bytes>, BoxError>> = vec![Err(Box::new(bad_chunk))];
    let body = StreamBody::new(futures_util::stream::iter(items));
    let mut tap = Tap::new(body, Side::Request, options(64, false), sink.clone());
    assert!(tap.frame().await.unwrap().is_err());
    drop(tap);
    let results = sink.0.lock().unwrap();
    assert!(
        matches!(&results[0].1.end, BodyEnd::Malformed(m) if m.contains("chunk size")),
        "{:?}",
        results[0].1.end
    );
    let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "unexpected EOF");
    assert!(!is_protocol_error(&eof));
}

#[tokio::test]
async fn parses_sse_events_across_frames() {
    let sink = Arc::new(Collect::default());
    let body = frames(&[
        b"event: message\ndata: {\"a\"",
        b":1}\n\ndata: two\n",
        b"\n",
    ]);
    let tap = Tap::new(body, Side::Response, options(1024, true), sink.clone());
    let _ = tap.collect().await.unwrap();
    let results = sink.0.lock().unwrap();
    let events = &results[0].1.sse_events;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event.as_deref(), Some("message"));
    assert_eq!(events[0].data, "{\"a\":1}");
    assert_eq!(events[1].data, "two");
}
