/**
 * bounces, default options unless a case says otherwise: window 60 min; warning at
 * 100, critical at 300 distinct bounced recipients; or a share of bounced among
 * delivered + bounced of 30 % (warning) / 60 % (critical) once 20 results are in.
 * `bounced`, `failed` and `expired` are bounces; `deferred` is nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Delivery, Finding, MailRecord } from '../../src/core/types.js';
import { parseConfig, resolveContext } from '../../src/config/load.js';
import { UsageError } from '../../src/core/errors.js';
import { rules } from '../../src/rules/index.js';
import { heldBy } from '../../src/rules/rule-support.js';
import { FAKE_SOURCE, HOUR, MINUTE, ruleTester, SECOND, submission, T0, withRuleOptions, type Overrides } from '../helpers/records.js';
import { assertOnlyRowChanged, brief, inRuns as runInRuns, withoutRow, withRowText } from './harness.js';

const RULE = 'bounces';
const BOB = 'bob@example.edu';
const opts = (o: Record<string, unknown>): Record<string, unknown> => withRuleOptions(RULE, o);

let nextLine = 700_000;

/** One recipient's final result for alice's mail; `undefined` removes a field (no account known). */
function delivery(over: Overrides<Delivery> = {}): Delivery {
  const at = over.at ?? T0;
  const base: Delivery = {
    kind: 'delivery', at, account: 'alice@example.edu', recipient: 'rcpt@example.org', status: 'sent', host: 'mail1',
    evidence: [{ source: FAKE_SOURCE, lineNo: nextLine++, text: `${new Date(at).toISOString()} mail1 postfix/smtp: 4AbC: to=<${over.recipient ?? 'rcpt@example.org'}>, status=${over.status ?? 'sent'}` }],
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ ...base, ...over })) if (v !== undefined) out[k] = v;
  return out as unknown as Delivery;
}

/** `n` delivered results to different recipients, from `start`, `everyMs` apart. */
const sent = (n: number, start = T0, everyMs = SECOND, over: Overrides<Delivery> = {}): Delivery[] =>
  Array.from({ length: n }, (_, i) => delivery({ ...over, recipient: `ok${i}@example.org`, at: start + Math.round(i * everyMs) }));

/** `n` bounces of different recipients. */
const dead = (n: number, start = T0, everyMs = SECOND, over: Overrides<Delivery> = {}): Delivery[] =>
  Array.from({ length: n }, (_, i) => delivery({ status: 'bounced', ...over, recipient: `dead${i}@example.net`, at: start + Math.round(i * everyMs) }));

/** Records in time order (stable). */
const merged = (...lists: MailRecord[][]): MailRecord[] => lists.flat().sort((a, b) => a.at - b.at);

/** 14 delivered, then `n` bounced a second apart: the share reaches 30 % at the 6th bounce (6 of 20). */
const shareRun = (n: number, start = T0, over: Overrides<Delivery> = {}): Delivery[] => [...sent(14, start, SECOND, over), ...dead(n, start + 20 * SECOND, SECOND, over)];

ruleTester(RULE, {
  valid: [
    { name: '99 bounced recipients among 1000 delivered in an hour', records: merged(sent(1000, T0, 3500), dead(99, T0, 35 * SECOND)) },
    { name: '19 results, all bounced (a share needs 20)', records: dead(19) },
    { name: 'deferred is no bounce: 150 deferred recipients', records: dead(150, T0, SECOND, { status: 'deferred' }) },
    {
      name: 'one dead address reported 150 times, among 400 delivered, counts once',
      records: merged(sent(400, T0, 5 * SECOND), Array.from({ length: 150 }, (_, i) => delivery({ status: 'bounced', recipient: 'dead@example.net', at: T0 + i * 10 * SECOND }))),
    },
    { name: '29 % bounced: 71 delivered, then 29 bounced', records: [...sent(71), ...dead(29, T0 + 2 * MINUTE)] },
    { name: 'deliveries without an account are not counted', records: dead(150, T0, SECOND, { account: undefined }) },
    { name: '100 bounces spread over 2 hours among 400 delivered: 50 in any hour', records: merged(sent(400, T0, 18 * SECOND), dead(100, T0, 72 * SECOND)) },
  ],
  invalid: [
    {
      name: '100 bounced recipients in an hour: warning',
      records: merged(sent(1000, T0, 3500), dead(100, T0, 35 * SECOND)),
      findings: [{ severity: 'warning', at: T0 + 99 * 35 * SECOND, message: '(warning at 100 bounced)', data: { bounced: 100, by: 'count', window_minutes: 60 } }],
    },
    {
      name: '300 bounced recipients: warning, then critical',
      records: merged(sent(3000, T0, 1100), dead(300, T0, 11 * SECOND)),
      findings: [
        { severity: 'warning', at: T0 + 99 * 11 * SECOND, data: { bounced: 100, by: 'count' } },
        { severity: 'critical', at: T0 + 299 * 11 * SECOND, message: '(critical at 300 bounced)', data: { bounced: 300, by: 'count' } },
      ],
    },
    {
      name: 'share: 14 delivered, then 6 bounced: 30 % of 20, warning',
      records: shareRun(6),
      findings: [{
        severity: 'warning', at: T0 + 25 * SECOND, message: '6 bounced recipients of 20 (30%) in 1 h (warning at 30% of at least 20)',
        data: { bounced: 6, delivered: 14, percent_bounced: 30, by: 'share' },
      }],
    },
    {
      name: 'Kerio\'s and the MTA\'s failed, and expired, are bounces',
      records: [...sent(14), ...dead(3, T0 + MINUTE, SECOND, { status: 'failed' }), delivery({ status: 'expired', recipient: 'gone1@example.net', at: T0 + 2 * MINUTE }),
        delivery({ status: 'expired', recipient: 'gone2@example.net', at: T0 + 2 * MINUTE }), delivery({ status: 'failed', recipient: 'gone3@example.net', at: T0 + 2 * MINUTE })],
      findings: [{ severity: 'warning', data: { bounced: 6, by: 'share' } }],
    },
    {
      name: '8 delivered, then 12 bounced: 60 % of 20, critical at once',
      records: [...sent(8), ...dead(12, T0 + MINUTE)],
      findings: [{ severity: 'critical', at: T0 + MINUTE + 11 * SECOND, data: { bounced: 12, delivered: 8, percent_bounced: 60, by: 'share' } }],
    },
    {
      name: 'the share climbs: warning at 6 of 20, critical at 21 of 35',
      records: shareRun(30),
      findings: [
        { severity: 'warning', at: T0 + 25 * SECOND, data: { bounced: 6 } },
        { severity: 'critical', at: T0 + 40 * SECOND, data: { bounced: 21, percent_bounced: 60 } },
      ],
    },
    {
      name: 'the client address of the account\'s latest submission is reported',
      records: [submission({ clientIp: '203.0.113.9', at: T0 - MINUTE }), ...shareRun(6)],
      findings: [{ severity: 'warning', data: { client_ip: '203.0.113.9' } }],
    },
    {
      name: 'the episode ends: the same storm three hours later is reported again',
      records: [...shareRun(6), ...shareRun(6, T0 + 3 * HOUR)],
      findings: [{ severity: 'warning', at: T0 + 25 * SECOND }, { severity: 'warning', at: T0 + 3 * HOUR + 25 * SECOND }],
    },
    {
      name: 'accounts are apart: bob\'s deliveries do not dilute alice\'s share',
      records: [...sent(1000, T0, 100, { account: BOB }), ...shareRun(6, T0 + 2 * MINUTE)],
      findings: [{ severity: 'warning', data: { delivered: 14 } }],
    },
    {
      name: 'custom levels: warning at 5 bounced, share at 50 % of 10',
      config: opts({ warningBounces: 5, criticalBounces: 8, minRecipients: 10, warningShare: 0.5, criticalShare: 0.9 }),
      records: [...sent(100), ...dead(8, T0 + 2 * MINUTE)],
      findings: [{ severity: 'warning', data: { bounced: 5, by: 'count' } }, { severity: 'critical', data: { bounced: 8, by: 'count' } }],
    },
    {
      name: 'a share hovering at 30 % is one episode (it ends below 15 %)',
      // Two delivered, one bounced, six times: 28.6 %, 27.3 %, 30.4 %, 29.2 %, 28 %, 30.8 %...
      records: [...shareRun(6), ...Array.from({ length: 6 }, (_, i) => [
        delivery({ recipient: `more${i}a@example.org`, at: T0 + (2 + i) * MINUTE }), delivery({ recipient: `more${i}b@example.org`, at: T0 + (2 + i) * MINUTE }),
        delivery({ status: 'bounced', recipient: `more${i}@example.net`, at: T0 + (2 + i) * MINUTE + SECOND }),
      ]).flat()],
      findings: [{ severity: 'warning', at: T0 + 25 * SECOND, data: { bounced: 6 } }],
    },
    {
      name: 'a late bounce (a few minutes out of order) still counts',
      records: [...sent(14, T0 + 5 * MINUTE), ...dead(5, T0 + 6 * MINUTE), delivery({ status: 'bounced', recipient: 'late@example.net', at: T0 + 2 * MINUTE })],
      findings: [{ severity: 'warning', at: T0 + 2 * MINUTE, data: { bounced: 6 } }],
    },
  ],
});

type SavedV2 = [string, number, number, number[], number[], unknown[], string | null];
type SavedV3 = { v: 3; window: number; accounts: [string, number, string][] };

/** A version 3 state's accounts as version 2 wrote them: a row's text is the client and a newline (if any), then `[level, sent, bounced, lines?]`. */
function v2Accounts(state: unknown): SavedV2[] {
  return (state as SavedV3).accounts.map(([k, now, text]): SavedV2 => {
    const nl = text.lastIndexOf('\n');
    const [level, sent, bounced, lines = []] = JSON.parse(text.slice(nl + 1)) as [number, number[], number[], [number, string, number, string][]?];
    const recent = lines.map(([h, source, lineNo, line]) => [h, { source, lineNo, text: line }]);
    return [k, now, level, sent, bounced, recent, nl < 0 ? null : text.slice(0, nl)];
  });
}

/** A version 3 state as version 2 wrote it (a tuple per account). */
const asVersion2 = (state: unknown): unknown => ({ v: 2, window: (state as SavedV3).window, accounts: v2Accounts(state) });

/** A version 3 state as version 1 wrote it (an object per account): what the state file of an older release holds. */
function asVersion1(state: unknown): unknown {
  return {
    v: 1, window: (state as SavedV3).window,
    accounts: v2Accounts(state).map(([k, now, level, sent, bounced, recent, client]) => [k, { sent, bounced, now, level, ...(client !== null ? { client } : {}), recent }]),
  };
}

const inRuns = (records: readonly MailRecord[], cuts: readonly number[], first?: unknown, between?: (state: unknown) => unknown): Finding[] =>
  runInRuns(RULE, records, cuts, { first, ...(between ? { between } : {}) });

/** The snapshot (through JSON) after `records` read by an instance restored from `saved`, and its findings. */
function run(records: readonly MailRecord[], saved?: unknown): { state: SavedV3; findings: Finding[] } {
  const rule = rules.find((r) => r.name === RULE);
  assert.ok(rule);
  const inst = rule.instantiate({}, resolveContext(parseConfig({ timezone: 'UTC' })), saved);
  const findings: Finding[] = [];
  for (const r of records) inst.onRecord(r, (f) => findings.push(f));
  return { state: JSON.parse(JSON.stringify(inst.snapshot?.())) as SavedV3, findings };
}

describe(`${RULE}: state across cron runs`, () => {
  const records = merged(
    [submission({ clientIp: '203.0.113.9', at: T0 - MINUTE })],
    sent(200, T0, 10 * SECOND), dead(130, T0 + 5 * MINUTE, 20 * SECOND),
    shareRun(30, T0 + 30 * MINUTE, { account: BOB }), shareRun(8, T0 + 5 * HOUR),
  );

  it('a snapshot restored (through JSON) at any cut gives the findings of one long run', () => {
    const whole = brief(inRuns(records, []));
    assert.equal(whole.length, 4, whole.join('\n'));
    for (let cut = 1; cut < records.length; cut += 7) assert.deepEqual(brief(inRuns(records, [cut])), whole, `cut after ${cut}`);
    assert.deepEqual(brief(inRuns(records, [50, 100, 150, 200, 300, 350])), whole);
    assert.deepEqual(brief(inRuns(records, [], { v: 1, window: 60, accounts: 'x' })), whole, 'an unusable snapshot is ignored');
  });

  it('still reads a version 1 state (an object per account)', () => {
    const whole = brief(inRuns(records, []));
    for (const cuts of [[60], [150], [50, 100, 150, 200, 300, 350]]) assert.deepEqual(brief(inRuns(records, cuts, undefined, asVersion1)), whole, `cuts ${cuts.join()}`);
  });

  it('still reads a version 2 state (a tuple per account), and turns it into the rows version 3 writes', () => {
    const whole = brief(inRuns(records, []));
    for (const cuts of [[60], [150], [50, 100, 150, 200, 300, 350]]) assert.deepEqual(brief(inRuns(records, cuts, undefined, asVersion2)), whole, `cuts ${cuts.join()}`);
    const { state } = run(records.slice(0, 150));
    assert.deepEqual(run([], asVersion2(state)).state, state);
  });

  it('gives back its rows unchanged when a run reads nothing', () => {
    const { state } = run(records.slice(0, 150));
    assert.equal(state.v, 3);
    assert.ok(state.accounts.some(([, , text]) => text.includes('\n')) && state.accounts.some(([, , text]) => text.includes(FAKE_SOURCE)), 'a client and lines are saved');
    assert.deepEqual(run([], state).state, state);
  });

  it('a run touching one account changes only that account\'s row', () => {
    const { state } = run([...records.slice(0, 150), ...dead(3, T0, SECOND, { account: 'carol@example.edu' })].sort((a, b) => a.at - b.at));
    const after = run([delivery({ account: 'carol@example.edu', at: T0 + 6 * MINUTE })], state).state;
    assertOnlyRowChanged(state.accounts, after.accounts, 'carol@example.edu');
  });

  it('a damaged row drops only its account', () => {
    const { state } = run(records.slice(0, 150));
    for (const bad of ['x', '203.0.113.9\n[1,[],[1,"2"]]', '[1,[],[],[[1,"s",2]]]']) {
      const damaged = { ...state, accounts: withRowText(state.accounts, 'alice@example.edu', bad) };
      const fresh = { ...state, accounts: withoutRow(state.accounts, 'alice@example.edu') };
      assert.deepEqual(brief(run(records.slice(150), damaged).findings), brief(run(records.slice(150), fresh).findings), bad);
      assert.deepEqual(run(records.slice(150), damaged).state, run(records.slice(150), fresh).state, bad);
    }
  });

  it('stays small: 10,000 accounts with 30 delivered and 1 bounced in the hour', () => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    const inst = rule.instantiate({}, resolveContext(parseConfig({ timezone: 'UTC' })));
    for (let i = 0; i < 10_000; i++) {
      const account = `u${i}@example.edu`;
      for (const d of [...sent(30, T0 + i * 300, 60 * SECOND, { account }), ...dead(1, T0 + i * 300, SECOND, { account })]) inst.onRecord(d, () => undefined);
    }
    const size = JSON.stringify(inst.snapshot?.()).length;
    assert.ok(size < 2_500_000, `state ${size} bytes`);
    inst.onRecord(delivery({ at: T0 + 10 * HOUR }), () => undefined);
    const later = JSON.parse(JSON.stringify(inst.snapshot?.())) as { accounts: [string][] };
    assert.deepEqual(later.accounts.map(([k]) => k), ['alice@example.edu']);
  });

  it('holds the lines of the bounces in its window while it runs, not the last lines of every account that ever bounced', () => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    const inst = rule.instantiate({}, resolveContext(parseConfig({ timezone: 'UTC' })));
    // 100 accounts over 10 days: a delivery every 30 minutes, one bounce a day, at the account's own hour.
    const records: Delivery[] = [];
    for (let i = 0; i < 100; i++) {
      const account = `u${i}@example.edu`;
      for (let day = 0; day < 10; day++) {
        records.push(...sent(48, T0 + day * 24 * HOUR + i * SECOND, 30 * MINUTE, { account }));
        records.push(...dead(1, T0 + day * 24 * HOUR + (i % 24) * HOUR + 10 * MINUTE + i * SECOND, SECOND, { account, recipient: `dead${day}@example.net` }));
      }
    }
    records.sort((a, b) => a.at - b.at);
    let most = 0;
    records.forEach((r, i) => {
      inst.onRecord(r, () => assert.fail('no finding'));
      if (i % 50 === 0) most = Math.max(most, heldBy(inst)?.lines ?? Infinity);
    });
    // At most the 5 accounts of an hour (4 or 5) bounce within one window, and a sweep may be up to a window late.
    assert.ok(most <= 10, `held up to ${most} lines`);
  });

  it('keeps the lines of accounts gone idle when the run reads several inputs, which may go back to them', () => {
    const rule = rules.find((r) => r.name === RULE);
    assert.ok(rule);
    const ctx = resolveContext(parseConfig({ timezone: 'UTC' }));
    // 100 accounts bounce once on the first day and fall silent; one goes on sending for 3 days.
    const records: Delivery[] = [];
    for (let i = 0; i < 100; i++) records.push(...dead(1, T0 + i * MINUTE, SECOND, { account: `u${i}@example.edu`, recipient: `dead${i}@example.net` }));
    records.push(...sent(72, T0 + 2 * HOUR, HOUR, { account: 'busy@example.edu' }));
    records.sort((a, b) => a.at - b.at);
    const held = (severalInputs: boolean): number | undefined => {
      const inst = rule.instantiate({}, { ...ctx, severalInputs });
      for (const r of records) inst.onRecord(r, () => assert.fail('no finding'));
      return heldBy(inst)?.lines;
    };
    assert.equal(held(false), 0);
    assert.equal(held(true), 100);
  });

  it('rejects criticalShare below warningShare, naming the key', () => {
    assert.throws(
      () => parseConfig({ rules: { [RULE]: { warningShare: 0.5, criticalShare: 0.4 } } }, 'site.json'),
      (e: unknown) => e instanceof UsageError && /rules\.bounces\.criticalShare: must be at least warningShare/.test(e.message),
    );
  });
});
