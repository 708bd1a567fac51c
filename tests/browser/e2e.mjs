// e2e.mjs — the web page in a real browser (Debian's chromium driven by
// playwright-core): loads the page from DN_URL, draws a "1" with the mouse
// and expects 1, clears with Escape, draws a "0" and expects 0, checks undo,
// the 28x28 preview, the chart, teaching (the server runs with --collect),
// then draws a "1" with touch events on a phone-sized page, and shows
// "7 — or 1?" for an answer the server marks unsure.  Screenshots go
// to DN_SHOTS.  Fails on page errors and on any request that leaves DN_URL.
import { checker, launchBrowser, line, mouseDraw, one, zero } from './common.mjs';

const url = process.env.DN_URL;
const shots = process.env.DN_SHOTS || 'build';
if (!url) {
  console.error('DN_URL is not set');
  process.exit(2);
}

const { check, counts } = checker();

const browser = await launchBrowser();

// Records page errors and requests that go anywhere but the server.
function watch(page, errors, external) {
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(url) && !u.startsWith('data:') && !u.startsWith('blob:')) external.push(u);
  });
}

// Waits until the answer for the current drawing is displayed; returns it.
async function settledLabel(page) {
  await page.waitForFunction(() => document.getElementById('result').dataset.pending === '0',
    null, { timeout: 10000 });
  return page.evaluate(() => document.getElementById('result').dataset.label);
}

async function touchDraw(page, cdp, pts) {
  const box = await page.locator('#pad').boundingBox();
  const at = ([x, y]) => ({ x: box.x + x * box.width, y: box.y + y * box.height });
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [at(pts[0])] });
  for (const p of pts.slice(1)) {
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [at(p)] });
  }
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
}


try {
  // ---------------------------------------------------------------- desktop
  const errors = [], external = [];
  const page = await browser.newPage({ viewport: { width: 1200, height: 860 } });
  watch(page, errors, external);
  await page.goto(url);
  await page.waitForFunction(() => !document.getElementById('model-info').textContent.startsWith('Loading'));
  const info = await page.textContent('#model-info');
  check('model information shown', /^Model \S+ · [\d,]+ parameters/.test(info), info);
  check('chart has 10 bars', (await page.locator('#bars .bar').count()) === 10);
  check('undo disabled on an empty canvas', await page.locator('#undo').isDisabled());

  await mouseDraw(page, one);
  let label = await settledLabel(page);
  check('drawn "1" is predicted as 1', label === '1', `got '${label}'`);
  check('big digit shows 1', (await page.textContent('#pred-digit')) === '1');
  check('top bar highlighted', (await page.locator('#bars .bar.best .lbl').textContent()) === '1');
  const ink = await page.evaluate(() => {
    const d = document.getElementById('seen').getContext('2d').getImageData(0, 0, 28, 28).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) lit += d[i] > 0;
    return lit;
  });
  check('28x28 network input shown', ink > 10 && ink < 400, `${ink} lit pixels`);
  await page.screenshot({ path: `${shots}/browser-one.png` });

  // Undo removes only the last stroke.
  await mouseDraw(page, line(0.2, 0.5, 0.8, 0.5));
  await settledLabel(page);
  await page.click('#undo');
  label = await settledLabel(page);
  check('undo brings back the "1"', label === '1', `got '${label}'`);

  await page.keyboard.press('Escape');
  label = await settledLabel(page);
  check('Escape clears the prediction', label === '' && (await page.textContent('#pred-digit')) === '–');
  // the canvas is repainted on the next animation frame
  const blank = await page.waitForFunction(() => {
    const c = document.getElementById('pad');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 0) return false;
    return true;
  }, null, { timeout: 5000 }).then(() => true, () => false);
  check('Escape clears the canvas', blank);

  await mouseDraw(page, zero);
  label = await settledLabel(page);
  check('drawn "0" is predicted as 0', label === '0', `got '${label}'`);
  await page.screenshot({ path: `${shots}/browser-zero.png` });

  // Teaching: the server was started with --collect.
  await page.click('#teach-digits button[data-digit="0"]');
  await page.waitForFunction(() => document.getElementById('teach-status').textContent !== '');
  const status = await page.textContent('#teach-status');
  check('teaching saves the digit', /^Saved as a 0: 1 digit/.test(status), status);

  await page.click('#clear');
  label = await settledLabel(page);
  check('Clear button clears', label === '');
  check('no page errors', errors.length === 0, errors.join(' | '));
  check('no requests leave the server', external.length === 0, external.join(' '));
  await page.close();

  // ---------------------------------------------------------------- phone
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  const ppage = await phone.newPage();
  const perrors = [], pexternal = [];
  watch(ppage, perrors, pexternal);
  await ppage.goto(url);
  const cdp = await phone.newCDPSession(ppage);
  await touchDraw(ppage, cdp, one);
  label = await settledLabel(ppage);
  check('"1" drawn by touch is predicted as 1', label === '1', `got '${label}'`);
  const scroll = await ppage.evaluate(() => document.documentElement.scrollWidth);
  check('phone layout has no horizontal scroll', scroll <= 390, `scrollWidth ${scroll}`);
  await ppage.screenshot({ path: `${shots}/browser-phone.png`, fullPage: true });
  check('no page errors on the phone', perrors.length === 0, perrors.join(' | '));
  await phone.close();

  // ---------------------------------------------------------------- not sure
  // The page shows what the server decided: answers in its JSON (a
  // network's answer cannot be made unsure on purpose, so the two answers
  // are given here) must be shown as "7 — or 1?" with both bars lit, and a
  // sure answer without either.
  const upage = await browser.newPage({ viewport: { width: 1200, height: 860 } });
  const uerrors = [];
  watch(upage, uerrors, []);
  let answer;
  await upage.route('**/api/predict*', (route) => route.fulfill({
    status: 200, contentType: 'application/json', body: JSON.stringify(answer),
  }));
  await upage.goto(url);
  const probs = (a, pa, b, pb) => Array.from({ length: 10 }, (_, d) => (d === a ? pa : d === b ? pb : (1 - pa - pb) / 8));
  answer = { label: 7, unsure: true, runner_up: 1, probabilities: probs(7, 0.55, 1, 0.4), image: new Array(784).fill(0) };
  await mouseDraw(upage, one);
  label = await settledLabel(upage);
  const conf = await upage.textContent('#pred-conf');
  check('an unsure answer reads "7 — or 1?"', label === '7' && conf.startsWith('7 — or 1?'), `'${label}', '${conf}'`);
  check('the runner-up bar is lit too', (await upage.locator('#bars .bar.runner .lbl').textContent()) === '1' &&
    (await upage.locator('#bars .bar.best .lbl').textContent()) === '7');
  await upage.screenshot({ path: `${shots}/browser-unsure.png` });
  answer = { label: 7, unsure: false, runner_up: 1, probabilities: probs(7, 0.95, 1, 0.04), image: new Array(784).fill(0) };
  await upage.click('#clear');
  await mouseDraw(upage, one);
  await settledLabel(upage);
  const conf2 = await upage.textContent('#pred-conf');
  check('a sure answer names no runner-up', !/or/.test(conf2) && (await upage.locator('#bars .bar.runner').count()) === 0, conf2);
  check('no page errors on the unsure page', uerrors.length === 0, uerrors.join(' | '));
  await upage.close();
} catch (e) {
  counts.failed++;
  console.log(`FAIL  ${e.stack || e}`);
} finally {
  await browser.close();
}

console.log(`\n${counts.passed} passed, ${counts.failed} failed`);
process.exit(counts.failed ? 1 : 0);
