#!/usr/bin/env node
// Opens an authtap HTML report in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) and checks it rendered: expected elements, no console errors, no network
// request other than the file itself, injected markup inert, screenshot not blank.
// Usage: node render-html.js REPORT.html SCREENSHOT.png
// Prints a JSON result on stdout; exits 1 when a check fails, 2 on usage errors.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { chromium } = require('playwright-core');

// Distinct byte values in the inflated PNG data: a blank page gives only a handful.
function pngVariety(buf) {
  const chunks = [];
  let off = 8;
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('ascii', off + 4, off + 8);
    if (type === 'IDAT') chunks.push(buf.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(chunks));
  const seen = new Set();
  for (let i = 0; i < raw.length && seen.size < 256; i += 7) seen.add(raw[i]);
  return seen.size;
}

async function main() {
  const [file, shot] = process.argv.slice(2);
  if (!file || !shot) {
    console.error('usage: node render-html.js REPORT.html SCREENSHOT.png');
    process.exit(2);
  }
  const fileUrl = 'file://' + path.resolve(file);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'authtap-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 900 },
  });
  const problems = [];
  const consoleErrors = [];
  const requests = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(fileUrl, { waitUntil: 'load' });
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 10000 });
    const r = await page.evaluate(() => {
      const data = JSON.parse(document.getElementById('authtap-data').textContent);
      return {
        title: document.title,
        pwned: window.__pwned === undefined ? null : window.__pwned,
        exchangesInData: data.exchanges.length,
        findingsInData: data.findings.length,
        arrows: document.querySelectorAll('#sequence g.arrow').length,
        findingItems: document.querySelectorAll('#findings li.finding').length,
        details: document.querySelectorAll('details.exchange').length,
        findingLinks: document.querySelectorAll('#findings a[href^="#x"]').length,
        banner: (document.getElementById('banner') || {}).textContent || '',
        summary: document.getElementById('summary-line').textContent,
        scripts: document.querySelectorAll('script').length,
        injectedText: document.body.textContent.includes('<script>window.__pwned=1'),
        bodyText: document.body.innerText.length,
      };
    });
    // Clicking an arrow opens its exchange.
    const first = await page.$('#sequence g.arrow a');
    if (first) {
      await first.click();
      const id = await page.$eval('#sequence g.arrow', (g) => g.getAttribute('data-exchange'));
      r.arrowOpens = await page.$eval('#x' + id, (d) => d.open);
    }
    await page.click('#collapse-all');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: shot, fullPage: false });
    await (await page.$('#sequence')).screenshot({ path: shot.replace(/\.png$/, '-diagram.png') });
    r.variety = pngVariety(fs.readFileSync(shot));
    r.consoleErrors = consoleErrors;
    r.otherRequests = requests.filter((u) => u !== fileUrl);
    if (r.arrows !== r.exchangesInData) problems.push(`arrows ${r.arrows} != exchanges ${r.exchangesInData}`);
    if (r.details !== r.exchangesInData) problems.push(`details ${r.details} != exchanges ${r.exchangesInData}`);
    if (r.findingItems !== r.findingsInData) problems.push(`finding items ${r.findingItems} != findings ${r.findingsInData}`);
    if (r.pwned !== null) problems.push('injected script executed');
    if (r.title.includes('PWNED')) problems.push('injected script changed the title');
    if (r.scripts !== 2) problems.push(`expected 2 script elements, found ${r.scripts}`);
    if (!/redact/i.test(r.banner)) problems.push('no redaction banner');
    if (r.consoleErrors.length) problems.push('console errors: ' + r.consoleErrors.join(' | '));
    if (r.otherRequests.length) problems.push('network requests: ' + r.otherRequests.join(' '));
    if (r.variety < 12) problems.push(`screenshot looks blank (variety ${r.variety})`);
    if (first && !r.arrowOpens) problems.push('clicking a diagram arrow did not open its exchange');
    r.problems = problems;
    console.log(JSON.stringify(r));
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.exit(problems.length ? 1 : 0);
}

main().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
