/** `sendwatch report`, spawned as a user runs it; the HTML report opened in headless Chromium. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { ReportAggregator } from '../../src/report/aggregate.js';
import { reportToHtml } from '../../src/report/html.js';
import { sparkline } from '../../src/report/render.js';
import type { Submission } from '../../src/core/types.js';

const PF = join('fixtures', 'scenarios', 'postfix-compromised');
const KERIO = join('fixtures', 'scenarios', 'kerio-compromised');
const tmp = mkdtempSync(join(tmpdir(), 'sendwatch-report-'));

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

/** Runs headless Chromium with no network, extensions or first-run work; returns its stdout. */
export function chromium(args: readonly string[]): { stdout: string; status: number | null } {
  if (!CHROMIUM) throw new Error('no chromium');
  const profile = mkdtempSync(join(tmpdir(), 'sendwatch-chromium-'));
  const r = spawnSync(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-first-run', '--disable-extensions', '--disable-dev-shm-usage', `--user-data-dir=${profile}`, ...args,
  ], { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 * 1024 * 1024 });
  return { stdout: r.stdout, status: r.status };
}

const sub = (account: string, at: string, rcpts: string[], ip: string): Submission => ({
  kind: 'submission', at: Date.parse(at), account, login: account, recipients: rcpts, recipientCount: rcpts.length, clientIp: ip, evidence: [],
});

describe('report: aggregation', () => {
  it('counts messages, internal/external recipients, clients, busiest hour and hour-of-day activity', () => {
    const agg = new ReportAggregator({ timezone: 'Europe/Berlin', internalDomains: [] });
    agg.onRecord(sub('a@x.edu', '2026-11-17T02:05:00Z', ['b@x.edu', 'z@spam.example'], '198.51.100.7'));
    agg.onRecord(sub('a@x.edu', '2026-11-17T02:35:00Z', ['y@spam.example'], '198.51.100.8'));
    agg.onRecord(sub('a@x.edu', '2026-11-17T09:00:00Z', ['c@x.edu'], '198.51.100.7'));
    agg.onRecord(sub('b@x.edu', '2026-11-17T09:00:00Z', ['q@elsewhere.example'], '10.0.0.1'));
    agg.onRecord({ kind: 'delivery', at: Date.parse('2026-11-17T02:06:00Z'), account: 'a@x.edu', recipient: 'z@spam.example', status: 'bounced', evidence: [] });
    agg.onRecord({ kind: 'delivery', at: Date.parse('2026-11-17T02:06:00Z'), account: 'a@x.edu', recipient: 'y@spam.example', status: 'deferred', evidence: [] });
    agg.onRecord({ kind: 'auth-failure', at: Date.parse('2026-11-17T01:00:00Z'), account: 'a@x.edu', evidence: [] });
    const rep = agg.finish(0);
    assert.deepEqual(rep.rows.map((r) => r.account), ['a@x.edu', 'b@x.edu']);
    const a = rep.rows[0];
    assert.ok(a);
    assert.equal(a.messages, 3);
    assert.equal(a.recipients, 4);
    assert.equal(a.internal, 2);
    assert.equal(a.external, 2);
    assert.equal(a.clients, 2);
    assert.equal(a.bounces, 1, 'a deferral is not a bounce');
    assert.equal(a.authFailures, 1);
    assert.equal(a.busiestHourMessages, 2);
    assert.equal(new Date(a.busiestHour).toISOString(), '2026-11-17T02:00:00.000Z', '03:00 in Berlin');
    assert.equal(a.hourly[3], 2);
    assert.equal(a.hourly[10], 1);
    assert.equal(rep.totals.messages, 4);
    assert.equal(rep.totals.clients, 3);
    assert.equal(agg.finish(1).rows.length, 1);
  });

  it('sparklines scale to the busiest hour and leave idle hours blank', () => {
    assert.equal(sparkline([0, 1, 2, 4, 8, 0]), ' ▁▂▄█ ');
    assert.equal(sparkline([0, 0]), '  ');
  });

  it('escapes hostile account names in HTML', () => {
    const agg = new ReportAggregator({ timezone: 'UTC', internalDomains: [] });
    agg.onRecord(sub('<img src=x onerror=alert(1)>@x', '2026-11-17T02:05:00Z', ['a@b'], '198.51.100.7'));
    const html = reportToHtml(agg.finish(0), { generator: 'test', inputs: ['"><script>alert(1)</script>'] });
    assert.ok(!html.includes('<img src=x'));
    assert.ok(!html.includes('<script>alert(1)'));
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;@x'));
  });
});

describe('sendwatch report (built binary)', () => {
  it('text: the hijacked account first, with its 3 a.m. burst in the sparkline and a totals line', async () => {
    const r = await runCli(['report', '--config', join(PF, 'config.json'), join(PF, 'input.log')]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[0] ?? '', /^Authenticated sending per account, 2026-11-17 \d\d:\d\d to 2026-11-17 \d\d:\d\d \(Europe\/Berlin/);
    const header = lines.find((l) => l.startsWith('account')) ?? '';
    for (const h of ['msgs', 'rcpts', 'int', 'ext', 'clients', 'countries', 'bounces', 'busiest hour']) assert.ok(header.includes(h), h);
    const frank = lines.find((l) => l.startsWith('frank@example.edu')) ?? '';
    assert.equal(lines.indexOf(frank), lines.indexOf(header) + 1, 'busiest account first');
    assert.match(frank, /2026-11-17 02:00 \(\d+\)/);
    const spark = frank.slice(header.indexOf('0     6'));
    assert.equal(spark[2], '█', `burst at 02:00 local: ${JSON.stringify(spark)}`);
    assert.ok(lines.some((l) => /^total \(6 accounts\)\s+154\s/.test(l)), r.stdout);
    assert.ok(!r.stdout.includes('\u001b['), 'no colour in a pipe');
  });

  it('--top, ndjson with a total line, tsv with fixed columns', async () => {
    const nd = await runCli(['report', '--top', '2', '--output', 'ndjson', join(KERIO, 'input.log')]);
    assert.equal(nd.code, 0, nd.stderr);
    const rows = nd.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((x) => x.type), ['account', 'account', 'total']);
    assert.equal(rows[0]?.account, 'eve@example.com');
    assert.equal((rows[0]?.hourly as number[]).length, 24);
    assert.equal(rows[2]?.shown, 2);
    // Countries come from the countries rule's offline database (a chunk of its own in the bundle).
    const pf = await runCli(['report', '--output', 'ndjson', '--config', join(PF, 'config.json'), join(PF, 'input.log')]);
    const frank = JSON.parse(pf.stdout.split('\n')[0] ?? '{}') as { account: string; countries: string[] | null };
    assert.equal(frank.account, 'frank@example.edu');
    assert.ok(frank.countries && frank.countries.length > 0 && frank.countries.every((c) => /^[A-Z]{2}$/.test(c)), JSON.stringify(frank.countries));
    const tsv = await runCli(['report', '--output', 'tsv', join(KERIO, 'input.log')]);
    for (const l of tsv.stdout.trimEnd().split('\n')) assert.equal(l.split('\t').length, 14, l);
  });

  it('usage errors exit 2', async () => {
    assert.equal((await runCli(['report', '--top', 'x', join(KERIO, 'input.log')])).code, 2);
    assert.equal((await runCli(['report', '--output', 'pdf', join(KERIO, 'input.log')])).code, 2);
    const missing = await runCli(['report', join(tmp, 'nope.log')]);
    assert.equal(missing.code, 3);
  });

  it('html: one self-contained file that Chromium renders with a sortable table and per-account charts', async (t) => {
    const r = await runCli(['report', '--output', 'html', '--config', join(PF, 'config.json'), join(PF, 'input.log')]);
    assert.equal(r.code, 0, r.stderr);
    const html = r.stdout;
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    assert.ok(!/\s(?:src|href)=["']?(?:https?:)?\/\//i.test(html), 'no network references');
    const file = join(tmp, 'report.html');
    writeFileSync(file, html);
    if (!CHROMIUM) {
      t.skip('chromium is not installed (apt-get install chromium); .ci/run installs it in CI');
      return;
    }
    // Sorted by the page's script on load: by external recipients, ascending, from the address.
    const dom = chromium(['--dump-dom', `file://${file}#sort=external:asc`]);
    assert.equal(dom.status, 0);
    assert.match(dom.stdout, /<table id="accounts" data-sorted="external:asc">/, 'the script ran');
    const accounts = [...dom.stdout.matchAll(/<td class="account" data-v="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(accounts.length, 6);
    assert.equal(accounts[accounts.length - 1], 'frank@example.edu', 'most external recipients last when ascending');
    assert.match(dom.stdout, /<th [^>]*data-key="external"[^>]*aria-sort="ascending"/);
    const bars = [...dom.stdout.matchAll(/<rect class="bar (on|off)"[^>]*data-hour="(\d+)" data-count="(\d+)"/g)];
    assert.equal(bars.length, 7 * 24, 'a 24-bar chart per account and for the total');
    assert.ok(bars.some((b) => b[1] === 'off' && b[2] === '2' && Number(b[3]) > 100), 'the 02:00 burst is drawn, outside office hours');
    // And drawn: a screenshot whose chart area has the red of off-hours bars.
    const png = join(tmp, 'report.png');
    const shot = chromium(['--window-size=1400,700', `--screenshot=${png}`, `file://${file}`]);
    assert.equal(shot.status, 0);
    const bytes = readFileSync(png);
    assert.equal(bytes.subarray(1, 4).toString('latin1'), 'PNG');
    assert.ok(bytes.length > 20_000, 'a rendered page, not a blank one');
  });
});
