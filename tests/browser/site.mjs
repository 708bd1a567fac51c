// site.mjs — the static site (make site) in headless Chromium, served by a
// plain static file server at DN_SITE_URL, with `digitnet serve` of the
// fp32 model DN_FP32 at DN_SERVE_URL to compare against. Checks: the page
// gets ready and makes no /api/ request (and, once loaded, no request at
// all: it keeps working offline); a drawn 1 and 0 are recognised; the
// inside view renders; taught digits download as a CSV (saved to
// DN_DOWNLOAD for the caller to fine-tune with); the shipped fp16
// model gives the server's digits and, after DN_FP32 is picked on the page,
// its probabilities within 1e-5 of the server's for the same strokes; a
// corrupt model file gets the loader's message on the page, which keeps
// working. Prints the time to ready and the median stroke-to-prediction
// time over 20 strokes; screenshots go to DN_SHOTS.
import { writeFileSync } from 'node:fs';
import { checker, launchBrowser, line, mouseDraw, one, zero } from './common.mjs';

const env = (k) => {
  if (!process.env[k]) {
    console.error(`${k} is not set`);
    process.exit(2);
  }
  return process.env[k];
};
const siteUrl = env('DN_SITE_URL'), serveUrl = env('DN_SERVE_URL');
const fp32 = env('DN_FP32'), bad = env('DN_BAD_MODEL'), download = env('DN_DOWNLOAD');
const shots = process.env.DN_SHOTS || 'build';
const { check: check0, counts } = checker();
const T0 = Date.now();
const check = (...a) => { process.stdout.write(`[${((Date.now() - T0) / 1000).toFixed(1)}s] `); check0(...a); };

const seven = [...line(0.3, 0.22, 0.7, 0.22, 8), ...line(0.7, 0.22, 0.45, 0.8, 12)];
// a 1 with a long flag: the network is torn between 1 and 7, so its
// probabilities are spread and a difference between two runs would show
const flagged = [...line(0.3, 0.4, 0.55, 0.18, 8), ...line(0.55, 0.18, 0.5, 0.82, 12)];
const drawings = { one: [one], zero: [zero], seven: [seven], flagged: [flagged] };

// The answer for the current drawing once it is shown: {label, probs}.
async function settled(page) {
  await page.waitForFunction(() => document.getElementById('result').dataset.pending === '0',
    null, { timeout: 15000 });
  return page.evaluate(() => {
    const d = document.getElementById('result').dataset;
    return { label: d.label, probs: d.probabilities ? d.probabilities.split(',').map(Number) : [] };
  });
}

// (a page in the background gets its timers throttled: draw in front)
async function drawFresh(page, strokes) {
  await page.bringToFront();
  await page.keyboard.press('Escape');
  for (const s of strokes) await mouseDraw(page, s);
  return settled(page);
}

const maxDiff = (a, b) => (a.length === 10 && b.length === 10
  ? Math.max(...a.map((v, i) => Math.abs(v - b[i]))) : Infinity);

const browser = await launchBrowser();
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [], requests = [];
  let loaded = false, afterLoad = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', (r) => {
    requests.push(r.url());
    if (loaded && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) afterLoad.push(r.url());
  });

  await page.goto(siteUrl);
  await page.waitForFunction(() => document.documentElement.dataset.ready, null, { timeout: 20000 });
  const ready = await page.evaluate(() => document.documentElement.dataset.ready);
  check('the module and the model load', ready !== 'error',
    await page.evaluate(() => document.documentElement.dataset.readyError || ''));
  console.log(`time from navigation to the first possible prediction: ${ready} ms`);
  await page.waitForFunction(() => !document.getElementById('model-info').textContent.startsWith('Loading'));
  const info = await page.textContent('#model-info');
  check('model information shown, running in the browser', /^Model \S+ · [\d,]+ parameters.*WebAssembly/.test(info), info);
  const fetched = requests.map((u) => u.split('/').pop());
  check('Chromium runs the SIMD module', await page.evaluate(() => document.documentElement.dataset.simd) === '1' &&
    fetched.includes('digitnet-simd.wasm') && !fetched.includes('digitnet.wasm'), fetched.join(' '));
  loaded = true;

  // Offline from here on: every answer must come from the page itself.
  await context.setOffline(true);
  let r = await drawFresh(page, drawings.one);
  check('drawn "1" is predicted as 1', r.label === '1', `got '${r.label}'`);
  await page.screenshot({ path: `${shots}/site-one.png` });
  r = await drawFresh(page, drawings.zero);
  check('drawn "0" is predicted as 0', r.label === '0', `got '${r.label}'`);
  await page.screenshot({ path: `${shots}/site-zero.png` });
  await page.click('#undo');
  r = await settled(page);
  check('undo of the only stroke empties the answer', r.label === '' && r.probs.length === 0, `got '${r.label}'`);
  await mouseDraw(page, one);
  await settled(page);
  await page.click('#clear');
  r = await settled(page);
  // the buttons follow on the next animation frame
  const cleared = await page.waitForFunction(() => document.getElementById('clear').disabled, null,
    { timeout: 5000 }).then(() => true, () => false);
  check('Clear empties the answer and the canvas', r.label === '' && cleared, `got '${r.label}'`);

  // Stroke to updated prediction, 20 strokes on one drawing.
  await page.keyboard.press('Escape');
  await page.evaluate(() => {
    const res = document.getElementById('result');
    window.__t = { up: 0, done: [] };
    document.getElementById('pad').addEventListener('pointerup', () => { window.__t.up = performance.now(); });
    new MutationObserver(() => {
      if (res.dataset.pending === '0' && window.__t.up) window.__t.done.push(performance.now() - window.__t.up);
    }).observe(res, { attributes: true, attributeFilter: ['data-pending'] });
  });
  const lat = [];
  for (let i = 0; i < 20; i++) {
    const x = 0.2 + 0.6 * (i / 19);
    await mouseDraw(page, line(x, 0.3, x + 0.05, 0.7, 6));
    await settled(page);
    lat.push(await page.evaluate(() => { const v = window.__t.done.pop(); window.__t.done = []; return v; }));
  }
  const sorted = lat.filter((v) => typeof v === 'number').sort((a, b) => a - b);
  check('20 strokes each got an updated prediction', sorted.length === 20, `${sorted.length}`);
  console.log(`stroke to updated prediction: median ${sorted[10].toFixed(1)} ms over 20 strokes ` +
    `(min ${sorted[0].toFixed(1)}, max ${sorted[19].toFixed(1)})`);

  // The network's own share: 20 predictions of the current drawing called
  // directly (encoding the canvas, decoding, normalising, the forward pass).
  const compute = await page.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = c.height = 448;
    c.getContext('2d').drawImage(document.getElementById('pad'), 0, 0);
    const t = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const e = window.digitnetLocal.encode(c);
      const r = await window.digitnetLocal.fetch('/api/predict', { method: 'POST', headers: { 'Content-Type': e.type }, body: e.data });
      await r.json();
      t.push(performance.now() - t0);
    }
    return t.sort((a, b) => a - b)[10];
  });
  console.log(`one prediction in the page (encode, normalise, forward): median ${compute.toFixed(1)} ms over 20`);

  // The inside view.
  await drawFresh(page, drawings.one);
  await page.click('#inside-toggle');
  await page.waitForFunction(() => Number(document.getElementById('inside').dataset.updates) > 0 &&
    document.getElementById('weights').dataset.maps, null, { timeout: 15000 });
  const inside = await page.evaluate(() => ({
    layers: document.getElementById('layers').children.length,
    maps: Number(document.getElementById('weights').dataset.maps),
  }));
  check('the inside view shows every layer and the first layer\'s weights', inside.layers > 2 && inside.maps > 0,
    `${inside.layers} layers, ${inside.maps} weight maps`);
  await page.screenshot({ path: `${shots}/site-inside.png`, fullPage: true });
  await page.click('#inside-toggle');

  // Teaching: kept in the browser, downloaded as a CSV.
  check('the download button is there and off with nothing taught', await page.locator('#teach-download').isDisabled());
  const taught = [['one', 1], ['zero', 0], ['seven', 7], ['one', 1]];
  for (const [name, d] of taught) {
    await drawFresh(page, drawings[name]);
    await page.click(`#teach-digits button[data-digit="${d}"]`);
    await page.waitForFunction(() => /Saved as/.test(document.getElementById('teach-status').textContent));
  }
  const status = await page.textContent('#teach-status');
  check('teaching keeps the digits in the browser', /4 digits of yours in this browser/.test(status), status);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#teach-download')]);
  await dl.saveAs(download);
  check('"download my digits" saves my-digits.csv', dl.suggestedFilename() === 'my-digits.csv', dl.suggestedFilename());

  // The same strokes on the server's page (fp32) and here (the shipped model).
  await context.setOffline(false);
  const served = await context.newPage();
  await served.goto(serveUrl);
  await served.waitForFunction(() => !document.getElementById('model-info').textContent.startsWith('Loading'));
  const native = {};
  for (const [name, strokes] of Object.entries(drawings)) native[name] = await drawFresh(served, strokes);
  await context.setOffline(true);
  let worst = 0, same = true;
  for (const [name, strokes] of Object.entries(drawings)) {
    const here = await drawFresh(page, strokes);
    worst = Math.max(worst, maxDiff(here.probs, native[name].probs));
    same = same && here.label === native[name].label;
  }
  check('shipped model: the same digits as the fp32 server', same, `largest probability difference ${worst.toExponential(2)}`);

  // Another model picked on the page: the fp32 file the server uses.
  const swapped = page.evaluate(() => new Promise((done) =>
    window.addEventListener('digitnet:model', (e) => done(e.detail), { once: true })));
  await page.setInputFiles('#model-file', fp32);
  const swap = await swapped;
  check('the fp32 model file picked on the page loads', !swap.error, swap.error || swap.name);
  worst = 0;
  let lowest = 1;
  for (const [name, strokes] of Object.entries(drawings)) {
    const here = await drawFresh(page, strokes);
    worst = Math.max(worst, maxDiff(here.probs, native[name].probs));
    lowest = Math.min(lowest, Math.max(...here.probs));
  }
  check('fp32 model: probabilities equal the server\'s within 1e-5', worst <= 1e-5,
    `largest difference ${worst.toExponential(2)} over ${Object.keys(drawings).length} drawings; ` +
    `the least sure top probability ${lowest.toFixed(3)}`);

  // A corrupt model file: the loader's message, and the page keeps working.
  await page.setInputFiles('#model-file', bad);
  await page.waitForFunction(() => !document.getElementById('error').hidden, null, { timeout: 10000 });
  const msg = await page.textContent('#error');
  check('a corrupt model gets the loader\'s message', /Could not use .*: .*(checksum|corrupt|truncated|not a digitnet)/.test(msg), msg);
  await page.screenshot({ path: `${shots}/site-bad-model.png` });
  r = await drawFresh(page, drawings.zero);
  check('after a bad model the page still predicts (with the previous model)', r.label === '0', `got '${r.label}'`);

  // Drop a model file on the page (as a user drags one in).
  await page.evaluate(async (bytes) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], 'dropped.dnm'));
    document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [1, 2, 3]);
  await page.waitForFunction(() => /dropped\.dnm/.test(document.getElementById('error').textContent), null, { timeout: 10000 });
  check('a dropped file goes through the loader', /dropped\.dnm: /.test(await page.textContent('#error')),
    await page.textContent('#error'));

  // A browser without WebAssembly SIMD gets the baseline module.
  const plain = await context.newPage();
  await plain.addInitScript(() => { WebAssembly.validate = () => false; });
  const plainFetched = [];
  plain.on('request', (q) => plainFetched.push(q.url().split('/').pop()));
  await context.setOffline(false);
  await plain.goto(siteUrl);
  await plain.waitForFunction(() => document.documentElement.dataset.ready, null, { timeout: 20000 });
  await context.setOffline(true);
  r = await drawFresh(plain, drawings.one);
  check('where SIMD does not validate, the baseline module loads and predicts a drawn 1', r.label === '1' &&
    plainFetched.includes('digitnet.wasm') && !plainFetched.includes('digitnet-simd.wasm'),
    `got '${r.label}', fetched ${plainFetched.join(' ')}`);
  await plain.close();

  const api = requests.filter((u) => u.includes('/api/'));
  check('no request went to /api/', api.length === 0, api.slice(0, 3).join(' '));
  check('nothing was requested after the first load', afterLoad.length === 0, afterLoad.slice(0, 3).join(' '));
  check('no page errors', errors.length === 0, errors.slice(0, 3).join(' | '));
  writeFileSync(`${shots}/site-timings.txt`, `ready_ms ${ready}\nstroke_median_ms ${sorted[10].toFixed(1)}\n` +
    `predict_median_ms ${compute.toFixed(1)}\n`);
} catch (e) {
  check('site test ran to the end', false, e.stack || String(e));
} finally {
  await browser.close();
}
console.log(`${counts.passed} passed, ${counts.failed} failed`);
process.exit(counts.failed ? 1 : 0);
