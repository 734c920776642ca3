// tapegrad playground: the page. It holds no model: it sends the configuration and the
// buttons to the server (one session per tab) and draws what the server's WebSocket sends.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = [[245, 147, 34], [8, 119, 189], [46, 160, 67], [153, 80, 190]]; // class 0, 1, 2, 3
const AXES = { pass_fail: ["lectures attended", "hours on the final project"] };

const pg = (window.playground = {
  options: null, session: null, config: null, data: null, initial: null,
  history: {}, status: "starting", epoch: 0, pictures: null, bestEpoch: null, stoppedEpoch: null,
  ws: null, generation: 0, expired: false,
});

// ---- talking to the server ----------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : `HTTP ${status}`);
    this.status = status; this.field = body && body.field;
  }
}

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const r = await fetch(path, init);
  const type = r.headers.get("Content-Type") || "";
  const payload = type.includes("json") ? await r.json() : await r.blob();
  if (!r.ok) throw new ApiError(r.status, type.includes("json") ? payload : null);
  return payload;
}
pg.api = api;

// A session that the server freed (idle) is replaced transparently by a new one.
async function sessionCall(method, suffix, body) {
  try {
    return await api(method, `/api/sessions/${pg.session}${suffix}`, body);
  } catch (e) {
    if (e.status === 404 && e.field === "session") {
      await newSession();
      return api(method, `/api/sessions/${pg.session}${suffix}`, body);
    }
    throw e;
  }
}

function showMessage(text, kind) {
  const m = $("message");
  if (!text) { m.hidden = true; return; }
  m.textContent = text; m.className = kind || ""; m.hidden = false;
}

function showError(e) {
  document.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
  if (e.field) {
    const base = e.field.replace(/\[(\d+)\]\.(\w+)$/, "-$1-$2");
    const el = document.querySelector(`[data-field="${e.field}"]`) || $(`layer${base}`);
    if (el) el.classList.add("invalid");
  }
  showMessage(e.field ? `${e.field}: ${e.message.replace(e.field + ": ", "")}` : e.message);
}

async function newSession() {
  const s = await api("POST", "/api/sessions", { config: pg.config });
  pg.session = s.session; pg.expired = false;
  applySetup(s);
  connect();
}

function connect() {
  if (pg.ws) { pg.ws.onclose = null; pg.ws.close(); }
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/api/sessions/${pg.session}/ws`);
  pg.ws = ws;
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "setup") applySetup(m); else applyState(m);
  };
  ws.onclose = (ev) => {
    if (pg.ws !== ws) return;
    if (ev.code === 4000 || ev.code === 4404) {
      pg.expired = true;
      showMessage("This session was freed after a while without use; press Reset or change a setting to start a new one.", "info");
    } else {
      setTimeout(() => { if (pg.ws === ws) connect(); }, 1000);
    }
  };
}

// ---- the configuration form ---------------------------------------------------------------
function fillSelect(el, values, labels) {
  el.innerHTML = "";
  values.forEach((v, i) => { const o = document.createElement("option"); o.value = v; o.textContent = labels ? labels[i] : v; el.appendChild(o); });
}

function setForm(cfg) {
  document.querySelectorAll("[data-field]").forEach((el) => {
    const v = cfg[el.dataset.field];
    if (v === undefined || el.closest(".layer")) return;
    if (el.type === "checkbox") el.checked = v; else el.value = String(v);
  });
  const ds = pg.options.datasets[cfg.dataset];
  fillSelect($("classes"), ds.classes); $("classes").value = String(cfg.classes);
  $("classes-row").hidden = ds.classes.length < 2;
  $("noise-row").hidden = cfg.dataset === "pass_fail";
  $("patience").disabled = !cfg.early_stopping;
  buildNetwork(cfg);
}

function readForm() {
  const cfg = { ...pg.config };
  document.querySelectorAll("[data-field]").forEach((el) => {
    if (el.closest(".layer")) return;
    const f = el.dataset.field;
    if (el.type === "checkbox") cfg[f] = el.checked;
    else if (el.type === "number" || ["classes", "speed"].includes(f)) cfg[f] = el.value === "" ? null : Number(el.value);
    else cfg[f] = el.value;
  });
  cfg.hidden = [...document.querySelectorAll(".layer")].map((div) => ({
    units: Number(div.dataset.units), activation: div.querySelector("select").value,
  }));
  return cfg;
}

async function configChanged(cfg) {
  if (cfg.dataset !== pg.config.dataset) {
    const allowed = pg.options.datasets[cfg.dataset].classes;
    if (!allowed.includes(cfg.classes)) cfg.classes = allowed[0];
  }
  if (cfg.classes > 2 && pg.options.losses.includes("sparse_categorical_crossentropy") && cfg.loss !== "sparse_categorical_crossentropy") {
    cfg.loss = "sparse_categorical_crossentropy";
  }
  if (!pg.expired && JSON.stringify(cfg) === JSON.stringify(pg.config)) return; // nothing changed
  try {
    const s = pg.expired ? null : await sessionCall("PUT", "/config", cfg);
    if (s) applySetup(s); else { pg.config = cfg; await newSession(); }
    showMessage(null);
    document.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
  } catch (e) {
    showError(e);
  }
}

function buildNetwork(cfg) {
  const net = $("network");
  net.innerHTML = "";
  cfg.hidden.forEach((layer, i) => {
    const div = document.createElement("div");
    div.className = "layer"; div.dataset.units = layer.units; div.id = `layer-${i}`;
    const head = document.createElement("div"); head.className = "head";
    const minus = document.createElement("button"); minus.textContent = "\u2212"; minus.title = "fewer units";
    const plus = document.createElement("button"); plus.textContent = "+"; plus.title = "more units";
    const count = document.createElement("span"); count.id = `layer-${i}-units`; count.textContent = `${layer.units} units`;
    minus.onclick = () => changeUnits(i, -1); plus.onclick = () => changeUnits(i, +1);
    head.append(minus, count, plus);
    const sel = document.createElement("select"); sel.id = `layer-${i}-activation`;
    fillSelect(sel, pg.options.activations); sel.value = layer.activation;
    sel.onchange = () => configChanged(readForm());
    div.append(head, sel);
    for (let u = 0; u < layer.units; u++) {
      const c = document.createElement("canvas"); c.width = 20; c.height = 20; c.id = `unit-${i}-${u}`;
      div.appendChild(c);
    }
    net.appendChild(div);
  });
  const n = cfg.hidden.length;
  $("net-summary").textContent = n ? `${n} hidden layer${n > 1 ? "s" : ""}` : "perceptron: no hidden layer";
  $("add-layer").disabled = n >= pg.options.max_layers;
  $("remove-layer").disabled = n === 0;
}

function changeUnits(i, delta) {
  const cfg = readForm();
  const u = cfg.hidden[i].units + delta;
  if (u < 1 || u > pg.options.max_units) return;
  cfg.hidden[i].units = u;
  configChanged(cfg);
}

// ---- what the server sends ------------------------------------------------------------------
function applySetup(s) {
  const fresh = s.session !== pg.setupSession || s.generation !== pg.generation;
  pg.setupSession = s.session; pg.generation = s.generation;
  pg.config = s.config; pg.code = s.code;
  pg.data = s.data || (fresh ? null : pg.data);
  pg.initial = s.initial || (fresh ? null : pg.initial);
  if (fresh) { pg.history = {}; pg.epoch = 0; pg.bestEpoch = pg.stoppedEpoch = null; pg.pictures = null; pg.status = "starting"; }
  setForm(s.config);
  $("code").textContent = s.code;
  $("code-link").href = `/api/sessions/${pg.session}/code`;
  drawAll();
}

function applyState(m) {
  if (m.generation !== pg.generation) return;
  for (const [k, v] of Object.entries(m.history || {})) {
    const arr = (pg.history[k] = pg.history[k] || []);
    arr.splice(m.history_from, arr.length - m.history_from, ...v);
  }
  pg.status = m.status; pg.epoch = m.epoch; pg.bestEpoch = m.best_epoch; pg.stoppedEpoch = m.stopped_epoch;
  if (m.initial) pg.initial = m.initial;
  if (m.pictures) pg.pictures = m.pictures;
  if (m.error) showMessage(`Training failed: ${m.error}`);
  drawAll();
}

// ---- pictures -------------------------------------------------------------------------------
function bytes(b64) {
  const s = atob(b64); const a = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
  return a;
}

function mix(c, t) { return c.map((v) => Math.round(255 + (v - 255) * t)); } // white -> colour

function heatImage(res, pixel) {
  const c = document.createElement("canvas"); c.width = c.height = res;
  const ctx = c.getContext("2d"); const img = ctx.createImageData(res, res);
  for (let i = 0; i < res * res; i++) { const [r, g, b] = pixel(i); img.data.set([r, g, b, 255], i * 4); }
  ctx.putImageData(img, 0, 0);
  return c;
}

function drawBoundary() {
  const cv = $("boundary"), ctx = cv.getContext("2d"), W = cv.width, H = cv.height;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  if (!pg.data) return;
  const [x0, x1, y0, y1] = pg.data.extent;
  const b = pg.pictures && pg.pictures.boundary;
  if (b) {
    const d = bytes(b.data), n = b.res * b.res;
    const img = heatImage(b.res, (i) => {
      if (b.channels === 1) { const p = d[i] / 255; const t = Math.abs(p - 0.5) * 1.4; return mix(COLORS[p >= 0.5 ? 1 : 0], t); }
      let best = 0;
      for (let k = 1; k < b.channels; k++) if (d[k * n + i] > d[best * n + i]) best = k;
      return mix(COLORS[best], (d[best * n + i] / 255 - 1 / b.channels) * 0.9);
    });
    ctx.imageSmoothingEnabled = true; ctx.drawImage(img, 0, 0, W, H);
  }
  const px = (x) => ((x - x0) / (x1 - x0)) * W, py = (y) => H - ((y - y0) / (y1 - y0)) * H;
  const dot = (p, label, test) => {
    ctx.beginPath(); ctx.arc(px(p[0]), py(p[1]), 3.6, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${COLORS[label].join(",")})`; ctx.fill();
    ctx.lineWidth = test ? 1.6 : 0.8; ctx.strokeStyle = test ? "#000" : "#fff"; ctx.stroke();
  };
  pg.data.x_train.forEach((p, i) => dot(p, pg.data.y_train[i], false));
  if ($("show-test").checked) pg.data.x_test.forEach((p, i) => dot(p, pg.data.y_test[i], true));
  const axes = AXES[pg.config.dataset];
  if (axes) {
    ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
    ctx.fillText(`\u2192 ${axes[0]}`, 6, H - 6);
    ctx.save(); ctx.translate(12, H - 24); ctx.rotate(-Math.PI / 2); ctx.fillText(`\u2192 ${axes[1]}`, 0, 0); ctx.restore();
  }
}

function drawUnits() {
  const units = (pg.pictures && pg.pictures.units) || [];
  for (const u of units) {
    const cv = $(`unit-${u.layer}-${u.unit}`);
    if (!cv) continue;
    const d = bytes(u.data), res = Math.round(Math.sqrt(d.length));
    // the unit's output: low values in orange, high in blue (each unit on its own scale)
    const img = heatImage(res, (i) => { const t = d[i] / 255; return mix(COLORS[t >= 0.5 ? 1 : 0], Math.abs(t - 0.5) * 1.8); });
    const ctx = cv.getContext("2d"); ctx.imageSmoothingEnabled = true; ctx.drawImage(img, 0, 0, cv.width, cv.height);
    cv.title = `layer ${u.layer + 1}, unit ${u.unit + 1}: output from ${u.lo.toPrecision(3)} to ${u.hi.toPrecision(3)}`;
  }
}

function drawCurves() {
  const cv = $("curves"), ctx = cv.getContext("2d"), W = cv.width, H = cv.height;
  const L = 38, R = 8, T = 10, B = 22;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  const series = [["loss", "#183247", []], ["val_loss", "#f59322", [5, 3]]].map(([k, c, dash]) => {
    const start = pg.initial && pg.initial[k] !== undefined ? [pg.initial[k]] : [];
    return { key: k, color: c, dash, values: start.concat(pg.history[k] || []) };
  });
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const n = Math.max(pg.config ? Math.min(pg.config.epochs, Math.max(10, pg.epoch * 1.25)) : 10, 1);
  const ymax = all.length ? Math.max(...all) * 1.05 : 1;
  const X = (e) => L + (e / n) * (W - L - R), Y = (v) => T + (1 - Math.min(v, ymax) / ymax) * (H - T - B);
  ctx.strokeStyle = "#999"; ctx.lineWidth = 1; ctx.beginPath(); ctx.moveTo(L, T); ctx.lineTo(L, H - B); ctx.lineTo(W - R, H - B); ctx.stroke();
  ctx.fillStyle = "#555"; ctx.font = "10px sans-serif";
  ctx.fillText(ymax.toPrecision(2), 2, T + 8); ctx.fillText("0", L - 10, H - B); ctx.fillText(`epoch ${Math.round(n)}`, W - 60, H - 6);
  ctx.fillText("0", L - 3, H - 8);
  for (const s of series) {
    if (!s.values.length) continue;
    ctx.strokeStyle = s.color; ctx.setLineDash(s.dash); ctx.lineWidth = 1.6; ctx.beginPath();
    s.values.forEach((v, e) => { const y = Number.isFinite(v) ? Y(v) : T; if (e) ctx.lineTo(X(e), y); else ctx.moveTo(X(e), y); });
    ctx.stroke(); ctx.setLineDash([]);
  }
  const mark = (e, label, color) => {
    ctx.strokeStyle = color; ctx.setLineDash([2, 2]); ctx.beginPath(); ctx.moveTo(X(e), T); ctx.lineTo(X(e), H - B); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = color; ctx.fillText(label, Math.min(X(e) + 3, W - 70), T + 20);
  };
  if (pg.config && pg.config.early_stopping && pg.bestEpoch) mark(pg.bestEpoch, `best ${pg.bestEpoch}`, "#2a7");
  if (pg.stoppedEpoch) mark(pg.stoppedEpoch, `stopped ${pg.stoppedEpoch}`, "#c33");
  ctx.fillStyle = "#183247"; ctx.fillText("\u2014 train", W - 120, T + 8); ctx.fillStyle = "#f59322"; ctx.fillText("- - test", W - 64, T + 8);
}

function viridis(t) { // a perceptually ordered map: dark (low loss) to yellow (high)
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1), i = Math.min(Math.floor(x), stops.length - 2), f = x - i;
  return stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * f));
}

function drawLandscape() {
  const cv = $("landscape"), ctx = cv.getContext("2d"), W = cv.width, H = cv.height;
  const l = pg.pictures && pg.pictures.landscape;
  cv.hidden = !l; $("landscape-note").hidden = !!l;
  if (!l) return;
  const d = bytes(l.data);
  ctx.imageSmoothingEnabled = true; ctx.drawImage(heatImage(l.res, (i) => viridis(d[i] / 255)), 0, 0, W, H);
  const [a0, a1, b0, b1] = l.extent;
  const px = (w) => ((w[0] - a0) / (a1 - a0)) * W, py = (w) => H - ((w[1] - b0) / (b1 - b0)) * H;
  ctx.strokeStyle = "#fff"; ctx.lineWidth = 1.5; ctx.beginPath();
  l.path.forEach((w, i) => (i ? ctx.lineTo(px(w), py(w)) : ctx.moveTo(px(w), py(w)))); ctx.stroke();
  const last = l.path[l.path.length - 1];
  ctx.fillStyle = "#e33"; ctx.beginPath(); ctx.arc(px(last), py(last), 4, 0, 2 * Math.PI); ctx.fill();
  ctx.fillStyle = "#fff"; ctx.font = "10px sans-serif"; ctx.fillText("w1 \u2192", W - 40, H - 5); ctx.fillText("w2 \u2191", 3, 12);
}

function fmt(v) { return v === undefined || v === null ? "\u2013" : Number.isFinite(v) ? v.toFixed(4) : String(v); }

function drawAll() {
  const last = (k) => { const a = pg.history[k]; return a && a.length ? a[a.length - 1] : pg.initial ? pg.initial[k] : undefined; };
  $("epoch").textContent = pg.epoch; $("status").textContent = pg.status;
  $("loss").textContent = fmt(last("loss")); $("val-loss").textContent = fmt(last("val_loss"));
  const running = pg.status === "running";
  $("train").innerHTML = running ? "&#x275A;&#x275A; Pause" : "&#x25B6; Train";
  $("train").disabled = $("step").disabled = ["done", "error", "starting"].includes(pg.status);
  drawBoundary(); drawUnits(); drawCurves(); drawLandscape();
}

// ---- buttons --------------------------------------------------------------------------------
async function act(name) {
  try {
    if (pg.expired) { await newSession(); if (name === "reset") return; }
    const r = await sessionCall("POST", `/${name}`);
    if (name === "reset") applySetup(r);
    else if (r.status) { pg.status = r.status; drawAll(); }
    showMessage(null);
  } catch (e) { showError(e); }
}

async function download(url, name) {
  try {
    const blob = await sessionCall("GET", url);
    saveBlob(blob, name);
  } catch (e) { showError(e); }
}

function saveBlob(blob, name) {
  const a = document.createElement("a"); a.href = URL.createObjectURL(blob); a.download = name;
  document.body.appendChild(a); a.click(); a.remove(); setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function picturesPNG() {
  const parts = [$("boundary"), $("curves")].concat($("landscape").hidden ? [] : [$("landscape")]);
  const out = document.createElement("canvas");
  out.width = parts.reduce((w, c) => w + c.width + 10, 10); out.height = Math.max(...parts.map((c) => c.height)) + 20;
  const ctx = out.getContext("2d"); ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, out.width, out.height);
  let x = 10; for (const c of parts) { ctx.drawImage(c, x, 10); x += c.width + 10; }
  return out;
}
pg.picturesPNG = picturesPNG;

async function main() {
  pg.options = await api("GET", "/api/options");
  fillSelect($("dataset"), Object.keys(pg.options.datasets), Object.values(pg.options.datasets).map((d) => d.label));
  fillSelect($("loss-fn"), pg.options.losses); fillSelect($("optimizer"), pg.options.optimizers);
  pg.config = { ...pg.options.defaults };
  document.querySelectorAll("[data-field]").forEach((el) => { el.onchange = () => configChanged(readForm()); });
  $("train").onclick = () => act(pg.status === "running" ? "pause" : "start");
  $("step").onclick = () => act("step");
  $("reset").onclick = () => act("reset");
  $("add-layer").onclick = () => { const c = readForm(); c.hidden.push({ units: 4, activation: "relu" }); configChanged(c); };
  $("remove-layer").onclick = () => { const c = readForm(); c.hidden.pop(); configChanged(c); };
  $("show-test").onchange = drawBoundary;
  $("download-model").onclick = () => download("/model", "playground.tapegrad");
  $("download-png").onclick = () => picturesPNG().toBlob((b) => saveBlob(b, "playground.png"));
  $("copy-code").onclick = () => navigator.clipboard && navigator.clipboard.writeText(pg.code);
  window.addEventListener("pagehide", () => {
    if (pg.session) fetch(`/api/sessions/${pg.session}`, { method: "DELETE", keepalive: true });
  });
  await newSession();
}

main().catch((e) => showError(e));
