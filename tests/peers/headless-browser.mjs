#!/usr/bin/env node
// A headless stand-in for the user's browser, for clients that open the authorization URL with
// $BROWSER (Claude Code's `claude mcp login`). It navigates like a browser: GET the URL with
// navigation headers, follow redirects (303 and 302 turn a POST into a GET; 307/308 keep it),
// keep cookies per origin, and submit a consent form's approve button when a page shows one.
// It ends after the page that is not a redirect, which for a working flow is the client's own
// loopback callback. Each hop is appended to $AUTHTAP_BROWSER_LOG (when set) and to stderr.
// TLS trust comes from the environment (NODE_EXTRA_CA_CERTS), as for the client itself.

import { appendFileSync } from 'node:fs';

const MAX_HOPS = 20;
const logFile = process.env.AUTHTAP_BROWSER_LOG;

function log(line) {
  process.stderr.write(`headless-browser: ${line}\n`);
  if (logFile) appendFileSync(logFile, `${line}\n`);
}

/** name=value pairs per origin, as Set-Cookie set them (attributes ignored). */
const jar = new Map();

function cookieHeader(url) {
  const cookies = jar.get(url.origin);
  return cookies && cookies.size ? [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
}

function storeCookies(url, response) {
  for (const line of response.headers.getSetCookie?.() ?? []) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    if (!jar.has(url.origin)) jar.set(url.origin, new Map());
    jar.get(url.origin).set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
}

/** The approve submission of a consent form: its action URL and form body, or null. */
function consentForm(html, base) {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return null;
  const fields = new URLSearchParams();
  for (const input of form[2].matchAll(/<input[^>]*type="hidden"[^>]*>/gi)) {
    const name = /name="([^"]*)"/i.exec(input[0]);
    const value = /value="([^"]*)"/i.exec(input[0]);
    if (name) fields.append(decode(name[1]), decode(value ? value[1] : ''));
  }
  const approve = /<button[^>]*name="([^"]*)"[^>]*value="(approve|allow|accept|consent)"/i.exec(form[2]);
  if (!approve) return null;
  fields.append(decode(approve[1]), approve[2]);
  return { url: new URL(decode(form[1]), base), body: fields.toString() };
}

function decode(text) {
  return text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

async function navigate(start) {
  let url = new URL(start);
  let method = 'GET';
  let body;
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const headers = {
      accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
    };
    const cookie = cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, { method, headers, body, redirect: 'manual' });
    storeCookies(url, response);
    log(`${method} ${url.origin}${url.pathname} -> ${response.status}`);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      url = new URL(location, url);
      continue;
    }
    const text = await response.text();
    const form = response.ok ? consentForm(text, url) : null;
    if (form) {
      log(`submitting the consent form to ${form.url.origin}${form.url.pathname}`);
      url = form.url;
      method = 'POST';
      body = form.body;
      continue;
    }
    return response.status;
  }
  throw new Error(`more than ${MAX_HOPS} hops`);
}

const target = process.argv[2];
if (!target) {
  log('usage: headless-browser.mjs URL');
  process.exit(2);
}
navigate(target).then(
  (status) => {
    log(`done: final page ${status}`);
    process.exit(status < 400 ? 0 : 1);
  },
  (error) => {
    log(`failed: ${error?.cause?.code ?? ''} ${error?.message ?? error}`);
    process.exit(1);
  },
);
