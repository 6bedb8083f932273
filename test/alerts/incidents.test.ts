import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IncidentOptionsSchema, IncidentTracker, scoreSignals, type Incident } from '../../src/alerts/incidents.js';
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
