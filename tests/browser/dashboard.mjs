// dashboard.mjs — the live training dashboard in a real browser (Debian's
// chromium driven by playwright-core).
//
//   node tests/browser/dashboard.mjs DIGITNET train ... --serve --port 0 -o MODEL
//
// Launches the browser first, then starts the training command given as
// arguments, opens the address it prints as soon as it appears and expects,
// while the page still says the run is in progress, at least two
// validation-accuracy points (epoch table rows and chart markers) and live
// figures.  The run is held there by DIGITNET_TEST_PACE (a pace file that
// the caller fills with the batch to hold after), so the page never races
// the training; a second page opened mid-run must receive the history so
// far.  Then the run is released ("go" in the pace file), and it waits for
// the final state and the confusion matrix (100 cells
// summing to the test count of /api/train), checks the phone layout, saves
// screenshots to DN_SHOTS (dashboard-live.png mid-run, dashboard.png,
// dashboard-phone.png) and stops the command with SIGTERM, which must exit
// with status 0.  Fails on page errors
// and on any request that leaves the dashboard's address.
import { checker, launchBrowser } from './common.mjs';
import { spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';

const shots = process.env.DN_SHOTS || 'build';
const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: node dashboard.mjs DIGITNET train ... --serve --port 0 -o MODEL');
  process.exit(2);
}

const { check, counts } = checker();

const browser = await launchBrowser();

// The training run: its stderr is kept for the address and for failures.
const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
let stderr = '', stdout = '';
child.stdout.on('data', (b) => { stdout += b; });
child.stderr.on('data', (b) => { stderr += b; });
const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));

function waitForUrl(ms) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const m = /dashboard: (http:\/\/\S+\/)/.exec(stderr);
      if (m) return resolve(m[1]);
      if (child.exitCode !== null) return reject(new Error(`the command exited (${child.exitCode})`));
      if (Date.now() - t0 > ms) return reject(new Error('no dashboard address printed'));
      setTimeout(tick, 20);
    };
    tick();
  });
}

function watch(page, url, errors, external) {
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(url) && !u.startsWith('data:') && !u.startsWith('blob:')) external.push(u);
  });
}

// What the page shows now: state, validation accuracies listed, chart markers.
function snapshot() {
  const st = document.getElementById('state').dataset.state;
  const vals = [...document.querySelectorAll('#epochs tbody tr')]
    .map((r) => r.dataset.valAccuracy).filter((v) => v !== '');
  return {
    state: st,
    vals,
    rows: Number(document.getElementById('epochs').dataset.count),
    dots: document.querySelectorAll('#acc-chart circle.dot-val').length,
    lossPoints: Number(document.getElementById('loss-chart').dataset.points),
    ips: document.getElementById('ips').textContent,
    eta: document.getElementById('eta').textContent,
    epoch: document.getElementById('epoch').textContent,
  };
}

let code = 1;
try {
  const t0 = Date.now();
  const url = await waitForUrl(120000);
  console.log(`dashboard at ${url} after ${Date.now() - t0} ms`);
  const errors = [], external = [];
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  watch(page, url, errors, external);
  await page.goto(url);

  // Two validation accuracies while the run is still in progress (held).
  const handle = await page.waitForFunction(() => {
    const st = document.getElementById('state').dataset.state;
    const vals = [...document.querySelectorAll('#epochs tbody tr')]
      .map((r) => r.dataset.valAccuracy).filter((v) => v !== '');
    if (vals.length >= 2 && st === 'running') return { ok: true };
    if (['done', 'failed', 'cancelled'].includes(st)) return { ok: false, st, vals };
    return false;
  }, null, { timeout: 600000, polling: 50 });
  const outcome = await handle.jsonValue();
  const live = await page.evaluate(snapshot);
  check('two validation accuracies appear while training runs', outcome.ok,
    JSON.stringify(outcome));
  console.log(`      live: ${JSON.stringify(live)} after ${Date.now() - t0} ms`);
  await page.screenshot({ path: `${shots}/dashboard-live.png`, fullPage: true });
  check('accuracy chart marks each validation point', live.dots >= 2, `${live.dots} markers`);
  check('loss chart has batch points', live.lossPoints >= 10, `${live.lossPoints} points`);
  check('images/s shown', /^[\d,]+$/.test(live.ips) && live.ips !== '0', live.ips);
  check('ETA shown', /\d/.test(live.eta), live.eta);
  check('epoch x / y shown', /^\d+ \/ \d+$/.test(live.epoch), live.epoch);

  // A page opened in the middle of the run gets the history so far.
  const late = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  const lerrors = [], lexternal = [];
  watch(late, url, lerrors, lexternal);
  await late.goto(url);
  await late.waitForFunction((n) => Number(document.getElementById('epochs').dataset.count) >= n,
    live.rows, { timeout: 30000 });
  const lateSeen = await late.evaluate(snapshot);
  check('a page opened mid-run receives the earlier epochs', lateSeen.rows >= live.rows,
    `${lateSeen.rows} rows vs ${live.rows}`);
  check('a page opened mid-run receives the earlier batches',
    lateSeen.lossPoints >= live.lossPoints, `${lateSeen.lossPoints} vs ${live.lossPoints}`);
  await late.close();

  // Release the run.
  const pace = process.env.DIGITNET_TEST_PACE;
  if (pace) {
    writeFileSync(`${pace}.new`, 'go\n');
    renameSync(`${pace}.new`, pace);
  }

  // The end: state done, test accuracy and the confusion matrix.
  await page.waitForFunction(() => document.getElementById('confusion').dataset.total !== '0' &&
    document.getElementById('state').dataset.state === 'done', null, { timeout: 600000 });
  const api = await (await fetch(`${url}api/train?since=0`)).json();
  const fin = await page.evaluate(() => ({
    total: Number(document.getElementById('confusion').dataset.total),
    cells: document.querySelectorAll('#confusion tbody td:not(.recall)').length,
    acc: document.getElementById('test-accuracy').textContent,
    rows: Number(document.getElementById('epochs').dataset.count),
    visible: !document.getElementById('test-card').hidden,
  }));
  check('run ends in state done', api.state === 'done', api.state);
  check('confusion matrix has 10x10 cells', fin.cells === 100, `${fin.cells}`);
  check('confusion matrix sums to the test count', api.test && fin.total === api.test.count,
    `${fin.total} vs ${api.test && api.test.count}`);
  check('test accuracy shown', fin.visible && fin.acc === `${(100 * api.test.accuracy).toFixed(2)}%`,
    `${fin.acc} vs ${api.test.accuracy}`);
  check('every epoch listed', fin.rows === api.epochs && api.epoch_points.length === api.epochs,
    `${fin.rows} rows, ${api.epochs} epochs`);
  await page.screenshot({ path: `${shots}/dashboard.png`, fullPage: true });

  // Phone width: one column, no horizontal scrolling.
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  const ppage = await phone.newPage();
  const perrors = [], pexternal = [];
  watch(ppage, url, perrors, pexternal);
  await ppage.goto(url);
  await ppage.waitForFunction(() => document.getElementById('confusion').dataset.total !== '0');
  const scroll = await ppage.evaluate(() => document.documentElement.scrollWidth);
  check('phone layout has no horizontal scroll', scroll <= 390, `scrollWidth ${scroll}`);
  await ppage.screenshot({ path: `${shots}/dashboard-phone.png`, fullPage: true });
  await phone.close();

  const allErrors = errors.concat(lerrors, perrors), allExternal = external.concat(lexternal, pexternal);
  check('no page errors', allErrors.length === 0, allErrors.join(' | '));
  check('no requests leave the dashboard', allExternal.length === 0, allExternal.join(' '));
  await page.close();

  // SIGTERM ends the command with the run's status (0).
  child.kill('SIGTERM');
  const end = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 15000))]);
  check('SIGTERM stops the dashboard with exit status 0', end && end.code === 0,
    JSON.stringify(end));
  code = counts.failed ? 1 : 0;
} catch (e) {
  counts.failed++;
  console.log(`FAIL  ${e.message}`);
} finally {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await browser.close();
}
if (counts.failed) {
  console.log('--- training command stderr (tail)');
  console.log(stderr.split('\n').slice(-30).join('\n'));
  console.log(stdout.split('\n').slice(-10).join('\n'));
}
console.log(`\n${counts.passed} passed, ${counts.failed} failed`);
process.exit(counts.failed ? 1 : code);
