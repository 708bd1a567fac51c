// app.js — the drawing page: pointer-event drawing (mouse, touch, pen) with
// undo, live throttled predictions from POST /api/predict, the probability
// chart and the 28x28 image the network saw, teaching via POST /api/samples,
// and the model summary from GET /api/model. No libraries, no outside requests.
'use strict';

(() => {
  const SIZE = 448;            // canvas pixels (CSS scales it)
  const BRUSH = SIZE / 12;     // pen width, about MNIST's stroke once normalised
  const THROTTLE_MS = 120;     // at most one prediction request per interval

  const $ = (id) => document.getElementById(id);
  const pad = $('pad');
  const ctx = pad.getContext('2d');
  const seen = $('seen');
  const seenCtx = seen.getContext('2d');
  const digitEl = $('pred-digit');
  const confEl = $('pred-conf');
  const miniEl = $('pred-mini');
  const resultEl = $('result');
  const errorEl = $('error');
  const hintEl = $('pad-hint');
  const undoBtn = $('undo');
  const clearBtn = $('clear');
  const teachStatus = $('teach-status');

  // ---------------------------------------------------------------- chart
  const bars = [];
  for (let d = 0; d < 10; d++) {
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.setAttribute('role', 'listitem');
    bar.innerHTML = '<span class="pct"></span><span class="track"><span class="fill"></span></span>' +
      `<span class="lbl">${d}</span>`;
    $('bars').appendChild(bar);
    bars.push({ el: bar, fill: bar.querySelector('.fill'), pct: bar.querySelector('.pct') });
  }

  const teachButtons = [];
  for (let d = 0; d < 10; d++) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = String(d);
    b.dataset.digit = String(d);
    b.setAttribute('aria-label', `It is a ${d}`);
    b.addEventListener('click', () => teach(d));
    $('teach-digits').appendChild(b);
    teachButtons.push(b);
  }
  let collectEnabled = false;

  // ---------------------------------------------------------------- drawing
  const strokes = [];   // each: {id, pts: [[x, y], ...]}
  let current = null;
  let drawQueued = false;
  let generation = 0;     // bumped by every edit: answers for older drawings are dropped
  let inflight = false, dirty = false, timer = 0, lastSent = -1e9;

  // Paints one stroke; the pen state (white, round, BRUSH wide) is set by the caller.
  function paint(g, pts) {
    g.beginPath();
    if (pts.length === 1) {
      g.arc(pts[0][0], pts[0][1], BRUSH / 2, 0, Math.PI * 2);
      g.fill();
      return;
    }
    g.moveTo(pts[0][0], pts[0][1]);
    // Quadratic curves through the midpoints: smooth like a pen, no corners.
    for (let i = 1; i < pts.length - 1; i++) {
      g.quadraticCurveTo(pts[i][0], pts[i][1], (pts[i][0] + pts[i + 1][0]) / 2,
        (pts[i][1] + pts[i + 1][1]) / 2);
    }
    const last = pts[pts.length - 1];
    g.lineTo(last[0], last[1]);
    g.stroke();
  }

  function render(g) {
    g.fillStyle = '#000';
    g.fillRect(0, 0, SIZE, SIZE);
    g.fillStyle = g.strokeStyle = '#fff';
    g.lineWidth = BRUSH;
    g.lineCap = g.lineJoin = 'round';
    for (const s of strokes) paint(g, s.pts);
  }

  function redraw() {
    drawQueued = false;
    render(ctx);
    hintEl.classList.toggle('hidden', strokes.length > 0);
    undoBtn.disabled = strokes.length === 0;
    clearBtn.disabled = strokes.length === 0;
    updateTeachButtons();
  }

  function queueRedraw() {
    if (!drawQueued) {
      drawQueued = true;
      requestAnimationFrame(redraw);
    }
  }

  function point(e) {
    const r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * SIZE / r.width, (e.clientY - r.top) * SIZE / r.height];
  }

  pad.addEventListener('pointerdown', (e) => {
    if (current || (e.pointerType === 'mouse' && e.button !== 0)) return;
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    current = { id: e.pointerId, pts: [point(e)] };
    strokes.push(current);
    generation++;
    queueRedraw();
    schedulePredict();
  });

  pad.addEventListener('pointermove', (e) => {
    if (!current || e.pointerId !== current.id) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) {
      const p = point(ev);
      const q = current.pts[current.pts.length - 1];
      if (Math.abs(p[0] - q[0]) + Math.abs(p[1] - q[1]) >= 1) current.pts.push(p);
    }
    queueRedraw();
    schedulePredict();
  });

  function endStroke(e) {
    if (!current || e.pointerId !== current.id) return;
    current = null;
    queueRedraw();
    schedulePredict();
  }
  pad.addEventListener('pointerup', endStroke);
  pad.addEventListener('pointercancel', endStroke);
  pad.addEventListener('contextmenu', (e) => e.preventDefault());

  function clearAll() {
    strokes.length = 0;
    current = null;
    generation++;
    queueRedraw();
    showEmpty();
    setTeachStatus('', '');
  }

  function undo() {
    if (current || !strokes.length) return;
    strokes.pop();
    generation++;
    queueRedraw();
    if (strokes.length) schedulePredict();
    else showEmpty();
  }

  clearBtn.addEventListener('click', clearAll);
  undoBtn.addEventListener('click', undo);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      clearAll();
    } else if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === 'z') {
      e.preventDefault();
      undo();
    }
  });

  // Renders the strokes on a fresh canvas (the visible one may be a frame
  // behind) and returns it as a PNG blob.
  function snapshot() {
    const c = document.createElement('canvas');
    c.width = c.height = SIZE;
    render(c.getContext('2d'));
    return new Promise((resolve, reject) =>
      c.toBlob((b) => (b ? resolve(b) : reject(new Error('cannot encode the drawing'))), 'image/png'));
  }

  // ---------------------------------------------------------------- predicting

  // result.dataset.pending is "1" until the answer for the current drawing is
  // shown: tests (and assistive tools) can wait for it.
  function setPending(on) {
    resultEl.dataset.pending = on ? '1' : '0';
  }

  function schedulePredict() {
    dirty = true;
    setPending(true);
    if (inflight || timer) return;
    const wait = Math.max(0, lastSent + THROTTLE_MS - performance.now());
    timer = setTimeout(() => { timer = 0; predict(); }, wait);
  }

  async function predict() {
    if (!dirty) { setPending(inflight); return; }
    dirty = false;
    if (!strokes.length) { showEmpty(); setPending(false); return; }
    inflight = true;
    lastSent = performance.now();
    const gen = generation;
    try {
      const body = await snapshot();
      const r = await fetch('/api/predict', {
        method: 'POST', headers: { 'Content-Type': 'image/png' }, body,
      });
      const j = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
      if (gen === generation) {
        if (r.ok) showPrediction(j);
        else if (r.status === 422) showEmpty();
        else showError(j.error || `HTTP ${r.status}`);
      }
    } catch (err) {
      if (gen === generation) showError(`The server did not answer (${err.message}).`);
    } finally {
      inflight = false;
      if (dirty) schedulePredict();
      else setPending(false);
    }
  }

  function showPrediction(j) {
    errorEl.hidden = true;
    const p = j.probabilities;
    digitEl.textContent = String(j.label);
    miniEl.textContent = `Guess: ${j.label} (${Math.round(p[j.label] * 100)}%)`;
    resultEl.dataset.label = String(j.label);
    confEl.textContent = `${(p[j.label] * 100).toFixed(p[j.label] > 0.995 ? 1 : 0)}% sure`;
    bars.forEach((b, d) => {
      const v = Math.max(0, Math.min(1, p[d]));
      b.fill.style.height = `${(v * 100).toFixed(1)}%`;
      b.pct.textContent = v >= 0.01 ? `${Math.round(v * 100)}` : '';
      b.el.classList.toggle('best', d === j.label);
      b.el.setAttribute('aria-label', `${d}: ${(v * 100).toFixed(1)} percent`);
    });
    const img = seenCtx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = j.image[i];
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
      img.data[4 * i + 3] = 255;
    }
    seenCtx.putImageData(img, 0, 0);
  }

  function showEmpty() {
    errorEl.hidden = true;
    digitEl.textContent = '–';
    miniEl.textContent = '';
    resultEl.dataset.label = '';
    confEl.textContent = 'Start drawing';
    bars.forEach((b) => {
      b.fill.style.height = '0';
      b.pct.textContent = '';
      b.el.classList.remove('best');
    });
    seenCtx.fillStyle = '#000';
    seenCtx.fillRect(0, 0, 28, 28);
  }

  function showError(msg) {
    errorEl.textContent = msg;
    errorEl.hidden = false;
  }

  // ---------------------------------------------------------------- teaching
  function updateTeachButtons() {
    for (const b of teachButtons) b.disabled = !collectEnabled || strokes.length === 0;
  }

  function setTeachStatus(text, kind) {
    teachStatus.textContent = text;
    teachStatus.className = `status ${kind}`;
  }

  async function teach(d) {
    if (!strokes.length) return;
    try {
      const body = await snapshot();
      const r = await fetch(`/api/samples?label=${d}`, {
        method: 'POST', headers: { 'Content-Type': 'image/png' }, body,
      });
      const j = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
      if (r.ok) {
        setTeachStatus(`Saved as a ${j.label}: ${j.count} digit${j.count === 1 ? '' : 's'} of yours ` +
          'so far. Retrain with them to improve the model.', 'ok');
      } else {
        setTeachStatus(j.error || `HTTP ${r.status}`, 'bad');
      }
    } catch (err) {
      setTeachStatus(`The server did not answer (${err.message}).`, 'bad');
    }
  }

  // ---------------------------------------------------------------- model
  async function loadModel() {
    const info = $('model-info');
    try {
      const r = await fetch('/api/model');
      const j = await r.json();
      if (!r.ok) throw new Error(j.error || `HTTP ${r.status}`);
      const acc = typeof j.accuracy === 'number'
        ? `test accuracy ${(j.accuracy <= 1 ? j.accuracy * 100 : j.accuracy).toFixed(2)}%`
        : 'test accuracy not recorded';
      info.textContent = `Model ${j.arch} · ${j.params.toLocaleString('en-US')} parameters · ` +
        `${acc} · digitnet ${j.version}`;
      collectEnabled = !!j.collect;
      if (!collectEnabled) {
        $('teach-note').textContent = 'Teaching is off: start the server with --collect DIR to ' +
          'save corrected digits as a dataset of your own handwriting.';
      }
      updateTeachButtons();
    } catch (err) {
      info.textContent = `Model information unavailable (${err.message}).`;
    }
  }

  redraw();
  showEmpty();
  loadModel();
})();
