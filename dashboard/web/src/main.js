// stocklake dashboard: live board, candlestick chart, SQL console, catalog
// browser and pipeline health, over the JSON API in ../openapi.yaml.
import { createChart, CandlestickSeries, HistogramSeries, LineSeries, createSeriesMarkers, ColorType } from "lightweight-charts";

const app = document.getElementById("app");
const conn = document.getElementById("conn");
let token = localStorage.getItem("stocklake-token") || "";
let config = {};
let cleanup = () => {};

// ---------- helpers ----------
function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}
// authHeaders carries the token in a header, never in a URL: URLs end up in
// the browser's history and in proxy logs, so the server refuses them.
function authHeaders(extra = {}) {
  const headers = { ...extra };
  if (token) headers.Authorization = "Bearer " + token;
  return headers;
}
async function api(path, opts = {}) {
  const headers = authHeaders(opts.headers || {});
  // The server takes POST bodies only as JSON, which a cross-site form cannot send.
  if (opts.body || (opts.method || "GET") === "POST") headers["Content-Type"] = "application/json";
  const r = await fetch(path, { ...opts, headers });
  let body = null;
  try { body = await r.json(); } catch { body = null; }
  if (r.status === 401) askToken();
  if (!r.ok) throw new Error((body && body.error) || r.status + " " + r.statusText);
  return body;
}
function askToken() {
  const t = prompt("This stocklake server needs a token (its --token):", token);
  if (t !== null) { token = t.trim(); localStorage.setItem("stocklake-token", token); location.reload(); }
}
// download fetches a protected file with the token in a header and saves it.
async function download(path, name) {
  const r = await fetch(path, { headers: authHeaders() });
  if (r.status === 401) { askToken(); return; }
  if (!r.ok) { let m = r.status + " " + r.statusText; try { m = (await r.json()).error || m; } catch {} throw new Error(m); }
  const url = URL.createObjectURL(await r.blob());
  const a = h("a", { href: url, download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
const fmt = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toLocaleString(undefined, { minimumFractionDigits: d, maximumFractionDigits: d }));
const fmtInt = (x) => (x === null || x === undefined ? "–" : Math.round(x).toLocaleString());
const fmtBytes = (n) => { if (n === null || n === undefined) return "–"; const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return n.toFixed(i ? 1 : 0) + " " + u[i]; };
const sign = (x) => (x > 0 ? "up" : x < 0 ? "down" : "");
const timeOf = (us) => new Date(us / 1000).toISOString().replace("T", " ").slice(0, 19);
function errorBox(e) { return h("div", { class: "error" }, String(e.message || e)); }

function sparkline(values, w = 120, hgt = 28) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", w); svg.setAttribute("height", hgt); svg.setAttribute("class", "spark");
  if (!values || values.length < 2) return svg;
  const lo = Math.min(...values), hi = Math.max(...values), span = hi - lo || 1;
  const pts = values.map((v, i) => `${(i / (values.length - 1)) * (w - 2) + 1},${hgt - 2 - ((v - lo) / span) * (hgt - 4)}`).join(" ");
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts); line.setAttribute("fill", "none");
  line.setAttribute("stroke", values[values.length - 1] >= values[0] ? "#26a69a" : "#ef5350"); line.setAttribute("stroke-width", "1.5");
  svg.append(line);
  return svg;
}

// ---------- event stream (shared) ----------
// Server-sent events read with fetch, not EventSource, so the token goes in
// the Authorization header; reconnects after 2 s like EventSource.
const listeners = new Set();
let streamAbort = null;
async function openStream() {
  if (streamAbort) streamAbort.abort();
  const ctl = new AbortController();
  streamAbort = ctl;
  const down = () => { conn.textContent = "reconnecting…"; conn.classList.remove("live"); };
  try {
    const r = await fetch("/api/stream", { headers: authHeaders({ Accept: "text/event-stream" }), signal: ctl.signal });
    if (r.status === 401) { down(); askToken(); return; }
    if (!r.ok || !r.body) throw new Error(r.status + " " + r.statusText);
    conn.textContent = "live"; conn.classList.add("live");
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i); buf = buf.slice(i + 2);
        let kind = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) kind = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (!data || !["symbol", "bar", "alert"].includes(kind)) continue;
        const d = JSON.parse(data);
        for (const l of listeners) l(kind, d);
      }
    }
  } catch (e) {
    if (ctl.signal.aborted) return;
  }
  if (ctl.signal.aborted) return;
  down();
  setTimeout(() => { if (streamAbort === ctl) openStream(); }, 2000);
}
function listen(fn) { listeners.add(fn); return () => listeners.delete(fn); }

// ---------- pages ----------
async function boardPage() {
  const tbody = h("tbody");
  const rows = new Map();
  const count = h("span", { class: "dim" });
  app.append(h("h2", {}, "Live board ", count),
    h("table", { id: "board" }, h("thead", {}, h("tr", {}, h("th", {}, "Symbol"), h("th", { class: "num" }, "Last"), h("th", { class: "num" }, "Change"),
      h("th", { class: "num" }, "Change %"), h("th", { class: "num" }, "Volume"), h("th", { class: "num" }, "Trades"), h("th", {}, "Trend"), h("th", {}, "Last trade (event time)"))), tbody));
  function upsert(s) {
    let r = rows.get(s.symbol);
    const cells = [s.symbol, fmt(s.last), fmt(s.change), fmt(s.change_percent) + "%", fmtInt(s.volume), fmtInt(s.trades)];
    if (!r) {
      r = h("tr", { class: "clickable", "data-symbol": s.symbol, onclick: () => (location.hash = "#/chart/" + encodeURIComponent(s.symbol)) });
      for (let i = 0; i < 8; i++) r.append(h("td", i > 0 && i < 6 ? { class: "num" } : {}));
      rows.set(s.symbol, r);
      const after = [...rows.keys()].sort().indexOf(s.symbol);
      const next = [...rows.keys()].sort()[after + 1];
      tbody.insertBefore(r, next ? rows.get(next) : null);
      count.textContent = `(${rows.size} symbols)`;
    }
    const tds = r.children;
    if (tds[1].textContent !== cells[1]) { r.classList.remove("flash"); void r.offsetWidth; r.classList.add("flash"); }
    cells.forEach((c, i) => (tds[i].textContent = c));
    for (const i of [2, 3]) tds[i].className = "num " + sign(s.change);
    tds[6].replaceChildren(sparkline(s.spark));
    tds[7].textContent = s.time ? s.time.replace("T", " ").slice(0, 19) : "";
    tds[7].className = "dim";
  }
  try {
    const d = await api("/api/symbols");
    d.symbols.forEach(upsert);
    if (!d.symbols.length) app.append(h("p", { class: "dim", id: "board-empty" }, "Waiting for the first bars…"));
  } catch (e) { app.append(errorBox(e)); }
  return listen((kind, d) => { if (kind === "symbol") { document.getElementById("board-empty")?.remove(); upsert(d); } });
}

async function chartPage(symbol) {
  let symbols = [];
  try { symbols = (await api("/api/symbols")).symbols.map((s) => s.symbol); } catch (e) { app.append(errorBox(e)); return () => {}; }
  if (!symbol) symbol = symbols[0];
  if (!symbol) { app.append(h("p", { class: "dim" }, "No symbols yet; waiting for bars.")); return () => {}; }
  const windows = (config.windows && config.windows.length ? config.windows : ["1m"]);
  let win = sessionStorage.getItem("stocklake-window");
  if (!windows.includes(win)) win = windows.includes("1m") ? "1m" : windows[0];
  const sel = h("select", { id: "symbol", onchange: (e) => (location.hash = "#/chart/" + encodeURIComponent(e.target.value)) }, symbols.map((s) => h("option", s === symbol ? { selected: "" } : {}, s)));
  const winButtons = windows.map((w) => h("button", { "data-window": w, "aria-pressed": String(w === win), onclick: () => { sessionStorage.setItem("stocklake-window", w); route(); } }, w));
  const info = h("span", { id: "lastbar", class: "dim" });
  const feed = h("div", { class: "feed", id: "alerts" });
  const chartEl = h("div", { id: "chart" });
  app.append(h("div", { class: "toolbar" }, sel, h("span", { class: "dim" }, "window"), winButtons, info),
    h("div", { class: "grid" }, h("div", { class: "panel" }, chartEl,
      h("div", { class: "legend" }, h("span", { style: "color:#f0b90b" }, "SMA"), h("span", { style: "color:#4f8cff" }, "EMA fast"), h("span", { style: "color:#c678dd" }, "EMA slow"), h("span", {}, "volume below"))),
    h("div", { class: "panel" }, h("h3", { style: "margin-top:0" }, "Alerts"), feed)));

  const chart = createChart(chartEl, {
    autoSize: true, layout: { background: { type: ColorType.Solid, color: "#161c24" }, textColor: "#d6dde6" },
    grid: { vertLines: { color: "#1f2833" }, horzLines: { color: "#1f2833" } },
    timeScale: { timeVisible: true, secondsVisible: win.endsWith("s") }, rightPriceScale: { scaleMargins: { top: 0.08, bottom: 0.28 } },
  });
  const candles = chart.addSeries(CandlestickSeries, { upColor: "#26a69a", downColor: "#ef5350", wickUpColor: "#26a69a", wickDownColor: "#ef5350", borderVisible: false });
  const volume = chart.addSeries(HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "vol" });
  chart.priceScale("vol").applyOptions({ scaleMargins: { top: 0.78, bottom: 0 } });
  const lines = {
    sma: chart.addSeries(LineSeries, { color: "#f0b90b", lineWidth: 1, priceLineVisible: false, lastValueVisible: false }),
    ema_fast: chart.addSeries(LineSeries, { color: "#4f8cff", lineWidth: 1, priceLineVisible: false, lastValueVisible: false }),
    ema_slow: chart.addSeries(LineSeries, { color: "#c678dd", lineWidth: 1, priceLineVisible: false, lastValueVisible: false }),
  };
  const markers = createSeriesMarkers(candles, []);
  const alertMarks = [];
  let lastTime = 0;
  const t = (b) => Math.floor(b.ts / 1e6);
  function put(b) {
    const time = t(b);
    if (time < lastTime) return;
    lastTime = time;
    candles.update({ time, open: b.open, high: b.high, low: b.low, close: b.close });
    volume.update({ time, value: b.volume, color: b.close >= b.open ? "rgba(38,166,154,0.5)" : "rgba(239,83,80,0.5)" });
    for (const [k, s] of Object.entries(lines)) if (b[k] !== undefined && b[k] !== null) s.update({ time, value: b[k] });
    info.textContent = `${b.symbol} ${b.window} ${timeOf(b.ts)} O ${fmt(b.open)} H ${fmt(b.high)} L ${fmt(b.low)} C ${fmt(b.close)} V ${fmtInt(b.volume)} ${b.final ? "" : "(open)"}`;
    info.dataset.close = b.close; info.dataset.time = time; info.dataset.trades = b.trades;
  }
  function addAlert(a, live) {
    if (a.symbol !== symbol) return;
    const winOk = !a.window || a.window === win;
    feed.prepend(h("div", {}, h("span", { class: "dim" }, timeOf(a.ts) + " "), h("b", {}, a.rule), " ", a.message));
    if (winOk) {
      const w = Number.parseInt(win) * (win.endsWith("ms") ? 1e-3 : win.endsWith("s") ? 1 : win.endsWith("m") ? 60 : 3600);
      alertMarks.push({ time: Math.floor(a.ts / 1e6 / w) * w, position: "aboveBar", color: "#e6b450", shape: "arrowDown", text: a.rule });
      alertMarks.sort((x, y) => x.time - y.time);
      markers.setMarkers(alertMarks.slice(-200));
    }
    if (live) feed.firstChild.classList.add("flash");
  }
  try {
    const d = await api(`/api/bars?symbol=${encodeURIComponent(symbol)}&window=${win}`);
    d.bars.forEach(put);
    chart.timeScale().fitContent();
    const al = await api(`/api/alerts?symbol=${encodeURIComponent(symbol)}&limit=100`);
    al.alerts.reverse().forEach((a) => addAlert(a, false));
    if (!al.alerts.length) feed.append(h("div", { class: "dim", id: "no-alerts" }, "No alerts for " + symbol + " yet."));
  } catch (e) { app.append(errorBox(e)); }
  const off = listen((kind, d) => {
    if (kind === "bar" && d.symbol === symbol && d.window === win) put(d);
    if (kind === "alert") { document.getElementById("no-alerts")?.remove(); addAlert(d, true); }
  });
  return () => { off(); chart.remove(); };
}

async function consolePage() {
  const ta = h("textarea", { id: "sql", spellcheck: "false" });
  ta.value = sessionStorage.getItem("stocklake-sql") || `SELECT symbol, count(*) AS trades, round(sum(price*size)/sum(size), 2) AS vwap\nFROM ticks GROUP BY symbol ORDER BY trades DESC LIMIT 20`;
  const status = h("div", { id: "status", class: "dim" });
  const results = h("div", { class: "results", id: "results" });
  const pager = h("div", { class: "toolbar", id: "pager" });
  const chartBox = h("div", { id: "result-chart-box" });
  const hist = h("tbody");
  const tablesList = h("div", { class: "dim", id: "console-tables" });
  let current = null, offset = 0;
  const pageSize = 100;
  const run = h("button", { class: "primary", id: "run", onclick: submit }, "Run ▸");
  ta.addEventListener("keydown", (e) => { if ((e.ctrlKey || e.metaKey) && e.key === "Enter") submit(); });
  app.append(h("h2", {}, "SQL console ", h("span", { class: "dim" }, `read-only, at most ${fmtInt(config.max_rows)} rows`)), tablesList, ta,
    h("div", { class: "toolbar" }, run, h("span", { class: "dim" }, "Ctrl+Enter runs")), status, pager, chartBox, results,
    h("h3", {}, "History"), h("table", { id: "history" }, h("thead", {}, h("tr", {}, h("th", {}, "Submitted"), h("th", {}, "State"), h("th", { class: "num" }, "Rows"),
      h("th", { class: "num" }, "Scanned"), h("th", { class: "num" }, "Time"), h("th", {}, "SQL"))), hist));
  api("/api/catalog/tables").then((d) => {
    tablesList.replaceChildren("Tables: ", ...d.tables.map((t) => h("a", { href: "#", style: "margin-right:10px;color:#4f8cff", title: t.columns.map((c) => c.name + " " + c.type).join(", "),
      onclick: (e) => { e.preventDefault(); ta.value = `SELECT * FROM ${t.name} LIMIT 100`; } }, t.name)));
  }).catch(() => {});
  let alive = true;
  async function submit() {
    sessionStorage.setItem("stocklake-sql", ta.value);
    status.className = "dim"; status.textContent = "submitting…"; results.replaceChildren(); pager.replaceChildren(); chartBox.replaceChildren();
    try {
      const d = await api("/api/query", { method: "POST", body: JSON.stringify({ sql: ta.value }) });
      current = d.id; offset = 0;
      poll();
    } catch (e) { status.className = "error"; status.textContent = e.message; }
    loadHistory();
  }
  async function poll() {
    if (!alive || !current) return;
    try {
      const d = await api(`/api/query/${current}?offset=${offset}&limit=${pageSize}`);
      const q = d.query;
      status.className = "state-" + q.state;
      status.textContent = `${q.state}` + (q.state === "SUCCEEDED" ? ` — ${fmtInt(q.rows)} rows${q.truncated ? " (cut at the row limit)" : ""}, scanned ${fmtBytes(q.bytes_scanned)} in ${q.files_scanned} files, ${q.total_ms} ms` : "") + (q.error ? ` — ${q.error}` : "") + `  (query ${q.id})`;
      if (!q.state || q.state === "QUEUED" || q.state === "RUNNING") { setTimeout(poll, 300); return; }
      loadHistory();
      if (q.state !== "SUCCEEDED") return;
      results.replaceChildren(h("table", { id: "result-table" }, h("thead", {}, h("tr", {}, d.columns.map((c) => h("th", { title: c.type }, c.name)))),
        h("tbody", {}, d.rows.map((r) => h("tr", {}, r.map((v) => h("td", {}, v === null ? h("span", { class: "dim" }, "NULL") : v)))))));
      const last = Math.min(offset + pageSize, q.rows);
      pager.replaceChildren(
        h("button", { disabled: offset === 0 ? "" : null, onclick: () => { offset = Math.max(0, offset - pageSize); poll(); } }, "◂ Prev"),
        h("span", { class: "dim" }, `rows ${q.rows ? offset + 1 : 0}–${last} of ${fmtInt(q.rows)}`),
        h("button", { disabled: last >= q.rows ? "" : null, onclick: () => { offset += pageSize; poll(); } }, "Next ▸"),
        h("a", { href: "#", style: "color:#4f8cff;margin-left:12px", id: "csv", onclick: (e) => { e.preventDefault(); download(`/api/query/${q.id}/csv`, q.id + ".csv").catch((err) => { status.className = "error"; status.textContent = err.message; }); } }, "Download CSV"),
        h("button", { id: "chart-result", style: "margin-left:12px", onclick: () => quickChart(chartBox, d.columns, d.rows) }, "Chart"));
    } catch (e) { status.className = "error"; status.textContent = e.message; }
  }
  async function loadHistory() {
    try {
      const d = await api("/api/queries?limit=25");
      hist.replaceChildren(...d.queries.map((q) => h("tr", { class: "clickable", onclick: () => { ta.value = q.sql; current = q.id; offset = 0; poll(); } },
        h("td", {}, (q.submitted || "").replace("T", " ").slice(0, 19)), h("td", { class: "state-" + q.state }, q.state), h("td", { class: "num" }, fmtInt(q.rows)),
        h("td", { class: "num" }, fmtBytes(q.bytes_scanned)), h("td", { class: "num" }, q.total_ms + " ms"), h("td", { style: "max-width:520px;overflow:hidden;text-overflow:ellipsis", title: q.sql }, q.sql))));
    } catch (e) { hist.replaceChildren(h("tr", {}, h("td", { colspan: 6 }, errorBox(e)))); }
  }
  loadHistory();
  return () => { alive = false; };
}

// quickChart draws the shown rows of a result as bars: the first column
// labels the bars, the first numeric column after it gives their heights.
function quickChart(box, columns, rows) {
  const isNum = (v) => v !== null && v !== "" && !isNaN(Number(v));
  const y = columns.findIndex((c, i) => i > 0 && rows.length > 0 && rows.every((r) => r[i] === null || isNum(r[i])));
  if (y < 0) { box.replaceChildren(h("div", { class: "dim" }, "Nothing to chart: no numeric column after the first.")); return; }
  const data = rows.slice(0, 100).map((r) => ({ label: String(r[0]), v: r[y] === null ? 0 : Number(r[y]) }));
  const w = 900, ht = 260, pad = 40;
  const c = h("canvas", { id: "result-chart", width: w, height: ht });
  box.replaceChildren(h("div", { class: "dim" }, `${columns[y].name} by ${columns[0].name}`), c);
  const g = c.getContext("2d");
  const max = Math.max(0, ...data.map((d) => d.v)), min = Math.min(0, ...data.map((d) => d.v));
  const span = max - min || 1, bw = (w - pad) / data.length;
  const zero = ht - pad - ((0 - min) / span) * (ht - 2 * pad);
  g.font = "11px sans-serif"; g.fillStyle = "#8b949e";
  g.fillText(fmtNum(max), 2, pad - 4); g.fillText(fmtNum(min), 2, ht - pad + 12);
  data.forEach((d, i) => {
    const top = ht - pad - ((d.v - min) / span) * (ht - 2 * pad);
    g.fillStyle = d.v >= 0 ? "#26a69a" : "#ef5350";
    g.fillRect(pad + i * bw + 1, Math.min(top, zero), Math.max(1, bw - 2), Math.max(1, Math.abs(zero - top)));
    if (data.length <= 30) { g.save(); g.translate(pad + i * bw + bw / 2, ht - 4); g.rotate(-Math.PI / 6); g.fillStyle = "#8b949e"; g.fillText(d.label.slice(0, 12), 0, 0); g.restore(); }
  });
}

function fmtNum(v) { return Math.abs(v) >= 1e6 ? (v / 1e6).toFixed(1) + "M" : Math.abs(v) >= 1e3 ? (v / 1e3).toFixed(1) + "k" : String(Math.round(v * 100) / 100); }

async function catalogPage(db, table) {
  const left = h("div", { class: "panel list", id: "catalog-tables" });
  const right = h("div", { class: "panel", id: "catalog-detail" });
  const crawlBtn = h("button", { class: "primary", id: "crawl-now", onclick: crawlNow }, "Crawl now");
  const crawlStatus = h("span", { class: "dim", id: "crawl-status" });
  const crawls = h("tbody");
  app.append(h("div", { class: "toolbar" }, h("h2", { style: "margin:0 12px 0 0" }, "Catalog"), crawlBtn, crawlStatus),
    h("div", { class: "tables" }, left, right),
    h("h3", {}, "Crawl history"), h("table", { id: "crawls" }, h("thead", {}, h("tr", {}, h("th", {}, "Started"), h("th", {}, "Database"), h("th", { class: "num" }, "Tables +/~/-"),
      h("th", { class: "num" }, "Partitions +/-"), h("th", { class: "num" }, "Files read/listed"), h("th", { class: "num" }, "Time"), h("th", {}, "Result"))), crawls));
  async function loadTables() {
    try {
      const dbs = (await api("/api/catalog/databases")).databases;
      left.replaceChildren();
      if (!dbs.length) left.append(h("div", { class: "dim" }, "No databases yet. Crawl the lake."));
      for (const d of dbs) {
        left.append(h("div", { class: "dim", style: "margin-top:6px" }, "database " + d.name));
        const ts = (await api("/api/catalog/tables?database=" + encodeURIComponent(d.name))).tables;
        for (const t of ts) left.append(h("a", { href: `#/catalog/${encodeURIComponent(d.name)}/${encodeURIComponent(t.name)}`, class: d.name === db && t.name === table ? "sel" : "" }, t.name));
        if (!db && ts.length) { db = d.name; table = ts[0].name; }
      }
    } catch (e) { left.replaceChildren(errorBox(e)); }
    if (db && table) loadTable();
    else right.replaceChildren(h("div", { class: "dim" }, "Select a table."));
  }
  async function loadTable() {
    try {
      const t = await api(`/api/catalog/tables/${encodeURIComponent(db)}/${encodeURIComponent(table)}`);
      right.replaceChildren(h("h2", {}, `${t.database}.${t.name}`),
        h("div", { class: "dim" }, `${t.format} at ${t.location} — schema version ${t.version}, ${fmtInt(t.partition_count)} partitions`),
        h("h3", {}, "Columns"), h("table", { id: "columns" }, h("tbody", {}, [...t.columns, ...t.partition_keys.map((c) => ({ ...c, comment: "partition key" }))].map((c) =>
          h("tr", {}, h("td", {}, c.name), h("td", { class: "dim" }, c.type), h("td", { class: "dim" }, c.comment || ""))))),
        h("h3", {}, "Partitions (newest first)"), h("table", { id: "partitions" }, h("tbody", {}, t.partitions.slice(0, 100).map((p) =>
          h("tr", {}, h("td", {}, t.partition_keys.map((k, i) => `${k.name}=${p.values[i]}`).join("/")), h("td", { class: "dim" }, p.location))))));
    } catch (e) { right.replaceChildren(errorBox(e)); }
  }
  async function loadCrawls() {
    try {
      const d = await api("/api/crawls?limit=20");
      crawls.replaceChildren(...d.crawls.map((c) => h("tr", {}, h("td", {}, c.Start.replace("T", " ").slice(0, 19)), h("td", {}, c.Database),
        h("td", { class: "num" }, `${(c.TablesCreated || []).length}/${(c.TablesUpdated || []).length}/${(c.TablesDeleted || []).length}`),
        h("td", { class: "num" }, `${c.PartitionsAdded}/${c.PartitionsRemoved}`), h("td", { class: "num" }, `${c.FilesRead}/${c.FilesListed}`),
        h("td", { class: "num" }, c.duration_ms + " ms"), h("td", { class: c.Error ? "error" : "ok" }, c.Error || "ok"))));
      if (!d.crawls.length) crawls.append(h("tr", {}, h("td", { colspan: 7, class: "dim" }, d.note || "No crawls yet.")));
    } catch (e) { crawls.replaceChildren(h("tr", {}, h("td", { colspan: 7 }, errorBox(e)))); }
  }
  async function crawlNow() {
    crawlBtn.disabled = true; crawlStatus.className = "dim"; crawlStatus.textContent = "crawling…";
    try {
      const r = await api("/api/crawl", { method: "POST" });
      crawlStatus.className = "ok"; crawlStatus.textContent = r.summary;
    } catch (e) { crawlStatus.className = "error"; crawlStatus.textContent = e.message; }
    crawlBtn.disabled = false;
    loadTables(); loadCrawls();
  }
  if (!config.crawl) { crawlBtn.disabled = true; crawlBtn.title = "crawling is not configured on this server"; }
  loadTables(); loadCrawls();
  return () => {};
}

async function healthPage() {
  const body = h("div", { id: "health" });
  app.append(h("h2", {}, "Pipeline health"), body);
  let alive = true;
  async function load() {
    if (!alive) return;
    try {
      const d = await api("/api/health");
      const s = d.sink;
      const card = (k, v, cls = "") => h("div", { class: "card" }, h("div", { class: "k" }, k), h("div", { class: "v " + cls }, v));
      body.replaceChildren(
        h("div", { class: "cards" },
          card("status", d.status, d.status === "ok" ? "ok" : "error"),
          card("ticks/s in", d.ticks_in_per_sec !== undefined ? fmtInt(d.ticks_in_per_sec) : "–"),
          card("ticks/s out (sink commits)", d.ticks_out_per_sec !== undefined ? fmtInt(d.ticks_out_per_sec) : "–"),
          card("total lag", fmtInt(d.partitions.reduce((a, p) => a + p.lag, 0))),
          card("files written", s ? fmtInt(s.files) : "–"), card("bytes written", s ? fmtBytes(s.bytes) : "–"),
          card("rows written", s ? fmtInt(s.rows) : "–"),
          card("dead letters", d.dead_letters !== undefined ? fmtInt(d.dead_letters) : s ? fmtInt(s.dead_letters) : "–"),
          card("board bars / alerts", `${fmtInt(d.feed.bars)} / ${fmtInt(d.feed.alerts)}`),
          card("stream clients", fmtInt(d.feed.stream_clients))),
        h("div", {}, h("span", { class: "dim" }, "last error: "), d.last_error ? h("span", { class: "error" }, d.last_error) : h("span", { class: "ok" }, "none")),
        h("div", { class: "dim" }, "board source: " + (d.feed.source || "none")),
        ...(d.tables ? [h("h3", {}, "Lake tables: files and maintenance"),
          h("table", { id: "tables" }, h("thead", {}, h("tr", {}, h("th", {}, "Table"), h("th", {}, "Format"), h("th", { class: "num" }, "Files"), h("th", { class: "num" }, "Average file"), h("th", {}, "Last maintenance"))),
            h("tbody", {}, d.tables.map((t) => h("tr", {}, h("td", {}, `${t.database}.${t.name}`), h("td", {}, t.format), h("td", { class: "num" }, fmtInt(t.files)),
              h("td", { class: "num" }, t.files ? fmtBytes(t.bytes / t.files) : "–"),
              h("td", {}, t.last_maintenance ? t.last_maintenance.replace("T", " ").slice(0, 19) + " UTC" : h("span", { class: "dim" }, "never"))))))] : []),
        h("h3", {}, `Consumer lag per partition (topic ${d.topic || "?"})`),
        h("table", { id: "lag" }, h("thead", {}, h("tr", {}, h("th", {}, "Topic"), h("th", { class: "num" }, "Partition"), h("th", {}, "Group"), h("th", { class: "num" }, "End offset"), h("th", { class: "num" }, "Committed"), h("th", { class: "num" }, "Lag"))),
          h("tbody", {}, d.partitions.map((p) => h("tr", {}, h("td", {}, p.topic), h("td", { class: "num" }, p.partition), h("td", {}, p.group), h("td", { class: "num" }, fmtInt(p.end_offset)),
            h("td", { class: "num" }, p.committed_offset < 0 ? "–" : fmtInt(p.committed_offset)), h("td", { class: "num" }, fmtInt(p.lag)))))),
        h("p", { class: "dim" }, "Updated " + d.time.replace("T", " ").slice(0, 19) + " UTC; Prometheus metrics on ", h("a", { href: "#", id: "metrics", style: "color:#4f8cff", onclick: (e) => { e.preventDefault(); download("/metrics", "metrics.txt").catch(() => {}); } }, "/metrics")));
    } catch (e) { body.replaceChildren(errorBox(e)); }
    setTimeout(load, 2000);
  }
  load();
  return () => { alive = false; };
}

// ---------- router ----------
async function route() {
  cleanup();
  app.replaceChildren();
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const page = parts[0] || "board";
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page);
  const pages = { board: boardPage, chart: chartPage, console: consolePage, catalog: catalogPage, health: healthPage };
  const fn = pages[page] || boardPage;
  document.body.dataset.page = page;
  cleanup = (await fn(...parts.slice(1))) || (() => {});
  document.body.dataset.ready = page;
}

(async function main() {
  try { config = await (await fetch("/api/config")).json(); } catch { config = {}; }
  if (config.token_required && !token) askToken();
  openStream();
  window.addEventListener("hashchange", route);
  route();
})();
