#!/usr/bin/env bash
# Installs what the export tests need (idempotent):
#   - Debian's chromium (headless browser for tests/it/export_html.rs), via apt-get;
#   - the pinned npm packages of tests/js (har-validator, playwright-core, and Microsoft's SARIF
#     Multitool for tests/it/check_sarif.rs: a self-contained native binary), via `npm ci`.
# Playwright never downloads a browser here: it drives /usr/bin/chromium.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-export: node/npm missing; installing Debian's nodejs and npm" >&2
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm
fi

if [ ! -x /usr/bin/chromium ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

cd "$repo_root/tests/js"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
# npm may skip the Multitool's postinstall (its only job is this chmod).
chmod u+x node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
