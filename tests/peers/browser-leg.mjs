#!/usr/bin/env node
// The browser leg of an OAuth flow, for tests/it/forward_peers.rs: run under `authtap run --browser`
// on Node >= 22.21 (fetch follows HTTPS_PROXY/HTTP_PROXY with NODE_USE_ENV_PROXY=1).
//
// Usage: node browser-leg.mjs AS_ISSUER MCP_URL DEVTOOLS_PORT
//
// It registers a public client (RFC 7591) at AS_ISSUER/register, opens the authorization URL
// (PKCE S256, state, resource) with $BROWSER — which `authtap run --browser` points at Chromium
// through the proxy, started by the test with --headless and --remote-debugging-port — then,
// over the Chrome DevTools Protocol, clicks the consent form's approve button the way a user
// would, and waits until the browser has left the authorization server for the redirect URI.
// It prints ONE JSON line on stdout: {"clicked":bool,"final_url":..,"error":..}. Exit 0 when the
// button was clicked.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { devtools, evaluate } from './devtools.mjs';

const [asIssuer, mcpUrl, devtoolsPort] = process.argv.slice(2);
const REDIRECT = 'http://127.0.0.1:9/callback';
const deadline = Date.now() + 45_000;

const b64url = (buf) => buf.toString('base64url');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function finish(result, browser) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (browser && browser.exitCode === null) browser.kill('SIGTERM');
  process.exit(result.clicked ? 0 : 1);
}

async function register() {
  const res = await fetch(`${asIssuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'authtap browser-leg test',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }),
  });
  if (res.status !== 201) throw new Error(`register: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()).client_id;
}

async function main() {
  const clientId = await register();
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const url = new URL(`${asIssuer}/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    state: b64url(randomBytes(16)),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource: mcpUrl,
    scope: 'mcp:tools',
  }).toString();
  if (!process.env.BROWSER) throw new Error('BROWSER is not set (authtap run --browser sets it)');
  const browser = spawn(process.env.BROWSER, [url.href], { stdio: ['ignore', 'ignore', 'inherit'] });
  let clicked = false;
  let finalUrl = null;
  while (Date.now() < deadline) {
    await sleep(250);
    let pages;
    try {
      pages = (await devtools(devtoolsPort, '/json/list')).filter((t) => t.type === 'page');
    } catch {
      continue; // Chromium still starting
    }
    const page = pages.find((p) => p.url.startsWith(asIssuer) || p.url.startsWith(REDIRECT) || p.url.startsWith('chrome-error'));
    if (!page) continue;
    finalUrl = page.url;
    if (clicked && !page.url.startsWith(asIssuer)) break;
    if (!clicked && page.webSocketDebuggerUrl) {
      const state = await evaluate(
        page.webSocketDebuggerUrl,
        `(() => { const b = document.querySelector('button[value="approve"]'); if (!b) return 'waiting'; b.form.requestSubmit(b); return 'clicked'; })()`,
      ).catch(() => 'waiting');
      clicked = state === 'clicked';
    }
  }
  finish({ clicked, final_url: finalUrl, error: clicked ? null : 'no consent form appeared' }, browser);
}

main().catch((err) => finish({ clicked: false, final_url: null, error: String(err) }));
