// train.js — the training dashboard of `digitnet train --serve`.
//
// Polls GET /api/train?since=N twice a second (every 3 s once the run has
// ended), keeps every point received and redraws: the figures, three charts
// drawn here as inline SVG (loss per batch with the validation loss per
// epoch, accuracy per epoch, images per second), the table of epochs and,
// at the end, the test accuracy and the confusion matrix.  A page opened in
// the middle of a run first receives the whole history (since=0).  No
// libraries, nothing loaded from elsewhere, no inline styles in markup
// (the server's Content-Security-Policy forbids them; colours are set
// through the CSSOM).
'use strict';

const POLL_MS = 500;
const IDLE_MS = 3000;
const MAX_KEPT = 40000; // batch points kept in the page; halved when exceeded
const FINAL = new Set(['done', 'failed', 'cancelled']);
const STATE_TEXT = {
  connecting: 'Connecting…', starting: 'Starting', running: 'Training', testing: 'Testing',
  done: 'Done', failed: 'Failed', cancelled: 'Cancelled', lost: 'Not answering',
};
const SVG_NS = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);

let run = freshRun();
let dirty = false;
let shownEpochs = -1; // epoch rows drawn, to rebuild the table only when it changed
let shownTest = false;

function freshRun() {
  return { since: 0, started: null, info: null, batches: [], epochs: [], test: null };
}

// ---------------------------------------------------------------- formatting

const min = (a) => a.reduce((m, v) => (v < m ? v : m), Infinity);
const max = (a) => a.reduce((m, v) => (v > m ? v : m), -Infinity);
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
const pct = (v, digits = 2) => (isNum(v) ? `${(100 * v).toFixed(digits)}%` : '–');
const fixed = (v, digits) => (isNum(v) ? v.toFixed(digits) : '–');
const whole = (v) => (isNum(v) ? Math.round(v).toLocaleString('en-US') : '–');

function duration(s) {
  if (!isNum(s)) return '–';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60), sec = Math.floor(s % 60);
  if (m < 60) return `${m} min ${String(sec).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

function lossText(v) {
  if (!isNum(v)) return '–';
  return v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(3) : v.toPrecision(3);
}

// ---------------------------------------------------------------- polling

async function poll() {
  let wait = POLL_MS;
  try {
    const r = await fetch(`/api/train?since=${run.since}`, { cache: 'no-store' });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const d = await r.json();
    // A different run now answers on this address: start over.
    if (run.started !== null && (d.started !== run.started || d.seq < run.since)) {
      run = freshRun();
      shownEpochs = -1;
      shownTest = false;
      setTimeout(poll, 0);
      return;
    }
    merge(d);
    const ended = FINAL.has(d.state);
    if (ended) wait = IDLE_MS;
    $('conn').textContent = ended
      ? 'Training has ended; this page shows its final state.'
      : `Live: updated ${new Date().toLocaleTimeString()}.`;
  } catch (e) {
    setState('lost');
    $('conn').textContent = `The dashboard is not answering (${e.message}); retrying.`;
    wait = IDLE_MS;
  }
  setTimeout(poll, wait);
}

function merge(d) {
  run.started = d.started;
  run.info = d;
  for (const p of d.batch_points) run.batches.push(p);
  if (run.batches.length > MAX_KEPT) run.batches = run.batches.filter((_, i) => i % 2 === 1);
  for (const e of d.epoch_points) run.epochs.push(e);
  run.test = d.test;
  run.since = d.seq;
  dirty = true;
  requestAnimationFrame(render);
}

// ---------------------------------------------------------------- rendering

function setState(state) {
  const el = $('state');
  el.dataset.state = state;
  $('state-text').textContent = STATE_TEXT[state] || state;
}

function render() {
  if (!dirty || !run.info) return;
  dirty = false;
  const d = run.info;
  setState(d.state);
  $('title').textContent = d.title || '';
  $('detail').textContent = d.detail || '';
  const msg = $('message');
  msg.hidden = !d.message;
  msg.textContent = d.message || '';
  msg.dataset.kind = d.state === 'failed' ? 'error' : '';

  const epochs = d.epochs || 0;
  const progress = isNum(d.progress) && epochs ? Math.min(1, d.progress / epochs) : 0;
  $('progress-fill').style.width = `${(100 * progress).toFixed(2)}%`;
  $('progress').setAttribute('aria-valuenow', (100 * progress).toFixed(0));
  $('percent').textContent = epochs ? `${(100 * progress).toFixed(0)}%` : '';
  $('epoch-label').textContent = epochs
    ? `Epoch ${d.epoch} of ${epochs}`
    : d.state === 'starting' ? 'Waiting for the first batch' : '';
  $('epoch').textContent = epochs ? `${d.epoch} / ${epochs}` : '–';
  $('batch').textContent = d.batches ? `${d.batch} / ${d.batches}` : '–';
  $('loss').textContent = lossText(d.loss);
  $('ips').textContent = whole(d.images_per_sec);
  $('elapsed').textContent = duration(d.elapsed);
  $('eta').textContent = d.state === 'running' ? duration(d.eta) : '–';
  $('lr').textContent = isNum(d.lr) ? String(+d.lr.toPrecision(4)) : '–';
  $('best').textContent = isNum(d.best_val_accuracy) ? pct(d.best_val_accuracy) : '–';
  $('best-epoch').textContent = d.best_epoch ? ` epoch ${d.best_epoch}` : '';
  document.title = `${epochs ? `${(100 * progress).toFixed(0)}% · ` : ''}${STATE_TEXT[d.state] || d.state} — digitnet training`;

  drawCharts();
  drawEpochTable();
  drawTest();
}

// ---------------------------------------------------------------- charts

function svgEl(name, attrs, parent) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

// About `count` round ticks covering [lo, hi].
function linearTicks(lo, hi, count) {
  const span = hi - lo || 1;
  const raw = span / count, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => span / s <= count) || 10 * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

// Ticks inside [lo, hi] (lo > 0) for a log axis: 1, 2, 5 x 10^k over a
// short range, powers of ten only over a long one.
function logTicks(lo, hi) {
  const ticks = [];
  const factors = Math.log10(hi / lo) > 2.5 ? [1] : [1, 2, 5];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    for (const f of factors) {
      const v = f * 10 ** k;
      if (v >= lo && v <= hi) ticks.push(+v.toPrecision(6));
    }
  }
  if (ticks.length < 2) return [+lo.toPrecision(2), +hi.toPrecision(2)];
  return ticks;
}

// A centred moving average of the y values (about 1/25 of the points
// wide), for a readable trend that does not lag behind.
function smooth(pts) {
  const k = Math.min(25, Math.floor(pts.length / 50));
  if (k < 1) return pts;
  const sum = [0];
  for (const p of pts) sum.push(sum[sum.length - 1] + p[1]);
  return pts.map(([x], i) => {
    const a = Math.max(0, i - k), b = Math.min(pts.length, i + k + 1);
    return [x, (sum[b] - sum[a]) / (b - a)];
  });
}

// Averages points that fall in the same pixel column when there are many.
function thinToWidth(pts, x0, x1, width) {
  if (pts.length <= width * 1.5) return pts;
  const out = [];
  let col = null, sx = 0, sy = 0, n = 0;
  for (const [x, y] of pts) {
    const c = Math.floor(((x - x0) / (x1 - x0 || 1)) * width);
    if (c !== col && n) {
      out.push([sx / n, sy / n]);
      sx = sy = n = 0;
    }
    col = c;
    sx += x;
    sy += y;
    n++;
  }
  if (n) out.push([sx / n, sy / n]);
  return out;
}

// Draws axes, grid and series into an <svg> sized by CSS.
//   o.x: [lo, hi]; o.y: [lo, hi]; o.log: logarithmic y; o.yFmt: tick label;
//   o.series: [{ pts: [[x, y]], line: 'line-xxx', dots: 'dot-xxx', tip(p) }]
function drawChart(svg, o) {
  const w = Math.max(200, svg.clientWidth || 600), h = Math.max(100, svg.clientHeight || 240);
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.replaceChildren();
  const m = { l: 52, r: 12, t: 10, b: 26 };
  const pw = w - m.l - m.r, ph = h - m.t - m.b;
  const [x0, x1] = o.x;
  let [y0, y1] = o.y;
  if (!o.series.some((s) => s.pts.length)) {
    svgEl('text', { x: w / 2, y: h / 2, 'text-anchor': 'middle', class: 'empty' }, svg)
      .textContent = o.empty;
    return;
  }
  const ty = o.log ? (v) => Math.log10(v) : (v) => v;
  if (ty(y1) - ty(y0) <= 0) { y1 = o.log ? y0 * 2 : y0 + 1; }
  const X = (v) => m.l + ((v - x0) / (x1 - x0 || 1)) * pw;
  const Y = (v) => m.t + ph - ((ty(v) - ty(y0)) / (ty(y1) - ty(y0))) * ph;

  const yt = o.log ? logTicks(y0, y1) : linearTicks(y0, y1, 5);
  for (const v of yt) {
    svgEl('line', { x1: m.l, x2: m.l + pw, y1: Y(v), y2: Y(v), class: 'grid' }, svg);
    svgEl('text', { x: m.l - 6, y: Y(v) + 4, 'text-anchor': 'end' }, svg).textContent = o.yFmt(v);
  }
  const xt = linearTicks(x0, x1, Math.max(2, Math.floor(pw / 70))).filter((v) => Number.isInteger(v));
  for (const v of xt) {
    svgEl('line', { x1: X(v), x2: X(v), y1: m.t + ph, y2: m.t + ph + 4, class: 'axis' }, svg);
    svgEl('text', { x: X(v), y: h - 8, 'text-anchor': 'middle' }, svg).textContent = String(v);
  }
  svgEl('line', { x1: m.l, x2: m.l + pw, y1: m.t + ph, y2: m.t + ph, class: 'axis' }, svg);
  svgEl('text', { x: m.l + pw, y: m.t + ph - 5, 'text-anchor': 'end', class: 'axis-title' }, svg)
    .textContent = 'epoch';

  const clampY = (v) => Math.min(Math.max(v, y0), y1);
  for (const s of o.series) {
    if (!s.pts.length) continue;
    const pts = s.thin ? thinToWidth(s.pts, x0, x1, pw) : s.pts;
    if (s.line && pts.length > 1) {
      const dpath = pts.map(([x, y], i) => `${i ? 'L' : 'M'}${X(x).toFixed(1)} ${Y(clampY(y)).toFixed(1)}`).join('');
      svgEl('path', { d: dpath, class: `line ${s.line}${s.faint ? ' faint' : ''}` }, svg);
    }
    if (s.dots) {
      for (const p of s.pts) {
        const c = svgEl('circle', { cx: X(p[0]).toFixed(1), cy: Y(clampY(p[1])).toFixed(1), r: 3.5, class: s.dots }, svg);
        if (s.tip) svgEl('title', {}, c).textContent = s.tip(p);
      }
    }
  }
}

function drawCharts() {
  const d = run.info;
  const xHi = Math.max(1, d.epochs || 0, ...run.batches.slice(-1).map((p) => Math.ceil(p.progress)));
  const x = [0, xHi];

  // Loss: batch windows (faint) with their moving average, and the
  // validation loss per epoch; log scale, ranged on the trend so that a
  // single lucky batch does not squash the chart.
  const loss = run.batches.filter((p) => isNum(p.loss) && p.loss > 0).map((p) => [p.progress, p.loss]);
  const trend = smooth(loss);
  const vloss = run.epochs.filter((e) => isNum(e.val_loss) && e.val_loss > 0).map((e) => [e.epoch, e.val_loss]);
  const all = trend.concat(vloss).map((p) => p[1]);
  const lossSvg = $('loss-chart');
  drawChart(lossSvg, {
    x, y: all.length ? [min(all) / 1.6, max(loss.map((p) => p[1]).concat(all)) * 1.1] : [0.01, 1],
    log: true, yFmt: (v) => String(v), empty: 'Waiting for the first batches…',
    series: [
      { pts: loss, line: 'line-loss', thin: true, faint: true },
      { pts: trend, line: 'line-loss', thin: true },
      { pts: vloss, line: 'line-val', dots: 'dot-val', tip: (p) => `epoch ${p[0]}: validation loss ${lossText(p[1])}` },
    ],
  });
  lossSvg.dataset.points = String(loss.length);
  const lastLoss = loss.length ? loss[loss.length - 1] : null;
  lossSvg.setAttribute('aria-label', lastLoss
    ? `Training loss per batch, log scale: ${loss.length} points, latest ${lossText(lastLoss[1])} at epoch ${lastLoss[0].toFixed(2)}`
    : 'Training loss: no data yet');

  // Accuracy per epoch.
  const tacc = run.epochs.filter((e) => isNum(e.train_accuracy)).map((e) => [e.epoch, 100 * e.train_accuracy]);
  const vacc = run.epochs.filter((e) => isNum(e.val_accuracy)).map((e) => [e.epoch, 100 * e.val_accuracy]);
  const accs = tacc.concat(vacc).map((p) => p[1]);
  const lo = accs.length ? Math.max(0, Math.floor((min(accs) - 1) / 5) * 5) : 0;
  const accSvg = $('acc-chart');
  drawChart(accSvg, {
    x, y: [lo, 100], yFmt: (v) => `${v}%`, empty: 'Waiting for the first epoch to finish…',
    series: [
      { pts: tacc, line: 'line-train', dots: 'dot-train', tip: (p) => `epoch ${p[0]}: training ${p[1].toFixed(2)}%` },
      { pts: vacc, line: 'line-val', dots: 'dot-val', tip: (p) => `epoch ${p[0]}: validation ${p[1].toFixed(2)}%` },
    ],
  });
  accSvg.dataset.points = String(vacc.length);
  accSvg.setAttribute('aria-label', vacc.length
    ? `Accuracy per epoch: validation ${vacc.map((p) => `${p[1].toFixed(2)}%`).join(', ')}`
    : tacc.length ? `Accuracy per epoch: training ${tacc.map((p) => `${p[1].toFixed(2)}%`).join(', ')}`
      : 'Accuracy: no epoch finished yet');

  // Speed.
  const speed = run.batches.filter((p) => isNum(p.images_per_sec)).map((p) => [p.progress, p.images_per_sec]);
  const speedSvg = $('speed-chart');
  const top = speed.length ? max(speed.map((p) => p[1])) : 1;
  drawChart(speedSvg, {
    x, y: [0, top * 1.1], yFmt: (v) => (v >= 1000 ? `${+(v / 1000).toPrecision(3)}k` : String(v)),
    empty: 'Waiting for the first batches…',
    series: [{ pts: speed, line: 'line-speed', thin: true }],
  });
  speedSvg.dataset.points = String(speed.length);
  speedSvg.setAttribute('aria-label', speed.length
    ? `Images per second: latest ${whole(speed[speed.length - 1][1])}` : 'Images per second: no data yet');
}

// ---------------------------------------------------------------- tables

function cell(row, text, tag = 'td') {
  const c = document.createElement(tag);
  c.textContent = text;
  row.appendChild(c);
  return c;
}

function drawEpochTable() {
  const best = run.info.best_epoch;
  if (shownEpochs === run.epochs.length && $('epochs').dataset.best === String(best)) return;
  shownEpochs = run.epochs.length;
  const body = $('epochs').tBodies[0];
  body.replaceChildren();
  for (const e of run.epochs) {
    const tr = document.createElement('tr');
    tr.dataset.epoch = String(e.epoch);
    tr.dataset.valAccuracy = isNum(e.val_accuracy) ? String(e.val_accuracy) : '';
    if (e.epoch === best) tr.className = 'best';
    cell(tr, String(e.epoch), 'th').scope = 'row';
    cell(tr, lossText(e.train_loss));
    cell(tr, pct(e.train_accuracy));
    cell(tr, lossText(e.val_loss));
    cell(tr, pct(e.val_accuracy));
    cell(tr, isNum(e.seconds) ? duration(e.seconds) : '–').className = 'col-time';
    body.appendChild(tr);
  }
  $('epochs').dataset.count = String(run.epochs.length);
  $('epochs').dataset.best = String(best);
  $('epochs-empty').hidden = run.epochs.length > 0;
}

function drawTest() {
  const t = run.test;
  $('test-card').hidden = !t;
  if (!t || shownTest) return;
  shownTest = true;
  $('test-accuracy').textContent = pct(t.accuracy);
  $('test-count').textContent = `${whole(t.correct)} of ${whole(t.count)} test images right`;
  const table = $('confusion');
  const head = table.tHead.rows[0];
  head.replaceChildren();
  const corner = cell(head, 'true ↓ pred →', 'th');
  corner.className = 'corner';
  for (let j = 0; j < 10; j++) cell(head, String(j), 'th').scope = 'col';
  cell(head, '%', 'th').scope = 'col';
  const body = table.tBodies[0];
  body.replaceChildren();
  let total = 0;
  t.confusion.forEach((row, i) => {
    const tr = document.createElement('tr');
    cell(tr, String(i), 'th').scope = 'row';
    const n = row.reduce((a, b) => a + b, 0);
    row.forEach((v, j) => {
      total += v;
      const c = cell(tr, String(v));
      c.title = `true ${i}, predicted ${j}: ${v} image${v === 1 ? '' : 's'}`;
      const share = n ? v / n : 0;
      if (v === 0) {
        c.className = 'zero';
        return;
      }
      // Right answers in blue by their share of the row; mistakes in red,
      // scaled up because they are a small share.
      const alpha = i === j ? 0.15 + 0.8 * share : 0.18 + 0.8 * Math.min(1, share * 8);
      c.style.backgroundColor = i === j ? `rgba(47, 111, 222, ${alpha.toFixed(3)})`
        : `rgba(207, 34, 46, ${alpha.toFixed(3)})`;
      if (alpha > 0.5) c.style.color = '#fff';
    });
    const r = cell(tr, n ? (100 * row[i] / n).toFixed(1) : '–');
    r.className = 'recall';
    body.appendChild(tr);
  });
  table.dataset.total = String(total);
}

// ---------------------------------------------------------------- start

let resizeFrame = 0;
window.addEventListener('resize', () => {
  cancelAnimationFrame(resizeFrame);
  resizeFrame = requestAnimationFrame(() => { if (run.info) drawCharts(); });
});
poll();
