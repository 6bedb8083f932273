/**
 * The per-account report as one self-contained HTML file, for an incident ticket:
 * inline style, inline script, inline SVG charts, and a Content-Security-Policy that
 * forbids every fetch, so opening it never touches the network. The table sorts by any
 * column (click a header; `#sort=recipients` or `#sort=account:asc` in the address
 * sorts on load). Every text from the log is escaped.
 */
import { sanitize } from '../core/sanitize.js';
import type { AccountRow, Report } from './aggregate.js';
import { clientsText, countriesText, localHour, localMinute } from './render.js';

export function escapeHtml(s: string): string {
  return sanitize(s).replace(/[&<>"']/g, (ch) => (ch === '&' ? '&amp;' : ch === '<' ? '&lt;' : ch === '>' ? '&gt;' : ch === '"' ? '&quot;' : '&#39;'));
}

export interface HtmlOptions {
  readonly title?: string;
  readonly generator: string;
  readonly inputs: readonly string[];
  /** Local office hours [start, end): the chart shades the hours outside. */
  readonly officeHours?: { readonly start: number; readonly end: number } | undefined;
}

function offHours(h: number, oh: { start: number; end: number } | undefined): boolean {
  if (!oh) return false;
  return oh.start <= oh.end ? h < oh.start || h >= oh.end : h < oh.start && h >= oh.end;
}

/** 24 bars, one per hour of the day; hours outside office hours drawn in red. */
export function hourChart(hourly: readonly number[], oh: HtmlOptions['officeHours'], label: string): string {
  const w = 6;
  const gap = 1;
  const height = 28;
  const max = Math.max(1, ...hourly);
  const bars = hourly.map((n, h) => {
    const bh = n > 0 ? Math.max(1.5, (n / max) * height) : 0;
    const x = h * (w + gap);
    const cls = offHours(h, oh) ? 'off' : 'on';
    return `<rect class="bar ${cls}" x="${x}" y="${(height - bh).toFixed(1)}" width="${w}" height="${bh.toFixed(1)}" data-hour="${h}" data-count="${n}"><title>${String(h).padStart(2, '0')}:00-${String(h + 1).padStart(2, '0')}:00: ${n} message${n === 1 ? '' : 's'}</title></rect>`;
  }).join('');
  const width = 24 * (w + gap) - gap;
  return `<svg class="chart" role="img" aria-label="${escapeHtml(label)}" width="${width}" height="${height + 9}" viewBox="0 0 ${width} ${height + 9}">`
    + `<line class="axis" x1="0" y1="${height + 0.5}" x2="${width}" y2="${height + 0.5}"/>${bars}`
    + [0, 6, 12, 18].map((h) => `<text x="${h * (w + gap)}" y="${height + 8}">${h}</text>`).join('')
    + '</svg>';
}

const COLUMNS: readonly { key: string; label: string; num: boolean; title: string }[] = [
  { key: 'account', label: 'account', num: false, title: 'authenticated login' },
  { key: 'messages', label: 'messages', num: true, title: 'messages submitted' },
  { key: 'recipients', label: 'recipients', num: true, title: 'recipients of those messages' },
  { key: 'internal', label: 'internal', num: true, title: 'recipients in an internal domain' },
  { key: 'external', label: 'external', num: true, title: 'recipients elsewhere' },
  { key: 'clients', label: 'client addresses', num: true, title: 'distinct client IP addresses' },
  { key: 'countries', label: 'countries', num: false, title: 'countries of the client addresses, where known' },
  { key: 'bounces', label: 'bounces', num: true, title: 'recipients bounced, failed or expired' },
  { key: 'authfail', label: 'failed logins', num: true, title: 'failed logins of this account' },
  { key: 'busiest', label: 'busiest hour', num: true, title: 'the clock hour with the most messages' },
  { key: 'activity', label: 'activity by hour of day', num: false, title: 'messages per hour of the day' },
];

function row(r: AccountRow, rep: Report, o: HtmlOptions): string {
  const tz = rep.timezone;
  const cells: [string, string | number, string][] = [
    ['account', r.account, `<span class="acct">${escapeHtml(r.account)}</span>`],
    ['messages', r.messages, String(r.messages)],
    ['recipients', r.recipients, String(r.recipients)],
    ['internal', r.internal, String(r.internal)],
    ['external', r.external, String(r.external)],
    ['clients', r.clients, `<span title="${escapeHtml(r.topClients.join(', '))}">${escapeHtml(clientsText(r))}</span>`],
    ['countries', countriesText(r), escapeHtml(countriesText(r))],
    ['bounces', r.bounces, String(r.bounces)],
    ['authfail', r.authFailures, String(r.authFailures)],
    ['busiest', r.busiestHourMessages, `${escapeHtml(localHour(r.busiestHour, tz))} <span class="n">(${r.busiestHourMessages})</span>`],
    ['activity', r.messages, hourChart(r.hourly, o.officeHours, `${r.account}: messages per hour of the day`)],
  ];
  return `<tr>${cells.map(([k, v, html]) => `<td class="${k}" data-v="${escapeHtml(String(v))}">${html}</td>`).join('')}</tr>`;
}

const STYLE = `
:root { color-scheme: light; --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --head: #f3f5f8; --on: #3b6fd4; --off: #d2413a; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 24px; }
h1 { font-size: 20px; margin: 0 0 4px; }
p.meta { color: var(--muted); margin: 0 0 16px; }
table { border-collapse: collapse; width: auto; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 10px; text-align: right; white-space: nowrap; vertical-align: middle; }
th { background: var(--head); cursor: pointer; user-select: none; position: sticky; top: 0; font-weight: 600; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
td.account, th.account, td.countries, td.activity, th.activity { text-align: left; }
td.account { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
tfoot td { font-weight: 600; border-top: 2px solid var(--fg); }
span.n { color: var(--muted); }
svg.chart rect.on { fill: var(--on); }
svg.chart rect.off { fill: var(--off); }
svg.chart line.axis { stroke: var(--line); }
svg.chart text { font: 7px system-ui, sans-serif; fill: var(--muted); }
.legend { color: var(--muted); margin-top: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; vertical-align: -1px; }
`;

/** Sorts the table by a column; numbers descending first, text ascending first. */
const SCRIPT = `
(function () {
  var table = document.getElementById('accounts');
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  function sortBy(key, dir) {
    var idx = -1, num = false;
    for (var i = 0; i < heads.length; i++) {
      if (heads[i].dataset.key === key) { idx = i; num = heads[i].dataset.num === '1'; }
      heads[i].removeAttribute('aria-sort');
    }
    if (idx < 0) return;
    if (!dir) dir = num ? 'desc' : 'asc';
    heads[idx].setAttribute('aria-sort', dir === 'asc' ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[idx].dataset.v, y = b.cells[idx].dataset.v;
      var c = num ? Number(x) - Number(y) : x.localeCompare(y);
      if (dir !== 'asc') c = -c;
      return c !== 0 ? c : a.cells[0].dataset.v.localeCompare(b.cells[0].dataset.v);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    table.dataset.sorted = key + ':' + dir;
  }
  for (var i = 0; i < heads.length; i++) {
    heads[i].addEventListener('click', function (e) {
      var th = e.currentTarget;
      var cur = th.getAttribute('aria-sort');
      var dir = cur ? (cur === 'ascending' ? 'desc' : 'asc') : undefined;
      sortBy(th.dataset.key, dir);
    });
  }
  var m = /[#&]sort=([a-z]+)(?::(asc|desc))?/.exec(location.hash);
  sortBy(m ? m[1] : 'messages', m ? m[2] : 'desc');
})();
`;

/** The whole report as one HTML document. */
export function reportToHtml(rep: Report, o: HtmlOptions): string {
  const tz = rep.timezone;
  const t = rep.totals;
  const title = o.title ?? 'sendwatch: authenticated sending per account';
  const period = t.firstAt !== undefined && t.lastAt !== undefined
    ? `${localMinute(t.firstAt, tz)} to ${localMinute(t.lastAt, tz)} (${tz})`
    : 'no authenticated sending in the input';
  const shown = rep.rows.length < t.accounts ? `top ${rep.rows.length} of ${t.accounts} accounts` : `${t.accounts} account${t.accounts === 1 ? '' : 's'}`;
  const head = COLUMNS.map((c) => `<th class="${c.key}" data-key="${c.key}" data-num="${c.num ? '1' : '0'}" title="${escapeHtml(c.title)}" scope="col">${escapeHtml(c.label)}</th>`).join('');
  const foot = [
    `total (${t.accounts} account${t.accounts === 1 ? '' : 's'})`, t.messages, t.recipients, t.internal, t.external, t.clients, '', t.bounces, t.authFailures, '',
  ].map((v, i) => `<td class="${COLUMNS[i]?.key ?? ''}">${escapeHtml(String(v))}</td>`).join('')
    + `<td class="activity">${hourChart(t.hourly, o.officeHours, 'all accounts: messages per hour of the day')}</td>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${escapeHtml(o.generator)}">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${escapeHtml(period)}: ${escapeHtml(shown)}, from ${o.inputs.map((i) => `<code>${escapeHtml(i)}</code>`).join(', ')}. Recipients in ${rep.internalDomains.length ? rep.internalDomains.map(escapeHtml).join(', ') : 'no known domain'} count as internal.${rep.countriesKnown ? '' : ' No country database was configured.'}</p>
<table id="accounts">
<thead><tr>${head}</tr></thead>
<tbody>
${rep.rows.map((r) => row(r, rep, o)).join('\n')}
</tbody>
<tfoot><tr>${foot}</tr></tfoot>
</table>
<p class="legend">Activity: messages per hour of the day in ${escapeHtml(tz)}, scaled per account.<i style="background:#3b6fd4"></i>office hours<i style="background:#d2413a"></i>outside office hours. Click a column heading to sort.</p>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
