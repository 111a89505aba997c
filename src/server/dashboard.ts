/**
 * The single-file fallback page, served only when the package's `web/` is
 * missing: the runs × tasks grid, refreshed every two seconds from `/api/overview`.
 */
export const dashboardHtml = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>autoctrl</title>
<style>
body{font:13px system-ui,sans-serif;margin:1rem;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ddd;padding:2px 6px;text-align:center}
th{background:#f4f4f4;position:sticky;top:0}
.new{background:#eee}.waiting{background:#fde68a}.processing{background:#93c5fd}
.done{background:#86efac}.failed{background:#fca5a5}
#health{color:#555;margin-bottom:.5rem}
</style></head><body>
<h1>autoctrl: processing overview</h1><div id="health"></div>
<table><thead id="head"></thead><tbody id="body"></tbody></table>
<script type="module">
const letter = { new: 'N', waiting: 'W', processing: 'P', done: 'D', failed: 'F' };
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => '&#' + c.charCodeAt(0) + ';');
const cell = (s) => s ? '<td class="' + esc(s) + '" title="' + esc(s) + '">' + letter[s] + '</td>' : '<td></td>';
async function refresh() {
  const [{ tasks }, { rows }, health] = await Promise.all(
    ['/api/tasks', '/api/overview?limit=100', '/api/health'].map((u) => fetch(u).then((r) => r.json())));
  document.getElementById('health').textContent = JSON.stringify(health);
  document.getElementById('head').innerHTML = '<tr><th>run</th><th>fill</th><th>end</th><th>lumi /pb</th><th>status</th>' +
    tasks.map((t) => '<th>' + esc(t.name) + '</th>').join('') + '</tr>';
  document.getElementById('body').innerHTML = rows.map((r) => '<tr><td>' + r.run + '</td><td>' + esc(r.fill) +
    '</td><td>' + esc(r.end ? r.end.slice(0, 19).replace('T', ' ') : 'running') + '</td><td>' +
    esc(r.lumi == null ? '' : r.lumi.toFixed(1)) + '</td>' + cell(r.status) +
    tasks.map((t) => cell(r.tasks[t.name]?.status)).join('') + '</tr>').join('');
}
refresh(); setInterval(refresh, 2000);
</script></body></html>`;
