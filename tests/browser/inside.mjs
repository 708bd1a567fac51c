// inside.mjs — the page's "inside the network" view in a real browser
// (Debian's chromium driven by playwright-core): opens the view, draws a "1",
// and checks that the saliency maps, one picture per shown layer and the
// first layer's weights render. Then, independently of the page's code, it
// posts the drawing to /api/predict?explain=1 and measures how much of the
// guided saliency's positive mass lies on inked pixels of the 28x28 input
// (it must be most of it when DN_SALIENCY_MIN is set). Prints the same
// measure for the plain gradient's magnitude. Screenshot: DN_SHOTS/DN_NAME.png.
//   DN_URL       the server
//   DN_LAYERS    how many layers the model shows
//   DN_MAPS      how many first-layer weight pictures
//   DN_SALIENCY_MIN  minimum fraction of positive guided mass on the ink (optional)
import { checker, launchBrowser } from './common.mjs';

const url = process.env.DN_URL;
const shots = process.env.DN_SHOTS || 'build';
const name = process.env.DN_NAME || 'browser-inside';
const wantLayers = Number(process.env.DN_LAYERS);
const wantMaps = Number(process.env.DN_MAPS);
const minOnInk = process.env.DN_SALIENCY_MIN ? Number(process.env.DN_SALIENCY_MIN) : null;
if (!url || !wantLayers || !wantMaps) {
  console.error('DN_URL, DN_LAYERS and DN_MAPS must be set');
  process.exit(2);
}

const { check, counts } = checker();

const browser = await launchBrowser();

// Counts distinct colours and non-black pixels of a canvas.
async function canvasStats(page, selector) {
  return page.evaluate((sel) => {
    const c = document.querySelector(sel);
    if (!c || c.width < 1 || c.height < 1) return { colours: 0, lit: 0, w: 0, h: 0 };
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) {
      seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      lit += d[i] + d[i + 1] + d[i + 2] > 0;
    }
    return { colours: seen.size, lit, w: c.width, h: c.height };
  }, selector);
}

try {
  const errors = [];
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url);
  check('inside view starts closed', await page.locator('#inside-body').isHidden());
  await page.click('#inside-toggle');
  check('toggle opens it', (await page.getAttribute('#inside-toggle', 'aria-expanded')) === 'true');

  await page.waitForFunction(() => document.getElementById('weights').dataset.maps !== undefined,
    null, { timeout: 10000 });
  const maps = Number(await page.getAttribute('#weights', 'data-maps'));
  check('first-layer weights drawn', maps === wantMaps, `${maps} pictures, want ${wantMaps}`);
  const ws = await canvasStats(page, '#weights');
  check('weight pictures are not flat', ws.colours > 20, `${ws.colours} colours in ${ws.w}x${ws.h}`);

  // a "1", as in e2e.mjs
  const box = await page.locator('#pad').boundingBox();
  const at = (x, y) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(0.52, 0.18));
  await page.mouse.down();
  for (let i = 1; i <= 16; i++) await page.mouse.move(...at(0.52 - 0.04 * i / 16, 0.18 + 0.64 * i / 16), { steps: 3 });
  await page.mouse.up();
  await page.waitForFunction(() => {
    const r = document.getElementById('result');
    return r.dataset.pending === '0' && Number(document.getElementById('inside').dataset.updates) > 0;
  }, null, { timeout: 20000 });
  check('drawn "1" is predicted as 1', (await page.getAttribute('#result', 'data-label')) === '1');

  const layers = await page.locator('#layers .layer').count();
  check('one picture per shown layer', layers === wantLayers, `${layers}, want ${wantLayers}`);
  let lit = 0;
  for (let i = 0; i < layers; i++) {
    const s = await canvasStats(page, `#layers .layer:nth-child(${i + 1}) canvas`);
    if (s.lit > 0 && s.w > 0) lit++;
  }
  check('every layer picture shows activity', lit === layers, `${lit} of ${layers}`);
  const g = await canvasStats(page, '#sal-guided');
  const s = await canvasStats(page, '#sal-grad');
  check('guided saliency drawn', g.lit > 10 && g.colours > 5, `${g.lit} lit pixels`);
  check('gradient map drawn', s.lit > 10 && s.colours > 5, `${s.lit} lit pixels`);

  // Independent measure: post the same drawing and look at the numbers.
  const m = await page.evaluate(async () => {
    const pad = document.getElementById('pad');
    const blob = await new Promise((res) => pad.toBlob(res, 'image/png'));
    const r = await fetch('/api/predict?explain=1', { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: blob });
    const j = await r.json();
    let gAll = 0, gInk = 0, sAll = 0, sInk = 0, ink = 0;
    for (let i = 0; i < 784; i++) {
      const on = j.image[i] > 0;
      const gp = Math.max(0, j.explain.guided[i]), sa = Math.abs(j.explain.saliency[i]);
      gAll += gp; sAll += sa;
      if (on) { gInk += gp; sInk += sa; ink++; }
    }
    return { label: j.label, guided: gInk / gAll, grad: sInk / sAll, area: ink / 784 };
  });
  console.log(`saliency of the drawn 1: guided positive mass on ink ${(100 * m.guided).toFixed(1)}%, ` +
    `|gradient| on ink ${(100 * m.grad).toFixed(1)}%, ink covers ${(100 * m.area).toFixed(1)}% of the input`);
  if (minOnInk !== null) {
    check('most guided saliency mass lies on the stroke', m.label === 1 && m.guided > minOnInk,
      `${(100 * m.guided).toFixed(1)}% > ${(100 * minOnInk).toFixed(0)}%`);
  }
  await page.locator('#inside').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  check('no page errors', errors.length === 0, errors.join(' | '));
  await page.close();
} catch (e) {
  counts.failed++;
  console.log(`FAIL  ${e.stack || e}`);
} finally {
  await browser.close();
}

console.log(`\n${counts.passed} passed, ${counts.failed} failed`);
process.exit(counts.failed ? 1 : 0);
