#!/usr/bin/env node
// A real authorization-server stack for authtap's peer tests: `better-auth` with its MCP plugin
// (`@better-auth/mcp`, on `@better-auth/oauth-provider`) as the authorization server, and the
// MCP server on the same origin behind the plugin's `requireMcpAuth`, on the official
// TypeScript SDK's web-standard Streamable HTTP transport.
//
// Usage: node better-auth-stack.mjs --port N
//
// On http://127.0.0.1:N: better-auth under /api/auth (issuer `http://127.0.0.1:N/api/auth`,
// in-memory storage, email + password accounts, the JWT plugin signing the access tokens), its
// RFC 8414 metadata at the root well-known path for that issuer, open dynamic client
// registration, the plugin's RFC 9728 protected resource metadata for `http://127.0.0.1:N/mcp`,
// a login page (/login: email and password pre-filled for the test account, posted straight to
// better-auth's /sign-in/email with the signed authorization query) and a consent page
// (/consent, relayed server-side to better-auth's consent endpoint).
//
// Prints `STACK READY {"mcp_url":..,"resource":..,"issuer":..}` once it listens.

import http from 'node:http';
import { betterAuth } from 'better-auth';
import { memoryAdapter } from 'better-auth/adapters/memory';
import { getAuthTables } from 'better-auth/db';
import { jwt } from 'better-auth/plugins';
import { mcp, requireMcpAuth } from '@better-auth/mcp';
import { oauthProviderAuthServerMetadata } from '@better-auth/oauth-provider';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { announce, listenLoopback, newMcpServer, parseFlags } from './mcp-tools.mjs';
import { sendWebResponse, toWebRequest } from './web-bridge.mjs';

const flags = parseFlags(process.argv.slice(2));
if (!flags.port) throw new Error('usage: better-auth-stack.mjs --port N');
const origin = `http://127.0.0.1:${flags.port}`;
const resource = `${origin}/mcp`;
const SCOPE = 'mcp:tools';
const ACCOUNT = { email: 'peer@authtap.test', password: 'authtap-peer-password', name: 'authtap peer' };

// The in-memory adapter needs every table up front: one empty array per model of this config.
const tables = {};
const options = {
    baseURL: origin,
    basePath: '/api/auth',
    // Test-only secret for signing better-auth's cookies and authorization queries.
    secret: 'authtap-peer-better-auth-secret-0123456789abcdef',
    database: memoryAdapter(tables),
    emailAndPassword: { enabled: true },
    telemetry: { enabled: false },
    logger: { level: 'warn' },
    plugins: [
        jwt(),
        mcp({
            resource,
            loginPage: '/login',
            consentPage: '/consent',
            scopes: ['openid', 'profile', 'email', 'offline_access', SCOPE],
            allowDynamicClientRegistration: true,
            allowUnauthenticatedClientRegistration: true
        })
    ]
};
for (const table of Object.values(getAuthTables(options))) tables[table.modelName] = [];
const auth = betterAuth(options);
await auth.api.signUpEmail({ body: ACCOUNT });

const ctx = await auth.$context;
const issuer = ctx.baseURL;
const asMetadataPath = `/.well-known/oauth-authorization-server${new URL(issuer).pathname}`;
const serveAsMetadata = oauthProviderAuthServerMetadata(auth);

const escape = s => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

function page(title, form) {
    return new Response(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${form}</body></html>`, {
        headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }
    });
}

function loginPage(url) {
    return page('Sign in', `<form method="post" action="/api/auth/sign-in/email">
<input type="hidden" name="oauth_query" value="${escape(url.search.slice(1))}">
<input type="email" name="email" value="${escape(ACCOUNT.email)}">
<input type="password" name="password" value="${escape(ACCOUNT.password)}">
<button type="submit">Sign in</button></form>`);
}

function consentPage(url) {
    return page('Allow access?', `<form method="post" action="/consent">
<input type="hidden" name="oauth_query" value="${escape(url.search.slice(1))}">
<button type="submit" name="accept" value="true">Allow</button></form>`);
}

/**
 * The consent form's POST: relayed to better-auth's consent endpoint as the JSON call its own
 * client library makes (the session cookie kept), then a 302 to the URL it answers with.
 */
async function acceptConsent(request) {
    const form = new URLSearchParams(await request.text());
    const headers = new Headers({ 'content-type': 'application/json', accept: 'application/json', origin });
    const cookie = request.headers.get('cookie');
    if (cookie) headers.set('cookie', cookie);
    const answer = await auth.handler(
        new Request(`${origin}/api/auth/oauth2/consent`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ accept: form.get('accept') === 'true', oauth_query: form.get('oauth_query') ?? '' })
        })
    );
    const json = await answer.json().catch(() => ({}));
    const target = json.url ?? json.redirect_uri;
    if (!answer.ok || !target) {
        return new Response(`consent failed: HTTP ${answer.status} ${JSON.stringify(json)}`, { status: 500, headers: { 'content-type': 'text/plain' } });
    }
    const out = new Headers({ location: target, 'cache-control': 'no-store' });
    for (const c of answer.headers.getSetCookie()) out.append('set-cookie', c);
    return new Response(null, { status: 302, headers: out });
}

const serveMcp = requireMcpAuth(
    auth,
    async request => {
        const server = newMcpServer('better-auth');
        const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
        await server.connect(transport);
        return transport.handleRequest(request);
    },
    { resource, requiredScopes: [SCOPE] }
);

async function route(request) {
    const url = new URL(request.url);
    if (url.pathname === asMetadataPath) return serveAsMetadata(request);
    if (url.pathname === '/login' && request.method === 'GET') return loginPage(url);
    if (url.pathname === '/consent' && request.method === 'GET') return consentPage(url);
    if (url.pathname === '/consent' && request.method === 'POST') return acceptConsent(request);
    if (url.pathname === '/mcp') {
        if (request.method !== 'POST') return new Response(null, { status: 405, headers: { allow: 'POST' } });
        return serveMcp(request);
    }
    if (url.pathname.startsWith('/api/auth/') || url.pathname.startsWith('/.well-known/oauth-protected-resource')) {
        return auth.handler(request);
    }
    return new Response('not found', { status: 404, headers: { 'content-type': 'text/plain' } });
}

const server = http.createServer(async (req, res) => {
    try {
        await sendWebResponse(res, await route(toWebRequest(req, origin)));
    } catch (err) {
        console.error('better-auth stack: request failed', err);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error');
    }
});
await listenLoopback(server, flags.port);
announce({ mcp_url: resource, resource, issuer, resource_metadata: `${origin}/.well-known/oauth-protected-resource/mcp` });
