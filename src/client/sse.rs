//! An incremental server-sent events parser (HTML Living Standard §9.2.6): feed it chunks as
//! they arrive, get complete events out. Handles CRLF/CR/LF, comments, multi-line data, and
//! events split across chunks at any byte.

/// One parsed event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// `event:` field.
    pub event: Option<String>,
    /// `id:` field.
    pub id: Option<String>,
    /// `retry:` field.
    pub retry: Option<u64>,
    /// `data:` lines joined by `\n`.
    pub data: String,
}

/// The parser state.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    current: SseEvent,
    has_data: bool,
    has_fields: bool,
}

impl SseParser {
    /// A fresh parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the events completed by them.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n' || *b == b'\r') {
            // A CR at the very end may be the first half of CRLF: wait for more.
            if self.buf.get(pos) == Some(&b'\r') && pos + 1 == self.buf.len() {
                break;
            }
            let line: Vec<u8> = self.buf.drain(..pos).collect();
            let first = self.buf.remove(0);
            if first == b'\r' && self.buf.first() == Some(&b'\n') {
                self.buf.remove(0);
            }
            self.line(&String::from_utf8_lossy(&line), &mut out);
        }
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if self.has_data || self.has_fields {
                let mut ev = std::mem::take(&mut self.current);
                if ev.data.ends_with('\n') {
                    ev.data.pop();
                }
                out.push(ev);
            }
            self.has_data = false;
            self.has_fields = false;
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                self.current.data.push_str(value);
                self.current.data.push('\n');
                self.has_data = true;
            }
            "event" => {
                self.current.event = Some(value.to_string());
                self.has_fields = true;
            }
            "id" if !value.contains('\0') => {
                self.current.id = Some(value.to_string());
                self.has_fields = true;
            }
            "retry" => {
                if let Ok(ms) = value.parse() {
                    self.current.retry = Some(ms);
                    self.has_fields = true;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &[u8] = b": hello\r\nid: 1\r\nretry: 1000\r\ndata: \r\n\r\nid: 2\nevent: message\ndata: {\"a\":\ndata: 1}\n\n";

    #[test]
    fn parses_at_every_split() {
        let expected = vec![
            SseEvent {
                id: Some("1".into()),
                retry: Some(1000),
                ..Default::default()
            },
            SseEvent {
                id: Some("2".into()),
                event: Some("message".into()),
                data: "{\"a\":\n1}".into(),
                ..Default::default()
            },
        ];
        for split in 0..=STREAM.len() {
            let mut p = SseParser::new();
            let mut got = p.feed(&STREAM[..split]);
            got.extend(p.feed(&STREAM[split..]));
            assert_eq!(got, expected, "split at {split}");
        }
    }

    #[test]
    fn byte_by_byte() {
        let mut p = SseParser::new();
        let got: Vec<_> = STREAM.iter().flat_map(|b| p.feed(&[*b])).collect();
        assert_eq!(got.len(), 2);
    }
}
