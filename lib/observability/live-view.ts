/**
 * The live view: one self-contained HTML page (inline CSS and JS, no build step, no CDN)
 * that polls `/_portico/live` every second and shows, per live route, requests per second,
 * error rates and p50/p99 latency over the last minute, with a sparkline of the last five.
 * The JSON comes from the StatsBook's per-second ring, so it costs nothing between polls.
 */
import { RING_SECONDS, type StatsBook } from './stats.ts';

/** The JSON behind the page: the live routes (and unrouted requests) over `window` seconds. */
export function liveSnapshot(
  book: StatsBook,
  deploymentId: string | null,
  window: number,
  now = Date.now(),
): object {
  const w = Math.max(1, Math.min(RING_SECONDS, Math.floor(window)));
  const second = Math.floor(now / 1000);
  const routes = book.live.map((s) => s.summary(second, w));
  return { deploymentId, now, windowSeconds: w, routes, sparkSeconds: RING_SECONDS };
}

export const LIVE_VIEW_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portico live view</title>
<style>
  :root { color-scheme: light dark; --fg: #1d232a; --muted: #6b7580; --bg: #f7f8fa; --card: #fff; --line: #e3e6ea; --accent: #2f6fde; --bad: #c8372d; --warn: #b7791f; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6e9ed; --muted: #98a2ad; --bg: #14181d; --card: #1c2128; --line: #2b323b; --accent: #6ea0ff; } }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; gap: 1rem; align-items: baseline; padding: 1rem 1.5rem; border-bottom: 1px solid var(--line); background: var(--card); }
  h1 { font-size: 1.1rem; margin: 0; }
  header span { color: var(--muted); font-size: .85rem; }
  main { padding: 1rem 1.5rem; }
  table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); }
  th, td { text-align: right; padding: .45rem .7rem; border-bottom: 1px solid var(--line); white-space: nowrap; font-variant-numeric: tabular-nums; }
  th { color: var(--muted); font-weight: 600; font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; }
  th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
  td.route { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
  td.bad { color: var(--bad); font-weight: 600; }
  td.warn { color: var(--warn); }
  svg { display: block; }
  footer { color: var(--muted); font-size: .8rem; padding: .5rem 1.5rem; }
</style>
</head>
<body>
<header><h1>Portico live view</h1><span id="deployment">…</span><span id="updated"></span></header>
<main>
<table>
  <thead><tr><th>Stage</th><th>Route</th><th>req/s</th><th>requests</th><th>4xx</th><th>5xx</th><th>p50 ms</th><th>p99 ms</th><th>last 5 min</th></tr></thead>
  <tbody id="routes"><tr><td colspan="9">loading…</td></tr></tbody>
</table>
</main>
<footer>Rates, errors and latency over the last <span id="window">60</span> s; refreshes every second.</footer>
<script>
"use strict";
const fmt = (v, d) => v === null || v === undefined ? "–" : v.toFixed(d);
const pct = (v) => (v * 100).toFixed(1) + "%";
function spark(series) {
  const w = 150, h = 24, max = Math.max(1, ...series);
  const step = w / Math.max(1, series.length - 1);
  const pts = series.map((v, i) => (i * step).toFixed(1) + "," + (h - 1 - (v / max) * (h - 2)).toFixed(1)).join(" ");
  return '<svg width="' + w + '" height="' + h + '" viewBox="0 0 ' + w + " " + h + '"><polyline fill="none" stroke="var(--accent)" stroke-width="1.5" points="' + pts + '"/></svg>';
}
function cell(text, cls, field) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  if (field) td.dataset.field = field;
  return td;
}
async function refresh() {
  try {
    const [win, spark5] = await Promise.all([
      fetch("/_portico/live?window=60").then((r) => r.json()),
      fetch("/_portico/live?window=300").then((r) => r.json()),
    ]);
    document.getElementById("deployment").textContent = "deployment " + (win.deploymentId || "–");
    document.getElementById("updated").textContent = "updated " + new Date(win.now).toLocaleTimeString();
    document.getElementById("window").textContent = String(win.windowSeconds);
    const body = document.getElementById("routes");
    body.replaceChildren();
    if (win.routes.length === 0) body.append(Object.assign(document.createElement("tr"), { innerHTML: '<td colspan="9">no routes</td>' }));
    win.routes.forEach((r, i) => {
      const tr = document.createElement("tr");
      tr.dataset.route = r.stage + " " + r.routeKey;
      tr.append(
        cell(r.stage), cell(r.routeKey, "route"),
        cell(fmt(r.rps, 2), "", "rps"), cell(String(r.count), "", "count"),
        cell(pct(r.errorRate4xx), r.errorRate4xx > 0 ? "warn" : "", "e4xx"),
        cell(pct(r.errorRate5xx), r.errorRate5xx > 0 ? "bad" : "", "e5xx"),
        cell(fmt(r.p50, 2), "", "p50"), cell(fmt(r.p99, 2), "", "p99"));
      const sp = document.createElement("td");
      sp.innerHTML = spark((spark5.routes[i] || r).series);
      tr.append(sp);
      body.append(tr);
    });
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  } catch (err) {
    document.getElementById("updated").textContent = "admin listener unreachable";
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
