//! The real Claude Code CLI as a peer: found in tests/peers/node_modules (or skipped loudly,
//! failing under `CI=true`), run headlessly with a throw-away home and config directory.
//!
//! No Anthropic API is needed: `ANTHROPIC_BASE_URL` points at a closed loopback port and
//! `CLAUDE_CODE_MAX_RETRIES=0`. `claude mcp login` refuses to run without a terminal, so it runs
//! under `script -qec …` (a pseudo-terminal); it opens the authorization URL with `$BROWSER`,
//! which is tests/peers/headless-browser.sh. Every command runs under coreutils `timeout`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::{free_port, in_ci, repo_root};

/// The pinned CLI and what it needs.
pub struct ClaudeCode {
    /// The native binary of `@anthropic-ai/claude-code-linux-x64`.
    pub binary: PathBuf,
    /// `claude --version`.
    pub version: String,
    home: tempfile::TempDir,
    closed_api_port: u16,
    ca: Option<PathBuf>,
    path_first: Option<PathBuf>,
}

/// The installed CLI, or `None` after a loud message when it is missing outside CI. In CI a
/// missing peer panics: the suite must not go green without running it.
pub fn claude_or_skip(test: &str) -> Option<ClaudeCode> {
    let peers = repo_root().join("tests/peers");
    let binary = peers.join("node_modules/@anthropic-ai/claude-code-linux-x64/claude");
    let mut missing = Vec::new();
    let version = match Command::new(&binary).arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        _ => {
            missing.push(format!("{} does not run", binary.display()));
            String::new()
        }
    };
    for tool in ["node", "script", "timeout"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map_or(true, |o| !o.status.success())
        {
            missing.push(format!("`{tool}` is not on PATH"));
        }
    }
    if missing.is_empty() {
        return Some(ClaudeCode {
            binary,
            version,
            home: tempfile::tempdir().unwrap(),
            closed_api_port: free_port(),
            ca: None,
            path_first: None,
        });
    }
    let verdict = if in_ci() {
        "FAILED (CI=true)"
    } else {
        "SKIPPED"
    };
    let message = format!(
        "\n==================== {test}: {verdict} ====================\n\
         the real Claude Code CLI is not installed: {}\n\
         run `bash scripts/ci/install-peers.sh` to install it\n\
         =========================================================\n",
        missing.join("; ")
    );
    assert!(!in_ci(), "{message}");
    eprintln!("{message}");
    None
}

/// What one `claude` command printed.
#[derive(Debug)]
pub struct ClaudeRun {
    /// Whether it exited 0 within its deadline.
    pub success: bool,
    /// stdout and stderr, tagged, terminal escapes removed.
    pub output: String,
}

impl ClaudeCode {
    /// Trusts this CA certificate (as `NODE_EXTRA_CA_CERTS`, the README's instruction).
    pub fn trust(&mut self, ca: &Path) {
        self.ca = Some(ca.to_path_buf());
    }

    /// The file the headless browser logs its hops to.
    pub fn browser_log(&self) -> PathBuf {
        self.home.path().join("browser.log")
    }

    /// A command with the throw-away environment (nothing inherited but `PATH`).
    fn command(&self, program: &Path) -> Command {
        let home = self.home.path();
        let config = home.join("claude-config");
        let _ = std::fs::create_dir_all(&config);
        let mut cmd = Command::new(program);
        let mut path: Vec<PathBuf> = self.path_first.iter().cloned().collect();
        path.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        cmd.env_clear()
            .env("PATH", std::env::join_paths(path).unwrap_or_default())
            .env("HOME", home)
            .env("CLAUDE_CONFIG_DIR", &config)
            .env("TERM", "xterm")
            .env("ANTHROPIC_API_KEY", "sk-ant-authtap-test-dummy")
            .env(
                "ANTHROPIC_BASE_URL",
                format!("http://127.0.0.1:{}", self.closed_api_port),
            )
            .env("CLAUDE_CODE_MAX_RETRIES", "0")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env(
                "BROWSER",
                repo_root().join("tests/peers/headless-browser.sh"),
            )
            .env("AUTHTAP_BROWSER_LOG", self.browser_log())
            .current_dir(home);
        if let Some(ca) = &self.ca {
            cmd.env("NODE_EXTRA_CA_CERTS", ca);
        }
        cmd
    }

    /// Runs `program ARGS…` under `timeout` (killed 5 s after TERM), stdin from /dev/null.
    fn run(&self, program: &Path, args: &[&str], timeout: Duration) -> ClaudeRun {
        let mut cmd = self.command(Path::new("timeout"));
        cmd.args(["-k", "5", &timeout.as_secs().to_string()])
            .arg(program)
            .args(args)
            .stdin(std::process::Stdio::null());
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ClaudeRun {
            success: out.status.success(),
            output: strip_escapes(&output),
        }
    }

    /// Puts `dir` first on the commands' `PATH` (e.g. a newer `node` for the headless browser).
    pub fn path_first(&mut self, dir: &Path) {
        self.path_first = Some(dir.to_path_buf());
    }

    /// `LAUNCHER LAUNCHER_ARGS… script -qec "claude ARGS…"`: a terminal command started by a
    /// wrapper such as `authtap run … --`.
    pub fn cli_in_terminal_under(
        &self,
        launcher: &Path,
        launcher_args: &[&str],
        args: &[&str],
        timeout: Duration,
    ) -> ClaudeRun {
        let mut line = shell_quote(&self.binary.to_string_lossy());
        for arg in args {
            line.push(' ');
            line.push_str(&shell_quote(arg));
        }
        let mut all: Vec<&str> = launcher_args.to_vec();
        all.extend(["script", "-qec", &line, "/dev/null"]);
        self.run(launcher, &all, timeout)
    }

    /// `claude ARGS…` (no terminal).
    pub fn cli(&self, args: &[&str], timeout: Duration) -> ClaudeRun {
        self.run(&self.binary, args, timeout)
    }

    /// `claude ARGS…` under a pseudo-terminal (`script -qec`), for commands that insist on one.
    pub fn cli_in_terminal(&self, args: &[&str], timeout: Duration) -> ClaudeRun {
        let mut line = shell_quote(&self.binary.to_string_lossy());
        for arg in args {
            line.push(' ');
            line.push_str(&shell_quote(arg));
        }
        self.run(Path::new("script"), &["-qec", &line, "/dev/null"], timeout)
    }
}

fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Removes ANSI escape sequences (CSI, OSC 8 hyperlinks) and carriage returns.
pub fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    // OSC: up to BEL or ESC \.
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}
