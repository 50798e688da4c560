/**
 * The dashboard: one HTML page with its styles and script inline (no build step, no CDN), under a
 * strict Content-Security-Policy whose nonce changes with every page. The script builds everything with
 * DOM calls and `textContent`, never HTML strings, so what a plugin names or logs is shown as text.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { dashboardScript } from './dashboard-script.js';

const STYLE = `
:root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --mute: #6e7781; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; padding: 1rem 1.5rem; }
header { display: flex; align-items: baseline; gap: 1rem; }
h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
h2 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
#updated { color: var(--mute); }
#problem { color: var(--bad); font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #8884; vertical-align: middle; }
th { font-weight: 600; font-size: .85rem; color: var(--mute); }
.name { font-weight: 600; }
.desc { color: var(--mute); font-size: .85rem; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 1em; font-size: .8rem; border: 1px solid currentColor; }
.s-active, .h-healthy, .b-closed { color: var(--ok); }
.s-loading, .s-inactive, .h-degraded, .b-half-open, .s-disabled { color: var(--warn); }
.s-failed, .h-unhealthy, .b-open { color: var(--bad); }
.num { font-variant-numeric: tabular-nums; text-align: right; }
svg.chart { display: block; }
svg.chart .p50 { stroke: #0969da; } svg.chart .p99 { stroke: #bf3989; }
svg.chart .rate { stroke: #1a7f37; } svg.chart .err { stroke: #cf222e; }
svg.chart polyline { fill: none; stroke-width: 1.5; }
svg.chart .frame { fill: none; stroke: #8886; }
button { font: inherit; padding: .15rem .6rem; margin-right: .3rem; cursor: pointer; }
ul { padding-left: 1.2rem; margin: .2rem 0; }
#alerts li { color: var(--bad); font-weight: 600; }
#alerts li.none, #events li .t, li.none, td.none, .plugin-events li .t { color: var(--mute); font-weight: normal; }
.plugin-events summary, .plugin-logs summary { cursor: pointer; color: var(--mute); font-size: .85rem; }
.plugin-logs li { font: 12px/1.3 ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
.plugin-logs li .t, .plugin-events li .t { color: var(--mute); }
.plugin-logs li.l-warn { color: var(--warn); } .plugin-logs li.l-error { color: var(--bad); }
#fleet tr.refused td, #fleet td.reason { color: var(--bad); }
select { font: inherit; margin-right: .3rem; }
.legend span { margin-right: .8rem; font-size: .8rem; }
.p50t { color: #0969da; } .p99t { color: #bf3989; } .ratet { color: #1a7f37; } .errt { color: #cf222e; }
`;

/** The page and its headers; a new nonce each time. */
export function dashboardPage(title: string): { html: string; headers: Record<string, string> } {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header><h1>${escapeHtml(title)}</h1><span id="updated">loading…</span><span id="problem" role="alert"></span></header>
<h2>Firing alerts</h2>
<ul id="alerts"></ul>
<h2>Plugins</h2>
<p class="legend"><span>latency: <b class="p50t">p50</b> / <b class="p99t">p99</b> (ms)</span><span>traffic: <b class="ratet">requests/s</b> and <b class="errt">5xx/s</b></span><span>figures: last 10 s</span></p>
<table id="plugins">
<thead><tr><th>plugin</th><th>status</th><th>health</th><th>version</th><th class="num">connections</th><th class="num">req/s</th><th class="num">errors</th><th class="num">p50 / p99 ms</th><th>breakers</th><th>latency</th><th>traffic</th><th>actions</th></tr></thead>
<tbody></tbody>
</table>
<h2>Recent events</h2>
<ul id="events"></ul>
<h2>Fleet</h2>
<table id="fleet">
<thead><tr><th>gateway</th><th>environment</th><th>plugins</th><th>last refusal</th><th>updated</th></tr></thead>
<tbody></tbody>
</table>
<script nonce="${nonce}">${dashboardScript}</script>
</body>
</html>`;
  return {
    html,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': csp,
      'x-frame-options': 'DENY',
    },
  };
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}
