/**
 * The live dashboard: one page with inline CSS and its script at `/dashboard/app.js`, no external assets
 * (it works offline, and the CSP runs no inline script). Figures come from `/dashboard/data` every few seconds and are written with
 * `textContent`, never as HTML: team, repo and model names are untrusted. The insights section is
 * HTML rendered and escaped by the server (`/dashboard/insights`).
 */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cascade dashboard</title>
<style>
  :root { --fg: #1f2933; --muted: #616e7c; --line: #e4e7eb; --ok: #2f8132; --warn: #b44d12; --bad: #ab091e; --bar: #3e7bfa; --bar2: #9aa5b1; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #f5f7fa; }
  header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; }
  header .muted { color: var(--muted); }
  .badge { padding: 2px 10px; border-radius: 10px; font-weight: 600; font-size: 12px; }
  .badge.running { background: #e3f9e5; color: var(--ok); } .badge.paused, .badge.held { background: #ffe8d9; color: var(--warn); }
  main { padding: 16px 24px; display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 14px; margin: 0 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 12px; }
  .card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
  .card .value { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; }
  .card .label { color: var(--muted); font-size: 12px; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); }
  td.num, th.num { text-align: right; }
  .bar { height: 10px; background: var(--bar); border-radius: 2px; min-width: 1px; }
  .bar.strong { background: var(--bar2); }
  .empty { color: var(--muted); }
  .error { color: var(--bad); }
  code { font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>Cascade</h1>
  <span class="badge running" id="submission-state" data-testid="submission-state">…</span>
  <span class="muted" id="submission-message"></span>
  <span class="muted" style="margin-left:auto">updated <span id="updated-at" data-testid="updated-at">never</span></span>
</header>
<main>
  <section class="wide">
    <h2>Requests</h2>
    <div class="cards">
      <div class="card"><div class="value" data-testid="ingested">–</div><div class="label">ingested</div></div>
      <div class="card"><div class="value" data-testid="succeeded">–</div><div class="label">analysed</div></div>
      <div class="card"><div class="value" data-testid="in-flight">–</div><div class="label">in flight</div></div>
      <div class="card"><div class="value" data-testid="excluded">–</div><div class="label">excluded (never sent)</div></div>
      <div class="card"><div class="value" data-testid="failed">–</div><div class="label">permanent failures</div></div>
      <div class="card"><div class="value" data-testid="recovered">–</div><div class="label">recovered by later passes</div></div>
      <div class="card"><div class="value" data-testid="lost">–</div><div class="label">lost / stranded / stuck</div></div>
    </div>
  </section>
  <section>
    <h2>Cost so far</h2>
    <div class="cards">
      <div class="card"><div class="value" data-testid="cost">–</div><div class="label">Cascade, billed (all passes)</div></div>
      <div class="card"><div class="value" data-testid="cost-answered">–</div><div class="label">answered</div></div>
      <div class="card"><div class="value" data-testid="cost-failed-attempts">–</div><div class="label">failed attempts</div></div>
      <div class="card"><div class="value" data-testid="cost-estimated">–</div><div class="label" id="estimated-label">estimated (failed lines without usage: prompt only)</div></div>
      <div class="card"><div class="value" data-testid="always-strong-cost">–</div><div class="label" id="strong-label">always the strong model, billed</div></div>
      <div class="card"><div class="value" data-testid="cost-ratio">–</div><div class="label">of always-strong</div></div>
    </div>
    <div style="margin-top:10px"><div class="bar" id="cost-bar"></div><div class="bar strong" id="strong-bar" style="margin-top:4px;width:100%"></div></div>
  </section>
  <section>
    <h2>Consumer lag</h2>
    <table><thead><tr><th>service</th><th>group</th><th class="num">lag</th></tr></thead><tbody id="lag" data-testid="lag"></tbody></table>
  </section>
  <section>
    <h2>Requests by stage</h2>
    <table><thead><tr><th>status</th><th>stage</th><th class="num">requests</th><th style="width:40%"></th></tr></thead><tbody id="stages" data-testid="stages"></tbody></table>
  </section>
  <section>
    <h2>Batches in flight</h2>
    <table><thead><tr><th>batch</th><th class="num">pass</th><th>model</th><th>state</th><th class="num">requests</th><th class="num">age</th></tr></thead><tbody id="batches" data-testid="batches"></tbody></table>
  </section>
  <section>
    <h2>Pass-1 failures by code</h2>
    <table><thead><tr><th>code</th><th class="num">count</th><th style="width:40%"></th></tr></thead><tbody id="pass-one" data-testid="pass-one-failures"></tbody></table>
  </section>
  <section>
    <h2>Permanent failures by code</h2>
    <table><thead><tr><th>code</th><th class="num">count</th><th>example</th></tr></thead><tbody id="permanent" data-testid="permanent-failures"></tbody></table>
  </section>
  <section class="wide">
    <h2>Team insights</h2>
    <div id="insights" data-testid="insights"><span class="empty">loading…</span></div>
  </section>
</main>
<script src="/dashboard/app.js"></script>
</body>
</html>
`;

/** The dashboard's script, served from the same origin so the page's CSP needs no `'unsafe-inline'` for scripts. */
export const DASHBOARD_SCRIPT = `(function () {
  // Off loopback the data routes need a read token: /dashboard#token=… (a fragment never reaches a server or its logs).
  var token = new URLSearchParams(location.hash.slice(1)).get('token');
  var auth = token ? { headers: { authorization: 'Bearer ' + token } } : {};
  var $ = function (id) { return document.getElementById(id); };
  var byTestId = function (id) { return document.querySelector('[data-testid="' + id + '"]'); };
  var usd = function (v) { return '$' + Number(v).toFixed(4); };
  var pct = function (v) { return (v * 100).toFixed(1) + ' %'; };
  function cell(text, className) { var td = document.createElement('td'); td.textContent = String(text); if (className) td.className = className; return td; }
  function barCell(value, max) {
    var td = document.createElement('td'); var bar = document.createElement('div'); bar.className = 'bar';
    bar.style.width = (max > 0 ? Math.max(1, Math.round(100 * value / max)) : 0) + '%'; td.appendChild(bar); return td;
  }
  function fill(tbody, rows, render, emptyText, columns) {
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    if (rows.length === 0) { var tr = document.createElement('tr'); var td = cell(emptyText, 'empty'); td.colSpan = columns; tr.appendChild(td); tbody.appendChild(tr); return; }
    rows.forEach(function (row) { var tr = document.createElement('tr'); render(row).forEach(function (td) { tr.appendChild(td); }); tbody.appendChild(tr); });
  }
  function render(d) {
    var r = d.run.reconcile;
    byTestId('ingested').textContent = r.ingested;
    byTestId('succeeded').textContent = r.succeeded;
    byTestId('in-flight').textContent = r.inFlight;
    byTestId('excluded').textContent = r.excluded;
    byTestId('failed').textContent = r.failed;
    byTestId('recovered').textContent = d.run.recoveredByLaterPasses;
    byTestId('lost').textContent = r.lost.length + ' / ' + r.stranded + ' / ' + r.stuck;
    byTestId('cost').textContent = usd(d.run.costUsd);
    byTestId('cost-answered').textContent = usd(d.run.cost.answeredUsd);
    byTestId('cost-failed-attempts').textContent = usd(d.run.cost.failedAttemptsUsd);
    byTestId('cost-estimated').textContent = usd(d.run.cost.estimatedUsd);
    $('estimated-label').textContent = 'estimated: ' + d.run.cost.estimatedLines + ' failed lines without usage (prompt only)';
    byTestId('always-strong-cost').textContent = usd(d.run.alwaysStrongCostUsd);
    var ratio = d.run.alwaysStrongCostUsd > 0 ? d.run.costUsd / d.run.alwaysStrongCostUsd : 0;
    byTestId('cost-ratio').textContent = pct(ratio);
    $('strong-label').textContent = 'always ' + d.run.strongModel + ', billed on the same basis';
    $('cost-bar').style.width = Math.max(1, Math.round(ratio * 100)) + '%';
    var state = $('submission-state'); state.textContent = d.submission.state; state.className = 'badge ' + d.submission.state;
    $('submission-message').textContent = d.submission.state === 'running' ? '' : d.submission.message;
    var maxStage = d.requestsByStage.reduce(function (m, s) { return Math.max(m, s.count); }, 0);
    fill($('stages'), d.requestsByStage, function (s) { return [cell(s.status), cell(s.stage), cell(s.count, 'num'), barCell(s.count, maxStage)]; }, 'no requests yet', 4);
    fill($('batches'), d.batchesInFlight, function (b) {
      return [cell(b.batchId.slice(0, 8)), cell(b.pass, 'num'), cell(b.model), cell(b.providerStatus || b.state), cell(b.requests, 'num'), cell(b.ageSeconds + ' s', 'num')];
    }, 'none', 6);
    var maxFail = d.run.passOneFailures.reduce(function (m, f) { return Math.max(m, f.count); }, 0);
    fill($('pass-one'), d.run.passOneFailures, function (f) { return [cell(f.code), cell(f.count, 'num'), barCell(f.count, maxFail)]; }, 'none', 3);
    fill($('permanent'), d.run.permanentFailures, function (f) { return [cell(f.code), cell(f.count, 'num'), cell(f.example || '')]; }, 'none', 3);
    fill($('lag'), d.lag, function (g) { return [cell(g.service), cell(g.groupId), cell(g.lag === null ? 'unavailable' : g.lag, 'num')]; }, 'no groups', 3);
    byTestId('updated-at').textContent = new Date(d.at).toLocaleTimeString();
  }
  function refresh() {
    fetch(location.pathname.replace(/\\/?$/, '/data'), auth)
      .then(function (res) { if (!res.ok) throw new Error('HTTP ' + res.status); return res.json(); })
      .then(render)
      .catch(function (e) { byTestId('updated-at').textContent = 'error: ' + e.message; });
  }
  function refreshInsights() {
    fetch(location.pathname.replace(/\\/?$/, '/insights'), auth)
      .then(function (res) { if (!res.ok) throw new Error('HTTP ' + res.status); return res.text(); })
      .then(function (html) { $('insights').innerHTML = html; })
      .catch(function (e) { $('insights').textContent = 'insights unavailable: ' + e.message; });
  }
  refresh(); refreshInsights();
  setInterval(refresh, 3000); setInterval(refreshInsights, 30000);
})();
`;

/**
 * The page's policy: its own script only; inline styles stay (the page and the insights fragment carry
 * them, and a style cannot run code); it talks only to its own origin and is never framed.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
