/**
 * countries. Most cases use a database written here (test/helpers/mmdb.ts), so the
 * answers do not move with the shipped data; one case reads the shipped database.
 * Alice is first seen on day 0 (T0, a Wednesday); the warm-up is 7 days.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding, MailRecord } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { RuntimeError, UsageError } from '../../src/core/errors.js';
import { rules } from '../../src/rules/index.js';
import { canonicalAddress, isSpecialUse, networkOf } from '../../src/rules/client-address.js';
import { countryLookup } from '../../src/rules/geo.js';
import { heldBy } from '../../src/rules/rule-support.js';
import { decodeProfile } from '../../src/rules/countries.js';
import { authSuccess, HOUR, ruleTester, runRule, submission, T0, type ExpectedFinding } from '../helpers/records.js';
import { buildMmdb } from '../helpers/mmdb.js';
import { ROOT } from '../helpers/paths.js';
import { aliveWith, assertOnlyRowChanged, brief, inRuns, runSplit as splitRun, slicedFromLine, withRowText } from './harness.js';

const RULE = 'countries';
const DAY = 24 * HOUR;
const BOB = 'bob@example.edu';

const IP = {
  DE: '185.220.101.34', DE2: '2a02:8109::1', US: '8.8.8.8', GB: '81.2.69.142', RU: '5.255.255.5', NG: '41.58.0.1', NL: '193.0.6.139',
} as const;

const dir = mkdtempSync(join(tmpdir(), 'sendwatch-countries-'));
/** ip-location-db's shape; the documentation and private ranges have a country in it, as in the shipped data. */
const DB = join(dir, 'flat.mmdb');
writeFileSync(DB, buildMmdb({
  '185.220.101.0/24': { country_code: 'DE' }, '2a02:8109::/32': { country_code: 'DE' }, '8.8.8.0/24': { country_code: 'US' },
  '81.2.69.0/24': { country_code: 'GB' }, '5.255.255.0/24': { country_code: 'RU' }, '41.58.0.0/16': { country_code: 'NG' },
  '193.0.6.0/24': { country_code: 'NL' }, '198.51.100.0/24': { country_code: 'AU' }, '10.0.0.0/8': { country_code: 'XX' },
  '2001:db8::/32': { country_code: 'JP' },
}));
/** GeoLite2-Country's shape: `country.iso_code`, and `registered_country` alone for some networks. */
const GEOLITE = join(dir, 'GeoLite2-Country.mmdb');
writeFileSync(GEOLITE, buildMmdb({
  '81.2.69.0/24': { country: { iso_code: 'GB', geoname_id: 2635167 }, registered_country: { iso_code: 'GB' } },
  '8.8.8.0/24': { registered_country: { iso_code: 'US' } },
}, 'GeoLite2-Country'));
const NOT_MMDB = join(dir, 'not.mmdb');
writeFileSync(NOT_MMDB, 'this is not a database\n');

const cfg = (options: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ ...extra, rules: { [RULE]: { database: DB, ...options } } });

/** Day `d` (from T0) at `h` hours past 10:00 UTC. */
const at = (d: number, h = 0): number => T0 + d * DAY + h * HOUR;
const from = (ip: string | undefined, when: number, over: Parameters<typeof submission>[0] = {}) => submission({ ...over, clientIp: ip, at: when });
/** Alice at home (DE) on days 0..n-1: her history. */
const homeDays = (n: number, account?: string): MailRecord[] =>
  Array.from({ length: n }, (_, d) => from(IP.DE, at(d), account ? { account } : {}));

const travel = (countries: string, severity: 'warning' | 'critical', more: Partial<ExpectedFinding> = {}): ExpectedFinding => ({
  severity, ...more, data: { countries, country_count: countries.split(',').length, new_country: 'no', ...more.data },
});

ruleTester(RULE, {
  valid: [
    { name: 'private, loopback and ULA addresses have no country', config: cfg(), records: ['10.1.2.3', '192.168.1.5', '127.0.0.1', 'fd00::25', 'fe80::1', '100.64.1.1'].map((ip, i) => from(ip, at(0, i * 0.1))) },
    { name: 'documentation ranges have none, though the database gives them one', config: cfg(), records: [from(IP.DE, at(0)), from('198.51.100.9', at(0, 0.5)), from('2001:db8::1', at(0, 0.6)), from('::ffff:198.51.100.9', at(0, 0.7))] },
    { name: 'no client address, and webmail 0.0.0.0', config: cfg(), records: [from(IP.US, at(0)), from(undefined, at(0, 0.1)), from('0.0.0.0', at(0, 0.2)), from(IP.DE, at(0, 5))] },
    { name: 'one country from IPv4 and IPv6, all day', config: cfg(), records: [from(IP.DE, at(0)), from(IP.DE2, at(0, 1)), from('::ffff:185.220.101.7', at(0, 2))] },
    { name: 'two countries further apart than 4 h, during the warm-up', config: cfg(), records: [from(IP.DE, at(0)), from(IP.US, at(0, 4 + 1 / 60))] },
    { name: 'windowHours: 1, two countries 2 h apart', config: cfg({ windowHours: 1 }), records: [from(IP.DE, at(0)), from(IP.US, at(0, 2))] },
    { name: 'a country used in the warm-up is known after it', config: cfg(), records: [...homeDays(3), from(IP.US, at(3)), ...homeDays(10).slice(4), from(IP.US, at(12))] },
    { name: 'each account has its own travel', config: cfg(), records: [from(IP.DE, at(0)), from(IP.US, at(0, 1), { account: BOB })] },
    { name: 'an account that is exempt', config: cfg({ exempt: ['alice@example.edu'] }), records: [from(IP.DE, at(0)), from(IP.US, at(0, 1))] },
  ],
  invalid: [
    {
      name: 'two countries within 4 h: impossible travel, warning',
      config: cfg(),
      records: [from(IP.DE, at(0)), from(IP.DE, at(0, 0.5)), from(IP.US, at(0, 3))],
      findings: [{ ...travel('DE,US', 'warning'), at: at(0, 3), message: '2 countries within 4 h: DE, US (latest US, 8.8.8.8)', data: { client_ip: IP.US, country: 'US', countries: 'DE,US', country_count: 2, new_country: 'no', service: 'smtpd' } }],
    },
    {
      name: 'three countries: warning, then critical; more of the same adds nothing',
      config: cfg(),
      records: [from(IP.DE, at(0)), from(IP.US, at(0, 1)), from(IP.RU, at(0, 2)), from(IP.NG, at(0, 2.5)), from(IP.US, at(0, 3))],
      findings: [travel('DE,US', 'warning'), travel('DE,US,RU', 'critical', { message: '3 countries within 4 h: DE, US, RU' })],
    },
    {
      name: 'criticalCountries: 2 makes the first pair critical',
      config: cfg({ criticalCountries: 2 }),
      records: [from(IP.DE, at(0)), from(IP.US, at(0, 1))],
      findings: [travel('DE,US', 'critical')],
    },
    {
      name: 'back and forth within the window is one episode',
      config: cfg(),
      records: [from(IP.DE, at(0)), from(IP.US, at(0, 1)), from(IP.DE, at(0, 1.5)), from(IP.US, at(0, 2))],
      findings: [travel('DE,US', 'warning')],
    },
    {
      name: 'once the window holds one country the episode is over, and the next pair is reported again',
      config: cfg(),
      records: [from(IP.DE, at(0)), from(IP.US, at(0, 1)), from(IP.US, at(0, 8)), from(IP.GB, at(0, 9))],
      findings: [travel('DE,US', 'warning'), travel('US,GB', 'warning', { at: at(0, 9) })],
    },
    {
      name: 'IPv6 and IPv4-mapped addresses are located too',
      config: cfg(),
      records: [from(IP.DE2, at(0)), from('::ffff:8.8.8.8', at(0, 1))],
      findings: [travel('DE,US', 'warning', { data: { client_ip: '8.8.8.8' } })],
    },
    {
      name: 'records slightly out of order: the later one first',
      config: cfg(),
      records: [from(IP.US, at(0, 1)), from(IP.DE, at(0))],
      findings: [travel('DE,US', 'warning', { at: at(0) })],
    },
    {
      name: 'logins count: an IMAP login abroad and a message from home',
      config: cfg(),
      records: [authSuccess({ clientIp: IP.NG, at: at(0) }), from(IP.DE, at(0, 2))],
      findings: [travel('NG,DE', 'warning')],
    },
    {
      name: 'after the warm-up, a new country the site does not know: warning',
      config: cfg(),
      records: [...homeDays(8), from(IP.NG, at(8, 6))],
      findings: [{ severity: 'warning', message: 'sent from NG (41.58.0.1), a country not used by this account in 90 days and not usual for the site', data: { country: 'NG', new_country: 'yes', site_usual: 'no', country_count: 1 } }],
    },
    {
      name: 'a new country that other accounts use: info',
      config: cfg(),
      records: [
        ...['bob', 'carol', 'dave'].map((u, i) => from(IP.US, at(0, i), { account: `${u}@example.edu` })),
        ...homeDays(8), from(IP.US, at(8, 6)),
      ],
      findings: [{ severity: 'info', data: { country: 'US', new_country: 'yes', site_usual: 'yes' } }],
    },
    {
      name: 'siteCountries makes a country usual without learning',
      config: cfg({ siteCountries: ['ng'] }),
      records: [...homeDays(8), from(IP.NG, at(8, 6))],
      findings: [{ severity: 'info', data: { country: 'NG', site_usual: 'yes' } }],
    },
    {
      name: 'the history counts records without a country: a LAN-only user abroad after a week',
      config: cfg(),
      records: [from('10.1.2.3', at(0)), from('10.1.2.3', at(3)), from(IP.RU, at(7))],
      findings: [{ severity: 'warning', data: { country: 'RU', new_country: 'yes' } }],
    },
    {
      name: 'warmupDays: 0 reports the first country change at once',
      config: cfg({ warmupDays: 0 }),
      records: [from(IP.DE, at(0)), from(IP.US, at(0, 6))],
      findings: [{ severity: 'warning', data: { country: 'US', new_country: 'yes' } }],
    },
    {
      name: 'a country unused for longer than learnDays is new again',
      config: cfg({ learnDays: 10 }),
      records: [from(IP.US, at(0)), ...homeDays(21).slice(1), from(IP.US, at(21))],
      findings: [{ severity: 'warning', data: { country: 'US', new_country: 'yes' } }],
    },
    {
      name: 'new and travelling at once: one finding, at the higher severity, saying both',
      config: cfg(),
      records: [...homeDays(9), from(IP.NG, at(8, 1)), from(IP.RU, at(8, 2))],
      findings: [
        { severity: 'warning', message: 'sent from NG (41.58.0.1), a country not used by this account in 90 days and not usual for the site; 2 countries within 4 h: DE, NG', data: { new_country: 'yes', countries: 'DE,NG' } },
        { severity: 'critical', data: { country: 'RU', new_country: 'yes', countries: 'DE,NG,RU', country_count: 3 } },
      ],
    },
    {
      name: 'a GeoLite2-shaped database: country.iso_code, else registered_country.iso_code',
      config: cfg({ database: GEOLITE }),
      records: [from(IP.GB, at(0)), from(IP.US, at(0, 1)), from(IP.DE, at(0, 1.5))],
      findings: [travel('GB,US', 'warning')],
    },
    {
      name: 'the shipped database (ip-location-db geo-whois-asn-country)',
      config: { rules: { [RULE]: {} } },
      records: [from(IP.US, at(0)), from(IP.NL, at(0, 1))],
      findings: [travel('US,NL', 'warning')],
    },
  ],
});

/** Findings of one run over `records`, or of two runs with the state carried between them through JSON. */
const runSplit = (config: Record<string, unknown>, records: readonly MailRecord[], split?: number): { findings: Finding[]; state: string } =>
  splitRun(RULE, config, records, split);

type Row = [string, number, string];
interface Section { v: number; latest?: number; latestMs?: number; accounts: unknown[] }

/**
 * A v2 section as the v1 snapshot of the same run had it: every account a tuple, pruned
 * by the section's `latest` and `latestMs` (default learnDays and windowHours).
 */
function asV1(section: Section): Section {
  const accounts = (section.accounts as Row[]).map(([account, stamp, text]) => {
    const saved = decodeProfile(text, stamp);
    assert.ok(saved, text);
    const [since, last, known, recent, level] = saved;
    const kept = recent.filter(([, t]) => t >= (section.latestMs ?? 0) - 4 * HOUR);
    return [account, since, last, known.filter(([, d]) => (section.latest ?? 0) - d <= 90), kept, kept.length > 0 ? level : -1];
  });
  return { v: 1, accounts };
}

describe(`${RULE}: state across cron runs`, () => {
  const records = [...homeDays(8), from(IP.NG, at(8, 1)), from(IP.RU, at(8, 2)), from(IP.DE, at(12)), from(IP.US, at(12, 1))];
  const whole = runSplit(cfg(), records).findings;

  it('a run split anywhere gives the findings of one run', () => {
    assert.equal(whole.length, 3);
    for (let split = 1; split < records.length; split++) {
      assert.deepEqual(runSplit(cfg(), records, split).findings, whole, `split at ${split}`);
    }
  });

  it('the snapshot keeps only what can still matter', () => {
    const { state } = runSplit(cfg(), [from(IP.DE, at(0), { account: BOB }), from(IP.US, at(0, 1)), from(IP.DE, at(0, 9)), from(IP.DE, at(200))]);
    const saved = JSON.parse(state) as { countries: Section };
    // bob is silent for 200 days (> learnDays): gone; alice's US is outside the travel window.
    assert.deepEqual(asV1(saved.countries).accounts, [['alice@example.edu', 0 + Math.floor(at(0) / DAY), Math.floor(at(200) / DAY), [['DE', Math.floor(at(200) / DAY)]], [['DE', at(200)]], -1]]);
  });

  it('a snapshot of another shape is ignored, not misread', () => {
    const rule = rules.find((r) => r.name === RULE);
    const c = parseConfig({ timezone: 'UTC', ...cfg() });
    const inst = rule?.instantiate({ database: DB }, resolveContext(c), { v: 1, accounts: [['x', 'not a number']] });
    assert.deepEqual(inst?.snapshot?.(), { v: 2, latest: 0, latestMs: 0, site: [], active: [], accounts: [] });
  });

  it('state stays small: 10,000 accounts, each with a history and a recent country', () => {
    const many: MailRecord[] = [];
    for (let i = 0; i < 10_000; i++) {
      const account = `user${i}@example.edu`;
      many.push(from(IP.DE, at(0, i / 10_000), { account }), from(i % 10 ? IP.DE : IP.US, at(20, i / 10_000), { account }));
    }
    const { state } = runSplit(cfg(), many);
    const perAccount = Buffer.byteLength(state) / 10_000;
    assert.ok(perAccount < 100, `${perAccount.toFixed(0)} bytes per account`);
  });
});

describe(`${RULE}: accounts saved as rows`, () => {
  const CAROL = 'carol@example.edu';
  const DAVE = 'dave@example.edu';
  const ERIN = 'erin@example.edu';
  // Three accounts make NG usual for the site; 95 days on they have forgotten it, and alice's NG is news to the site.
  const records = [
    ...homeDays(8), ...[CAROL, DAVE, ERIN].map((account, i) => from(IP.NG, at(1, i), { account })), from(IP.US, at(2, 1), { account: BOB }),
    from(IP.GB, at(9)), from(IP.DE, at(9, 1)), from(IP.RU, at(9, 2), { account: BOB }), from(IP.DE, at(95)), from(IP.NG, at(96)), from(IP.US, at(96, 1)),
  ];
  const restore = (section: unknown): ReturnType<NonNullable<(typeof rules)[number]>['instantiate']> => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    return rule.instantiate({ database: DB }, resolveContext(parseConfig({ timezone: 'UTC', ...cfg() })), section);
  };
  const sectionAfter = (n: number): Section => (JSON.parse(runSplit(cfg(), records.slice(0, n)).state) as { countries: Section }).countries;
  const rowsOf = (section: unknown): Row[] => (section as Section).accounts as Row[];

  it('restored from v1 in every run, or from rows, cron runs give the same findings', () => {
    const severities = (fs: readonly Finding[]): string[] => fs.map((f) => `${f.severity} ${String(f.data.country)} ${String(f.data.site_usual)}`);
    // One run never forgets the others' NG; a snapshot on day 95 does.
    assert.deepEqual(severities(inRuns(RULE, records, [], { config: cfg() })).slice(-2), ['info NG yes', 'warning US no']);
    for (const cuts of [[16], [15, 16], [4, 11, 12, 16], records.map((_, i) => i).slice(1)]) {
      const eager = inRuns(RULE, records, cuts, { config: cfg(), between: (s) => asV1(s as Section) });
      assert.deepEqual(severities(eager).slice(-2), ['warning NG no', 'warning US no'], cuts.join());
      assert.deepEqual(brief(inRuns(RULE, records, cuts, { config: cfg() })), brief(eager), cuts.join());
    }
  });

  it('restored and saved again without records, every row and count is as it was', () => {
    const section = sectionAfter(13);
    assert.equal(section.v, 2);
    assert.deepEqual(JSON.parse(JSON.stringify(restore(section).snapshot?.())), section);
  });

  it('a run touching one account rewrites only that account\'s row', () => {
    const section = sectionAfter(13);
    const inst = restore(section);
    inst.onRecord(from(IP.GB, at(9, 3), { account: BOB }), () => undefined);
    assertOnlyRowChanged(rowsOf(section), rowsOf(JSON.parse(JSON.stringify(inst.snapshot?.()))), BOB);
  });

  it('a damaged row drops only that account: it is new again, and the others as they were', () => {
    const section = sectionAfter(13);
    const damaged = { ...section, accounts: withRowText(rowsOf(section), BOB, '0;US;;-1') };
    const findings = (saved: unknown): string[] => {
      const inst = restore(saved);
      const out: Finding[] = [];
      for (const r of [from(IP.NL, at(10), { account: BOB }), from(IP.NL, at(10, 1))]) inst.onRecord(r, (f) => out.push(f));
      return brief(out);
    };
    // bob seen for the first time: nothing is new to him; alice's NL is.
    assert.deepEqual(findings(damaged).map((f) => f.split(' ')[0]), ['alice@example.edu']);
    assert.deepEqual(findings(section).map((f) => f.split(' ')[0]), ['bob@example.edu', 'alice@example.edu']);
    for (const bad of ['', '0;;;', '0;DE;;-1', '0;de1;;-1', 'x;;;-1', '0;DE1;US2;-1;']) assert.equal(decodeProfile(bad, 1), undefined, bad);
  });
});

describe(`${RULE}: the database`, () => {
  it('is opened lazily: not for a run without public addresses, once for a run with them', () => {
    const dist = (p: string): string => JSON.stringify(join(ROOT, 'dist', 'src', p));
    const script = `
      import { createRequire } from 'node:module';
      import { parseConfig, resolveContext } from ${dist('config/load.js')};
      import { createEngine } from ${dist('rules/engine.js')};
      import { databaseOpenCount } from ${dist('rules/geo.js')};
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => /[\\\\/]node_modules[\\\\/](maxmind|mmdb-lib)[\\\\/]/.test(k));
      const cfg = parseConfig({ timezone: 'UTC' });
      const engine = createEngine(cfg, resolveContext(cfg), () => undefined);
      const rec = (clientIp) => ({ kind: 'submission', at: ${T0}, account: 'a@example.edu', login: 'a', recipients: [], recipientCount: 0, evidence: [], ...(clientIp ? { clientIp } : {}) });
      for (const ip of ['10.1.2.3', '192.168.1.1', 'fd00::1', '198.51.100.9', '0.0.0.0', undefined]) engine.onRecord(rec(ip));
      const before = { opens: databaseOpenCount(), loaded: loaded() };
      engine.onRecord(rec('8.8.8.8'));
      engine.onRecord(rec('8.8.4.4'));
      console.log(JSON.stringify({ before, after: { opens: databaseOpenCount(), loaded: loaded() } }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { before: { opens: 0, loaded: false }, after: { opens: 1, loaded: true } });
  });

  it('a database path that does not exist is a config error', () => {
    assert.throws(() => runRule(RULE, cfg({ database: join(dir, 'missing.mmdb') }), []), (e: unknown) => e instanceof UsageError && e.message.includes('missing.mmdb'));
  });

  it('a file that is not a database fails at the first public address, naming the file', () => {
    assert.deepEqual(runRule(RULE, cfg({ database: NOT_MMDB }), [from('10.1.2.3', at(0))]), []);
    assert.throws(() => runRule(RULE, cfg({ database: NOT_MMDB }), [from(IP.US, at(0))]), (e: unknown) => e instanceof RuntimeError && e.message.includes('not.mmdb'));
  });

  it('the lookup takes addresses as logged: mapped spellings, and non-addresses without a country', () => {
    const lookup = countryLookup(DB);
    assert.deepEqual(['8.8.8.8', '::FFFF:8.8.8.8', '2A02:8109::1', '198.51.100.9', 'unknown', '', '0.0.0.0'].map(lookup), ['US', 'US', 'DE', undefined, undefined, undefined, undefined]);
  });

  it('the lookup caches the addresses asked for again, not every address of a long run', () => {
    const lookup = countryLookup(DB);
    let most = 0;
    // 40,000 addresses seen once each (bots, roaming phones), among them one busy client.
    for (let i = 0; i < 40_000; i++) {
      assert.equal(lookup(`41.58.${i >> 8}.${i & 255}`), 'NG');
      assert.equal(lookup('2A02:8109::1'), 'DE');
      most = Math.max(most, heldBy(lookup)?.cached ?? Infinity);
    }
    assert.ok(most <= 16_384, `cached up to ${most} addresses`);
  });

  it('the lookup does not cache what is too long to be an address (hostile lines)', () => {
    const lookup = countryLookup(DB);
    for (let i = 0; i < 100; i++) assert.equal(lookup(`${'8'.repeat(1000)}.${i}`), undefined);
    assert.equal(heldBy(lookup)?.cached, 0);
    assert.equal(lookup('0000:0000:0000:0000:0000:ffff:8.8.8.8'), 'US');
  });

  it('the lookup keeps no log line alive through the addresses it caches', async () => {
    const lookup = countryLookup(DB);
    const marker = ['geo', 'line'].join('~');
    // In a function of its own: a suspended async function's frame would keep its last values.
    const feed = (): void => {
      for (let i = 0; i < 20; i++) assert.equal(lookup(slicedFromLine(`${marker}${i}`, `41.58.100.${100 + i}`)), 'NG');
      // The last address stays in the parser's one-entry cache until another comes.
      assert.equal(lookup('8.8.8.8'), 'US');
    };
    feed();
    assert.equal(await aliveWith(marker), 0);
  });

  it('a bad country code in siteCountries is a config error', () => {
    assert.throws(() => parseConfig({ rules: { [RULE]: { siteCountries: ['Germany'] } } }), UsageError);
  });
});

describe('client addresses', () => {
  const cases: [string | undefined, string | undefined, string | undefined][] = [
    ['8.8.8.8', '8.8.8.8', '8.8.8.0/24'],
    ['::ffff:8.8.8.8', '8.8.8.8', '8.8.8.0/24'],
    ['::FFFF:c633:6407', '198.51.100.7', '198.51.100.0/24'],
    ['2A02:8109:1234:5::1', '2a02:8109:1234:5::1', '2a02:8109:1234::/48'],
    ['2001:db8::', '2001:db8::', '2001:db8:0::/48'],
    ['::', undefined, undefined],
    ['0.0.0.0', undefined, undefined],
    ['unknown', undefined, undefined],
    [undefined, undefined, undefined],
  ];
  for (const [raw, canonical, network] of cases) {
    it(`${String(raw)} -> ${String(canonical)} in ${String(network)}`, () => {
      const c = canonicalAddress(raw);
      assert.equal(c, canonical);
      if (c !== undefined) assert.equal(networkOf(c), network);
    });
  }
  const special: [string, boolean][] = [
    ['0.1.2.3', true], ['1.1.1.1', false], ['100.63.255.255', false], ['100.64.0.0', true], ['100.127.255.255', true], ['100.128.0.0', false],
    ['169.254.9.9', true], ['172.15.255.255', false], ['172.31.255.255', true], ['172.32.0.0', false], ['192.0.2.1', true], ['192.0.3.1', false],
    ['198.17.255.255', false], ['198.18.0.0', true], ['198.19.255.255', true], ['198.20.0.0', false], ['203.0.113.255', true], ['203.0.114.0', false],
    ['223.255.255.255', false], ['224.0.0.0', true], ['255.255.255.255', true],
    ['::1', true], ['2001:db8::1', true], ['2001:db9::1', false], ['2001:1ff::1', true], ['2001:200::1', false], ['2002::1', true],
    ['2a02:8109::1', false], ['fe80::1', true], ['ff02::1', true], ['fd00::1', true], ['3fff::1', true], ['4000::1', false],
  ];
  for (const [ip, expected] of special) it(`${ip} is ${expected ? '' : 'not '}special-use`, () => assert.equal(isSpecialUse(ip), expected));
});
