/**
 * The activity page: markup and style. Everything it needs is served by the activity server itself (no CDN, no
 * fonts from elsewhere), so it works on a machine with nothing but the loopback. Its script is page-script.ts.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dopt activity</title>
<link rel="stylesheet" href="/activity.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<script src="/activity.js" defer></script>
</head>
<body>
<header>
  <h1>dopt activity</h1>
  <span id="node"></span>
  <span id="status" class="status" data-state="connecting">connecting…</span>
</header>
<main>
  <section class="tiles" aria-label="totals since the node started">
    <div class="tile peers"><h2>From peers</h2><output id="total-peers" data-value="0">–</output><small id="rate-peers"></small></div>
    <div class="tile origin"><h2>From the origin</h2><output id="total-origin" data-value="0">–</output><small id="rate-origin"></small></div>
    <div class="tile upload"><h2>Uploaded to peers</h2><output id="total-uploaded" data-value="0">–</output><small id="rate-uploaded"></small></div>
    <div class="tile"><h2>Peer share</h2><output id="peer-share">–</output><small>of bytes received</small></div>
    <div class="tile"><h2>Peers</h2><output id="peer-count" data-value="0">–</output><small id="bans"></small></div>
    <div class="tile"><h2>Cache</h2><output id="cache-bytes" data-value="0">–</output><small id="cache-items" data-value="0"></small></div>
    <div class="tile"><h2>Jobs</h2><output id="job-count" data-value="0">–</output><small id="job-states"></small></div>
    <div class="tile"><h2>Pieces rejected</h2><output id="pieces-rejected" data-value="0">–</output><small id="peers-banned"></small></div>
  </section>
  <section class="panel">
    <h2>Download rate by source <span class="legend"><i class="peers"></i>peers <i class="origin"></i>origin <i class="upload"></i>upload</span></h2>
    <svg id="chart" viewBox="0 0 900 240" preserveAspectRatio="none" role="img" aria-label="bytes per second over time"></svg>
  </section>
  <section class="panel">
    <h2>Jobs</h2>
    <table id="jobs"><thead><tr><th>job</th><th>state</th><th class="bar">received (peers | origin | missing)</th><th class="spark">last minute</th><th>from peers</th><th>from origin</th><th>uploaded</th></tr></thead><tbody></tbody></table>
    <p id="jobs-more" class="more"></p>
  </section>
  <div class="columns">
    <section class="panel">
      <h2>Peers</h2>
      <table id="peers"><thead><tr><th>peer</th><th>found by</th><th>address</th></tr></thead><tbody></tbody></table>
    </section>
    <section class="panel">
      <h2>Cache</h2>
      <table id="cache"><thead><tr><th>content</th><th>size</th><th>served</th></tr></thead><tbody></tbody></table>
    </section>
  </div>
  <p class="foot">Read-only: nothing on this page can change a job. Figures are totals since the node started; a job's bytes are over its life. Metrics for Prometheus: <a href="/metrics">/metrics</a>.</p>
</main>
</body>
</html>
`

/** Two bars in the page's colours: peers and origin. */
export const FAVICON_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect x="1" y="5" width="6" height="10" fill="#e76f51"/><rect x="9" y="1" width="6" height="14" fill="#2a9d8f"/></svg>'

export const PAGE_CSS = `
:root { --peers: #2a9d8f; --origin: #e76f51; --upload: #264653; --fg: #1d2528; --muted: #66767c; --line: #dde3e6; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: #f5f7f8; }
header { display: flex; gap: 16px; align-items: baseline; padding: 12px 20px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0; }
#node { color: var(--muted); font-family: ui-monospace, monospace; font-size: 12px; }
.status { margin-left: auto; font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #eee; }
.status[data-state="live"] { background: #d8f3dc; color: #1b4332; }
.status[data-state="lost"] { background: #ffe5d9; color: #9d0208; }
main { padding: 16px 20px; max-width: 1200px; margin: 0 auto; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; border-top: 3px solid var(--line); }
.tile.peers { border-top-color: var(--peers); } .tile.origin { border-top-color: var(--origin); } .tile.upload { border-top-color: var(--upload); }
.tile h2 { font-size: 12px; font-weight: 600; color: var(--muted); margin: 0 0 4px; text-transform: uppercase; letter-spacing: .03em; }
.tile output { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
.tile small { color: var(--muted); }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin-top: 12px; }
.panel h2 { font-size: 14px; margin: 0 0 8px; }
.legend { font-weight: normal; color: var(--muted); font-size: 12px; margin-left: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; vertical-align: -1px; }
i.peers { background: var(--peers); } i.origin { background: var(--origin); } i.upload { background: var(--upload); }
#chart { width: 100%; height: 240px; display: block; }
#chart .grid { stroke: var(--line); stroke-width: 1; }
#chart text { fill: var(--muted); font-size: 11px; }
#chart .peers { fill: var(--peers); opacity: .85; } #chart .origin { fill: var(--origin); opacity: .85; }
#chart .upload { fill: none; stroke: var(--upload); stroke-width: 2; stroke-dasharray: 5 3; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 320px; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.num { text-align: right; }
th.bar, td.bar { width: 32%; }
td.bar svg { width: 100%; height: 12px; display: block; }
th.spark, td.spark { width: 130px; }
td.spark svg { width: 120px; height: 20px; display: block; }
.spark .peers { fill: var(--peers); } .spark .origin { fill: var(--origin); }
.bar .peers { fill: var(--peers); } .bar .origin { fill: var(--origin); } .bar .rest { fill: #e9ecef; }
.state { font-size: 12px; padding: 1px 6px; border-radius: 8px; background: #eef; }
.state[data-state="transferring"] { background: #d8f3dc; } .state[data-state="error"], .state[data-state="transient-error"] { background: #ffe5d9; }
.columns { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 12px; }
.columns table { table-layout: fixed; }
.mono { font-family: ui-monospace, monospace; font-size: 12px; }
.more, .foot { color: var(--muted); font-size: 12px; }
`
