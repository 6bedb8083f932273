import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IncidentOptionsSchema, IncidentTracker, restoreOpenIncidents, scoreSignals, type Incident } from '../../src/alerts/incidents.js';
import type { Finding, Severity } from '../../src/core/types.js';

const O = IncidentOptionsSchema.parse({});
const T0 = Date.UTC(2026, 10, 17, 1, 0);
const f = (rule: string, severity: Severity, at = T0, account = 'a@example.edu'): Finding =>
  ({ rule, account, severity, at, message: `${rule} ${severity}`, data: {}, evidence: [{ source: 'log', lineNo: 1, text: 'x' }] });
const verdict = (...fs: Finding[]): Severity => scoreSignals(fs, O).severity;

describe('incident scoring', () => {
  it('one weak signal alone stays info', () => {
    for (const rule of ['odd-hours', 'new-sender-host', 'countries', 'volume-baseline', 'foreign-sender-host']) {
      assert.equal(verdict(f(rule, 'info')), 'info', rule);
    }
  });

  it('several weak signals together make a critical: a new country + volume above baseline + 2 a.m.', () => {
    assert.equal(verdict(f('countries', 'info'), f('volume-baseline', 'warning'), f('odd-hours', 'info')), 'critical');
  });

  it('a strong signal alone keeps its level', () => {
    assert.equal(verdict(f('sends-per-account', 'critical')), 'critical');
    assert.equal(verdict(f('sends-per-account', 'warning')), 'warning');
    assert.equal(verdict(f('auth-failures', 'critical')), 'critical');
  });

  it('one fact seen by several rules counts once: a traveller on a hotel network is not a warning', () => {
    assert.equal(verdict(f('foreign-sender-host', 'warning'), f('new-sender-host', 'info'), f('countries', 'info')), 'info');
    // ... nor when the traveller also mails at 20:40.
    assert.equal(verdict(f('foreign-sender-host', 'warning'), f('new-sender-host', 'info'), f('countries', 'info'), f('odd-hours', 'info')), 'info');
  });

  it('a rule weighted 0 does not count; other weights move the levels', () => {
    const o = IncidentOptionsSchema.parse({ weights: { 'odd-hours': 0 } });
    assert.equal(scoreSignals([f('odd-hours', 'critical')], o).score, 0);
    const strict = IncidentOptionsSchema.parse({ weights: { 'foreign-sender-host': 2 } });
    assert.equal(scoreSignals([f('foreign-sender-host', 'warning')], strict).severity, 'critical');
  });
});

describe('incident tracker', () => {
  it('findings of one account close together are one incident; a quiet gap starts another', () => {
    const closed: Incident[] = [];
    const t = new IncidentTracker(O, (i) => closed.push(i));
    t.add(f('odd-hours', 'info', T0));
    t.add(f('sends-per-account', 'critical', T0 + 3_600_000));
    t.add(f('odd-hours', 'info', T0 + 3_600_000 * 20));
    t.add(f('odd-hours', 'info', T0, 'b@example.edu'));
    t.flush();
    assert.deepEqual(closed.map((i) => [i.account, i.severity, i.findings]), [
      ['a@example.edu', 'critical', 2], ['b@example.edu', 'info', 1], ['a@example.edu', 'info', 1],
    ]);
  });

  it('snapshot and restore through JSON continue the same incident', () => {
    const one: Incident[] = [];
    const a = new IncidentTracker(O, (i) => one.push(i));
    a.add(f('odd-hours', 'info', T0));
    a.add(f('from-user-mismatch', 'warning', T0 + 60_000));
    a.flush();
    const two: Incident[] = [];
    const b1 = new IncidentTracker(O, (i) => two.push(i));
    b1.add(f('odd-hours', 'info', T0));
    const b2 = new IncidentTracker(O, (i) => two.push(i), JSON.parse(JSON.stringify(b1.snapshot())));
    b2.add(f('from-user-mismatch', 'warning', T0 + 60_000));
    b2.flush();
    assert.deepEqual(two, one);
  });

  it('keeps a bounded number of signals, the strongest of each rule among them', () => {
    const closed: Incident[] = [];
    const t = new IncidentTracker(O, (i) => closed.push(i));
    for (let i = 0; i < 200; i++) t.add(f('foreign-sender-host', 'warning', T0 + i * 1000));
    t.add(f('foreign-sender-host', 'critical', T0 + 300_000));
    t.flush();
    const inc = closed[0];
    assert.ok(inc && inc.signals.length <= 30 && inc.findings === 201);
    assert.ok(inc.signals.some((s) => s.severity === 'critical'));
  });
});

describe('incident tracker, incremental bookkeeping (property)', () => {
  it('a site whose points do not rise with severity: the score follows a signal that trimming drops', () => {
    const o = IncidentOptionsSchema.parse({ points: { info: 5, warning: 1, critical: 1 } });
    const t = new IncidentTracker(o, () => undefined);
    for (let i = 0; i < 29; i++) t.add(f('countries', 'warning', T0 + i * 1000));
    const before = t.add(f('countries', 'info', T0 + 30_000)).score;
    const inc = t.add(f('foreign-sender-host', 'critical', T0 + 31_000));
    assert.ok(!inc.signals.some((s) => s.severity === 'info'), 'the late info signal was trimmed');
    assert.ok(inc.score < before);
    assert.deepEqual([inc.score, inc.severity], [scoreSignals(inc.signals, o).score, scoreSignals(inc.signals, o).severity]);
  });

  const RULES = ['odd-hours', 'foreign-sender-host', 'countries', 'sends-per-account', 'volume-baseline', 'auth-failures', 'no-such-rule'];
  const SEVERITIES: Severity[] = ['info', 'warning', 'critical'];
  const ACCOUNTS = ['a@x', 'b@x'];
  const step = fc.oneof(
    fc.record({ add: fc.constant(true), rule: fc.constantFrom(...RULES), severity: fc.constantFrom(...SEVERITIES), minutes: fc.integer({ min: -30, max: 120 }), account: fc.constantFrom(...ACCOUNTS) }),
    // Close at an account's last finding plus the gap, give or take a millisecond: the edge.
    fc.record({ add: fc.constant(false), account: fc.constantFrom(...ACCOUNTS), ms: fc.constantFrom(-1, 0, 1) }),
  );
  const options = fc.record({
    // Points need not rise with severity: a site may weigh an info above a warning.
    points: fc.record({ info: fc.integer({ min: 0, max: 8 }), warning: fc.integer({ min: 0, max: 8 }), critical: fc.integer({ min: 0, max: 8 }) }),
    weights: fc.dictionary(fc.constantFrom(...RULES), fc.constantFrom(0, 0.5, 1, 2)),
    gapMinutes: fc.integer({ min: 60, max: 400 }),
  });

  it('the score kept while adding is always the score of the kept signals, and closeIdle closes exactly the idle incidents', () => {
    fc.assert(fc.property(options, fc.array(step, { maxLength: 150 }), (raw, steps) => {
      const o = IncidentOptionsSchema.parse(raw);
      const gap = o.gapMinutes * 60_000;
      const closed: Incident[] = [];
      const t = new IncidentTracker(o, (i) => closed.push(i));
      let now = T0;
      for (const s of steps) {
        if (s.add) {
          now = Math.max(now, T0 + s.minutes * 60_000);
          const inc = t.add(f(s.rule, s.severity, T0 + s.minutes * 60_000, s.account));
          const want = scoreSignals(inc.signals, o);
          assert.deepEqual([inc.score, inc.severity], [want.score, want.severity]);
        } else {
          const at = (t.get(s.account)?.lastSeen ?? now) + gap + s.ms;
          const before = closed.length;
          t.closeIdle(at);
          for (const inc of closed.slice(before)) assert.ok(at - inc.lastSeen > gap, 'closed an incident that was not idle');
          for (const a of ACCOUNTS) {
            const open = t.get(a);
            assert.ok(open === undefined || at - open.lastSeen <= gap, `left ${a}'s idle incident open`);
          }
        }
      }
    }), { seed: 20261122, numRuns: 300 });
  });
});

describe('restoring a saved tracker', () => {
  const saved = (): { v: number; open: Record<string, unknown>[] } => {
    const t = new IncidentTracker(O, () => undefined);
    t.add(f('odd-hours', 'info', T0));
    t.add(f('countries', 'warning', T0 + 60_000));
    return JSON.parse(JSON.stringify(t.snapshot())) as { v: number; open: Record<string, unknown>[] };
  };

  it('takes back exactly what was saved, without keys it does not know', () => {
    const s = saved();
    const inc = s.open[0];
    assert.ok(inc);
    inc.extra = 'x';
    const back = restoreOpenIncidents(s);
    assert.ok(back);
    assert.deepEqual(back, JSON.parse(JSON.stringify(saved().open)));
  });

  it('drops a snapshot that is out of shape anywhere, as a whole', () => {
    const broken: [string, (s: ReturnType<typeof saved>) => void][] = [
      ['version', (s) => { s.v = 2; }],
      ['severity', (s) => { (s.open[0] as { severity: string }).severity = 'fatal'; }],
      ['a signal time', (s) => { ((s.open[0] as { signals: { at: unknown }[] }).signals[1] as { at: unknown }).at = '1'; }],
      ['a data value', (s) => { ((s.open[0] as { signals: { data: Record<string, unknown> }[] }).signals[0] as { data: Record<string, unknown> }).data.n = null; }],
      ['an evidence line', (s) => { ((s.open[0] as { signals: { evidence: unknown[] }[] }).signals[0] as { evidence: unknown[] }).evidence.push({ source: 'x', lineNo: 1 }); }],
      ['an infinite count', (s) => { (s.open[0] as { findings: number }).findings = Infinity; }],
    ];
    for (const [what, breakIt] of broken) {
      const s = saved();
      breakIt(s);
      assert.equal(restoreOpenIncidents(s), undefined, what);
      const t = new IncidentTracker(O, () => undefined, s);
      assert.equal(t.get('a@example.edu'), undefined, what);
    }
    assert.equal(restoreOpenIncidents(null), undefined);
    assert.equal(restoreOpenIncidents({ v: 1, open: {} }), undefined);
  });
});
