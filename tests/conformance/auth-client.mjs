#!/usr/bin/env node
// The conformance suite's own well-behaved auth client, for the client auth scenarios of
// @modelcontextprotocol/conformance: a plain-JavaScript port of the suite's
// examples/clients/typescript/everything-client.ts (auth handlers only) and its helpers
// withOAuthRetry.ts and ConformanceOAuthProvider.ts at tag v0.1.16 (the npm package ships only
// the runner), on the official TypeScript SDK pinned in package.json.
//
// Usage (as the suite runs it): MCP_CONFORMANCE_SCENARIO=auth/<name> node auth-client.mjs SERVER_URL
// Scenarios that need credentials read them from MCP_CONFORMANCE_CONTEXT (JSON), as upstream.
// Exit status 0 when the scenario's flow completed, 1 otherwise.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
    ClientCredentialsProvider,
    PrivateKeyJwtProvider
} from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { auth, extractWWWAuthenticateParams, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const CIMD_CLIENT_METADATA_URL = 'https://conformance-test.local/client-metadata.json';
const REDIRECT_URL = 'http://localhost:3000/callback';

/** In-memory OAuthClientProvider; the authorize step reads the code from the AS's redirect. */
class ConformanceOAuthProvider {
    constructor(redirectUrl, clientMetadata, clientMetadataUrl) {
        this._redirectUrl = redirectUrl;
        this._clientMetadata = clientMetadata;
        this._clientMetadataUrl = clientMetadataUrl;
    }
    get redirectUrl() {
        return this._redirectUrl;
    }
    get clientMetadata() {
        return this._clientMetadata;
    }
    get clientMetadataUrl() {
        return this._clientMetadataUrl?.toString();
    }
    clientInformation() {
        return this._clientInformation;
    }
    saveClientInformation(info) {
        this._clientInformation = info;
    }
    tokens() {
        return this._tokens;
    }
    saveTokens(tokens) {
        this._tokens = tokens;
    }
    async redirectToAuthorization(authorizationUrl) {
        const response = await fetch(authorizationUrl.toString(), { redirect: 'manual' });
        const location = response.headers.get('location');
        if (!location) throw new Error(`No redirect location received, from '${authorizationUrl}'`);
        const code = new URL(location).searchParams.get('code');
        if (!code) throw new Error('No auth code in redirect URL');
        this._authCode = code;
    }
    async getAuthCode() {
        if (this._authCode) return this._authCode;
        throw new Error('No authorization code');
    }
    saveCodeVerifier(v) {
        this._codeVerifier = v;
    }
    codeVerifier() {
        if (!this._codeVerifier) throw new Error('No code verifier saved');
        return this._codeVerifier;
    }
}

async function handle401(response, provider, next, serverUrl) {
    const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(response);
    let result = await auth(provider, { serverUrl, resourceMetadataUrl, scope, fetchFn: next });
    if (result === 'REDIRECT') {
        const authorizationCode = await provider.getAuthCode();
        result = await auth(provider, { serverUrl, resourceMetadataUrl, scope, authorizationCode, fetchFn: next });
        if (result !== 'AUTHORIZED') throw new UnauthorizedError(`Authentication failed with result: ${result}`);
    }
}

function withOAuthRetry(provider, baseUrl) {
    return (next) => async (input, init) => {
        const makeRequest = async () => {
            const headers = new Headers(init?.headers);
            const tokens = await provider.tokens();
            if (tokens) headers.set('Authorization', `Bearer ${tokens.access_token}`);
            return await next(input, { ...init, headers });
        };
        let response = await makeRequest();
        if (response.status === 401 || response.status === 403) {
            const serverUrl = baseUrl || (typeof input === 'string' ? new URL(input).origin : input.origin);
            await handle401(response, provider, next, serverUrl);
            response = await makeRequest();
        }
        if (response.status === 401 || response.status === 403) {
            throw new UnauthorizedError(`Authentication failed for ${input}`);
        }
        return response;
    };
}

function context(expected) {
    const raw = process.env.MCP_CONFORMANCE_CONTEXT;
    if (!raw) throw new Error('MCP_CONFORMANCE_CONTEXT not set');
    const ctx = JSON.parse(raw);
    if (ctx.name !== expected) throw new Error(`Expected ${expected} context, got ${ctx.name}`);
    return ctx;
}

async function connectAndList(serverUrl, name, transportOptions, callTool) {
    const client = new Client({ name, version: '1.0.0' }, { capabilities: {} });
    const transport = new StreamableHTTPClientTransport(new URL(serverUrl), transportOptions);
    await client.connect(transport);
    await client.listTools();
    if (callTool) await client.callTool({ name: 'test-tool', arguments: {} });
    await transport.close();
}

async function runAuthClient(serverUrl) {
    const provider = new ConformanceOAuthProvider(
        REDIRECT_URL,
        { client_name: 'test-auth-client', redirect_uris: [REDIRECT_URL] },
        CIMD_CLIENT_METADATA_URL
    );
    await connectAndList(serverUrl, 'test-auth-client', { fetch: withOAuthRetry(provider, new URL(serverUrl))(fetch) }, true);
}

async function runClientCredentialsJwt(serverUrl) {
    const ctx = context('auth/client-credentials-jwt');
    const authProvider = new PrivateKeyJwtProvider({
        clientId: ctx.client_id,
        privateKey: ctx.private_key_pem,
        algorithm: ctx.signing_algorithm || 'ES256'
    });
    await connectAndList(serverUrl, 'conformance-client-credentials-jwt', { authProvider }, false);
}

async function runClientCredentialsBasic(serverUrl) {
    const ctx = context('auth/client-credentials-basic');
    const authProvider = new ClientCredentialsProvider({ clientId: ctx.client_id, clientSecret: ctx.client_secret });
    await connectAndList(serverUrl, 'conformance-client-credentials-basic', { authProvider }, false);
}

async function runPreRegistration(serverUrl) {
    const ctx = context('auth/pre-registration');
    const provider = new ConformanceOAuthProvider(REDIRECT_URL, {
        client_name: 'conformance-pre-registration',
        redirect_uris: [REDIRECT_URL]
    });
    provider.saveClientInformation({
        client_id: ctx.client_id,
        client_secret: ctx.client_secret,
        redirect_uris: [REDIRECT_URL]
    });
    await connectAndList(serverUrl, 'conformance-pre-registration', { fetch: withOAuthRetry(provider, new URL(serverUrl))(fetch) }, false);
}

async function runCrossAppAccess(serverUrl) {
    const ctx = context('auth/cross-app-access-complete-flow');
    const prm = await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', serverUrl))).json();
    const asMeta = await (await fetch(new URL('/.well-known/oauth-authorization-server', prm.authorization_servers[0]))).json();
    const exchange = await fetch(ctx.idp_token_endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
            grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
            requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
            audience: asMeta.issuer,
            resource: prm.resource,
            subject_token: ctx.idp_id_token,
            subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
            client_id: ctx.idp_client_id
        })
    });
    if (!exchange.ok) throw new Error(`Token exchange failed: ${await exchange.text()}`);
    const idJag = (await exchange.json()).access_token;
    const basic = Buffer.from(`${encodeURIComponent(ctx.client_id)}:${encodeURIComponent(ctx.client_secret)}`).toString('base64');
    const token = await fetch(asMeta.token_endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${basic}` },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: idJag })
    });
    if (!token.ok) throw new Error(`JWT bearer grant failed: ${await token.text()}`);
    const accessToken = (await token.json()).access_token;
    await connectAndList(
        serverUrl,
        'conformance-cross-app-access',
        { requestInit: { headers: { Authorization: `Bearer ${accessToken}` } } },
        true
    );
}

const special = {
    'auth/client-credentials-jwt': runClientCredentialsJwt,
    'auth/client-credentials-basic': runClientCredentialsBasic,
    'auth/pre-registration': runPreRegistration,
    'auth/cross-app-access-complete-flow': runCrossAppAccess
};

const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
const serverUrl = process.argv[2];
if (!scenario.startsWith('auth/') || !serverUrl) {
    console.error('usage: MCP_CONFORMANCE_SCENARIO=auth/<name> auth-client.mjs SERVER_URL');
    process.exit(2);
}
try {
    await (special[scenario] ?? runAuthClient)(serverUrl);
    process.exit(0);
} catch (error) {
    console.error('Error:', error);
    process.exit(1);
}
