//! Where the recorder's lines go, and how it keeps the file whole when writing fails.
//!
//! [`Sink`] is the trace file (or, in tests, a file that fails on demand). [`LineLog`] wraps
//! it with the one rule that keeps a trace readable after a full disk: never append after a
//! partial line. It remembers the length of the file after the last complete write; when a
//! write fails part-way it truncates the file back to that length (on a full disk this frees
//! the space the fragment took), and when even that fails it starts the next successful write
//! with a newline, so the fragment stays a line of its own that readers skip with a warning.

use std::fs::File;
use std::io::Write;

/// An append-only byte sink for trace lines.
pub(crate) trait Sink: Send {
    /// Appends `bytes` and hands them to the OS. May fail after writing part of them.
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Cuts the sink back to `len` bytes.
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
    /// Flushes to stable storage.
    fn sync(&mut self) -> std::io::Result<()>;
    /// The current length.
    fn len(&self) -> std::io::Result<u64>;
}

impl Sink for File {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes)?;
        self.flush()
    }

    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        // The file is opened for appending, so the next write goes to the new end.
        self.set_len(len)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_all()
    }

    fn len(&self) -> std::io::Result<u64> {
        self.metadata().map(|m| m.len())
    }
}

/// A sink that only ever holds complete lines (see the module docs).
pub(crate) struct LineLog {
    sink: Box<dyn Sink>,
    /// Length of the sink after the last complete write; `None` once it is unknown (a
    /// fragment stayed and the length could not be read), which disables truncation.
    good_len: Option<u64>,
    /// A failed write may have left a fragment after `good_len` that could not be cut off.
    fragment: bool,
}

impl LineLog {
    /// Wraps an empty sink.
    pub(crate) fn new(sink: Box<dyn Sink>) -> Self {
        Self {
            sink,
            good_len: Some(0),
            fragment: false,
        }
    }

    /// Appends complete lines. On failure the sink is left ending at a line boundary (or the
    /// fragment is marked to be closed by the next write) and the error is returned.
    pub(crate) fn append_lines(&mut self, lines: &[u8]) -> std::io::Result<()> {
        if self.fragment {
            self.cut_fragment();
        }
        let result = if self.fragment {
            // The fragment is still there: close it as a line of its own first.
            let mut with_break = Vec::with_capacity(lines.len() + 1);
            with_break.push(b'\n');
            with_break.extend_from_slice(lines);
            self.sink.append(&with_break).map(|()| with_break.len())
        } else {
            self.sink.append(lines).map(|()| lines.len())
        };
        match result {
            Ok(written) => {
                self.good_len = if self.fragment {
                    // The fragment's length is unknown: ask the sink where it ends now.
                    self.sink.len().ok()
                } else {
                    self.good_len.map(|len| len + written as u64)
                };
                self.fragment = false;
                Ok(())
            }
            Err(err) => {
                self.fragment = true;
                self.cut_fragment();
                Err(err)
            }
        }
    }

    /// Tries to truncate back to the last complete line.
    fn cut_fragment(&mut self) {
        if let Some(len) = self.good_len
            && self.sink.truncate(len).is_ok()
        {
            self.fragment = false;
        }
    }

    /// Flushes to stable storage (errors are the caller's to ignore or count).
    pub(crate) fn sync(&mut self) -> std::io::Result<()> {
        self.sink.sync()
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A sink that fails on demand, part-way through a write, like a disk that fills up.

    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use super::*;

    /// Switches shared with the test: `full` makes writes fail after half their bytes,
    /// `frozen` also makes truncation fail (a disk that refuses everything); `failures`
    /// counts failed writes.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct Switches {
        pub(crate) full: Arc<AtomicBool>,
        pub(crate) frozen: Arc<AtomicBool>,
        pub(crate) failures: Arc<AtomicU64>,
    }

    /// A real file behind [`Switches`].
    pub(crate) struct FlakySink {
        pub(crate) file: File,
        pub(crate) switches: Switches,
    }

    impl Sink for FlakySink {
        fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            if self.switches.full.load(Ordering::SeqCst) {
                let half = bytes.len() / 2;
                self.file.write_all(bytes.get(..half).unwrap_or_default())?;
                self.switches.failures.fetch_add(1, Ordering::SeqCst);
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
            self.file.append(bytes)
        }

        fn truncate(&mut self, len: u64) -> std::io::Result<()> {
            if self.switches.frozen.load(Ordering::SeqCst) {
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
            self.file.set_len(len)
        }

        fn sync(&mut self) -> std::io::Result<()> {
            self.file.sync_all()
        }

        fn len(&self) -> std::io::Result<u64> {
            self.file.metadata().map(|m| m.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::testing::{FlakySink, Switches};
    use super::*;

    fn log(path: &std::path::Path, switches: &Switches) -> LineLog {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        LineLog::new(Box::new(FlakySink {
            file,
            switches: switches.clone(),
        }))
    }

    #[test]
    fn failed_write_is_cut_back_to_the_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let switches = Switches::default();
        let mut log = log(&path, &switches);
        log.append_lines(b"one\n").unwrap();
        switches.full.store(true, Ordering::SeqCst);
        assert!(log.append_lines(b"two-two-two\n").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"one\n");
        switches.full.store(false, Ordering::SeqCst);
        log.append_lines(b"three\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one\nthree\n");
    }

    #[test]
    fn fragment_that_cannot_be_cut_becomes_its_own_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let switches = Switches::default();
        let mut log = log(&path, &switches);
        log.append_lines(b"one\n").unwrap();
        switches.full.store(true, Ordering::SeqCst);
        switches.frozen.store(true, Ordering::SeqCst);
        assert!(log.append_lines(b"two-two-two\n").is_err());
        switches.full.store(false, Ordering::SeqCst);
        log.append_lines(b"three\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo-tw\nthree\n");
        // The log knows where the good lines end again: a later failure cuts back to it.
        switches.frozen.store(false, Ordering::SeqCst);
        switches.full.store(true, Ordering::SeqCst);
        assert!(log.append_lines(b"four-four\n").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo-tw\nthree\n");
    }
}
