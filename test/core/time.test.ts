import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { localParts, parseOffset, YearInferrer, zonedToEpoch } from '../../src/core/time.js';

const iso = (t: number): string => new Date(t).toISOString();

describe('zonedToEpoch', () => {
  const cases: [string, string, number[], string][] = [
    ['UTC', 'plain', [2026, 10, 17, 2, 10, 0], '2026-11-17T02:10:00.000Z'],
    ['Europe/Berlin', 'winter', [2026, 10, 17, 2, 10, 0], '2026-11-17T01:10:00.000Z'],
    ['Europe/Berlin', 'summer', [2026, 6, 1, 12, 0, 0], '2026-07-01T10:00:00.000Z'],
    ['Europe/Prague', 'east of UTC, just before spring-forward', [2026, 2, 29, 1, 30, 0], '2026-03-29T00:30:00.000Z'],
    ['Europe/Prague', 'skipped hour maps forward', [2026, 2, 29, 2, 30, 0], '2026-03-29T01:30:00.000Z'],
    ['Europe/Berlin', 'repeated hour: the earlier instant', [2026, 9, 25, 2, 30, 0], '2026-10-25T00:30:00.000Z'],
    ['America/New_York', 'west of UTC, before spring-forward', [2026, 2, 8, 1, 30, 0], '2026-03-08T06:30:00.000Z'],
    ['America/New_York', 'repeated hour in autumn', [2026, 10, 1, 1, 30, 0], '2026-11-01T05:30:00.000Z'],
    ['Asia/Kolkata', 'half-hour zone', [2026, 0, 1, 0, 0, 0], '2025-12-31T18:30:00.000Z'],
    ['Australia/Lord_Howe', 'half-hour DST', [2026, 0, 1, 12, 0, 0], '2026-01-01T01:00:00.000Z'],
  ];
  for (const [tz, name, [y, mo, d, h, mi, s], want] of cases) {
    it(`${tz}: ${name}`, () => assert.equal(iso(zonedToEpoch(tz, y ?? 0, mo ?? 0, d ?? 1, h ?? 0, mi ?? 0, s ?? 0)), want));
  }

  it('round-trips every quarter hour of a year in Europe/Berlin except the skipped hour', () => {
    for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 15 * 60_000) {
      const p = localParts(t, 'Europe/Berlin');
      const back = zonedToEpoch('Europe/Berlin', p.year, p.month0, p.day, p.hour, p.minute, 0);
      // In the repeated hour the earlier instant is chosen by design.
      if (back !== t) assert.equal(t - back, 3_600_000, iso(t));
    }
  });
});

describe('YearInferrer', () => {
  it('puts the first stamp no later than a day after the reference, and rolls Dec -> Jan forward', () => {
    const y = new YearInferrer(Date.UTC(2027, 0, 2, 12), 'UTC');
    assert.equal(y.yearFor(11, 30), 2026);
    assert.equal(y.yearFor(11, 31), 2026);
    assert.equal(y.yearFor(0, 1), 2027);
    assert.equal(y.yearFor(0, 2), 2027);
  });
  it('a file written today with today\'s stamps is this year', () => {
    const y = new YearInferrer(Date.UTC(2026, 10, 22, 6), 'UTC');
    assert.equal(y.yearFor(10, 22), 2026);
    const z = new YearInferrer(Date.UTC(2026, 10, 22, 6), 'UTC');
    assert.equal(z.yearFor(10, 24), 2025);
  });
});

describe('parseOffset', () => {
  it('reads +01:00, +0100, -0700, Z and rejects junk', () => {
    assert.equal(parseOffset('+01:00'), 3_600_000);
    assert.equal(parseOffset('+0100'), 3_600_000);
    assert.equal(parseOffset('-0700'), -7 * 3_600_000);
    assert.equal(parseOffset('Z'), 0);
    assert.ok(Number.isNaN(parseOffset('+25:00')));
    assert.ok(Number.isNaN(parseOffset('0100')));
  });
});

describe('YearInferrer on files out of time order', () => {
  it('does not roll past the reference time when a sample file jumps about', () => {
    const y = new YearInferrer(Date.UTC(2026, 10, 22), 'UTC');
    const years = [[11, 2], [2, 10], [0, 29], [8, 6], [3, 12], [0, 14]].map(([m, d]) => y.yearFor(m ?? 0, d ?? 1));
    for (const year of years) assert.ok(year <= 2026, String(years));
  });
});
