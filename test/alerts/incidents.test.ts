import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IncidentOptionsSchema, IncidentTracker, incidentAddresses, incidentAdvice, incidentCountries, restoreOpenIncidents, scoreSignals, type Incident, type IncidentOptions } from '../../src/alerts/incidents.js';
import type { Finding, Severity } from '../../src/core/types.js';
import { mulberry32 } from '../helpers/random.js';

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
    // The v1 snapshot (open incidents as objects) that restoreOpenIncidents reads.
    return JSON.parse(JSON.stringify({ v: 1, open: [t.get('a@example.edu')] })) as { v: number; open: Record<string, unknown>[] };
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

describe('open incidents as rows (v2), decoded only when asked for', () => {
  interface Rows { v: number; dict?: number; rows: [string, number, string][] }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names what the JSON holds
  const json = <T>(v: unknown): T => JSON.parse(JSON.stringify(v)) as T;
  const ACCOUNTS = ['a@x', 'b@x', 'c@x'];
  const fe = (rule: string, severity: Severity, at: number, account: string, n: number): Finding => ({
    rule, account, severity, at, message: `${rule} ${severity} #${n}`, data: { client_ip: `10.0.0.${n % 7}`, messages: n },
    evidence: [{ source: '/var/log/mail.log', lineNo: n, text: `line ${n} of ${account}` }, { source: n % 2 ? '/var/log/mail.log.1' : '/var/log/mail.log', lineNo: n + 1, text: 'next' }],
  });
  const site = (): IncidentTracker => {
    const t = new IncidentTracker(O, () => undefined);
    ACCOUNTS.forEach((a, k) => {
      t.add(fe('odd-hours', 'info', T0 + k * 60_000, a, k));
      t.add(fe('countries', 'warning', T0 + k * 120_000, a, k + 10));
    });
    return t;
  };

  it('a v1 snapshot still restores, gives the incidents it gave before, and is saved again as rows', () => {
    const v1 = json<unknown>({ v: 1, open: ACCOUNTS.map((a) => site().get(a)) });
    const eager = restoreOpenIncidents(v1);
    assert.ok(eager);
    const closed: Incident[] = [];
    const t = new IncidentTracker(O, (i) => closed.push(i), v1);
    for (const inc of eager) assert.deepEqual(t.get(inc.account), inc);
    const later = new IncidentTracker(O, (i) => closed.push(i), json(t.snapshot()));
    assert.equal(json<Rows>(later.snapshot()).v, 2);
    later.add(fe('sends-per-account', 'critical', T0 + 600_000, 'b@x', 99));
    later.flush();
    const want: Incident[] = [];
    const one = site();
    const wantT = new IncidentTracker(O, (i) => want.push(i), json({ v: 1, open: ACCOUNTS.map((a) => one.get(a)) }));
    wantT.add(fe('sends-per-account', 'critical', T0 + 600_000, 'b@x', 99));
    wantT.flush();
    assert.deepEqual(closed, want);
  });

  it('restore and snapshot with no findings gives back exactly the same rows and dictionary', () => {
    const saved = json<Rows>(site().snapshot());
    assert.equal(saved.rows.length, 3);
    assert.ok(saved.dict);
    assert.deepEqual(new IncidentTracker(O, null, saved).snapshot(), saved);
    const t = new IncidentTracker(O, null, saved);
    t.closeIdle(T0 + 60_000);
    assert.deepEqual(t.snapshot(), saved);
  });

  it('a run touching one account changes only that account\'s row', () => {
    const saved = json<Rows>(site().snapshot());
    const t = new IncidentTracker(O, null, saved);
    t.add(fe('odd-hours', 'critical', T0 + 300_000, 'b@x', 5));
    const next = json<Rows>(t.snapshot());
    assert.equal(next.dict, saved.dict);
    assert.deepEqual(next.rows.map((r) => r[0]), ACCOUNTS);
    assert.deepEqual([next.rows[0], next.rows[2]], [saved.rows[0], saved.rows[2]]);
    assert.notEqual(next.rows[1]?.[2], saved.rows[1]?.[2]);
    assert.equal(next.rows[1]?.[1], T0 + 300_000);
  });

  it('a damaged row drops only its account; rows without their dictionary drop the section', () => {
    const saved = json<Rows>(site().snapshot());
    const row = saved.rows[1];
    assert.ok(row);
    // A reserved deflate block type: not inflatable.
    row[2] = '////';
    const t = new IncidentTracker(O, () => undefined, saved);
    assert.equal(t.get('b@x'), undefined);
    assert.ok(t.get('a@x') && t.get('c@x'));
    assert.deepEqual(json<Rows>(t.snapshot()).rows.map((r) => r[0]), ['a@x', 'c@x']);
    // A finding for the damaged account starts a new incident.
    assert.equal(new IncidentTracker(O, null, saved).add(fe('odd-hours', 'info', T0, 'b@x', 1)).findings, 1);
    assert.equal(new IncidentTracker(O, null, { v: 2, rows: saved.rows }).get('a@x'), undefined);
    assert.equal(new IncidentTracker(O, null, { ...saved, dict: 7 }).get('a@x'), undefined);
    assert.equal(new IncidentTracker(O, null, { ...saved, rows: [['a@x', 1]] }).get('a@x'), undefined);
  });

  it('without a sink, idle incidents are closed without decoding them', () => {
    const saved = json<Rows>(site().snapshot());
    const row = saved.rows[0];
    assert.ok(row);
    // Damaged, so decoding it would show: it is dropped either way, but never read.
    row[2] = 'not base64 deflate';
    const t = new IncidentTracker(O, null, saved);
    t.closeIdle(T0 + O.gapMinutes * 60_000 + 120_001);
    assert.deepEqual(json<Rows>(t.snapshot()).rows.map((r) => r[0]), ['c@x']);
  });

  it('a busy incident, trimmed to its bounded signals, continues across five runs as in one', () => {
    const rules = ['odd-hours', 'foreign-sender-host', 'countries', 'sends-per-account'];
    const finding = (k: number): Finding => fe(rules[k % 4] ?? 'odd-hours', k % 7 === 0 ? 'critical' : 'info', T0 + k * 30_000, 'a@x', k);
    const one = new IncidentTracker(O, () => undefined);
    for (let k = 0; k < 200; k++) one.add(finding(k));
    let saved: unknown;
    for (let run = 0; run < 5; run++) {
      const t = new IncidentTracker(O, null, saved);
      for (let k = run * 40; k < run * 40 + 40; k++) t.add(finding(k));
      saved = json(t.snapshot());
    }
    // As in one, but without the lines: a cron run (no sink) never shows them.
    const whole = json<Incident | undefined>(one.get('a@x'));
    assert.ok(whole?.signals.some((sig) => sig.evidence.length > 0));
    const unquoted = whole && { ...whole, signals: whole.signals.map((sig) => ({ ...sig, evidence: [] })) };
    assert.deepEqual(new IncidentTracker(O, null, saved).get('a@x'), unquoted);
  });

  it('without a sink (a cron run) keeps no evidence lines, and gives the same verdict', () => {
    const findings = Array.from({ length: 40 }, (_, k) => fe(['odd-hours', 'countries', 'foreign-sender-host'][k % 3] ?? 'odd-hours', k % 5 === 0 ? 'warning' : 'info', T0 + k * 60_000, `u${k % 4}@x`, k));
    const shown = new IncidentTracker(O, () => undefined);
    const cron = new IncidentTracker(O, null);
    for (const f of findings) {
      shown.add(f);
      cron.add(f);
    }
    for (const account of ['u0@x', 'u1@x', 'u2@x', 'u3@x']) {
      const a = shown.get(account);
      const b = cron.get(account);
      assert.ok(a && b);
      assert.ok(a.signals.some((sig) => sig.evidence.length > 0));
      assert.ok(b.signals.every((sig) => sig.evidence.length === 0));
      assert.deepEqual({ ...b, signals: b.signals.map((sig) => sig.rule) }, { ...a, signals: a.signals.map((sig) => sig.rule) });
      assert.deepEqual([incidentAddresses(b), incidentCountries(b), incidentAdvice(b)], [incidentAddresses(a), incidentCountries(a), incidentAdvice(a)]);
    }
    assert.ok(JSON.stringify(cron.snapshot()).length < JSON.stringify(shown.snapshot()).length);
  });

  const RULES = ['odd-hours', 'foreign-sender-host', 'countries', 'sends-per-account', 'auth-failures', 'no-such-rule'];
  const SEVERITIES: Severity[] = ['info', 'warning', 'critical'];
  const step = fc.oneof(
    fc.record({ add: fc.constant(true), rule: fc.constantFrom(...RULES), severity: fc.constantFrom(...SEVERITIES), minutes: fc.integer({ min: -30, max: 200 }), account: fc.constantFrom(...ACCOUNTS) }),
    fc.record({ add: fc.constant(false), account: fc.constantFrom(...ACCOUNTS), ms: fc.constantFrom(-1, 0, 1) }),
  );
  type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

  /** Steps split into cron runs, each restoring the last run's snapshot through JSON; one tracker for all when `cuts` is empty. */
  const play = (o: IncidentOptions, steps: readonly Step[], cuts: ReadonlySet<number>, sink: boolean): { closed: Incident[]; open: (Incident | undefined)[]; scores: [number, Severity][] } => {
    const closed: Incident[] = [];
    const scores: [number, Severity][] = [];
    const gap = o.gapMinutes * 60_000;
    const make = (saved?: unknown): IncidentTracker => new IncidentTracker(o, sink ? (i) => closed.push(json(i)) : null, saved);
    let t = make();
    let now = T0;
    steps.forEach((s, k) => {
      if (cuts.has(k)) t = make(json(t.snapshot()));
      if (s.add) {
        now = Math.max(now, T0 + s.minutes * 60_000);
        const inc = t.add(fe(s.rule, s.severity, T0 + s.minutes * 60_000, s.account, k));
        scores.push([inc.score, inc.severity]);
      } else {
        t.closeIdle((t.get(s.account)?.lastSeen ?? now) + gap + s.ms);
      }
    });
    t = make(json(t.snapshot()));
    return { closed, open: ACCOUNTS.map((a) => { const inc = t.get(a); return inc && json<Incident>(inc); }), scores };
  };

  it('cron runs restoring from rows close and keep the same incidents as one tracker (property)', () => {
    const options = fc.record({
      points: fc.record({ info: fc.integer({ min: 0, max: 8 }), warning: fc.integer({ min: 0, max: 8 }), critical: fc.integer({ min: 0, max: 8 }) }),
      gapMinutes: fc.integer({ min: 60, max: 400 }),
    });
    fc.assert(fc.property(options, fc.array(step, { maxLength: 200 }), fc.uniqueArray(fc.nat(200), { maxLength: 8 }), fc.boolean(), (raw, steps, cutAt, sink) => {
      const o = IncidentOptionsSchema.parse(raw);
      const one = play(o, steps, new Set(), sink);
      const runs = play(o, steps, new Set(cutAt), sink);
      assert.deepEqual(runs, one);
    }), { seed: 20261122, numRuns: 200 });
  });
});

describe('closing idle incidents from the due queue', () => {
  const GAP_MINUTES = 5;
  const GAP = GAP_MINUTES * 60_000;
  const o = IncidentOptionsSchema.parse({ gapMinutes: GAP_MINUTES });
  type Closed = [account: string, firstSeen: number, lastSeen: number, findings: number];
  const closedOf = (i: Incident): Closed => [i.account, i.firstSeen, i.lastSeen, i.findings];

  /** What closeIdle did before the queue: walk every open incident in the map's order. */
  class Reference {
    readonly open = new Map<string, { firstSeen: number; lastSeen: number; findings: number }>();
    readonly closed: Closed[] = [];

    add(account: string, at: number): void {
      let inc = this.open.get(account);
      if (inc && at - inc.lastSeen > GAP) {
        this.close(account);
        inc = undefined;
      }
      if (!inc) {
        inc = { firstSeen: at, lastSeen: at, findings: 0 };
        this.open.set(account, inc);
      }
      inc.firstSeen = Math.min(inc.firstSeen, at);
      inc.lastSeen = Math.max(inc.lastSeen, at);
      inc.findings++;
    }

    closeIdle(now: number): void {
      for (const [account, inc] of this.open) if (now - inc.lastSeen > GAP) this.close(account);
    }

    private close(account: string): void {
      const inc = this.open.get(account);
      assert.ok(inc);
      this.open.delete(account);
      this.closed.push([account, inc.firstSeen, inc.lastSeen, inc.findings]);
    }
  }

  type Step = { add: string; at: number } | { closeIdle: number };

  /**
   * Findings of 300 accounts (a few busy, some every few minutes, most quiet, so incidents
   * close and reopen), out
   * of order by up to twice the gap, with closeIdle mostly at the latest finding's time,
   * sometimes twice, a little earlier, or a millisecond later. Times are whole seconds, so
   * now - lastSeen often equals the gap exactly: that incident is not idle yet.
   */
  const steps = (seed: number, n: number): Step[] => {
    const rnd = mulberry32(seed);
    const out: Step[] = [];
    let clock = T0;
    let latest = T0;
    for (let k = 0; k < n; k++) {
      const r = rnd();
      if (r < 0.9) {
        clock += rnd() < 0.5 ? 1_000 : 0;
        const kind = rnd();
        const account = kind < 0.3 ? `busy${Math.floor(rnd() * 5)}@x` : kind < 0.35 ? `mid${Math.floor(rnd() * 20)}@x` : `quiet${Math.floor(rnd() * 275)}@x`;
        const at = rnd() < 0.2 ? clock - 1_000 * Math.floor(rnd() * 2 * GAP_MINUTES * 60) : clock;
        latest = Math.max(latest, at);
        out.push({ add: account, at });
      } else if (r < 0.96) {
        out.push({ closeIdle: latest });
        if (rnd() < 0.3) out.push({ closeIdle: latest });
      } else {
        out.push({ closeIdle: rnd() < 0.5 ? latest + 1 : latest - 1_000 * Math.floor(rnd() * 60) });
      }
    }
    return out;
  };

  const play = (t: IncidentTracker, s: Step): void => {
    if ('add' in s) t.add(f('odd-hours', 'info', s.at, s.add));
    else t.closeIdle(s.closeIdle);
  };

  it('closes the same incidents, in the same order, as walking every open incident (randomised)', () => {
    for (const seed of [1, 2, 3, 20261122]) {
      const closed: Closed[] = [];
      const t = new IncidentTracker(o, (i) => closed.push(closedOf(i)));
      const ref = new Reference();
      let calls = 0;
      for (const s of steps(seed, 20_000)) {
        play(t, s);
        if ('add' in s) {
          ref.add(s.add, s.at);
        } else {
          ref.closeIdle(s.closeIdle);
          calls++;
        }
        assert.equal(closed.length, ref.closed.length, `seed ${seed}`);
      }
      assert.ok(calls > 1_000 && ref.closed.length > 2_000, `seed ${seed}: ${calls} calls closed ${ref.closed.length}`);
      assert.deepEqual(closed, ref.closed, `seed ${seed}`);
      // What stays open is what the reference keeps, in its order.
      const rows = (t.snapshot() as { rows: [string, number, string][] }).rows;
      assert.deepEqual(rows.map(([a, lastSeen]) => [a, lastSeen]), [...ref.open].map(([a, i]) => [a, i.lastSeen]), `seed ${seed}`);
      const back = new IncidentTracker(o, null, JSON.parse(JSON.stringify(t.snapshot())));
      for (const [a, i] of ref.open) {
        const inc = back.get(a);
        assert.ok(inc);
        assert.deepEqual([inc.firstSeen, inc.lastSeen, inc.findings], [i.firstSeen, i.lastSeen, i.findings], `seed ${seed} ${a}`);
      }
    }
  });

  it('a tracker restored from its rows closes the same incidents in the same order as one never saved', () => {
    const all = steps(7, 12_000);
    for (const cut of [500, 3_000, 6_000]) {
      const kept: Incident[] = [];
      const restored: Incident[] = [];
      const one = new IncidentTracker(o, (i) => kept.push(i));
      const first = new IncidentTracker(o, () => undefined);
      for (const s of all.slice(0, cut)) {
        play(one, s);
        play(first, s);
      }
      const saved = JSON.parse(JSON.stringify(first.snapshot())) as { rows: unknown[] };
      assert.ok(saved.rows.length > 50, `${saved.rows.length} incidents stay packed`);
      const again = new IncidentTracker(o, (i) => restored.push(i), saved);
      const before = kept.length;
      for (const s of all.slice(cut)) {
        play(one, s);
        play(again, s);
      }
      assert.ok(restored.length > 1_000, `${restored.length} closed`);
      assert.deepEqual(restored.map(closedOf), kept.slice(before).map(closedOf), `cut at ${cut}`);
      assert.deepEqual(JSON.parse(JSON.stringify(restored)), JSON.parse(JSON.stringify(kept.slice(before))), `cut at ${cut}`);
      assert.deepEqual(again.snapshot(), one.snapshot(), `cut at ${cut}`);
    }
  });

  it('a damaged saved row drops its account and leaves the order of the others', () => {
    const all = steps(11, 4_000);
    const first = new IncidentTracker(o, () => undefined);
    for (const s of all.slice(0, 2_000)) play(first, s);
    const saved = JSON.parse(JSON.stringify(first.snapshot())) as { rows: [string, number, string][] };
    const damaged = saved.rows[3];
    assert.ok(damaged);
    const gone = damaged[0];
    const want: Closed[] = [];
    const got: Closed[] = [];
    const whole = new IncidentTracker(o, (i) => want.push(closedOf(i)), JSON.parse(JSON.stringify(saved)));
    damaged[2] = '////';
    const broken = new IncidentTracker(o, (i) => got.push(closedOf(i)), saved);
    for (const s of all.slice(2_000)) {
      play(whole, s);
      play(broken, s);
    }
    // Its first finding after the cut decodes the row (dropping it) and opens a new incident, set last.
    const sawGone = all.slice(2_000).findIndex((s) => 'add' in s && s.add === gone);
    assert.ok(sawGone >= 0);
    assert.deepEqual(got.filter(([a]) => a !== gone), want.filter(([a]) => a !== gone));
  });

  it('the queue stays bounded however many findings an incident collects, or however often it reopens', () => {
    const t = new IncidentTracker(o, () => undefined);
    let most = 0;
    // 10 busy incidents, then each account's findings further apart than the gap: every
    // one closes its incident and opens a new one, and closeIdle never comes.
    for (let k = 0; k < 100_000; k++) {
      t.add(f('odd-hours', 'info', T0 + k * 1_000, `a${k % 10}@x`));
      most = Math.max(most, t.idleQueueSize);
      if (k % 1_000 === 999) t.closeIdle(T0 + k * 1_000);
    }
    const later = T0 + 100_000 * 1_000 + GAP;
    for (let k = 0; k < 100_000; k++) {
      t.add(f('odd-hours', 'info', later + k * (GAP / 5), `a${k % 10}@x`));
      most = Math.max(most, t.idleQueueSize);
    }
    assert.ok(most <= 2 * 10 + 64, `held ${most}`);
  });
});
