//! authtap's end-to-end tests, as one test binary (one link instead of one per file): each
//! file of this directory is a module of it. The shared helpers are single modules here —
//! `support` (a real upstream and an in-process proxy), `demo_login` (a token from the
//! reference server), `harness` (child processes and the real peers), `export_support`,
//! `redaction_views`, `conformance` (the pinned suite's install and expectations) and `heavy`
//! (the one budget every test that runs external peers draws from, since they all share this
//! process).

#![allow(clippy::unwrap_used, clippy::expect_used)]

// Shared helpers.
mod conformance;
mod demo_login;
mod export_support;
mod harness;
mod heavy;
mod redaction_views;
mod support;

// The tests, one module per area.
mod check_demo;
mod check_sarif;
mod claude_code_e2e;
mod conformance_forward;
mod conformance_oracle;
mod demo_faults;
mod demo_flow;
mod demo_modern_proxy;
mod demo_proxy;
mod demo_revisions;
mod demo_spec;
mod export_har;
mod export_html;
mod export_markdown;
mod forward_faults;
mod forward_peers;
mod forward_run;
mod lint_cli;
mod lint_e2e;
mod mcp_remote_e2e;
mod peers_bounce;
mod peers_e2e;
mod peers_stacks;
mod properties;
mod proxy_bounce;
mod proxy_faults;
mod proxy_forwarding;
mod proxy_login_cookie;
mod proxy_process;
mod proxy_rewrite;
mod redaction_canaries;
mod rules_cli;
mod tls_clients;
mod tls_handshake;
mod trace_full_disk;
