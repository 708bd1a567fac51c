// site.js — the static page's side of the WebAssembly module (docs/site.md).
// Loads the module (digitnet-simd.wasm where the browser has WebAssembly
// SIMD, else digitnet.wasm, through emscripten's digitnet.js) and model.dnm once,
// then answers the page's /api/ requests inside the browser: app.js calls
// window.digitnetLocal.fetch where it would call fetch, and the module's
// site_handle runs the same routes as `digitnet serve` (src/server/api.c).
// Drawings go in as PPM pixels read from the canvas. Taught digits stay in
// this browser (localStorage) and download as a CSV that
// `digitnet train --finetune MODEL --data FILE` reads. A model file dropped
// on the page (or picked with "Use another model") goes through the same
// loader as the native programs. After the first load nothing more is
// requested.
'use strict';

(() => {
  // localStorage key, one per copy of the site on a host: [{label, image: base64 of 784 bytes}]
  const STORE = `digitnet-taught:${location.pathname.replace(/[^/]*$/, '')}`;
  const MAX_TAUGHT = 2000;          // about 2 MB of localStorage (browsers allow 5 MB or more)
  const MAX_MODEL = 64 << 20;       // bytes: a dropped file larger than this is refused unread
  const root = document.documentElement;
  let mod = null;

  const enc = new TextEncoder();

  // Copies a string (NUL-terminated) or bytes into the module's heap.
  function heapBytes(u8) {
    const p = mod._malloc(u8.length + 1);
    if (!p) throw new Error('out of memory');
    mod.HEAPU8.set(u8, p);
    mod.HEAPU8[p + u8.length] = 0;
    return p;
  }
  const heapString = (s) => heapBytes(enc.encode(s));

  // One request through site_handle; returns {status, body (string)}.
  function handle(method, path, query, type, body) {
    const ptrs = [heapString(method), heapString(path), heapString(query || ''), heapString(type || '')];
    const b = body ? heapBytes(body) : 0;
    try {
      const status = mod._site_handle(ptrs[0], ptrs[1], ptrs[2], ptrs[3], b, body ? body.length : 0);
      const p = mod._site_body(), n = mod._site_body_size();
      return { status, body: new TextDecoder().decode(mod.HEAPU8.subarray(p, p + n)) };
    } finally {
      for (const p of ptrs) mod._free(p);
      if (b) mod._free(b);
    }
  }

  // Loads model bytes into the module; returns null or the loader's message.
  function loadModel(bytes, name) {
    // in a folder of its own (no clash with the module's /dev, /tmp...), as
    // the working directory, so messages name the file as given
    const path = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.*/, '') || 'model.dnm';
    if (!mod.FS.analyzePath('/models').exists) mod.FS.mkdir('/models');
    mod.FS.chdir('/models');
    mod.FS.writeFile(path, bytes);
    const p = heapString(path);
    try {
      return mod._site_load(p) === 0 ? null : mod.UTF8ToString(mod._site_error());
    } finally {
      mod._free(p);
      mod.FS.unlink(path);
    }
  }

  // A module of one function that returns a v128 constant: it validates
  // only where the browser has WebAssembly SIMD.
  const SIMD_PROBE = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b,
    3, 2, 1, 0, 0x0a, 0x16, 1, 0x14, 0, 0xfd, 0x0c, ...new Array(16).fill(0), 0x0b]);
  const simd = WebAssembly.validate(SIMD_PROBE);
  root.dataset.simd = simd ? '1' : '0';

  const ready = (async () => {
    mod = await digitnetModule({
      locateFile: (f, dir) => dir + (f === 'digitnet.wasm' && simd ? 'digitnet-simd.wasm' : f),
    });
    const r = await fetch('model.dnm');
    if (!r.ok) throw new Error(`model.dnm: HTTP ${r.status}`);
    const msg = loadModel(new Uint8Array(await r.arrayBuffer()), 'model.dnm');
    if (msg) throw new Error(msg);
    // milliseconds since navigation began: when the first prediction can run
    root.dataset.ready = String(Math.round(performance.now()));
  })();
  ready.catch((e) => { root.dataset.ready = 'error'; root.dataset.readyError = e.message; });

  // ------------------------------------------------------------ taught digits
  const decodes = (b64) => {
    try {
      return atob(b64).length === 784;
    } catch (e) {
      return false;
    }
  };

  // What this browser keeps, without entries that are not a label and a
  // 784-byte digit (the storage is the user's to edit).
  function taught() {
    try {
      const v = JSON.parse(localStorage.getItem(STORE) || '[]');
      return Array.isArray(v) ? v.filter((d) => d && Number.isInteger(d.label) && d.label >= 0 &&
        d.label <= 9 && typeof d.image === 'string' && decodes(d.image)) : [];
    } catch (e) {
      return [];
    }
  }

  const pack = (pixels) => btoa(String.fromCharCode(...pixels));
  const unpack = (b64) => Array.from(atob(b64), (c) => c.charCodeAt(0));

  function remember(label, image) {
    const all = taught();
    if (all.length >= MAX_TAUGHT) throw new Error(`at most ${MAX_TAUGHT} digits are kept here; download them first`);
    all.push({ label, image: pack(image) });
    localStorage.setItem(STORE, JSON.stringify(all));
    return all.length;
  }

  // The Kaggle layout `digitnet train --data` reads: label,pixel0..pixel783.
  function csv(all) {
    const head = ['label'];
    for (let i = 0; i < 784; i++) head.push(`pixel${i}`);
    const rows = all.map((d) => [d.label].concat(unpack(d.image)).join(','));
    return [head.join(',')].concat(rows).join('\n') + '\n';
  }

  // ------------------------------------------------------------ the transport
  const reply = (status, obj) => ({
    ok: status >= 200 && status < 300, status, json: async () => obj,
  });

  async function localFetch(url, opts = {}) {
    await ready;
    const u = new URL(url, location.href);
    const method = opts.method || 'GET';
    const body = opts.body instanceof Uint8Array ? opts.body : null;
    const type = (opts.headers && opts.headers['Content-Type']) || '';
    if (u.pathname.endsWith('/api/samples') && method === 'POST') {
      // the digit as the network saw it (normalised 28x28), kept in this browser
      const given = u.searchParams.get('label') || '';
      const label = /^[0-9]$/.test(given) ? Number(given) : -1;
      if (label < 0) return reply(400, { error: 'label must be one digit, 0..9' });
      const r = handle('POST', '/api/predict', '', type, body);
      const j = JSON.parse(r.body);
      if (r.status !== 200) return reply(r.status, j);
      try {
        return reply(201, { stored: true, label, count: remember(label, j.image) });
      } catch (e) {
        return reply(507, { error: `Not saved: ${e.message}.` });
      }
    }
    const path = `/api/${u.pathname.split('/api/')[1] || ''}`;
    const r = handle(method, path, u.search.slice(1), type, body);
    const j = JSON.parse(r.body);
    if (path === '/api/model' && r.status === 200) j.collect = true;  // teaching is local
    return reply(r.status, j);
  }

  // The drawing as a binary PPM (P6): the canvas's pixels exactly, which the
  // module decodes as the server decodes the PNG the server page sends.
  function encode(canvas) {
    const { width: w, height: h } = canvas;
    const rgba = canvas.getContext('2d').getImageData(0, 0, w, h).data;
    const head = enc.encode(`P6\n${w} ${h}\n255\n`);
    const out = new Uint8Array(head.length + 3 * w * h);
    out.set(head);
    for (let i = 0, o = head.length; i < w * h; i++, o += 3) {
      out[o] = rgba[4 * i];
      out[o + 1] = rgba[4 * i + 1];
      out[o + 2] = rgba[4 * i + 2];
    }
    return { type: 'image/x-portable-pixmap', data: out };
  }

  // ------------------------------------------------------------ another model
  // Models load one after another, in the order they were given.
  let swaps = Promise.resolve();
  const useModel = (file) => { swaps = swaps.then(() => swapModel(file)); };

  async function swapModel(file) {
    let error = null;
    try {
      await ready;
      if (file.size > MAX_MODEL) throw new Error(`${file.name}: ${file.size} bytes, more than a model file may have (${MAX_MODEL})`);
      error = loadModel(new Uint8Array(await file.arrayBuffer()), file.name);
    } catch (e) {
      error = e.message;
    }
    if (!error) root.dataset.model = file.name;
    window.dispatchEvent(new CustomEvent('digitnet:model', { detail: { name: file.name, error } }));
  }

  function download() {
    const all = taught();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([csv(all)], { type: 'text/csv' }));
    a.download = 'my-digits.csv';
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000); // a slow browser may still be saving
  }

  function wire() {
    const dl = document.getElementById('teach-download');
    const forget = document.getElementById('teach-forget');
    const picker = document.getElementById('model-file');
    const count = () => {
      const n = taught().length;
      dl.disabled = forget.disabled = n === 0;
      dl.textContent = `Download my digits (${n})`;
    };
    for (const el of document.querySelectorAll('.site-only')) el.hidden = false;
    document.getElementById('teach-note').textContent = 'Tap the digit you meant. Your digits are kept in this ' +
      'browser only; download them as a CSV for digitnet train --finetune.';
    dl.addEventListener('click', download);
    forget.addEventListener('click', () => { localStorage.removeItem(STORE); count(); });
    window.addEventListener('digitnet:taught', count);
    picker.addEventListener('change', () => { if (picker.files[0]) useModel(picker.files[0]); picker.value = ''; });
    document.addEventListener('dragover', (e) => { e.preventDefault(); });
    document.addEventListener('drop', (e) => {
      e.preventDefault();
      const f = e.dataTransfer && e.dataTransfer.files[0];
      if (f) useModel(f);
    });
    count();
  }

  window.digitnetLocal = { fetch: localFetch, encode, ready };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', wire);
  else wire();
})();
