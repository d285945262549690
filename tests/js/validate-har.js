#!/usr/bin/env node
// Validates a HAR file against the HAR 1.2 JSON schema (har-validator + har-schema).
// Usage: node validate-har.js FILE
// Exit 0 when valid; 1 with the schema errors on stderr; 2 on usage or read errors.
'use strict';

const fs = require('fs');
const validator = require('har-validator');

async function main() {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node validate-har.js FILE');
    process.exit(2);
  }
  let data;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    console.error(`cannot read ${file}: ${err.message}`);
    process.exit(2);
  }
  try {
    await validator.har(data);
  } catch (err) {
    console.error(`${file}: not a valid HAR 1.2 document`);
    for (const e of err.errors || [err]) {
      console.error(JSON.stringify(e));
    }
    process.exit(1);
  }
  // Checks the schema does not express but the spec states.
  const problems = [];
  const entries = data.log.entries;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const t = e.timings;
    const sum = ['blocked', 'dns', 'connect', 'send', 'wait', 'receive']
      .map((k) => (typeof t[k] === 'number' && t[k] >= 0 ? t[k] : 0))
      .reduce((a, b) => a + b, 0);
    if (Math.abs(sum - e.time) > 0.01) {
      problems.push(`entries[${i}].time ${e.time} != sum of timings ${sum}`);
    }
    for (const k of ['send', 'wait', 'receive']) {
      if (!(t[k] >= 0)) problems.push(`entries[${i}].timings.${k} must be non-negative`);
    }
    if (Number.isNaN(Date.parse(e.startedDateTime))) {
      problems.push(`entries[${i}].startedDateTime is not ISO 8601`);
    }
    if (i > 0 && Date.parse(entries[i - 1].startedDateTime) > Date.parse(e.startedDateTime)) {
      problems.push(`entries[${i}] is not sorted by startedDateTime`);
    }
  }
  if (problems.length) {
    console.error(`${file}: HAR 1.2 consistency problems`);
    for (const p of problems) console.error(p);
    process.exit(1);
  }
  console.log(`${file}: valid HAR 1.2 (${entries.length} entries)`);
}

main();
