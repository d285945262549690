// The MCP side shared by the authorization-server stacks in this folder: a stateless Streamable
// HTTP endpoint on the official TypeScript SDK (`@modelcontextprotocol/sdk`) with one tool,
// `greet`, and the helpers every stack uses to listen on loopback and announce itself.
//
// Stateless (no Mcp-Session-Id): each POST gets a fresh server and transport, as the SDK's
// stateless example does, so a proxied and a direct run see the same server.

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** A fresh MCP server with the `greet` tool, naming the stack in its answer. */
export function newMcpServer(stack) {
    const server = new McpServer({ name: `authtap-peer-${stack}`, version: '1.0.0' });
    server.registerTool(
        'greet',
        { description: 'Greets someone by name', inputSchema: { name: z.string() } },
        async ({ name }) => ({ content: [{ type: 'text', text: `Hello, ${name}! (${stack})` }] })
    );
    return server;
}

/**
 * Express handler for POST/GET/DELETE on the MCP URL, after the bearer check. POST runs one
 * JSON-RPC exchange; GET and DELETE answer 405 (no standalone SSE stream, no sessions), as the
 * stateless SDK example does.
 */
export function mcpHandler(stack) {
    return async (req, res) => {
        if (req.method !== 'POST') {
            res.set('Allow', 'POST').status(405).json({
                jsonrpc: '2.0',
                error: { code: -32000, message: 'Method not allowed.' },
                id: null
            });
            return;
        }
        const server = newMcpServer(stack);
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
        res.on('close', () => {
            transport.close().catch(() => {});
            server.close().catch(() => {});
        });
        try {
            await server.connect(transport);
            await transport.handleRequest(req, res, req.body);
        } catch (err) {
            console.error(`${stack}: MCP request failed`, err);
            if (!res.headersSent) {
                res.status(500).json({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null });
            }
        }
    };
}

/** `--name value` pairs from argv into an object (every stack takes ports this way). */
export function parseFlags(argv) {
    const flags = {};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (!a.startsWith('--')) throw new Error(`unexpected argument: ${a}`);
        const next = argv[i + 1];
        if (next === undefined || next.startsWith('--')) flags[a.slice(2)] = true;
        else {
            flags[a.slice(2)] = next;
            i++;
        }
    }
    return flags;
}

/** Listens on 127.0.0.1 only; resolves once bound. */
export function listenLoopback(server, port) {
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(Number(port), '127.0.0.1', () => resolve(server));
    });
}

/** The one line the Rust harness waits for: `STACK READY {json}`. */
export function announce(info) {
    process.stdout.write(`STACK READY ${JSON.stringify(info)}\n`);
}
