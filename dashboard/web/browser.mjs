// Browser test of the dashboard against a running `stocklake demo`, in real
// headless Chromium through playwright-core. Run by the Go test
// TestDashboardBrowserIntegration; by hand:
//   BASE_URL=http://127.0.0.1:8080 CHROMIUM=/usr/bin/chromium SHOTS=/tmp/shots [TOKEN=...] node browser.mjs
// With TOKEN (the demo's --token), the app is given the token and every
// request is checked: the token travels in the Authorization header, never
// in a URL the browser would keep in its history.
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const base = process.env.BASE_URL;
const shots = process.env.SHOTS || mkdtempSync(join(tmpdir(), "stocklake-shots-"));
mkdirSync(shots, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), "stocklake-chromium-"));
// A fresh profile directory (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run"],
});
let failed = false;
const check = (ok, msg) => { console.log((ok ? "PASS " : "FAIL ") + msg); if (!ok) failed = true; };
const page = await browser.newPage();
page.on("pageerror", (e) => check(false, "page error: " + e.message));
const token = process.env.TOKEN || "";
const urls = [];
let authed = 0;
page.on("request", (r) => { urls.push(r.url()); if (token && r.headers()["authorization"] === "Bearer " + token) authed++; });
if (token) await page.addInitScript((t) => localStorage.setItem("stocklake-token", t), token);
const shot = async (name) => { const p = join(shots, name + ".png"); await page.screenshot({ path: p, fullPage: true }); console.log("screenshot " + p); };

try {
  // 1. Board: rows appear and update live over server-sent events.
  await page.goto(base + "/#/board");
  await page.waitForFunction(() => document.querySelectorAll("#board tbody tr").length >= 10, null, { timeout: 30000 });
  const rows = await page.locator("#board tbody tr").count();
  check(rows >= 10, `board shows ${rows} symbols`);
  const snap = () => page.evaluate(() => [...document.querySelectorAll("#board tbody tr")].map((r) => r.children[7].textContent).join("|"));
  const before = await snap();
  await page.waitForFunction((b) => [...document.querySelectorAll("#board tbody tr")].map((r) => r.children[7].textContent).join("|") !== b, before, { timeout: 20000 });
  check(true, "board updated live");
  check((await page.locator("#board svg.spark polyline").count()) > 0, "sparklines drawn");
  await shot("board");

  // 2. Candle chart: canvas drawn, last bar changes.
  await page.goto(base + "/#/chart/AAPL");
  await page.waitForSelector('button[data-window="1s"]');
  await page.click('button[data-window="1s"]');
  await page.waitForFunction(() => document.querySelector("#lastbar")?.dataset.time, null, { timeout: 20000 });
  const inked = await page.evaluate(() => {
    // The largest canvas is the main pane; count pixels that differ from the background.
    const cs = [...document.querySelectorAll("#chart canvas")].sort((a, b) => b.width * b.height - a.width * a.height);
    const c = cs[0];
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    const bg = [d[0], d[1], d[2]];
    for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 30) n++;
    return n;
  });
  check(inked > 500, `chart canvas has ${inked} drawn pixels`);
  const last = await page.evaluate(() => { const e = document.querySelector("#lastbar"); return e.dataset.time + "/" + e.dataset.close + "/" + e.dataset.trades; });
  await page.waitForFunction((l) => { const e = document.querySelector("#lastbar"); return e.dataset.time + "/" + e.dataset.close + "/" + e.dataset.trades !== l; }, last, { timeout: 20000 });
  check(true, "last bar changed: " + last + " -> " + (await page.evaluate(() => document.querySelector("#lastbar").textContent)));
  await shot("chart");

  // 3. SQL console: a query returns rows; a DROP is refused.
  await page.goto(base + "/#/console");
  await page.waitForSelector("#sql");
  await page.fill("#sql", "SELECT symbol, count(*) AS trades, round(avg(price), 2) AS avg_price FROM ticks GROUP BY symbol ORDER BY trades DESC LIMIT 10");
  await page.click("#run");
  await page.waitForSelector("#result-table tbody tr", { timeout: 60000 });
  const n = await page.locator("#result-table tbody tr").count();
  check(n > 0, `console query returned ${n} rows: ` + (await page.locator("#status").textContent()));
  const heads = await page.locator("#result-table thead th").allTextContents();
  check(heads.join(",") === "symbol,trades,avg_price", "result columns: " + heads.join(","));
  await page.waitForSelector("#history tbody tr");
  await page.click("#chart-result");
  await page.waitForSelector("#result-chart", { timeout: 5000 });
  const bars = await page.evaluate(() => {
    const c = document.querySelector("#result-chart");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && d[i + 1] > 120 && d[i] < 120) n++; // green bar pixels
    return n;
  });
  check(bars > 500, `result chart drew ${bars} bar pixels`);
  await shot("console");
  const [dl] = await Promise.all([page.waitForEvent("download", { timeout: 15000 }), page.click("#csv")]);
  const csvPath = join(shots, "result.csv");
  await dl.saveAs(csvPath);
  const csv = readFileSync(csvPath, "utf8");
  check(csv.startsWith('"symbol","trades","avg_price"'), "CSV download: " + csv.split("\n")[0]);
  // Table functions around the catalog are refused in the console.
  await page.fill("#sql", "SELECT * FROM glob('**')");
  await page.click("#run");
  await page.waitForFunction(() => document.querySelector("#status").classList.contains("state-FAILED"), null, { timeout: 20000 });
  check(/glob is not available/.test(await page.locator("#status").textContent()), "glob() refused: " + (await page.locator("#status").textContent()));
  await page.fill("#sql", "DROP TABLE ticks");
  await page.click("#run");
  await page.waitForFunction(() => document.querySelector("#status").classList.contains("error"), null, { timeout: 10000 });
  const msg = await page.locator("#status").textContent();
  check(/not allowed/.test(msg), "DROP refused: " + msg);
  await shot("console-drop");

  // 4. Catalog: tables, columns, partitions; crawl now.
  await page.goto(base + "/#/catalog");
  await page.waitForSelector("#columns tr", { timeout: 15000 });
  await page.click("#crawl-now");
  await page.waitForFunction(() => /crawl /.test(document.querySelector("#crawl-status").textContent), null, { timeout: 60000 });
  check(await page.locator("#crawl-status.ok").count() === 1, "crawl now: " + (await page.locator("#crawl-status").textContent()));
  await page.waitForSelector("#crawls tbody tr td.ok");
  check((await page.locator("#partitions tr").count()) > 0, "partitions listed");
  await shot("catalog");

  // 5. Pipeline health.
  await page.goto(base + "/#/health");
  await page.waitForSelector("#lag tbody tr", { timeout: 15000 });
  await page.waitForTimeout(2500); // a second sample gives the rates
  check((await page.locator("#lag tbody tr").count()) > 0, "health lists partition lag");
  await shot("health");

  if (token) {
    const leaks = urls.filter((u) => u.includes(token) || u.includes("access_token"));
    check(leaks.length === 0, `no URL carries the token (${urls.length} requests): ${leaks.slice(0, 3).join(" ")}`);
    check(authed > 10, `${authed} requests carried Authorization: Bearer`);
    // A page of another origin cannot start a query: the server refuses it.
    const status = await page.evaluate(async () => (await fetch("/api/query", { method: "POST", headers: { "Content-Type": "text/plain" }, body: '{"sql":"SELECT 1"}' })).status);
    check(status === 401 || status === 415, `a text/plain POST without the token is refused (${status})`);
  }
} catch (e) {
  check(false, String(e));
  await shot("failure").catch(() => {});
} finally {
  await browser.close();
}
console.log("screenshots in " + shots);
process.exit(failed ? 1 : 0);
