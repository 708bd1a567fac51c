// common.mjs — what the browser tests share: Debian's chromium started
// through playwright-core (no browser is downloaded) and the ok/FAIL
// counter every test prints, drawing with the mouse and the strokes of a
// 1 and a 0.
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

// Draws one stroke with the mouse; pts: [x, y] in 0..1 of the #pad canvas.
export async function mouseDraw(page, pts) {
  const box = await page.locator('#pad').boundingBox();
  const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(pts[0]));
  await page.mouse.down();
  for (const p of pts.slice(1)) await page.mouse.move(...at(p), { steps: 3 });
  await page.mouse.up();
}

export const line = (x0, y0, x1, y1, n = 16) =>
  Array.from({ length: n + 1 }, (_, i) => [x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n]);
export const one = line(0.52, 0.18, 0.48, 0.82);
export const zero = Array.from({ length: 49 }, (_, i) => {
  const t = (i / 48) * 2 * Math.PI;
  return [0.5 + 0.2 * Math.sin(t), 0.5 - 0.3 * Math.cos(t)];
});
