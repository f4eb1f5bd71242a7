// The page of `matgrad serve`: live parsing, the derivative, the check, the heatmap,
// "check my derivative" and the state in the URL.  It talks only to this server's
// JSON API (/api/parse, /api/derive, /api/check); see docs/web.md.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  formula: "", wrt: "", order: 1, size: 3, seed: 0,
  shapes: {},          // symbol -> "3x4", only the sizes the user set
  symmetric: [], spd: [], claim: "", mode: "derive",
};
let symbols = [];      // the last parse's symbols
let last = null;       // the last derive answer
let serial = 0;        // answers to older requests are dropped
let timer = null;

// ---------------------------------------------------------------------------------
// The state in the URL fragment: #f=...&wrt=X&order=2&shapes=X:3x4;A:3x3&sym=S&spd=S
// ---------------------------------------------------------------------------------

function toHash() {
  const p = new URLSearchParams();
  p.set("f", state.formula);
  if (state.wrt) p.set("wrt", state.wrt);
  if (state.order !== 1) p.set("order", String(state.order));
  if (state.size !== 3) p.set("size", String(state.size));
  if (state.seed !== 0) p.set("seed", String(state.seed));
  const shapes = Object.entries(state.shapes).map(([n, s]) => `${n}:${s}`).join(";");
  if (shapes) p.set("shapes", shapes);
  if (state.symmetric.length) p.set("sym", state.symmetric.join(","));
  if (state.spd.length) p.set("spd", state.spd.join(","));
  if (state.mode === "check") { p.set("mode", "check"); p.set("claim", state.claim); }
  return "#" + p.toString();
}

function fromHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const int = (key, dflt) => { const v = parseInt(p.get(key), 10); return isNaN(v) ? dflt : v; };
  state.formula = p.get("f") || "";
  state.wrt = p.get("wrt") || "";
  state.order = Math.min(4, Math.max(1, int("order", 1)));
  state.size = Math.max(1, int("size", 3));
  state.seed = Math.max(0, int("seed", 0));
  state.shapes = {};
  for (const item of (p.get("shapes") || "").split(";")) {
    const [name, shape] = item.split(":");
    if (name && shape) state.shapes[name] = shape;
  }
  const list = (key) => (p.get(key) || "").split(",").filter(Boolean);
  state.symmetric = list("sym");
  state.spd = list("spd");
  state.mode = p.get("mode") === "check" ? "check" : "derive";
  state.claim = p.get("claim") || "";
}

function saveHash() {
  const hash = toHash();
  history.replaceState(null, "", hash);
  $("share").href = location.href.split("#")[0] + hash;
}

// ---------------------------------------------------------------------------------
// Talking to the server
// ---------------------------------------------------------------------------------

function request() {
  const body = { formula: state.formula, size: state.size };
  if (Object.keys(state.shapes).length) body.shapes = state.shapes;
  if (state.symmetric.length) body.symmetric = state.symmetric;
  if (state.spd.length) body.spd = state.spd;
  return body;
}

async function call(name, body) {
  const response = await fetch("/api/" + name, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  let data;
  try { data = await response.json(); } catch (e) { data = { error: { message: response.statusText } }; }
  return { status: response.status, data };
}

function math(element, latex) {
  try {
    katex.render(latex, element, { displayMode: true, throwOnError: false, maxSize: 50 });
  } catch (e) {
    element.textContent = latex;
  }
}

function showError(pre, error) {
  pre.hidden = false;
  pre.textContent = error.message;
  pre.dataset.position = error.position === undefined ? "" : String(error.position);
}

// ---------------------------------------------------------------------------------
// Live parsing and the symbol table
// ---------------------------------------------------------------------------------

async function parse() {
  const mine = ++serial;
  saveHash();
  if (!state.formula.trim()) {
    $("formula-error").hidden = true; $("formula-math").textContent = "";
    $("formula-status").textContent = "type a formula"; symbols = []; drawSymbols();
    return;
  }
  const { status, data } = await call("parse", request());
  if (mine !== serial) return;
  if (status !== 200) {
    showError($("formula-error"), data.error || { message: "error " + status });
    $("formula-status").textContent = (data.error && data.error.kind) || "error";
    $("formula-status").className = "status bad";
    $("formula-math").textContent = "";
    $("output").classList.add("stale");  // the result shown is of an earlier formula
    return;
  }
  $("formula-error").hidden = true;
  $("output").classList.remove("stale");
  $("formula-status").textContent = `parsed: ${data.parsed}   shape ${shapeText(data.shape)}`;
  $("formula-status").className = "status good";
  math($("formula-math"), "f = " + data.latex);
  symbols = data.symbols;
  drawSymbols();
  if (symbols.length && state.wrt) run();
}

function shapeText(shape) {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

function drawSymbols() {
  const wrt = $("wrt");
  const names = symbols.map((s) => s.name);
  if (!names.includes(state.wrt)) state.wrt = names.length ? names[0] : "";
  wrt.innerHTML = "";
  for (const name of names) {
    const option = document.createElement("option");
    option.value = option.textContent = name;
    wrt.appendChild(option);
  }
  wrt.value = state.wrt;
  const body = document.querySelector("#symbols tbody");
  body.innerHTML = "";
  for (const s of symbols) {
    const row = document.createElement("tr");
    row.dataset.symbol = s.name;
    const cell = (child) => { const td = document.createElement("td"); td.appendChild(child); row.appendChild(td); };
    const name = document.createElement("code"); name.textContent = s.name; cell(name);
    cell(document.createTextNode(s.kind));
    const shape = document.createElement("input");
    shape.className = "shape"; shape.value = s.shape.join("x") || "scalar"; shape.size = 8;
    shape.setAttribute("aria-label", `shape of ${s.name}`);
    shape.addEventListener("change", () => {
      state.shapes[s.name] = shape.value.trim() || "scalar"; schedule(0);
    });
    cell(shape);
    for (const key of ["symmetric", "spd"]) {
      const box = document.createElement("input");
      box.type = "checkbox"; box.className = key; box.checked = key === "spd" ? s.spd : s.symmetric;
      box.disabled = s.shape.length !== 2;
      box.setAttribute("aria-label", `${s.name} ${key}`);
      box.addEventListener("change", () => {
        const list = state[key].filter((n) => n !== s.name);
        if (box.checked) list.push(s.name);
        state[key] = list; schedule(0);
      });
      cell(box);
    }
    body.appendChild(row);
  }
}

// ---------------------------------------------------------------------------------
// The derivative, its check and its heatmap; check my derivative
// ---------------------------------------------------------------------------------

async function run() {
  saveHash();
  if (!state.wrt) return;
  if (state.mode === "check") { if (state.claim.trim()) await check(); return; }
  const mine = serial;
  $("busy").textContent = "deriving…";
  const { status, data } = await call("derive", { ...request(), wrt: state.wrt, order: state.order, seed: state.seed });
  if (mine !== serial) return;
  $("busy").textContent = "";
  if (status !== 200) {
    $("result").hidden = true;
    showError($("result-error"), data.error || { message: "error " + status });
    return;
  }
  $("result-error").hidden = true;
  last = data;
  const d = data.derivative;
  const lhs = data.order === 1 ? `\\frac{\\partial f}{\\partial ${data.wrt}}`
    : `\\frac{\\partial^{${data.order}} f}{\\partial ${data.wrt}^{${data.order}}}`;
  math($("result-math"), `${lhs} = ${d.latex}`);
  $("result-text").textContent = d.text;
  $("result-numpy").textContent = d.numpy;
  $("shape").textContent = data.shape_text;
  const c = data.check;
  const badge = $("badge");
  badge.textContent = c.status;
  badge.className = "badge " + c.status.toLowerCase();
  $("check-detail").textContent = c.error === null
    ? (c.problem || "")
    : `gradient_error ${c.error.toExponential(1)} vs Richardson differences (tolerance ${c.rtol.toExponential(0)}, seed ${c.seed})`;
  drawHeatmap(data.jacobian);
  $("result").hidden = false;
  $("claim-result").hidden = true;
}

function color(t) {  // t in [-1, 1]: blue, white, red
  const a = Math.min(1, Math.abs(t));
  const [r, g, b] = t < 0 ? [33, 102, 172] : [178, 24, 43];
  const mix = (x) => Math.round(255 + (x - 255) * a);
  return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
}

function drawHeatmap(j) {
  const canvas = $("heatmap");
  const caption = $("heatmap-caption");
  canvas.dataset.rows = j.rows; canvas.dataset.cols = j.cols;
  if (!j.values) {
    canvas.hidden = true; canvas.dataset.drawn = "0";
    caption.textContent = `flattened Jacobian matrix ${j.rows} × ${j.cols}: ${j.note}`;
    return;
  }
  const cell = Math.max(1, Math.min(40, Math.floor(360 / Math.max(j.rows, j.cols))));
  canvas.width = j.cols * cell; canvas.height = j.rows * cell;
  const ctx = canvas.getContext("2d");
  let scale = 0;
  for (const row of j.values) for (const v of row) if (v !== null) scale = Math.max(scale, Math.abs(v));
  for (let r = 0; r < j.rows; r++) {
    for (let c = 0; c < j.cols; c++) {
      const v = j.values[r][c];
      ctx.fillStyle = v === null ? "#999" : color(scale ? v / scale : 0);
      ctx.fillRect(c * cell, r * cell, cell, cell);
    }
  }
  canvas.hidden = false; canvas.dataset.drawn = "1";
  caption.textContent = `flattened Jacobian matrix, ${j.rows} × ${j.cols} (vec column-major), `
    + `at the check's random inputs; red positive, blue negative, white zero (largest |entry| ${scale.toPrecision(3)})`;
}

async function check() {
  const mine = serial;
  $("busy").textContent = "checking…";
  const body = { ...request(), wrt: state.wrt, order: state.order, seed: state.seed, claim: state.claim };
  const { status, data } = await call("check", body);
  if (mine !== serial) return;
  $("busy").textContent = "";
  $("result").hidden = true;
  if (status !== 200) {
    $("claim-result").hidden = true;
    showError($("result-error"), data.error || { message: "error " + status });
    return;
  }
  $("result-error").hidden = true;
  $("verdict").textContent = data.verdict;
  $("verdict").className = "badge " + (data.correct ? "pass" : "fail");
  $("mistake").textContent = data.mistake ? `mistake: ${data.mistake}` : "";
  $("diagnosis").textContent = data.diagnosis;
  math($("claim-math"), `\\text{claim: } ${data.claim_latex} \\qquad \\text{matgrad: } ${data.derivative_latex}`);
  $("claim-report").textContent = data.report;
  $("claim-result").hidden = false;
}

// ---------------------------------------------------------------------------------
// Copy buttons, mode, events
// ---------------------------------------------------------------------------------

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {  // no clipboard API: a selected text area
    const area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    document.execCommand("copy"); area.remove();
  }
  $("copied").textContent = "copied";
  setTimeout(() => { $("copied").textContent = ""; }, 1500);
}

function setMode(mode) {
  state.mode = mode;
  $("mode-derive").classList.toggle("active", mode === "derive");
  $("mode-check").classList.toggle("active", mode === "check");
  $("mode-derive").setAttribute("aria-pressed", String(mode === "derive"));
  $("mode-check").setAttribute("aria-pressed", String(mode === "check"));
  $("claim-box").hidden = mode !== "check";
  $("claim-result").hidden = true;
  $("result").hidden = true;
}

function schedule(delay) {
  clearTimeout(timer);
  timer = setTimeout(parse, delay);
}

function load() {
  fromHash();
  $("formula").value = state.formula;
  $("order").value = String(state.order);
  $("size").value = String(state.size);
  $("seed").value = String(state.seed);
  $("claim").value = state.claim;
  setMode(state.mode);
  parse();
}

function init() {
  $("formula").addEventListener("input", () => { state.formula = $("formula").value; schedule(150); });
  $("wrt").addEventListener("change", () => { state.wrt = $("wrt").value; serial++; run(); });
  $("order").addEventListener("change", () => { state.order = parseInt($("order").value, 10); serial++; run(); });
  $("size").addEventListener("change", () => { state.size = Math.max(1, parseInt($("size").value, 10) || 3); schedule(0); });
  $("seed").addEventListener("change", () => { state.seed = Math.max(0, parseInt($("seed").value, 10) || 0); serial++; run(); });
  $("claim").addEventListener("input", () => { state.claim = $("claim").value; saveHash(); });
  $("claim").addEventListener("keydown", (e) => { if (e.key === "Enter") { serial++; run(); } });
  $("check-button").addEventListener("click", () => { serial++; run(); });
  $("mode-derive").addEventListener("click", () => { setMode("derive"); serial++; run(); });
  $("mode-check").addEventListener("click", () => { setMode("check"); saveHash(); });
  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", () => {
      const key = button.dataset.copy;
      if (key === "share") { copy($("share").href); return; }
      if (last) copy(last.derivative[key]);
    });
  }
  window.addEventListener("hashchange", () => { if (location.hash !== toHash()) load(); });
  load();
}

document.addEventListener("DOMContentLoaded", init);
