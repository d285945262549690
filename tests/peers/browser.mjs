// The headless user agent of ts-client.mjs: plays the browser for the authorize leg of an OAuth
// flow. It navigates like a browser (node:http/https, so no fetch() `Sec-Fetch-Mode: cors`:
// `Sec-Fetch-Mode: navigate`, `Accept: text/html`), keeps cookies per host, follows every
// redirect hop, and submits the one form of each HTML page it lands on (login, consent) the way
// a user pressing its first submit button would: hidden fields as given, text/email fields with
// their pre-filled value or `authtap`, passwords likewise. It stops at the first Location that
// points at the client's redirect URI and returns that URL.
//
// It also accepts better-auth's JSON navigation answer (`{"redirect":true,"url":..}`), which that
// server sends to scripted requests, so a page's script is not needed either.

import http from 'node:http';
import https from 'node:https';

const MAX_STEPS = 12;

/** One request without redirects; resolves {status, headers, body}. */
function request(url, { method = 'GET', headers = {}, body } = {}) {
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
        const req = lib.request(url, { method, headers }, res => {
            const chunks = [];
            res.on('data', c => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', reject);
        });
        req.on('error', reject);
        req.setTimeout(20000, () => req.destroy(new Error(`timeout on ${method} ${url.href}`)));
        if (body !== undefined) req.write(body);
        req.end();
    });
}

/** Cookies by host name (ports share cookies, as in browsers); attributes are not enforced. */
class CookieJar {
    constructor() {
        this.byHost = new Map();
    }
    store(url, setCookie) {
        const jar = this.byHost.get(url.hostname) ?? new Map();
        for (const line of [].concat(setCookie ?? [])) {
            const pair = line.split(';')[0];
            const eq = pair.indexOf('=');
            if (eq <= 0) continue;
            const name = pair.slice(0, eq).trim();
            const value = pair.slice(eq + 1).trim();
            const expired = /;\s*max-age=0/i.test(line) || /;\s*expires=Thu, 01 Jan 1970/i.test(line);
            if (expired || value === '') jar.delete(name);
            else jar.set(name, value);
        }
        this.byHost.set(url.hostname, jar);
    }
    header(url) {
        const jar = this.byHost.get(url.hostname);
        if (!jar || jar.size === 0) return undefined;
        return [...jar].map(([n, v]) => `${n}=${v}`).join('; ');
    }
}

const decode = s =>
    s.replace(/&quot;/g, '"').replace(/&#39;|&#x27;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function attrs(tag) {
    const out = {};
    for (const m of tag.matchAll(/([a-zA-Z_:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
        out[m[1].toLowerCase()] = decode(m[2] ?? m[3] ?? m[4] ?? '');
    }
    return out;
}

/** A page's visible text, for error messages (style, script and tags dropped). */
function visibleText(body) {
    return body
        .replace(/<(style|script)\b[\s\S]*?<\/\1>/gi, ' ')
        .replace(/<[^>]*>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim()
        .slice(0, 300);
}

/** The first <form> of a page: its action, method and the fields a submit would send. */
export function firstForm(html) {
    const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
    if (!form) return undefined;
    const formAttrs = attrs(form[1]);
    const fields = [];
    let submitted = false;
    for (const m of form[2].matchAll(/<(input|button)\b([^>]*)>/gi)) {
        const a = attrs(m[2]);
        const type = (a.type ?? (m[1].toLowerCase() === 'button' ? 'submit' : 'text')).toLowerCase();
        if (!a.name) continue;
        if (type === 'submit') {
            if (!submitted) fields.push([a.name, a.value ?? '']);
            submitted = true;
        } else if (type === 'checkbox' || type === 'radio') {
            if ('checked' in a) fields.push([a.name, a.value || 'on']);
        } else if (type === 'hidden') {
            fields.push([a.name, a.value ?? '']);
        } else {
            fields.push([a.name, a.value || 'authtap']);
        }
    }
    return { action: formAttrs.action ?? '', method: (formAttrs.method ?? 'get').toUpperCase(), fields };
}

/**
 * Navigates from `authorizationUrl` to the redirect URI. `log(entry)` receives every request
 * ({method, url, status}); returns the final URL (on the redirect URI) with its query.
 */
export async function navigateToRedirect(authorizationUrl, redirectUri, log = () => {}) {
    const jar = new CookieJar();
    let next = { url: new URL(authorizationUrl), method: 'GET', body: undefined, origin: undefined };
    const isRedirectUri = u => u.origin + u.pathname === redirectUri;
    for (let step = 0; step < MAX_STEPS; step++) {
        const { url, method, body, origin } = next;
        const headers = {
            accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8',
            'user-agent': 'authtap-peer-browser/1.0',
            'sec-fetch-mode': 'navigate',
            'sec-fetch-dest': 'document'
        };
        const cookie = jar.header(url);
        if (cookie) headers.cookie = cookie;
        if (body !== undefined) {
            headers['content-type'] = 'application/x-www-form-urlencoded';
            headers['content-length'] = Buffer.byteLength(body);
            headers.origin = origin;
        }
        const entry = { method, url: url.href };
        log(entry);
        const res = await request(url, { method, headers, body });
        entry.status = res.status;
        jar.store(url, res.headers['set-cookie']);
        const location = res.headers.location;
        if (res.status >= 300 && res.status < 400 && location) {
            const target = new URL(location, url);
            if (isRedirectUri(target)) return target;
            next = { url: target, method: 'GET' };
            continue;
        }
        const type = String(res.headers['content-type'] ?? '');
        if (res.status === 200 && type.includes('application/json')) {
            let json;
            try {
                json = JSON.parse(res.body);
            } catch {
                json = undefined;
            }
            if (json && json.redirect === true && typeof json.url === 'string') {
                const target = new URL(json.url, url);
                if (isRedirectUri(target)) return target;
                next = { url: target, method: 'GET' };
                continue;
            }
        }
        const form = res.status === 200 && type.includes('text/html') ? firstForm(res.body) : undefined;
        if (!form) {
            throw new Error(`authorize: ${method} ${url.href} answered HTTP ${res.status} (${type}) with no redirect and no form: ${visibleText(res.body)}`);
        }
        const action = new URL(form.action || url.href, url);
        const encoded = new URLSearchParams(form.fields).toString();
        if (form.method === 'POST') {
            next = { url: action, method: 'POST', body: encoded, origin: url.origin };
        } else {
            action.search = encoded;
            next = { url: action, method: 'GET' };
        }
    }
    throw new Error(`authorize: more than ${MAX_STEPS} steps without reaching ${redirectUri}`);
}
