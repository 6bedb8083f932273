import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideAlerts, fingerprintOf } from '../../src/alerts/policy.js';
import type { Finding, Severity } from '../../src/core/types.js';
import type { AlertMemory } from '../../src/state/schema.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 10, 17, 2, 0);

function f(rule: string, severity: Severity, at: number, count = 10, account = 'frank@example.edu'): Finding {
  return { rule, account, severity, at, message: `${count}`, data: { count }, evidence: [{ source: 'maillog', lineNo: 1, text: 'x' }] };
}

const opts = { minSeverity: 'warning' as const, cooldownMs: 24 * H };

/** Runs findings through the policy run by run, as cron would, carrying the memory. */
function runs(...batches: Finding[][]): string[][] {
  let memory: Record<string, AlertMemory> = {};
  return batches.map((b) => {
    const r = decideAlerts(b, memory, opts);
    memory = r.memory;
    return r.alerts.map((a) => `${a.rule} ${a.severity} ${a.reason}`);
  });
}

describe('alert policy', () => {
  it('a new condition is sent once; the same condition later within the cooldown is not', () => {
    assert.deepEqual(runs([f('odd-hours', 'warning', T0)], [f('odd-hours', 'warning', T0 + 2 * H)], []), [['odd-hours warning new'], [], []]);
  });

  it('after the cooldown the same condition is sent again: a reminder while it went on, new after a quiet spell', () => {
    assert.deepEqual(runs([f('x', 'warning', T0)], [f('x', 'warning', T0 + 10 * H)], [f('x', 'warning', T0 + 25 * H)]), [['x warning new'], [], ['x warning reminder']]);
    assert.deepEqual(runs([f('x', 'warning', T0)], [f('x', 'warning', T0 + 50 * H)]), [['x warning new'], ['x warning new']]);
  });

  it('escalation is sent at once: warning -> critical, and a critical whose count doubled', () => {
    assert.deepEqual(
      runs([f('s', 'warning', T0, 70)], [f('s', 'critical', T0 + H, 90)], [f('s', 'critical', T0 + 2 * H, 150)], [f('s', 'critical', T0 + 3 * H, 180)]),
      [['s warning new'], ['s critical escalated'], [], ['s critical escalated']],
    );
  });

  it('a lower level after a higher one was sent is not news', () => {
    assert.deepEqual(runs([f('s', 'critical', T0)], [f('s', 'warning', T0 + H)]), [['s critical new'], []]);
  });

  it('a new rule for the same account is sent at once; other accounts are independent', () => {
    assert.deepEqual(
      runs([f('a', 'warning', T0)], [f('b', 'warning', T0 + H), f('a', 'warning', T0 + H, 10, 'other@example.edu')]),
      [['a warning new'], ['b warning new', 'a warning new']],
    );
  });

  it('below minSeverity nothing is sent', () => {
    assert.deepEqual(runs([f('odd-hours', 'info', T0)]), [[]]);
  });

  it('with cooldown 0 and minSeverity info every finding is an alert (cron equals scan)', () => {
    const fs = [f('a', 'info', T0), f('a', 'info', T0 + 1), f('a', 'warning', T0 + 2), f('a', 'critical', T0 + 3)];
    const r = decideAlerts(fs, {}, { minSeverity: 'info', cooldownMs: 0 });
    assert.equal(r.alerts.length, 4);
  });

  it('memory is forgotten a week after its last sighting, even in runs that find nothing', () => {
    const first = decideAlerts([f('a', 'warning', T0)], {}, opts);
    assert.ok(first.memory[fingerprintOf(f('a', 'warning', T0))]);
    const later = decideAlerts([], first.memory, { ...opts, now: T0 + 8 * 24 * H });
    assert.deepEqual(later.memory, {});
    const sooner = decideAlerts([], first.memory, { ...opts, now: T0 + 2 * 24 * H });
    assert.equal(Object.keys(sooner.memory).length, 1);
  });
});
