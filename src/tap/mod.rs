//! The capture tee: a body wrapper that forwards every frame untouched and keeps a copy.
//!
//! [`Tap`] wraps any `http_body::Body`, passes each frame on exactly as it came (no
//! buffering, no coalescing: back-pressure stays with hyper), and copies up to a cap into a
//! [`RawCapture`]. Past the cap it keeps streaming and only counts bytes. For
//! `text/event-stream` it also parses events incrementally ([`crate::parse::sse`]) and stamps their arrival.
//! When the body ends, fails or is dropped, the tap hands everything to a [`TapSink`] (the
//! exchange assembly in [`crate::forward`]). Turning raw bytes into a record (decompression,
//! UTF-8 or base64) is [`decode`]'s job and runs on the recorder, off the data path.

pub mod decode;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::model::SseEvent;

/// Boxed error type of tapped bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which half of the exchange a body belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The request body, client → upstream.
    Request,
    /// The response body, upstream → client.
    Response,
}

/// How a tapped body stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyEnd {
    /// The last frame passed.
    Complete,
    /// The producing side failed mid-body (went away, reset); the message says how.
    Failed(String),
    /// The producing side broke the protocol mid-body (a malformed chunk, an HTTP/2 protocol
    /// error): its fault, not a network accident.
    Malformed(String),
    /// The consumer dropped the body before its end.
    Dropped,
}

/// Bytes copied from a body, plus the full size that passed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawCapture {
    /// The first `cap` bytes, as they were on the wire (still encoded).
    pub bytes: Vec<u8>,
    /// All bytes that passed, captured or not.
    pub wire_size: u64,
    /// More than `bytes` passed.
    pub truncated: bool,
    /// Frames seen (data frames only).
    pub frames: u64,
}

/// Everything a tap hands over when its body stops.
#[derive(Debug)]
pub struct TapResult {
    /// The copy of the body.
    pub capture: RawCapture,
    /// Parsed server-sent events (response side of event streams only).
    pub sse_events: Vec<SseEvent>,
    /// How the body stopped.
    pub end: BodyEnd,
    /// When it stopped.
    pub at: Instant,
}

/// Receives a tap's result. Implementations must not block: they run on the data path.
pub trait TapSink: Send + Sync + 'static {
    /// Called exactly once per tap, when its body ends, fails or is dropped.
    fn finished(&self, side: Side, result: TapResult);
}

/// Tapping options.
#[derive(Debug, Clone, Copy)]
pub struct TapOptions {
    /// Bytes to copy at most.
    pub max_capture: usize,
    /// Parse the body as `text/event-stream`.
    pub sse: bool,
    /// Time origin for SSE arrival stamps (the exchange start).
    pub start: Instant,
}

/// A body wrapper that forwards frames untouched and copies them (see the module docs).
pub struct Tap<B> {
    inner: B,
    side: Side,
    options: TapOptions,
    capture: RawCapture,
    sse: Option<(crate::parse::sse::SseParser, Vec<SseEvent>)>,
    sse_bytes: usize,
    sink: Option<Arc<dyn TapSink>>,
    known_empty: bool,
}

impl<B> std::fmt::Debug for Tap<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("side", &self.side)
            .finish_non_exhaustive()
    }
}

impl<B: Body> Tap<B> {
    /// Wraps `inner`; `sink` learns the result when the body stops.
    pub fn new(inner: B, side: Side, options: TapOptions, sink: Arc<dyn TapSink>) -> Self {
        let known_empty = inner.is_end_stream();
        let sse = options.sse.then(|| {
            (
                crate::parse::sse::SseParser::new(options.max_capture.max(1024)),
                vec![],
            )
        });
        Self {
            inner,
            side,
            options,
            capture: RawCapture::default(),
            sse,
            sse_bytes: 0,
            sink: Some(sink),
            known_empty,
        }
    }
}

impl<B> Tap<B> {
    fn copy(&mut self, data: &[u8]) {
        let cap = &mut self.capture;
        cap.wire_size += data.len() as u64;
        cap.frames += 1;
        let room = self.options.max_capture.saturating_sub(cap.bytes.len());
        if data.len() > room {
            cap.truncated = true;
        }
        cap.bytes
            .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        if let Some((parser, events)) = &mut self.sse {
            let at_ms = self.options.start.elapsed().as_secs_f64() * 1000.0;
            for ev in parser.feed(data) {
                // Keep event text bounded like the body capture.
                self.sse_bytes += ev.data.len();
                if self.sse_bytes > self.options.max_capture {
                    continue;
                }
                events.push(SseEvent {
                    at_ms,
                    event: ev.event,
                    id: ev.id,
                    retry: ev.retry,
                    data: ev.data,
                });
            }
        }
    }

    fn finish(&mut self, end: BodyEnd) {
        if let Some(sink) = self.sink.take() {
            let result = TapResult {
                capture: std::mem::take(&mut self.capture),
                sse_events: self.sse.take().map(|(_, ev)| ev).unwrap_or_default(),
                end,
                at: Instant::now(),
            };
            sink.finished(self.side, result);
        }
    }
}

impl<B> Body for Tap<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                this.finish(BodyEnd::Complete);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.copy(data);
                }
                // hyper stops polling a body whose length is met; note the end now.
                if this.inner.is_end_stream() {
                    this.finish(BodyEnd::Complete);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => {
                let err: BoxError = err.into();
                let message = crate::error_chain(err.as_ref());
                this.finish(if is_protocol_error(err.as_ref()) {
                    BodyEnd::Malformed(message)
                } else {
                    BodyEnd::Failed(message)
                });
                Poll::Ready(Some(Err(err)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether a body error is the producer breaking the protocol rather than going away: hyper
/// reports malformed HTTP/1.1 framing (chunk sizes, chunk ends) as `InvalidInput`/`InvalidData`
/// I/O errors, and HTTP/2 protocol violations as h2 protocol or frame-size errors.
pub fn is_protocol_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData
            )
        {
            return true;
        }
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("protocol error") || text.contains("frame with invalid size") {
            return true;
        }
        source = e.source();
    }
    false
}

impl<B> Drop for Tap<B> {
    fn drop(&mut self) {
        // A body with nothing left to read counts as complete even if nobody polled its end
        // (hyper does not poll an empty body).
        let end = if self.known_empty {
            BodyEnd::Complete
        } else {
            BodyEnd::Dropped
        };
        self.finish(end);
    }
}

#[cfg(test)]
mod tests;
