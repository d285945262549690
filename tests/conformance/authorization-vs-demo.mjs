#!/usr/bin/env node
// Runs the conformance suite's `authorization` command (conformance-next, 0.2.0-alpha.12) against
// an authorization server whose issuer is given, playing the two parts a person would play:
// it registers a public client (RFC 7591) with the suite's loopback callback as redirect URI,
// and it acts as the browser — it fetches the authorization URL the suite prints and follows
// the redirects to the suite's callback server.
//
// Usage: node authorization-vs-demo.mjs ISSUER RESOURCE CALLBACK_PORT OUT_DIR
// Runs every authorization-server scenario in one invocation (authorization-code-grant reads the
// metadata the first scenario fetched) with `-o OUT_DIR` (each scenario writes
// OUT_DIR/authorization-server-<scenario>-…/checks.json). Exit status: the suite's, or 2.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const [issuer, resource, port, outDir] = process.argv.slice(2);
if (!issuer || !resource || !port || !outDir) {
    console.error('usage: authorization-vs-demo.mjs ISSUER RESOURCE CALLBACK_PORT OUT_DIR');
    process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, 'node_modules/conformance-next/dist/index.js');

function run(args, onLine) {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) {
        createInterface({ input: stream }).on('line', (line) => {
            console.log(line);
            onLine?.(line);
        });
    }
    return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

const asm = await (await fetch(new URL('/.well-known/oauth-authorization-server', issuer))).json();
const redirectUri = `http://127.0.0.1:${port}/callback`;
const registration = await fetch(asm.registration_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
        client_name: 'conformance authorization-code-grant',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        application_type: 'native'
    })
});
if (!registration.ok) {
    console.error(`registration failed: ${registration.status} ${await registration.text()}`);
    process.exit(2);
}
const { client_id: clientId } = await registration.json();

// The suite prints the authorization URL before its callback server listens: browse once
// both the URL and "Callback server started" were seen, in whichever order they come.
let printedUrl = false;
let authorizationUrl;
let callbackListening = false;
let browsed;
const browse = () => {
    if (browsed || !authorizationUrl || !callbackListening) return;
    // The browser: follow the AS's redirects to the suite's callback server.
    browsed = fetch(authorizationUrl, { redirect: 'follow' }).then(
        (r) => console.log(`[browser] ${r.status} ${r.url}`),
        (e) => console.log(`[browser] failed: ${e}`)
    );
};
const status = await run(
    ['authorization', '--url', issuer, '--client-id', clientId, '--resource', resource, '-p', port, '-o', outDir],
    (line) => {
        if (printedUrl && !authorizationUrl && /^https?:\/\//.test(line.trim())) authorizationUrl = line.trim();
        if (line.includes('Access the following URL')) printedUrl = true;
        if (line.includes('Callback server started')) callbackListening = true;
        browse();
    }
);
await browsed;
process.exit(status);
