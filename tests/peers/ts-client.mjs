#!/usr/bin/env node
// Headless MCP client on the official TypeScript SDK's public client API, used by
// tests/it/peers_e2e.rs (authtap's end-to-end tests with real SDK peers).
//
// Usage: node ts-client.mjs SERVER_URL [--tool NAME] [--args JSON] [--timeout-ms N]
//                           [--application-type native|web]
//
// It connects with OAuth through an in-memory OAuthClientProvider (discovery, dynamic client
// registration, PKCE; the authorize step is headless: browser.mjs navigates from the
// authorization URL like a browser, through the authorization server's hops and its login and
// consent forms, and the code is read from the Location that points at the redirect URI), then
// runs initialize, tools/list and one tools/call, and prints exactly ONE JSON line on stdout:
//   {"sdk":"typescript","sdk_version":..,"ok":bool,"server_url":..,"protocol_version":..,
//    "server_info":{..},"tools":[names],"call":{"name","arguments","content","is_error"},
//    "authorized":bool,"authorization_response":{"code","state_matches","iss","error"},
//    "discovered_issuer":..,
//    "http":[{"method","url","status"}],"error":{"stage","name","message"}}
// The SDK does not check the RFC 9207 `iss` it receives; the result reports it next to the
// issuer the SDK discovered so the caller can. The registration carries no `application_type` (as the SDK's own examples register) unless
// --application-type is given.
// Without --tool it calls `greet` when listed, else the first tool, filling its required
// string arguments with "authtap". Exit status: 0 when the flow completed, 1 otherwise.
// Everything else the SDK or this script logs goes to stderr.

import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { navigateToRedirect } from './browser.mjs';

// stdout carries only the result line.
console.log = (...args) => console.error(...args);

// The package's `exports` hide its package.json, so read it from where `npm ci` put it.
const SDK_VERSION = JSON.parse(
    readFileSync(new URL('./node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url), 'utf8')
).version;
const REDIRECT_URL = 'http://127.0.0.1:53682/callback';

function parseArgs(argv) {
    const opts = { url: undefined, tool: undefined, args: undefined, timeoutMs: 45000, applicationType: undefined };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--tool') opts.tool = argv[++i];
        else if (a === '--args') opts.args = JSON.parse(argv[++i]);
        else if (a === '--timeout-ms') opts.timeoutMs = Number(argv[++i]);
        else if (a === '--application-type') opts.applicationType = argv[++i];
        else if (!opts.url) opts.url = a;
        else throw new Error(`unexpected argument: ${a}`);
    }
    if (!opts.url) throw new Error('usage: ts-client.mjs SERVER_URL [--tool NAME] [--args JSON]');
    return opts;
}

/** The SDK's OAuthClientProvider contract, kept in memory, with a headless authorize step. */
class HeadlessOAuthProvider {
    constructor(log, applicationType) {
        this._log = log;
        this._applicationType = applicationType;
        this._state = randomBytes(16).toString('hex');
        this.authorizationCode = undefined;
    }
    get redirectUrl() {
        return REDIRECT_URL;
    }
    get clientMetadata() {
        return {
            client_name: 'authtap-peer-ts',
            redirect_uris: [REDIRECT_URL],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
            ...(this._applicationType ? { application_type: this._applicationType } : {})
        };
    }
    state() {
        return this._state;
    }
    clientInformation() {
        return this._client;
    }
    saveClientInformation(info) {
        this._client = info;
    }
    tokens() {
        return this._tokens;
    }
    saveTokens(tokens) {
        this._tokens = tokens;
    }
    saveCodeVerifier(v) {
        this._verifier = v;
    }
    codeVerifier() {
        if (!this._verifier) throw new Error('No code verifier saved');
        return this._verifier;
    }
    discoveryState() {
        return this._discovery;
    }
    saveDiscoveryState(s) {
        this._discovery = s;
    }
    /**
     * Plays the user agent (browser.mjs): navigates from the authorization URL through the
     * authorization server's hops, login and consent forms until a Location points at our
     * redirect URI; the code, state and iss come from that URL.
     */
    async redirectToAuthorization(authorizationUrl) {
        const target = await navigateToRedirect(authorizationUrl, REDIRECT_URL, this._log);
        const error = target.searchParams.get('error');
        this.authorizationResponse = {
            code: target.searchParams.has('code'),
            state_matches: target.searchParams.get('state') === this._state,
            iss: target.searchParams.get('iss'),
            error
        };
        if (error) {
            throw new Error(`authorize: ${error}: ${target.searchParams.get('error_description') ?? ''}`);
        }
        if (target.searchParams.get('state') !== this._state) {
            throw new Error(`authorize: state mismatch in redirect ${target.href}`);
        }
        const code = target.searchParams.get('code');
        if (!code) throw new Error(`authorize: no code in redirect ${target.href}`);
        this.authorizationCode = code;
    }
}

function argumentsFor(tool) {
    const args = {};
    const schema = tool.inputSchema ?? {};
    for (const name of schema.required ?? []) {
        const prop = schema.properties?.[name] ?? {};
        args[name] = prop.type === 'number' || prop.type === 'integer' ? 1 : prop.type === 'boolean' ? true : 'authtap';
    }
    return args;
}

function describeError(stage, err) {
    return {
        stage,
        name: err?.constructor?.name ?? typeof err,
        message: String(err?.message ?? err),
        ...(err?.code !== undefined ? { code: err.code } : {}),
        ...(err?.cause ? { cause: String(err.cause?.message ?? err.cause) } : {})
    };
}

async function run(opts, out) {
    const serverUrl = new URL(opts.url);
    const loggingFetch = async (input, init) => {
        const entry = { method: init?.method ?? 'GET', url: String(input instanceof Request ? input.url : input) };
        out.http.push(entry);
        try {
            const res = await fetch(input, init);
            entry.status = res.status;
            return res;
        } catch (err) {
            entry.error = String(err?.cause?.message ?? err?.message ?? err);
            throw err;
        }
    };
    const provider = new HeadlessOAuthProvider(entry => out.http.push(entry), opts.applicationType);
    const client = new Client({ name: 'authtap-peer-ts', version: '1.0.0' });
    const newTransport = () => new StreamableHTTPClientTransport(serverUrl, { authProvider: provider, fetch: loggingFetch });

    let stage = 'initialize';
    try {
        let transport = newTransport();
        try {
            await client.connect(transport);
        } catch (err) {
            if (!(err instanceof UnauthorizedError) || !provider.authorizationCode) throw err;
            stage = 'token';
            await transport.finishAuth(provider.authorizationCode);
            out.authorized = true;
            stage = 'initialize';
            transport = newTransport();
            await client.connect(transport);
        }
        out.authorization_response = provider.authorizationResponse ?? null;
        out.discovered_issuer = provider.discoveryState()?.authorizationServerMetadata?.issuer ?? null;
        out.protocol_version = transport.protocolVersion ?? null;
        out.server_info = client.getServerVersion() ?? null;

        stage = 'tools/list';
        const { tools } = await client.listTools();
        out.tools = tools.map(t => t.name);

        stage = 'tools/call';
        const tool = opts.tool ? tools.find(t => t.name === opts.tool) : (tools.find(t => t.name === 'greet') ?? tools[0]);
        if (!tool) throw new Error(`no tool to call (wanted ${opts.tool ?? 'any'}; listed ${out.tools.join(', ')})`);
        const args = opts.args ?? argumentsFor(tool);
        const result = await client.callTool({ name: tool.name, arguments: args });
        out.call = { name: tool.name, arguments: args, content: result.content ?? [], is_error: result.isError === true };
        out.ok = true;
    } catch (err) {
        out.authorization_response = provider.authorizationResponse ?? null;
        out.discovered_issuer = provider.discoveryState()?.authorizationServerMetadata?.issuer ?? null;
        out.error = describeError(stage, err);
    } finally {
        await client.close().catch(() => {});
    }
}

async function main() {
    const out = { sdk: 'typescript', sdk_version: SDK_VERSION, ok: false, server_url: null, authorized: false, http: [] };
    let exitCode = 1;
    try {
        const opts = parseArgs(process.argv.slice(2));
        out.server_url = opts.url;
        let timer;
        const deadline = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`driver timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
        });
        await Promise.race([run(opts, out), deadline]).catch(err => {
            out.error = describeError('timeout', err);
        });
        clearTimeout(timer);
        exitCode = out.ok ? 0 : 1;
    } catch (err) {
        out.error = describeError('arguments', err);
        exitCode = 2;
    }
    process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(exitCode));
}

main();
