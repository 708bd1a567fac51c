// app.js — the drawing page: pointer-event drawing (mouse, touch, pen) with
// undo, live throttled predictions from POST /api/predict, the probability
// chart and the 28x28 image the network saw, teaching via POST /api/samples,
// the model summary from GET /api/model, and the "inside" view: saliency
// maps and every stage's output from POST /api/predict?explain=1 and the
// first layer's weights from GET /api/model/weights. No libraries, no
// outside requests. On the static site (site/site.js, docs/site.md) the same
// requests go to window.digitnetLocal, the network compiled to WebAssembly,
// instead of a server.
'use strict';

(() => {
  const SIZE = 448;            // canvas pixels (CSS scales it)
  const BRUSH = SIZE / 12;     // pen width, about MNIST's stroke once normalised
  const THROTTLE_MS = 120;     // at most one prediction request per interval

  const $ = (id) => document.getElementById(id);
  // Where requests go: the server, or the static site's WebAssembly module.
  const local = window.digitnetLocal || null;
  const call = (url, opts) => (local ? local.fetch(url, opts) : fetch(url, opts));
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
  // behind) and encodes it for the request: {type, data}, a PNG for the
  // server, the pixels themselves for the WebAssembly module.
  function snapshot() {
    const c = document.createElement('canvas');
    c.width = c.height = SIZE;
    render(c.getContext('2d'));
    if (local) return Promise.resolve(local.encode(c));
    return new Promise((resolve, reject) =>
      c.toBlob((b) => (b ? resolve({ type: 'image/png', data: b })
        : reject(new Error('cannot encode the drawing'))), 'image/png'));
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
      const shot = await snapshot();
      const r = await call(insideOpen ? '/api/predict?explain=1' : '/api/predict', {
        method: 'POST', headers: { 'Content-Type': shot.type }, body: shot.data,
      });
      const j = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
      if (gen === generation) {
        if (r.ok) showPrediction(j);
        else if (r.status === 422) showEmpty();
        else showError(j.error || `HTTP ${r.status}`);
      }
    } catch (err) {
      if (gen === generation) showError(`${local ? 'The network in this page failed' : 'The server did not answer'} (${err.message}).`);
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
    resultEl.dataset.probabilities = p.join(',');  // exact, for comparisons
    const sure = `${(p[j.label] * 100).toFixed(p[j.label] > 0.995 ? 1 : 0)}% sure`;
    // below 80% the network is not sure: say so, and name the runner-up
    const unsure = j.unsure === true;
    resultEl.dataset.unsure = unsure ? '1' : '';
    confEl.textContent = unsure ? `${j.label} — or ${j.runner_up}? (${sure})` : sure;
    bars.forEach((b, d) => {
      const v = Math.max(0, Math.min(1, p[d]));
      b.fill.style.height = `${(v * 100).toFixed(1)}%`;
      b.pct.textContent = v >= 0.01 ? `${Math.round(v * 100)}` : '';
      b.el.classList.toggle('best', d === j.label);
      b.el.classList.toggle('runner', unsure && d === j.runner_up);
      b.el.setAttribute('aria-label', `${d}: ${(v * 100).toFixed(1)} percent`);
    });
    const img = seenCtx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = j.image[i];
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
      img.data[4 * i + 3] = 255;
    }
    seenCtx.putImageData(img, 0, 0);
    if (j.explain) showInside(j);
  }

  function showEmpty() {
    errorEl.hidden = true;
    digitEl.textContent = '–';
    miniEl.textContent = '';
    resultEl.dataset.label = '';
    resultEl.dataset.probabilities = '';
    resultEl.dataset.unsure = '';
    confEl.textContent = 'Start drawing';
    bars.forEach((b) => {
      b.fill.style.height = '0';
      b.pct.textContent = '';
      b.el.classList.remove('best', 'runner');
    });
    seenCtx.fillStyle = '#000';
    seenCtx.fillRect(0, 0, 28, 28);
  }

  function showError(msg) {
    errorEl.textContent = msg;
    errorEl.hidden = false;
  }

  // ---------------------------------------------------------------- inside
  const insideEl = $('inside');
  const insideBody = $('inside-body');
  const insideBtn = $('inside-toggle');
  const layersEl = $('layers');
  const GAP = [42, 49, 60];   // colour between the maps of a mosaic
  let insideOpen = false;
  let weightsState = '';      // '', 'loading', 'done'
  const weightsNote = $('weights-note').textContent;

  insideBtn.addEventListener('click', () => {
    insideOpen = !insideOpen;
    insideBody.hidden = !insideOpen;
    insideBtn.setAttribute('aria-expanded', String(insideOpen));
    insideBtn.textContent = insideOpen ? 'Hide' : 'Show what it looks at';
    if (!insideOpen) return;
    loadWeights();
    if (strokes.length) { generation++; schedulePredict(); }
  });

  function bytes(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  // v in [-1, 1]: blue for negative, black at zero, red for positive.
  function diverging(v, px, o) {
    const a = Math.min(1, Math.abs(v));
    px[o] = v > 0 ? 255 * a : 40 * a;
    px[o + 1] = 60 * a;
    px[o + 2] = v < 0 ? 255 * a : 40 * a;
    px[o + 3] = 255;
  }

  // v in [0, 1]: black, red, yellow, white.
  function heat(v, px, o) {
    const t = Math.max(0, Math.min(1, v)) * 3;
    px[o] = 255 * Math.min(1, t);
    px[o + 1] = 255 * Math.max(0, Math.min(1, t - 1));
    px[o + 2] = 255 * Math.max(0, Math.min(1, t - 2));
    px[o + 3] = 255;
  }

  // Draws n maps of h x w values into one canvas, `cols` maps per row with
  // one-pixel gaps; value(k, i) gives map k's pixel i in [-1, 1] (diverging)
  // or [0, 1] (heat). Returns the canvas's natural width.
  function mosaic(canvas, n, h, w, cols, value, signed) {
    const rows = Math.ceil(n / cols);
    canvas.width = cols * (w + 1) - 1;
    canvas.height = rows * (h + 1) - 1;
    const g = canvas.getContext('2d');
    const img = g.createImageData(canvas.width, canvas.height);
    const px = img.data;
    for (let o = 0; o < px.length; o += 4) {
      px[o] = GAP[0]; px[o + 1] = GAP[1]; px[o + 2] = GAP[2]; px[o + 3] = 255;
    }
    for (let k = 0; k < n; k++) {
      const x0 = (k % cols) * (w + 1), y0 = Math.floor(k / cols) * (h + 1);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const o = 4 * ((y0 + y) * canvas.width + x0 + x);
          const v = value(k, y * w + x);
          if (signed) diverging(v, px, o);
          else heat(v, px, o);
        }
      }
    }
    g.putImageData(img, 0, 0);
    return canvas.width;
  }

  // Displays a canvas at an integer zoom that fits about `target` CSS pixels.
  function zoom(canvas, target) {
    const k = Math.max(1, Math.floor(target / canvas.width));
    canvas.style.width = `${canvas.width * k}px`;
  }

  function showSaliency(j) {
    const e = j.explain;
    // guided: the positive part over a dim copy of the input
    let gmax = 0, smax = 0;
    for (let i = 0; i < 784; i++) {
      gmax = Math.max(gmax, e.guided[i]);
      smax = Math.max(smax, Math.abs(e.saliency[i]));
    }
    const gc = $('sal-guided').getContext('2d');
    const gi = gc.createImageData(28, 28);
    const sc = $('sal-grad').getContext('2d');
    const si = sc.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const o = 4 * i;
      heat(gmax > 0 ? Math.max(0, e.guided[i]) / gmax : 0, gi.data, o);
      const base = 0.3 * j.image[i];
      for (let c = 0; c < 3; c++) gi.data[o + c] = Math.max(gi.data[o + c], base);
      diverging(smax > 0 ? e.saliency[i] / smax : 0, si.data, o);
    }
    gc.putImageData(gi, 0, 0);
    sc.putImageData(si, 0, 0);
  }

  function layerTitle(l, last) {
    const what = last && l.c === 10 ? 'the 10 scores (logits) for 0 to 9, left to right'
      : l.h === 1 && l.w === 1 ? `${l.c} units`
        : l.c === 1 ? `the ${l.h}×${l.w} image it passes on` : `${l.c} maps of ${l.h}×${l.w}`;
    return `layer ${l.layer} · ${l.name} · ${what}`;
  }

  function showLayers(e) {
    const key = e.layers.map((l) => `${l.layer}:${l.c}x${l.h}x${l.w}`).join(',');
    if (layersEl.dataset.key !== key) {
      layersEl.dataset.key = key;
      layersEl.textContent = '';
      e.layers.forEach((l, idx) => {
        const last = idx === e.layers.length - 1;
        const div = document.createElement('div');
        div.className = 'layer';
        div.dataset.layer = String(l.layer);
        div.dataset.name = l.name;
        const h4 = document.createElement('h4');
        h4.textContent = layerTitle(l, last);
        const c = document.createElement('canvas');
        c.className = 'px';
        c.setAttribute('role', 'img');
        c.setAttribute('aria-label', `Output of ${layerTitle(l, last)}`);
        div.append(h4, c);
        layersEl.appendChild(div);
      });
      layersEl.dataset.count = String(e.layers.length);
    }
    e.layers.forEach((l, idx) => {
      const canvas = layersEl.children[idx].querySelector('canvas');
      const q = bytes(l.data);
      const signed = l.min < 0;
      const m = Math.max(Math.abs(l.min), Math.abs(l.max)) || 1;
      const val = (i) => (l.min + (l.max - l.min) * q[i] / 255) / m;
      if (l.h === 1 && l.w === 1) {
        // a vector: one cell per unit in a near-square grid (a row for the logits)
        const cols = l.c <= 16 ? l.c : Math.ceil(Math.sqrt(l.c));
        mosaic(canvas, l.c, 1, 1, cols, (k) => val(k), signed);
        zoom(canvas, l.c <= 16 ? 320 : 200);
      } else {
        const cols = Math.min(l.c, l.h >= 20 ? 8 : 16);
        mosaic(canvas, l.c, l.h, l.w, cols, (k, i) => val(k * l.h * l.w + i), signed);
        zoom(canvas, 480);
      }
    });
  }

  function showInside(j) {
    showSaliency(j);
    showLayers(j.explain);
    insideEl.dataset.updates = String(Number(insideEl.dataset.updates) + 1);
  }

  async function loadWeights() {
    if (weightsState) return;
    weightsState = 'loading';
    const canvas = $('weights');
    try {
      const r = await call('/api/model/weights');
      const j = await r.json();
      if (!r.ok) throw new Error(j.error || `HTTP ${r.status}`);
      const maps = j.maps.map((m) => ({ q: bytes(m.data), min: m.min, max: m.max }));
      const cols = Math.min(j.c, j.h >= 20 ? 16 : 8);
      mosaic(canvas, j.c, j.h, j.w, cols, (k, i) => {
        const m = maps[k];
        const s = Math.max(Math.abs(m.min), Math.abs(m.max)) || 1;
        return (m.min + (m.max - m.min) * m.q[i] / 255) / s;
      }, true);
      zoom(canvas, 480);
      $('weights-title').textContent =
        `First-layer weights: ${j.c} ${j.name === 'conv' ? `${j.h}×${j.w} filters` : 'units, one 28×28 picture each'}`;
      canvas.dataset.maps = String(j.c);
      weightsState = 'done';
    } catch (err) {
      $('weights-note').textContent = `No weight pictures: ${err.message}.`;
      canvas.hidden = true;
      weightsState = 'done';
    }
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
      const shot = await snapshot();
      const r = await call(`/api/samples?label=${d}`, {
        method: 'POST', headers: { 'Content-Type': shot.type }, body: shot.data,
      });
      const j = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
      if (r.ok) {
        setTeachStatus(`Saved as a ${j.label}: ${j.count} digit${j.count === 1 ? '' : 's'} of yours ` +
          (local ? 'in this browser. Download them to retrain the model with them.'
            : 'so far. Retrain with them to improve the model.'), 'ok');
        window.dispatchEvent(new Event('digitnet:taught'));
      } else {
        setTeachStatus(j.error || `HTTP ${r.status}`, 'bad');
      }
    } catch (err) {
      setTeachStatus(`${local ? 'Not saved' : 'The server did not answer'} (${err.message}).`, 'bad');
    }
  }

  // ---------------------------------------------------------------- model
  async function loadModel() {
    const info = $('model-info');
    try {
      const r = await call('/api/model');
      const j = await r.json();
      if (!r.ok) throw new Error(j.error || `HTTP ${r.status}`);
      const acc = typeof j.accuracy === 'number'
        ? `test accuracy ${(j.accuracy <= 1 ? j.accuracy * 100 : j.accuracy).toFixed(2)}%`
        : 'test accuracy not recorded';
      info.textContent = `Model ${j.arch} · ${j.params.toLocaleString('en-US')} parameters · ` +
        `${acc} · digitnet ${j.version}${local ? ' · running in this browser (WebAssembly)' : ''}`;
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

  // Another model on the static site (site.js): its loader's verdict.
  window.addEventListener('digitnet:model', (e) => {
    const { name, error } = e.detail;
    if (error) {
      showError(`Could not use ${name}: ${error}`);
      return;
    }
    errorEl.hidden = true;
    weightsState = '';
    $('weights').hidden = false;
    $('weights-note').textContent = weightsNote;
    layersEl.dataset.key = '';
    loadModel();
    if (insideOpen) loadWeights();
    generation++;
    if (strokes.length) schedulePredict();
  });

  redraw();
  showEmpty();
  loadModel();
})();
