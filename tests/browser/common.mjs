// common.mjs — what the browser tests share: Debian's chromium started
// through playwright-core (no browser is downloaded) and the ok/FAIL
// counter every test prints.
import { chromium } from 'playwright-core';

export function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic',
      '--disable-dev-shm-usage'],
  });
}

// check(name, ok, detail) prints one result line; counts() gives the totals.
export function checker() {
  const counts = { passed: 0, failed: 0 };
  const check = (name, ok, detail = '') => {
    if (ok) {
      counts.passed++;
      console.log(`ok    ${name}${detail ? ` (${detail})` : ''}`);
    } else {
      counts.failed++;
      console.log(`FAIL  ${name} ${detail}`);
    }
  };
  return { check, counts };
}
