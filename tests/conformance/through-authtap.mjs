#!/usr/bin/env node
// The `--command` the conformance runner starts for each client scenario when the flow must go
// through authtap: it starts `authtap proxy --upstream SERVER_URL` (reverse mode over TLS, on a
// free loopback port), runs auth-client.mjs against the proxy's URL trusting authtap's CA, then
// stops the proxy with SIGTERM so the trace is complete, and exits with the client's status.
//
// Usage (the runner appends SERVER_URL): node through-authtap.mjs SERVER_URL
// Environment: AUTHTAP_BIN (the authtap binary), AUTHTAP_CERTS_DIR (an existing CA directory),
// AUTHTAP_TRACE (the JSONL trace to write); MCP_CONFORMANCE_* pass through to the client.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import path from 'node:path';

const serverUrl = process.argv[2];
const { AUTHTAP_BIN, AUTHTAP_CERTS_DIR, AUTHTAP_TRACE } = process.env;
if (!serverUrl || !AUTHTAP_BIN || !AUTHTAP_CERTS_DIR || !AUTHTAP_TRACE) {
    console.error('usage: AUTHTAP_BIN=… AUTHTAP_CERTS_DIR=… AUTHTAP_TRACE=… through-authtap.mjs SERVER_URL');
    process.exit(2);
}

const proxy = spawn(
    AUTHTAP_BIN,
    ['proxy', '--upstream', serverUrl, '--listen', '127.0.0.1:0', '--certs-dir', AUTHTAP_CERTS_DIR, '--trace', AUTHTAP_TRACE],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } }
);
const proxyExited = new Promise((resolve) => proxy.on('exit', (code, signal) => resolve({ code, signal })));

const proxyUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('authtap proxy printed no URL within 20 s')), 20000);
    for (const stream of [proxy.stdout, proxy.stderr]) {
        createInterface({ input: stream }).on('line', (line) => {
            process.stderr.write(`[authtap] ${line}\n`);
            const m = line.includes('point your MCP client at') && line.match(/https?:\/\/\S+/);
            if (m) {
                clearTimeout(timer);
                resolve(m[0]);
            }
        });
    }
    proxyExited.then(({ code }) => reject(new Error(`authtap proxy exited early (${code})`)));
});

const here = path.dirname(fileURLToPath(import.meta.url));
const client = spawn(process.execPath, [path.join(here, 'auth-client.mjs'), proxyUrl], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: path.join(AUTHTAP_CERTS_DIR, 'ca.pem') }
});
const clientStatus = await new Promise((resolve) => client.on('exit', (code) => resolve(code ?? 1)));

proxy.kill('SIGTERM');
const stopped = await Promise.race([proxyExited, new Promise((r) => setTimeout(() => r(null), 10000))]);
if (!stopped) {
    console.error('authtap proxy did not stop within 10 s of SIGTERM');
    proxy.kill('SIGKILL');
    process.exit(3);
}
process.exit(clientStatus);
