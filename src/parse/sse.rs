//! An incremental `text/event-stream` parser (WHATWG HTML §9.2.6), fed arbitrary chunks.
//!
//! The tap feeds it each body chunk as it streams through (and the built-in client each chunk
//! it reads); it returns every event completed by that chunk. Events split across chunks, CRLF/LF/CR line ends (including a CRLF split
//! between two chunks), comments, multi-line `data:` and a leading BOM are handled. The parser
//! never sees the bytes the proxy forwards: it only works on a copy.

/// One parsed event, without its arrival time (the tap adds that).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedEvent {
    /// `event:` field.
    pub event: Option<String>,
    /// `id:` field.
    pub id: Option<String>,
    /// `retry:` field, when it is all digits.
    pub retry: Option<u64>,
    /// `data:` lines joined with `\n`.
    pub data: String,
}

/// Incremental parser state.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    after_cr: bool,
    /// Past the optional leading BOM.
    started: bool,
    /// Bytes of a leading BOM matched so far (it may arrive split across chunks).
    bom_seen: usize,
    event: Option<String>,
    id: Option<String>,
    retry: Option<u64>,
    data: Option<String>,
    /// Cap on a single line, so a stream without line ends cannot grow memory without bound.
    max_line: usize,
    /// A line was cut at `max_line`; the rest of it is skipped.
    skipping: bool,
}

impl SseParser {
    /// A parser that keeps at most `max_line` bytes of any one line.
    pub fn new(max_line: usize) -> Self {
        Self {
            max_line,
            ..Self::default()
        }
    }

    /// Feeds a chunk, returning the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<ParsedEvent> {
        let mut out = Vec::new();
        let mut bytes = chunk;
        while !self.started
            && let Some((&b, rest)) = bytes.split_first()
        {
            if BOM.get(self.bom_seen) == Some(&b) {
                self.bom_seen += 1;
                bytes = rest;
                self.started = self.bom_seen == BOM.len();
            } else {
                // Not a BOM after all: the bytes held back start the first line.
                self.started = true;
                self.line
                    .extend_from_slice(BOM.get(..self.bom_seen).unwrap_or_default());
            }
        }
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => self.end_line(&mut out),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut out);
                }
                _ if self.line.len() < self.max_line => self.line.push(b),
                _ => self.skipping = true,
            }
        }
        out
    }

    fn end_line(&mut self, out: &mut Vec<ParsedEvent>) {
        let line = std::mem::take(&mut self.line);
        self.skipping = false;
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.first() == Some(&b':') {
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<ParsedEvent>) {
        let event = self.event.take();
        let retry = self.retry.take();
        let id = self.id.take();
        // Per the spec an event without data is not dispatched; we keep id/retry-only
        // blocks too, because they are evidence worth showing (e.g. a priming event).
        match self.data.take() {
            Some(data) => out.push(ParsedEvent {
                event,
                id,
                retry,
                data,
            }),
            None if id.is_some() || retry.is_some() || event.is_some() => {
                out.push(ParsedEvent {
                    event,
                    id,
                    retry,
                    data: String::new(),
                });
            }
            None => {}
        }
    }
}

/// The UTF-8 byte order mark a stream may start with.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_whole(input: &[u8]) -> Vec<ParsedEvent> {
        SseParser::new(1 << 20).feed(input)
    }

    fn parse_split_everywhere(input: &[u8]) {
        let whole = parse_whole(input);
        for cut in 0..=input.len() {
            let mut p = SseParser::new(1 << 20);
            let mut events = p.feed(&input[..cut]);
            events.extend(p.feed(&input[cut..]));
            assert_eq!(events, whole, "cut at {cut}");
        }
        // One byte at a time.
        let mut p = SseParser::new(1 << 20);
        let events: Vec<_> = input
            .iter()
            .flat_map(|b| p.feed(std::slice::from_ref(b)))
            .collect();
        assert_eq!(events, whole, "byte by byte");
    }

    const MIXED: &[u8] = b"\xEF\xBB\xBF: comment\r\nevent: message\r\nid: 1\r\ndata: {\"a\":1}\r\n\r\n\
data: line one\ndata: line two\n\nretry: 3000\rdata:x\r\r: keepalive\n\nevent: endpoint\ndata: /messages?s=1\n\n";

    #[test]
    fn a_bom_split_across_chunks_is_still_stripped() {
        // Found by the property test: a `retry:` line right after a split BOM was lost.
        parse_split_everywhere(b"\xEF\xBB\xBFretry: 10\n\nevent: message\ndata: x\n\n");
        // A stream that only starts like a BOM keeps its bytes.
        let events = parse_whole(b"\xEF\xBBdata: x\n\ndata: y\n\n");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "y");
    }

    #[test]
    fn parses_mixed_line_endings_comments_and_multiline_data() {
        let events = parse_whole(MIXED);
        assert_eq!(
            events,
            vec![
                ParsedEvent {
                    event: Some("message".into()),
                    id: Some("1".into()),
                    retry: None,
                    data: "{\"a\":1}".into()
                },
                ParsedEvent {
                    data: "line one\nline two".into(),
                    ..Default::default()
                },
                ParsedEvent {
                    retry: Some(3000),
                    data: "x".into(),
                    ..Default::default()
                },
                ParsedEvent {
                    event: Some("endpoint".into()),
                    data: "/messages?s=1".into(),
                    ..Default::default()
                },
            ]
        );
    }

    #[test]
    fn same_events_when_split_at_every_byte() {
        parse_split_everywhere(MIXED);
        parse_split_everywhere(b"data: a\r\n\r\ndata: b\r\n\r\n");
        parse_split_everywhere(b"data\n\ndata:\n\n: only comment\n\n");
    }

    #[test]
    fn incomplete_event_is_not_emitted() {
        let mut p = SseParser::new(1024);
        assert!(p.feed(b"data: partial\n").is_empty());
        assert_eq!(p.feed(b"\n").len(), 1);
    }

    #[test]
    fn caps_line_length() {
        let mut p = SseParser::new(4);
        let events = p.feed(b"data: 0123456789\n\n");
        assert_eq!(
            events,
            vec![ParsedEvent {
                data: String::new(),
                ..Default::default()
            }]
        );
    }

    #[test]
    fn keeps_id_only_priming_event() {
        let events = parse_whole(b"id: 42\n\n");
        assert_eq!(
            events,
            vec![ParsedEvent {
                id: Some("42".into()),
                ..Default::default()
            }]
        );
    }
}
