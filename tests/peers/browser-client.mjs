#!/usr/bin/env node
// A browser-based MCP client's discovery and registration, for tests/it/forward_faults.rs: run
// under `authtap run --browser`, it serves one page on http://localhost:<port> (a loopback web
// origin, like a web client on http://localhost:6274) and opens it with $BROWSER — Chromium
// through authtap's proxy. The page does what a browser MCP client does with the TypeScript
// SDK's auth() in the page: cross-origin `fetch` from its own origin,
// so Chromium sends `Origin` and CORS preflights —
//   1. POST MCP_URL initialize without a token (JSON body: preflighted), reads WWW-Authenticate;
//   2. GET the protected resource metadata (the challenge's resource_metadata, else the
//      path-aware well-known URL) with MCP-Protocol-Version (preflighted); when that fetch
//      fails, once more without the header (a simple request), as the SDK does;
//   3. GET the authorization server metadata the same way;
//   4. POST a registration (RFC 7591, public client) to its registration_endpoint.
// The page posts what it saw back to this script, which prints ONE JSON line on stdout:
// {"steps":[{name, ok, status?, error?, www_authenticate?}...]} and exits 0 once the page
// reported (whatever the steps gave: the server's faults are the test's subject).
//
// Usage: node browser-client.mjs MCP_URL [TIMEOUT_MS]

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';

const [mcpUrl, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg ?? 45000);
const PROTOCOL = '2025-11-25';

/** The page's script: runs on load in Chromium, posts its steps to /result. */
function pageScript(mcp) {
  return `
const MCP = ${JSON.stringify(mcp)};
const steps = [];
async function step(name, run) {
  try {
    const out = await run();
    steps.push({ name, ok: true, ...out });
    return out;
  } catch (err) {
    steps.push({ name, ok: false, error: String(err) });
    return null;
  }
}
async function getJson(name, url) {
  const read = async (headers) => {
    const res = await fetch(url, { headers });
    const body = res.ok ? await res.json() : null;
    return { status: res.status, body };
  };
  return (await step(name, () => read({ 'mcp-protocol-version': '${PROTOCOL}' })))
    ?? (await step(name + ' (simple)', () => read({})));
}
async function main() {
  const init = await step('initialize', async () => {
    const res = await fetch(MCP, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
        protocolVersion: '${PROTOCOL}', capabilities: {},
        clientInfo: { name: 'authtap browser client', version: '1.0.0' } } }),
    });
    return { status: res.status, www_authenticate: res.headers.get('www-authenticate') };
  });
  const fromChallenge = /resource_metadata="([^"]+)"/.exec(init?.www_authenticate ?? '')?.[1];
  const mcpUrl = new URL(MCP);
  const prmUrl = fromChallenge
    ?? new URL('/.well-known/oauth-protected-resource' + mcpUrl.pathname, mcpUrl).href;
  const prm = await getJson('prm', prmUrl);
  const issuer = prm?.body?.authorization_servers?.[0];
  if (!issuer) return;
  const asm = await getJson('asm', new URL('/.well-known/oauth-authorization-server', issuer).href);
  const registration = asm?.body?.registration_endpoint;
  if (!registration) return;
  await step('register', async () => {
    const res = await fetch(registration, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'authtap browser client', redirect_uris: [location.origin + '/oauth/callback'],
        grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
        token_endpoint_auth_method: 'none' }),
    });
    return { status: res.status };
  });
}
main().finally(() => fetch('/result', { method: 'POST', body: JSON.stringify({ steps }) }));
`;
}

let browser = null;
function finish(result, code) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (browser && browser.exitCode === null) browser.kill('SIGTERM');
  process.exit(code);
}

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/result') {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      res.end('ok');
      finish(JSON.parse(body), 0);
    });
    return;
  }
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><title>browser MCP client</title><script type="module">${pageScript(mcpUrl)}</script>`);
});

server.listen(0, '127.0.0.1', () => {
  if (!process.env.BROWSER) finish({ steps: [], error: 'BROWSER is not set (authtap run --browser sets it)' }, 1);
  const page = `http://localhost:${server.address().port}/`;
  browser = spawn(process.env.BROWSER, [page], { stdio: ['ignore', 'ignore', 'inherit'] });
  setTimeout(() => finish({ steps: [], error: `the page did not report within ${timeoutMs} ms` }, 1), timeoutMs);
});
