//! Real authorization-server stacks (tests/peers/stacks/*.mjs) as child processes: each binds
//! loopback ports, prints `STACK READY {json}` with its URLs, and dies with its guard.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::peers::Peers;
use super::{Proc, free_port, tail};

/// Which stack to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackKind {
    /// `oidc-provider` (separate origin) + a TS SDK resource server, PRM `resource` = the MCP URL.
    OidcProvider,
    /// The same, with the PRM `resource` the bare origin `http://127.0.0.1:PORT` and MCP at `/mcp`.
    OidcProviderOriginResource,
    /// `better-auth` with `@better-auth/mcp`, AS and MCP on one origin.
    BetterAuth,
}

impl StackKind {
    /// Short label for tables and messages.
    pub fn label(self) -> &'static str {
        match self {
            StackKind::OidcProvider => "oidc-provider",
            StackKind::OidcProviderOriginResource => "oidc-provider, origin resource",
            StackKind::BetterAuth => "better-auth",
        }
    }

    /// The script under tests/peers/stacks/ and its arguments (fresh loopback ports).
    fn command_line(self) -> (&'static str, Vec<String>) {
        let port = || free_port().to_string();
        match self {
            StackKind::OidcProvider => (
                "oidc-provider-stack.mjs",
                vec!["--as-port".into(), port(), "--rs-port".into(), port()],
            ),
            StackKind::OidcProviderOriginResource => (
                "oidc-provider-stack.mjs",
                vec![
                    "--as-port".into(),
                    port(),
                    "--rs-port".into(),
                    port(),
                    "--origin-resource".into(),
                ],
            ),
            StackKind::BetterAuth => ("better-auth-stack.mjs", vec!["--port".into(), port()]),
        }
    }
}

/// A running stack.
pub struct Stack {
    proc: Proc,
    /// Which one.
    pub kind: StackKind,
    /// The MCP endpoint, `http://127.0.0.1:PORT/mcp`.
    pub mcp_url: String,
    /// The authorization server's issuer.
    pub issuer: String,
}

impl Stack {
    /// `scheme://host:port` of the issuer.
    pub fn as_origin(&self) -> String {
        origin_of(&self.issuer)
    }

    /// `scheme://host:port` of the MCP endpoint.
    pub fn mcp_origin(&self) -> String {
        origin_of(&self.mcp_url)
    }

    /// The last lines the stack printed.
    pub fn log_tail(&self) -> String {
        tail(&self.proc.log(), 30)
    }
}

fn origin_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// Starts `kind` and waits for its READY line.
pub fn start_stack(peers: &Peers, kind: StackKind) -> Stack {
    let (script, args) = kind.command_line();
    let mut cmd = Command::new(&peers.node);
    cmd.arg(peers.dir.join("stacks").join(script))
        .args(&args)
        .current_dir(&peers.dir);
    let mut proc = Proc::spawn(kind.label(), cmd);
    let ready: Value = proc.wait_for_line(Duration::from_secs(30), |line| {
        line.strip_prefix("STACK READY ")
            .and_then(|json| serde_json::from_str(json).ok())
    });
    let field = |name: &str| {
        ready[name]
            .as_str()
            .unwrap_or_else(|| panic!("{}: READY line lacks {name}: {ready}", kind.label()))
            .to_string()
    };
    Stack {
        kind,
        mcp_url: field("mcp_url"),
        issuer: field("issuer"),
        proc,
    }
}
