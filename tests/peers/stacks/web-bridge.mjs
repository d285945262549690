// Node http <-> web-standard Request/Response, for the stacks whose libraries speak fetch-style
// handlers (better-auth, the TypeScript SDK's web-standard MCP transport).

import { Readable } from 'node:stream';

/** The incoming Node request as a web `Request` (body streamed, not buffered). */
export function toWebRequest(req, origin) {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
        if (Array.isArray(value)) for (const v of value) headers.append(name, v);
        else if (value !== undefined) headers.set(name, value);
    }
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    return new Request(new URL(req.url, origin), {
        method: req.method,
        headers,
        body: hasBody ? Readable.toWeb(req) : undefined,
        duplex: hasBody ? 'half' : undefined
    });
}

/** Writes a web `Response` to the Node response, streaming its body, every Set-Cookie kept. */
export async function sendWebResponse(res, response) {
    const headers = {};
    response.headers.forEach((value, name) => {
        if (name !== 'set-cookie') headers[name] = value;
    });
    const cookies = response.headers.getSetCookie();
    if (cookies.length) headers['set-cookie'] = cookies;
    res.writeHead(response.status, headers);
    if (!response.body) {
        res.end();
        return;
    }
    for await (const chunk of response.body) res.write(chunk);
    res.end();
}
