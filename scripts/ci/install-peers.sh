#!/usr/bin/env bash
# Installs the real MCP SDK peers that tests/it/peers_e2e.rs and tests/it/peers_stacks.rs drive
# (idempotent):
#   - Node.js + npm (Debian's packages, only when missing), then the pinned npm packages of
#     tests/peers via `npm ci`: the official TypeScript SDK (@modelcontextprotocol/sdk), the real
#     Claude Code CLI (@anthropic-ai/claude-code with its native linux-x64 binary) and the
#     authorization-server stacks of tests/peers/stacks (oidc-provider; better-auth with
#     @better-auth/mcp, in-memory storage, so nothing native is built), and mcp-remote (the
#     stdio-to-HTTP bridge with OAuth that Claude Desktop-style stdio clients use), and the MCP
#     Inspector (@modelcontextprotocol/inspector 2.x: web UI and CLI; it runs on the Node 22 of
#     scripts/ci/install-conformance.sh);
#   - Go (Debian's golang-go) and NSS's certutil (libnss3-tools, to trust a CA in Chromium's NSS
#     store), only when missing: further TLS stacks for tests/it/tls_clients.rs;
#   - Python venv support (Debian's python3-venv, only when missing), then the hash-pinned
#     requirements of tests/peers (the official Python SDK, `mcp`) into tests/peers/.venv.
# A second run with unchanged lock files does nothing but check stamps.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
peers="$repo_root/tests/peers"

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    apt-get update
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-peers: node/npm missing; installing Debian's nodejs and npm" >&2
  apt_install nodejs npm
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-peers: go missing; installing Debian's golang-go" >&2
  apt_install --no-install-recommends golang-go
fi
if ! command -v certutil >/dev/null 2>&1; then
  echo "install-peers: certutil missing; installing Debian's libnss3-tools" >&2
  apt_install --no-install-recommends libnss3-tools
fi
if ! command -v script >/dev/null 2>&1; then
  echo "install-peers: script missing; installing Debian's bsdutils" >&2
  apt_install bsdutils
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "install-peers: python3 missing; installing Debian's python3" >&2
  apt_install python3 python3-venv
fi

# --- TypeScript SDK -------------------------------------------------------------------------
lock_sum="$(sha256sum "$peers/package-lock.json" | cut -d' ' -f1)"
npm_stamp="$peers/node_modules/.authtap-lock-sha256"
if [ -f "$npm_stamp" ] && [ "$(cat "$npm_stamp")" = "$lock_sum" ]; then
  echo "install-peers: tests/peers/node_modules is up to date"
else
  (cd "$peers" && npm ci --no-audit --no-fund)
  echo "$lock_sum" >"$npm_stamp"
fi

# --- Python SDK -----------------------------------------------------------------------------
venv="$peers/.venv"
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv"; then
    echo "install-peers: python3 -m venv failed; installing Debian's python3-venv" >&2
    rm -rf "$venv"
    apt_install python3-venv
    python3 -m venv "$venv"
  fi
fi
req_sum="$(sha256sum "$peers/requirements.txt" | cut -d' ' -f1)"
pip_stamp="$venv/.authtap-requirements-sha256"
if [ -f "$pip_stamp" ] && [ "$(cat "$pip_stamp")" = "$req_sum" ]; then
  echo "install-peers: tests/peers/.venv is up to date"
else
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet \
    --require-hashes --only-binary=:all: -r "$peers/requirements.txt"
  echo "$req_sum" >"$pip_stamp"
fi

echo "install-peers: node $(node --version), $("$venv/bin/python" --version)," \
  "@modelcontextprotocol/sdk $(node -p "require('$peers/node_modules/@modelcontextprotocol/sdk/package.json').version")," \
  "oidc-provider $(node -p "require('$peers/node_modules/oidc-provider/package.json').version")," \
  "better-auth $(node -p "require('$peers/node_modules/better-auth/package.json').version")," \
  "mcp-remote $(node -p "require('$peers/node_modules/mcp-remote/package.json').version")," \
  "inspector $(node -p "require('$peers/node_modules/@modelcontextprotocol/inspector/package.json').version")," \
  "mcp $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))')," \
  "claude $("$peers/node_modules/@anthropic-ai/claude-code-linux-x64/claude" --version 2>/dev/null || echo '(native binary missing)')," \
  "$(go version)"
