#!/usr/bin/env node
// A real authorization-server stack for authtap's peer tests: `oidc-provider` (a certified
// OpenID Provider) as the authorization server, and an MCP resource server on the official
// TypeScript SDK that verifies the JWT access tokens it mints.
//
// Usage: node oidc-provider-stack.mjs --as-port N --rs-port M [--origin-resource] [--host NAME]
//
// Authorization server on http://127.0.0.1:N: dynamic client registration (RFC 7591), PKCE
// required (RFC 7636), resource indicators (RFC 8707) minting JWT access tokens (RFC 9068) whose
// `aud` is the MCP resource, the RFC 9207 `iss` authorization-response parameter, and a login
// form plus a consent form (oidc-provider's devInteractions: any login and password).
// Resource server on http://127.0.0.1:M: MCP at /mcp, RFC 9728 protected resource metadata, a
// 401 challenge naming it, tokens checked against the issuer's JWKS (signature, `iss`, `aud`,
// expiry, scope `mcp:tools`).
// With --origin-resource the protected resource is the bare origin `http://127.0.0.1:M` (PRM at
// /.well-known/oauth-protected-resource, `aud` = the origin) while MCP stays at /mcp.
//
// Prints `STACK READY {"mcp_url":..,"resource":..,"issuer":..}` once both listen.

import http from 'node:http';
import express from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { announce, listenLoopback, mcpHandler, parseFlags } from './mcp-tools.mjs';

const flags = parseFlags(process.argv.slice(2));
if (!flags['as-port'] || !flags['rs-port']) throw new Error('usage: oidc-provider-stack.mjs --as-port N --rs-port M [--origin-resource]');
// Both servers bind 127.0.0.1; --host only changes the name they advertise (e.g. localhost).
const host = typeof flags.host === 'string' ? flags.host : '127.0.0.1';
const issuer = `http://${host}:${flags['as-port']}`;
const rsOrigin = `http://${host}:${flags['rs-port']}`;
const mcpUrl = `${rsOrigin}/mcp`;
// The origin form is serialized without a trailing slash, as MCP clients send it.
const resource = flags['origin-resource'] ? rsOrigin : mcpUrl;
const SCOPE = 'mcp:tools';

// --- authorization server --------------------------------------------------------------------
const provider = new Provider(issuer, {
    // The TS SDK copies the PRM's scopes into its registration request; oidc-provider refuses a
    // registration whose `scope` names a scope it does not know, so `mcp:tools` is listed here.
    scopes: ['openid', 'offline_access', SCOPE],
    features: {
        devInteractions: { enabled: true },
        registration: { enabled: true },
        resourceIndicators: {
            enabled: true,
            defaultResource: async (_ctx, _client, oneOf) => oneOf ?? resource,
            useGrantedResource: async () => true,
            getResourceServerInfo: async (_ctx, indicator) => {
                if (indicator !== resource) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
                return { scope: SCOPE, audience: resource, accessTokenFormat: 'jwt', accessTokenTTL: 3600 };
            }
        }
    },
    pkce: { required: () => true },
    // Cookie signing keys for the interaction and session cookies (test-only, not a secret).
    cookies: { keys: ['authtap-peer-oidc-provider-cookie-key'] }
});
// Keep oidc-provider's own warnings (dev keys, devInteractions) in the log, out of the way.
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));

// --- resource server ---------------------------------------------------------------------------
const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
const prmPath = `/.well-known/oauth-protected-resource${new URL(resource).pathname.replace(/\/$/, '')}`;
const resourceMetadataUrl = `${rsOrigin}${prmPath}`;

const app = express();
app.use(express.json());
app.get(prmPath, (_req, res) => {
    res.set('Cache-Control', 'no-store').json({
        resource,
        authorization_servers: [issuer],
        scopes_supported: [SCOPE],
        bearer_methods_supported: ['header'],
        resource_name: 'authtap peer: oidc-provider stack'
    });
});

/** RFC 6750 §3: a bare challenge without credentials, `invalid_token` when one was refused. */
function challenge(res, status, error, description) {
    const parts = [`Bearer resource_metadata="${resourceMetadataUrl}"`, `scope="${SCOPE}"`];
    if (error) parts.push(`error="${error}"`, `error_description="${description}"`);
    res.set('WWW-Authenticate', parts.join(', ')).status(status).json({ error: error ?? 'unauthorized', error_description: description });
}

async function requireJwt(req, res, next) {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return challenge(res, 401, undefined, 'authorization required');
    try {
        const { payload } = await jwtVerify(match[1], jwks, { issuer, audience: resource, typ: 'at+jwt' });
        const scopes = String(payload.scope ?? '').split(' ');
        if (!scopes.includes(SCOPE)) return challenge(res, 403, 'insufficient_scope', `scope ${SCOPE} required`);
        req.auth = { clientId: payload.client_id, scopes, token: match[1] };
        next();
    } catch (err) {
        challenge(res, 401, 'invalid_token', String(err.code ?? err.message));
    }
}

app.all('/mcp', requireJwt, mcpHandler('oidc-provider'));

await listenLoopback(http.createServer(provider.callback()), flags['as-port']);
await listenLoopback(http.createServer(app), flags['rs-port']);
announce({ mcp_url: mcpUrl, resource, issuer, resource_metadata: resourceMetadataUrl });
