// Audio Alchemy player: plain JS, no build step, no CDN.
// Two <audio> elements (the WAV and the MP3 of the same source) play in sync, each through its own
// AnalyserNode and a gain; the user hears the selected format, both are analysed every animation frame.
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const kid of kids) e.append(kid);
  return e;
};
const fmtTime = (s) => {
  if (!isFinite(s) || s < 0) s = 0;
  const m = Math.floor(s / 60), r = Math.floor(s % 60);
  return `${m}:${String(r).padStart(2, "0")}`;
};
const fmtNum = (v) => {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toPrecision(4));
  if (Array.isArray(v)) {
    const shown = v.slice(0, 16).map(fmtNum).join(", ");
    return v.length > 16 ? `[${shown}, … ${v.length} values]` : `[${shown}]`;
  }
  if (typeof v === "object") return JSON.stringify(v).slice(0, 300);
  return String(v);
};

async function api(path, opts = {}) {
  const r = await fetch(path, opts);
  if (!r.ok) {
    let msg = r.statusText;
    try { msg = (await r.json()).detail || msg; } catch (_) { /* not JSON */ }
    // a 422 lists its problems as [{loc, msg}]: show the messages, not the JSON
    if (Array.isArray(msg)) msg = msg.map((e) => e.msg || JSON.stringify(e)).join("; ");
    const err = new Error(typeof msg === "string" ? msg : JSON.stringify(msg));
    err.status = r.status;
    throw err;
  }
  return r.json();
}

// ---------------------------------------------------------------------------------------------------
// State
const state = {
  info: null, detail: null, trackId: null, source: "mix", format: "wav", scale: 5,
  sort: "title", order: "asc", q: "", listened: 0, lastTime: null,
};
const user = () => ($("user").value.trim() || "local").slice(0, 64);

// ---------------------------------------------------------------------------------------------------
// Audio engine
const engine = {
  ctx: null,
  els: { wav: null, mp3: null },
  an: { wav: null, mp3: null },
  gain: { wav: null, mp3: null },
  freq: { wav: null, mp3: null },
  bytes: null,

  init() {
    this.els.wav = $("audio-wav");
    this.els.mp3 = $("audio-mp3");
  },
  ensureGraph() {
    if (this.ctx) return;
    const AC = window.AudioContext || window.webkitAudioContext;
    this.ctx = new AC();
    for (const f of ["wav", "mp3"]) {
      const src = this.ctx.createMediaElementSource(this.els[f]);
      const an = this.ctx.createAnalyser();
      an.fftSize = 4096;
      an.smoothingTimeConstant = 0.5;
      an.minDecibels = -120;
      an.maxDecibels = -10;
      const g = this.ctx.createGain();
      g.gain.value = f === state.format ? 1 : 0;
      src.connect(an); an.connect(g); g.connect(this.ctx.destination);
      this.an[f] = an; this.gain[f] = g;
      this.freq[f] = new Float32Array(an.frequencyBinCount);
    }
    this.bytes = new Uint8Array(this.an.wav.frequencyBinCount);
  },
  get leader() { return this.els[state.format]; },
  get follower() { return this.els[state.format === "wav" ? "mp3" : "wav"]; },
  get playing() { return !this.leader.paused && !this.leader.ended; },
  position() { return this.leader.currentTime || 0; },
  duration() { return this.leader.duration || (state.detail && state.detail.track.duration) || 0; },

  async play() {
    this.ensureGraph();
    if (this.ctx.state === "suspended") await this.ctx.resume();
    const t = this.leader.currentTime;
    if (Math.abs(this.follower.currentTime - t) > 0.05) this.follower.currentTime = t;
    await Promise.all([this.els.wav.play(), this.els.mp3.play()]);
  },
  pause() { this.els.wav.pause(); this.els.mp3.pause(); },
  seek(t) { for (const f of ["wav", "mp3"]) this.els[f].currentTime = t; },

  setFormat(fmt) {
    // Both formats keep playing: switching is a gain swap, so the position cannot move.
    state.format = fmt;
    if (!this.ctx) return;
    const now = this.ctx.currentTime;
    for (const f of ["wav", "mp3"]) this.gain[f].gain.setTargetAtTime(f === fmt ? 1 : 0, now, 0.01);
  },

  // Load new sources into both elements and resume at `pos` (playing if it was playing). Only the latest load
  // seeks and plays: one superseded by a quick second switch returns false. While a load is pending the
  // elements' own position is 0, so `where()` gives the position and state that load is bringing back.
  gen: 0,
  target: null,
  where() { return this.target || { pos: this.position(), resume: this.playing }; },
  async load(urls, pos = 0, resume = false) {
    const gen = ++this.gen;
    this.target = { pos, resume };
    const loaded = ["wav", "mp3"].map((f) => new Promise((resolve) => {
      const e = this.els[f];
      const done = () => { e.removeEventListener("loadedmetadata", done); e.removeEventListener("error", done); resolve(); };
      e.addEventListener("loadedmetadata", done);
      e.addEventListener("error", done);
      e.src = urls[f];
      e.load();
    }));
    await Promise.all(loaded);
    if (gen !== this.gen) return false;
    this.target = null;
    const d = this.els.wav.duration;
    const t = isFinite(d) ? Math.min(pos, Math.max(0, d - 0.05)) : pos;
    this.seek(t);
    if (resume) await this.play().catch(() => {});  // a newer load may interrupt play(); it resumes itself
    return true;
  },

  // Keep the follower within 60 ms of the leader (they are separate decoders).
  sync() {
    if (!this.playing) return;
    const drift = this.follower.currentTime - this.leader.currentTime;
    if (Math.abs(drift) > 0.06) this.follower.currentTime = this.leader.currentTime;
    if (this.follower.paused && !this.leader.paused) this.follower.play().catch(() => {});
  },
};

// ---------------------------------------------------------------------------------------------------
// Drawing: the live spectrum (WAV and MP3 overlaid) and the scrolling spectrogram
const FMIN = 20;
const DB_MIN = -120, DB_MAX = -10;
const draw = { frames: 0 };

function nyquist() { return engine.ctx ? engine.ctx.sampleRate / 2 : 22050; }

function logX(f, x0, w, fmax) { return x0 + (Math.log(f / FMIN) / Math.log(fmax / FMIN)) * w; }

function drawSpectrum() {
  const c = $("spectrum"), g = c.getContext("2d");
  const W = c.width, H = c.height, L = 48, R = 10, T = 10, B = 34;
  const w = W - L - R, h = H - T - B, fmax = nyquist();
  g.fillStyle = "#0b0d10"; g.fillRect(0, 0, W, H);
  g.font = "11px system-ui, sans-serif"; g.lineWidth = 1;
  // grid and labels
  g.strokeStyle = "#222a33"; g.fillStyle = "#8b95a3"; g.textAlign = "center";
  for (const f of [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]) {
    if (f > fmax) continue;
    const x = logX(f, L, w, fmax);
    g.beginPath(); g.moveTo(x, T); g.lineTo(x, T + h); g.stroke();
    g.fillText(f >= 1000 ? `${f / 1000}k` : String(f), x, T + h + 13);
  }
  g.fillText("frequency (Hz, log scale)", L + w / 2, H - 4);
  g.textAlign = "right";
  for (let db = DB_MIN; db <= DB_MAX; db += 20) {
    const y = T + (1 - (db - DB_MIN) / (DB_MAX - DB_MIN)) * h;
    g.beginPath(); g.moveTo(L, y); g.lineTo(L + w, y); g.stroke();
    g.fillText(`${db}`, L - 6, y + 4);
  }
  g.save(); g.translate(12, T + h / 2); g.rotate(-Math.PI / 2); g.textAlign = "center"; g.fillText("level (dB)", 0, 0); g.restore();
  if (!engine.ctx) return;
  // curves: for each pixel column, the loudest bin that falls into it. A gapless MP3 is aligned with its WAV, so
  // the curves coincide wherever the codec kept the sound: the WAV is drawn wide and the MP3 thin on top of it,
  // so both stay visible (an orange line inside a blue band) and the MP3's cut bands show as orange below blue.
  const bins = engine.an.wav.frequencyBinCount, binHz = fmax / bins;
  for (const f of ["wav", "mp3"]) {
    const data = engine.freq[f];
    engine.an[f].getFloatFrequencyData(data);
    g.strokeStyle = f === "wav" ? "#4cc9f0" : "#fca311";
    g.lineWidth = f === "wav" ? 3.5 : 1.4;
    g.beginPath();
    let started = false;
    for (let px = 0; px < w; px++) {
      const f0 = FMIN * Math.pow(fmax / FMIN, px / w), f1 = FMIN * Math.pow(fmax / FMIN, (px + 1) / w);
      let b0 = Math.floor(f0 / binHz), b1 = Math.max(b0, Math.floor(f1 / binHz));
      b1 = Math.min(b1, bins - 1);
      let v = -Infinity;
      for (let b = b0; b <= b1; b++) if (data[b] > v) v = data[b];
      if (!isFinite(v)) v = DB_MIN;
      v = Math.max(DB_MIN, Math.min(DB_MAX, v));
      const y = T + (1 - (v - DB_MIN) / (DB_MAX - DB_MIN)) * h;
      if (!started) { g.moveTo(L + px, y); started = true; } else g.lineTo(L + px, y);
    }
    g.stroke();
  }
  // legend
  g.textAlign = "left"; g.font = "12px system-ui, sans-serif";
  const origin = state.detail && state.detail.mp3_origin ? state.detail.mp3_origin[state.source] : null;
  const items = [["wav", "#4cc9f0", "WAV (lossless)"], ["mp3", "#fca311", origin ? `MP3 (${origin})` : "MP3"]];
  items.forEach(([f, col, label], i) => {
    const x = L + w - 260, y = T + 16 + i * 17;
    g.fillStyle = col; g.fillRect(x, y - 8, 14, 3);
    g.fillStyle = "#e6e9ee"; g.fillText(label + (f === state.format ? "  ◀ heard" : ""), x + 20, y - 3);
  });
}

const SG_LEFT = 44, SG_SPEED = 90;  // px of spectrogram per second of playback
function drawSpectrogramColumn() {
  const c = $("spectrogram"), g = c.getContext("2d");
  const W = c.width, H = c.height, B = 0, h = H - B, fmax = nyquist();
  if (!draw.sgInit) {
    g.fillStyle = "#0b0d10"; g.fillRect(0, 0, W, H);
    g.fillStyle = `rgb(${VIRIDIS[0]},${VIRIDIS[1]},${VIRIDIS[2]})`; g.fillRect(SG_LEFT, 0, W - SG_LEFT, h);
    draw.sgInit = true;
  }
  // labels (log-frequency axis)
  g.fillStyle = "#0b0d10"; g.fillRect(0, 0, SG_LEFT, H);
  g.fillStyle = "#8b95a3"; g.font = "10px system-ui, sans-serif"; g.textAlign = "right";
  for (const f of [50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]) {
    if (f > fmax) continue;
    const y = Math.max(9, h - (Math.log(f / FMIN) / Math.log(fmax / FMIN)) * h);
    g.fillText(f >= 1000 ? `${f / 1000}k` : String(f), SG_LEFT - 4, y + 3);
  }
  const now = performance.now(), last = draw.sgLast || now;
  draw.sgLast = now;
  if (!engine.ctx || !engine.playing) { draw.sgCarry = 0; return; }
  // scroll at SG_SPEED px/s whatever the frame rate, and paint the newest columns on the right
  draw.sgCarry = (draw.sgCarry || 0) + ((now - last) / 1000) * SG_SPEED;
  const step = Math.min(40, Math.floor(draw.sgCarry));
  if (step < 1) return;
  draw.sgCarry -= step;
  g.drawImage(c, SG_LEFT + step, 0, W - SG_LEFT - step, h, SG_LEFT, 0, W - SG_LEFT - step, h);
  const an = engine.an[state.format], bytes = engine.bytes;
  an.getByteFrequencyData(bytes);
  const bins = an.frequencyBinCount, binHz = fmax / bins;
  const col = g.createImageData(step, h);
  for (let y = 0; y < h; y++) {
    const fTop = FMIN * Math.pow(fmax / FMIN, (h - y) / h), fBot = FMIN * Math.pow(fmax / FMIN, (h - y - 1) / h);
    let b0 = Math.floor(fBot / binHz), b1 = Math.min(bins - 1, Math.max(b0, Math.floor(fTop / binHz)));
    let v = 0;
    for (let b = b0; b <= b1; b++) if (bytes[b] > v) v = bytes[b];
    for (let x = 0; x < step; x++) {
      const o = (y * step + x) * 4;
      col.data[o] = VIRIDIS[v * 3]; col.data[o + 1] = VIRIDIS[v * 3 + 1]; col.data[o + 2] = VIRIDIS[v * 3 + 2]; col.data[o + 3] = 255;
    }
  }
  g.putImageData(col, W - step, 0);
}

function frame() {
  drawSpectrum();
  drawSpectrogramColumn();
  engine.sync();
  updateTime();
  draw.frames++;
  requestAnimationFrame(frame);
}

// ---------------------------------------------------------------------------------------------------
// Player controls
function updateTime() {
  if (!state.detail) return;
  const t = engine.position(), d = engine.duration();
  $("time").textContent = `${fmtTime(t)} / ${fmtTime(d)}`;
  if (!draw.seeking && d > 0) $("seek").value = String(Math.round((t / d) * 1000));
  $("play").textContent = engine.playing ? "❚❚" : "▶";
  if (engine.playing) {
    if (state.lastTime !== null && t > state.lastTime && t - state.lastTime < 1) state.listened += t - state.lastTime;
    state.lastTime = t;
  } else state.lastTime = null;
}

function sourceUrls(source) {
  const id = state.detail.sources[source];
  return { wav: `/api/tracks/${id}/audio/wav`, mp3: `/api/tracks/${id}/audio/mp3` };
}

async function setSource(source) {
  if (!state.detail || !(source in state.detail.sources) || source === state.source) return;
  const { pos, resume } = engine.where();
  state.source = source;
  markOn("sources", "source", source);
  $("status").textContent = `loading ${source}… (a stem's first play converts it, which can take seconds)`;
  if (!(await engine.load(sourceUrls(source), pos, resume))) return;  // superseded by a later switch
  $("status").textContent = "";
  $("sg-what").textContent = `(${source}, ${state.format.toUpperCase()})`;
}

function setFormat(fmt) {
  engine.setFormat(fmt);
  markOn("formats", "format", fmt);
  $("sg-what").textContent = `(${state.source}, ${fmt.toUpperCase()})`;
}

function markOn(groupId, key, value) {
  for (const b of $(groupId).querySelectorAll("button")) b.classList.toggle("on", b.dataset[key] === value);
}

async function togglePlay() {
  if (!state.detail) return;
  try {
    if (engine.playing) engine.pause(); else await engine.play();
  } catch (e) {
    $("status").textContent = `cannot play: ${e.message}`;
  }
}

async function recordPlay() {
  if (!state.trackId || state.listened < 5) return;
  const seconds = Math.round(state.listened * 10) / 10;
  state.listened = 0;
  try {
    await api(`/api/tracks/${state.trackId}/plays`, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: user(), seconds }) });
  } catch (_) { /* a lost play is not worth an error */ }
}

// ---------------------------------------------------------------------------------------------------
// Library list
const PAGE = 500;
const list = { gen: 0 };

// The track list, a page at a time: `more` appends the next page (the "show more" button). A new search or sort
// supersedes any request in flight; the button stays disabled while a page loads (a double click once fetched a
// page twice).
async function loadList(more = false) {
  if (more && $("more").disabled) return;
  const gen = ++list.gen;
  $("more").disabled = true;
  const ol = $("tracks");
  const offset = more ? ol.children.length : 0;
  const p = new URLSearchParams({ q: state.q, sort: state.sort, order: state.order, limit: String(PAGE),
    offset: String(offset) });
  let res;
  try {
    res = await api(`/api/tracks?${p}`);
  } finally {
    if (gen === list.gen) $("more").disabled = false;
  }
  if (gen !== list.gen) return;
  if (!more) ol.replaceChildren();
  for (const t of res.items) {
    const title = el("span", { class: "t", text: t.title || `track ${t.id}` });
    for (const s of t.stems) title.append(el("span", { class: "badge", text: s === "vocals" ? "vox" : "acc" }));
    // a link, so the list works from the keyboard (Tab, Enter) like the sound-alikes panel
    const a = el("a", { href: `#/track/${t.id}`, class: "row" }, title,
      el("span", { class: "a", text: [t.artist, t.genre, t.duration ? fmtTime(t.duration) : null].filter(Boolean).join(" · ") }));
    const li = el("li", { "data-id": String(t.id) }, a);
    if (t.id === state.trackId) li.classList.add("sel");
    ol.append(li);
  }
  const shown = ol.children.length;
  $("count").textContent = `${res.total} song${res.total === 1 ? "" : "s"}${state.q ? ` matching “${state.q}”` : ""}` +
    (shown < res.total ? ` (${shown} shown)` : "");
  $("more").hidden = shown >= res.total;
  $("more").textContent = `show ${Math.min(PAGE, res.total - shown)} more`;
}

// ---------------------------------------------------------------------------------------------------
// Track view
const TABLE1 = ["fundamental_freq", "freq_e_1", "freq_e_2", "freq_e_3", "key", "duration", "zero_crossing_rate",
  "mfcc_mean", "mfcc_std", "tempo", "rms_energy", "track_type"];

function featureTable(data, order = []) {
  const keys = [...order.filter((k) => k in data), ...Object.keys(data).filter((k) => !order.includes(k)).sort()];
  const tbody = el("tbody");
  for (const k of keys) tbody.append(el("tr", {}, el("th", { text: k }), el("td", { text: fmtNum(data[k]) })));
  return el("table", {}, tbody);
}

function renderFeatures(sets) {
  const box = $("features");
  box.replaceChildren();
  const names = Object.keys(sets);
  $("feat-card").hidden = names.length === 0;
  const first = names.includes("seed") ? "seed" : names[0];
  const ordered = [first, ...names.filter((n) => n !== first).sort()].filter(Boolean);
  ordered.forEach((name, i) => {
    const table = featureTable(sets[name], TABLE1);
    if (i === 0) { box.append(el("div", { class: "muted small", text: `set “${name}”` }), table); return; }
    const d = el("details", {}, el("summary", { text: `set “${name}” (${Object.keys(sets[name]).length} values)` }), table);
    box.append(d);
  });
}

function renderPredictions(preds) {
  const box = $("predictions");
  box.replaceChildren();
  $("pred-card").hidden = preds.length === 0;
  for (const p of preds) {
    const div = el("div", { class: "pred" },
      el("div", {}, el("b", { text: `${p.task}: ${p.label ?? "—"}` }), el("span", { class: "muted small", text: `  ${p.model}` })));
    const scores = Object.entries(p.scores || {}).sort((a, b) => b[1] - a[1]).slice(0, 8);
    for (const [label, s] of scores) {
      const bar = el("div", { class: "bar" });
      bar.style.width = `${Math.max(1, Math.min(100, s * 100)).toFixed(1)}%`;
      div.append(el("div", { class: "score-row" }, el("span", { text: label }), el("div", {}, bar), el("span", { class: "mono", text: Number(s).toFixed(3) })));
    }
    box.append(div);
  }
}

function renderImages(images) {
  const card = $("mel-card"), sel = $("mel-kind");
  sel.replaceChildren();
  card.hidden = images.length === 0;
  if (!images.length) return;
  const pref = ["mel_viridis_png", "mel_grey_png"];
  images.sort((a, b) => (pref.indexOf(a.kind) + 1 || 99) - (pref.indexOf(b.kind) + 1 || 99));
  for (const im of images) sel.append(el("option", { value: im.url, text: im.kind }));
  $("mel").src = images[0].url;
}

function renderFiles(d) {
  const ul = $("files");
  ul.replaceChildren();
  for (const f of d.files) {
    const li = el("li", {}, `${f.name}  (${f.format || "?"}, ${f.role}${f.size ? `, ${(f.size / 1e6).toFixed(2)} MB` : ""}${f.exists ? "" : ", missing"})`);
    ul.append(li);
  }
  for (const [v, url] of Object.entries(d.audio)) {
    ul.append(el("li", {}, el("a", { href: url, text: `${v}` }), " — stream / download"));
  }
}

function renderRating(d) {
  const mine = (d.ratings || []).find((r) => r.user_id === user());
  if (mine) state.scale = mine.scale;
  markOn("scales", "scale", String(state.scale));
  drawScoreButtons(mine ? mine.score : null);
  $("rating-status").textContent = mine ? `saved: ${mine.score} of ${mine.scale}` : "not rated yet";
}

const SCORE_LABELS = { 2: ["dislike", "like"], 3: ["dislike", "neutral", "like"], 5: ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"] };
function drawScoreButtons(selected) {
  const box = $("scores");
  box.replaceChildren();
  SCORE_LABELS[state.scale].forEach((label, i) => {
    const b = el("button", { type: "button", "data-score": String(i + 1), text: label });
    if (selected === i + 1) b.classList.add("on");
    b.addEventListener("click", () => rate(i + 1));
    box.append(b);
  });
}

async function rate(score) {
  if (!state.trackId) return;
  try {
    const r = await api(`/api/tracks/${state.trackId}/ratings`, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: user(), scale: state.scale, score }) });
    drawScoreButtons(score);
    $("rating-status").textContent = `saved: ${r.score} of ${r.scale} (normalised ${r.normalized.toFixed(2)})`;
    $("rating-status").dataset.saved = `${r.score}/${r.scale}`;
    if (state.info.capabilities.recommendations) loadRecs();
  } catch (e) {
    $("rating-status").textContent = `not saved: ${e.message}`;
  }
}

function linkList(olId, cardId, res) {
  const ol = $(olId), items = res.items || [];
  ol.replaceChildren();
  $(cardId).hidden = false;
  if (res.note) ol.append(el("li", { class: "muted small note", text: res.note }));
  if (!items.length && !res.note) ol.append(el("li", { class: "muted", text: "nothing yet" }));
  for (const it of items) {
    const a = el("a", { href: `#/track/${it.id}`, text: it.label });
    if (it.reason) a.title = it.reason;
    ol.append(el("li", {}, a, el("span", { class: "muted small", text: it.score == null ? "" : `  ${Number(it.score).toFixed(3)}` })));
  }
}

async function loadSimilar(id) {
  if (!state.info.capabilities.sound_alikes) { $("similar-card").hidden = true; return; }
  try { linkList("similar", "similar-card", await api(`/api/tracks/${id}/similar?k=10`)); }
  catch (_) { $("similar-card").hidden = true; }
}

async function loadRecs() {
  if (!state.info.capabilities.recommendations) { $("recs-card").hidden = true; return; }
  try { linkList("recs", "recs-card", await api(`/api/recommendations?user_id=${encodeURIComponent(user())}&k=10`)); }
  catch (_) { $("recs-card").hidden = true; }
}

async function openTrack(id) {
  await recordPlay();
  let d;
  try { d = await api(`/api/tracks/${id}`); }
  catch (e) { $("empty").hidden = false; $("empty").textContent = `Track ${id}: ${e.message}`; $("track").hidden = true; return; }
  state.detail = d; state.trackId = id; state.listened = 0;
  $("empty").hidden = true; $("track").hidden = false;
  for (const li of $("tracks").children) li.classList.toggle("sel", li.dataset.id === String(id));
  const t = d.track;
  $("t-title").textContent = t.title || `track ${t.id}`;
  $("t-meta").textContent = [t.artist, t.album, t.genre, t.year, t.language, t.duration ? fmtTime(t.duration) : null,
    t.sample_rate ? `${t.sample_rate} Hz` : null, t.channels ? `${t.channels} ch` : null].filter(Boolean).join(" · ");
  $("t-parent").replaceChildren();
  if (d.parent) $("t-parent").append(`${t.type_name} stem of `, el("a", { href: `#/track/${d.parent.id}`, text: d.parent.label }));
  for (const b of $("sources").querySelectorAll("button")) b.disabled = !(b.dataset.source in d.sources);
  state.source = "mix";
  markOn("sources", "source", "mix");
  $("sg-what").textContent = `(mix, ${state.format.toUpperCase()})`;
  renderImages(d.images); renderFeatures(d.features); renderPredictions(d.predictions); renderFiles(d); renderRating(d);
  loadSimilar(id); loadRecs();
  const playable = "wav" in d.audio;
  $("play").disabled = !playable;
  if (playable) {
    const resume = engine.ctx !== null && engine.where().resume;
    await engine.load(sourceUrls("mix"), 0, resume);
  } else {
    engine.pause();
    $("status").textContent = "no audio file on disk for this track";
  }
  document.body.dataset.track = String(id);
}

function route() {
  const m = location.hash.match(/^#\/track\/(\d+)$/);
  if (m) openTrack(Number(m[1]));
}

// ---------------------------------------------------------------------------------------------------
async function main() {
  engine.init();
  $("user").value = localStorage.getItem("alchemy.user") || "local";
  $("user").addEventListener("change", () => {
    localStorage.setItem("alchemy.user", user());
    if (state.detail) { renderRating(state.detail); loadRecs(); }
  });
  state.info = await api("/api/info");
  const s = state.info.stats;
  $("stats").textContent = `${s.songs} songs · ${s.vocals + s.accompaniment} stems · ${s.features} feature sets · ${s.predictions} predictions · ${s.ratings} ratings`;
  let timer = null;
  $("search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.q = $("search").value.trim(); loadList(); }, 150);
  });
  $("sort").addEventListener("change", () => { state.sort = $("sort").value; loadList(); });
  $("more").addEventListener("click", () => loadList(true));
  $("order").addEventListener("click", () => {
    state.order = state.order === "asc" ? "desc" : "asc";
    $("order").textContent = state.order === "asc" ? "▲" : "▼";
    loadList();
  });
  $("play").addEventListener("click", togglePlay);
  $("seek").addEventListener("input", () => { draw.seeking = true; });
  $("seek").addEventListener("change", () => {
    draw.seeking = false;
    engine.seek((Number($("seek").value) / 1000) * engine.duration());
  });
  for (const b of $("sources").querySelectorAll("button")) b.addEventListener("click", () => setSource(b.dataset.source));
  for (const b of $("formats").querySelectorAll("button")) b.addEventListener("click", () => setFormat(b.dataset.format));
  for (const b of $("scales").querySelectorAll("button")) b.addEventListener("click", () => {
    state.scale = Number(b.dataset.scale);
    markOn("scales", "scale", b.dataset.scale);
    drawScoreButtons(null);
    $("rating-status").textContent = `choose 1 to ${state.scale}`;
  });
  $("mel-kind").addEventListener("change", () => { $("mel").src = $("mel-kind").value; });
  engine.els.wav.addEventListener("ended", () => { recordPlay(); });
  document.addEventListener("keydown", (e) => {
    if (["INPUT", "SELECT", "TEXTAREA", "BUTTON", "A"].includes(e.target.tagName)) return;  // Space is theirs
    if (e.code === "Space") { e.preventDefault(); togglePlay(); }
  });
  window.addEventListener("hashchange", route);
  window.addEventListener("pagehide", () => { recordPlay(); });
  await loadList();
  route();
  requestAnimationFrame(frame);
  document.body.dataset.ready = "1";
}

// A small handle for tests and the console.
window.alchemy = {
  state, engine, draw,
  play: () => engine.play(), pause: () => engine.pause(), seek: (t) => engine.seek(t),
  setSource, setFormat, position: () => engine.position(), rate,
};

main().catch((e) => { document.body.dataset.error = e.message; console.error(e); });
