//! What the recording commands share: where a trace goes by default (`proxy`, `run`), the
//! next free trace name (`check`, `demo`: a trace is never overwritten), and stdin lines as
//! marks until the user stops the run.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;

/// `traces/<UTC time>.jsonl`.
pub(super) fn default_trace_path() -> PathBuf {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| now.unix_timestamp().to_string());
    PathBuf::from("traces").join(format!("{stamp}.jsonl"))
}

/// `first` when nothing is there, else the first `nth(2)`, `nth(3)`, … that is free.
pub(super) fn free_path(first: PathBuf, nth: impl Fn(u32) -> PathBuf) -> PathBuf {
    if !first.exists() {
        return first;
    }
    (2..1000).map(nth).find(|p| !p.exists()).unwrap_or(first)
}

/// Turns stdin lines into marks (`mark` is called with each non-empty trimmed line) until
/// Ctrl-C or SIGTERM. Once stdin is at EOF (`< /dev/null`, CI, systemd) its branch is switched
/// off, so the loop keeps waiting for the signals: the proxy keeps running.
pub(super) async fn marks_until_stopped(mark: impl Fn(&str)) -> anyhow::Result<()> {
    let (lines_tx, mut lines_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    let mut stdin_open = true;
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            _ = sigterm.recv() => return Ok(()),
            line = lines_rx.recv(), if stdin_open => match line {
                // The live view prints the mark when the recorder writes it.
                Some(line) if !line.trim().is_empty() => mark(line.trim()),
                Some(_) => {}
                None => stdin_open = false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_trace_name_skips_a_taken_one() {
        let dir = tempfile::tempdir().unwrap_or_else(|_| unreachable!());
        let at = |name: &str| dir.path().join(name);
        let nth = |n: u32| at(&format!("c-{n}.jsonl"));
        assert_eq!(free_path(at("c.jsonl"), nth), at("c.jsonl"));
        std::fs::write(at("c.jsonl"), "").unwrap_or_else(|_| unreachable!());
        std::fs::write(at("c-2.jsonl"), "").unwrap_or_else(|_| unreachable!());
        assert_eq!(free_path(at("c.jsonl"), nth), at("c-3.jsonl"));
    }
}
