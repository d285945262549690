//! Process harness for the peer tests: child processes that die with their guard, line
//! waiting with deadlines, free loopback ports, and the real peers (SDK clients, Claude Code,
//! mcp-remote, authorization-server stacks) with the check that each is installed.
//!
//! Every child is spawned with piped stdout/stderr; two threads forward its lines into one
//! channel and keep a full copy for the failure message. [`Proc`] kills and reaps its child
//! on drop, so a failing assertion never leaves a server, proxy or client running.

pub mod catalog;
pub mod claude;
pub mod demo;
pub mod inspector;
pub mod mcp_remote;
pub mod peers;
pub mod proxy;
pub mod stacks;
pub mod tls_demo;
pub mod tls_front;
pub mod trace;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running child process, killed and reaped when dropped.
pub struct Proc {
    name: String,
    child: Child,
    lines: Receiver<(&'static str, String)>,
    log: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Proc {
    /// Spawns `cmd` with piped output and no stdin. Panics (with the command) when it cannot
    /// start.
    pub fn spawn(name: &str, mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::null());
        Proc::spawn_piped(name, cmd)
    }

    /// [`Proc::spawn`] with stdin piped, for a child driven over stdio (a stdio MCP server);
    /// dropping the returned handle closes its stdin.
    pub fn spawn_with_stdin(name: &str, mut cmd: Command) -> (Proc, ChildStdin) {
        cmd.stdin(Stdio::piped());
        let mut proc = Proc::spawn_piped(name, cmd);
        let stdin = proc
            .child
            .stdin
            .take()
            .unwrap_or_else(|| panic!("{name}: no stdin pipe"));
        (proc, stdin)
    }

    fn spawn_piped(name: &str, mut cmd: Command) -> Proc {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot spawn {cmd:?}: {e}"));
        let (tx, lines) = channel();
        let log = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        let stdout = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        let stderr = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        for (stream, tag) in [(stdout, "out"), (stderr, "err")] {
            let Some(stream) = stream else { continue };
            let tx = tx.clone();
            let log = Arc::clone(&log);
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Ok(mut log) = log.lock() {
                        log.push_str(&format!("[{tag}] {line}\n"));
                    }
                    let _ = tx.send((tag, line));
                }
            }));
        }
        Proc {
            name: name.to_string(),
            child,
            lines,
            log,
            readers,
        }
    }

    /// Waits until a line (of stdout or stderr) maps to `Some`, and returns it. Panics with
    /// the process log when the deadline passes or the process ends first.
    pub fn wait_for_line<T>(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&str) -> Option<T>,
    ) -> T {
        self.wait_for_tagged_line(timeout, |_, line| pick(line))
            .unwrap_or_else(|why| panic!("{why}"))
    }

    /// Like [`Proc::wait_for_line`] over stdout lines only (stderr lines go to the log), but
    /// returns what went wrong (with the process log) instead of panicking.
    pub fn try_wait_for_stdout_line<T>(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&str) -> Option<T>,
    ) -> Result<T, String> {
        self.wait_for_tagged_line(
            timeout,
            |tag, line| {
                if tag == "out" { pick(line) } else { None }
            },
        )
    }

    fn wait_for_tagged_line<T>(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&str, &str) -> Option<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((tag, line)) => {
                    if let Some(found) = pick(tag, &line) {
                        return Ok(found);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "{}: no expected line within {timeout:?}; log:\n{}",
                        self.name,
                        self.log()
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    return Err(format!(
                        "{}: exited ({status:?}) before printing the expected line; log:\n{}",
                        self.name,
                        self.log()
                    ));
                }
            }
        }
    }

    /// Waits for the process to exit on its own within `timeout`; kills it after that.
    /// Returns the exit status (None when it had to be killed) and its stdout lines.
    pub fn finish(mut self, timeout: Duration) -> (Option<ExitStatus>, Vec<String>) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
            }
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let stdout = self
            .lines
            .try_iter()
            .filter(|(tag, _)| *tag == "out")
            .map(|(_, l)| l);
        (status, stdout.collect())
    }

    /// [`Proc::finish`], returning everything the process printed (tagged, interleaved).
    pub fn finish_logged(self, timeout: Duration) -> (Option<ExitStatus>, String) {
        let log = Arc::clone(&self.log);
        let (status, _) = self.finish(timeout);
        let text = log.lock().map(|l| l.clone()).unwrap_or_default();
        (status, text)
    }

    /// Asks the process to stop (SIGTERM, by its pid) and waits up to `timeout` for it to exit
    /// (killing it after that). Returns the exit status (None when it had to be killed).
    pub fn terminate(self, timeout: Duration) -> Option<ExitStatus> {
        // The shell's builtin `kill`: no dependency on a procps binary being installed.
        let _ = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status();
        self.finish(timeout).0
    }

    /// Everything the process printed so far, stdout and stderr interleaved, tagged.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A port that was free on 127.0.0.1 a moment ago (for children that need a port up front).
/// Never the same port twice in this process: every test shares it, and two tests handed the
/// same just-released port would race for it.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    // Held until a new port turns up, so the kernel cannot offer the same one again.
    let mut seen = Vec::new();
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
        if handed_out.insert(port) {
            return port;
        }
        seen.push(listener);
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(n)..].join("\n")
}

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether this run is CI (`CI=true`), where missing peers fail instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The first `http://` or `https://` URL in a line, trailing punctuation trimmed.
pub fn first_url(line: &str) -> Option<String> {
    let start = line.find("https://").or_else(|| line.find("http://"))?;
    let url: String = line[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '<' | '>' | ')' | ','))
        .collect();
    Some(url.trim_end_matches(['.', ';']).to_string())
}

#[cfg(test)]
mod tests {
    use super::first_url;

    #[test]
    fn first_url_trims_punctuation() {
        assert_eq!(
            first_url("listening on https://localhost:8443/mcp, trace t.jsonl").as_deref(),
            Some("https://localhost:8443/mcp")
        );
        assert_eq!(first_url("no url here"), None);
    }
}
