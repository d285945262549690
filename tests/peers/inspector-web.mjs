#!/usr/bin/env node
// The MCP Inspector's web UI as a user runs it, for tests/it/forward_peers.rs: run under
// `authtap run --browser` on Node >= 22.19 (the Inspector's engines), it starts the Inspector
// web app (the pinned @modelcontextprotocol/inspector, `--web`) on a free port, opens its deep
// link (`?serverUrl=…&transport=http&autoConnect=<token>`, which connects at once) with
// $BROWSER — Chromium through authtap, started by the test with --headless and
// --remote-debugging-port — and reads the page over the Chrome DevTools Protocol until it
// shows the server connected (or the time is up). The OAuth flow is the Inspector's own: its
// page and its server discover, register, send the browser to /authorize and redeem the code
// at its /oauth/callback.
// It prints ONE JSON line on stdout: {"connected":bool,"page_url":..,"text":..,"error":..}.
//
// Usage: node inspector-web.mjs INSPECTOR_LAUNCHER MCP_URL UI_PORT SANDBOX_PORT APP_PORT DEVTOOLS_PORT

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { devtools, evaluate } from './devtools.mjs';

const [launcher, mcpUrl, uiPort, sandboxPort, appPort, devtoolsPort] = process.argv.slice(2);
const deadline = Date.now() + 60_000;
const token = randomBytes(16).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let inspector = null;
let browser = null;

function finish(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  for (const child of [browser, inspector]) {
    if (child && child.exitCode === null) child.kill('SIGTERM');
  }
  process.exit(result.connected ? 0 : 1);
}

async function main() {
  if (!process.env.BROWSER) throw new Error('BROWSER is not set (authtap run --browser sets it)');
  inspector = spawn(process.execPath, [launcher, '--web'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      CLIENT_PORT: uiPort,
      MCP_SANDBOX_PORT: sandboxPort,
      MCP_APP_ORIGIN_PORT: appPort,
      MCP_INSPECTOR_API_TOKEN: token,
      MCP_AUTO_OPEN_ENABLED: 'false',
      MCP_INSPECTOR_SECRET_STORE: 'memory',
    },
  });
  await new Promise((resolve, reject) => {
    let out = '';
    inspector.stdout.on('data', (chunk) => {
      out += chunk;
      process.stderr.write(chunk);
      if (out.includes('up and running')) resolve();
    });
    inspector.on('exit', (code) => reject(new Error(`the Inspector exited (${code}) before it was up`)));
  });
  const link = new URL(`http://127.0.0.1:${uiPort}/`);
  link.search = new URLSearchParams({ serverUrl: mcpUrl, transport: 'http', autoConnect: token, MCP_INSPECTOR_API_TOKEN: token }).toString();
  browser = spawn(process.env.BROWSER, [link.href], { stdio: ['ignore', 'ignore', 'inherit'] });
  let last = { page_url: null, text: null };
  while (Date.now() < deadline) {
    await sleep(500);
    let pages;
    try {
      pages = (await devtools(devtoolsPort, '/json/list')).filter((t) => t.type === 'page');
    } catch {
      continue; // Chromium still starting
    }
    for (const page of pages) {
      if (!page.webSocketDebuggerUrl) continue;
      const text = await evaluate(page.webSocketDebuggerUrl, 'document.body ? document.body.innerText : ""').catch(() => '');
      last = { page_url: page.url, text: String(text).slice(0, 2000) };
      // The deep link adds a server entry named `deep-link`; its status follows its name.
      if (/\bdeep-link\s+Connected\b/.test(text)) {
        finish({ connected: true, ...last, error: null });
      }
    }
  }
  finish({ connected: false, ...last, error: 'the Inspector did not show the server connected' });
}

main().catch((err) => finish({ connected: false, page_url: null, text: null, error: String(err) }));
