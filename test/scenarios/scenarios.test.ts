/**
 * Scenario tests: a config and a day of log in, NDJSON findings out, compared with
 * a golden file (TZ=UTC, built binary). Regenerate a golden file only after reading
 * the diff: `UPDATE_GOLDEN=1 npm test`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { repoPath } from '../helpers/paths.js';

interface Row {
  time: string;
  account: string;
  rule: string;
  severity: string;
  message: string;
  data: Record<string, unknown>;
  evidence: { source: string; line: number; text: string }[];
}

const dir = repoPath('fixtures', 'scenarios');
const scenarios = readdirSync(dir).filter((d) => existsSync(join(dir, d, 'input.log'))).sort();

function parseRows(ndjson: string): Row[] {
  return ndjson.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Row);
}

async function scan(name: string): Promise<{ code: number | null; rows: Row[]; stdout: string; stderr: string }> {
  const rel = join('fixtures', 'scenarios', name);
  const r = await runCli(['scan', '--config', join(rel, 'config.json'), '--output', 'ndjson', join(rel, 'input.log')]);
  return { ...r, rows: parseRows(r.stdout) };
}

describe('scenarios: golden NDJSON', () => {
  it('has scenarios', () => assert.ok(scenarios.length >= 3));
  for (const name of scenarios) {
    it(name, async () => {
      const r = await scan(name);
      const golden = join(dir, name, 'expected.ndjson');
      if (process.env.UPDATE_GOLDEN) writeFileSync(golden, r.stdout);
      assert.equal(r.stdout, readFileSync(golden, 'utf8'), `${name}: output differs from expected.ndjson`);
      assert.equal(r.code, r.rows.length > 0 ? 1 : 0);
    });
  }
});

const atLeastWarning = (rows: Row[]): Row[] => rows.filter((f) => f.severity !== 'info');

describe('scenarios: what must and must not be flagged', () => {
  it('postfix: the hijacked account is critical on volume, forged senders, night and foreign host', async () => {
    const { rows } = await scan('postfix-compromised');
    const frank = rows.filter((f) => f.account === 'frank@example.edu');
    for (const rule of ['sends-per-account', 'from-user-mismatch', 'odd-hours']) {
      assert.ok(frank.some((f) => f.rule === rule && f.severity === 'critical'), `no critical ${rule}`);
    }
    assert.ok(frank.some((f) => f.rule === 'foreign-sender-host' && f.data.client_ip === '185.220.101.34'));
    assert.deepEqual([...new Set(atLeastWarning(rows).map((f) => f.account))], ['frank@example.edu'], 'only frank is flagged');
    // Every evidence line is one of frank's own: his login line, or a line of one of his messages.
    const log = readFileSync(join(dir, 'postfix-compromised', 'input.log'), 'utf8').split('\n');
    const qids = new Set(log.filter((l) => l.includes('sasl_username=frank@example.edu')).map((l) => /: (\w+): client=/.exec(l)?.[1]));
    for (const f of frank) {
      assert.ok(f.evidence.length > 0, 'evidence lines');
      for (const e of f.evidence) {
        assert.equal(e.text, log[e.line - 1], 'evidence quotes the log line at that number');
        const qid = /: (\w+): /.exec(e.text.slice(e.text.indexOf(']: ')))?.[1];
        assert.ok(e.text.includes('not owned by user frank') || (qid !== undefined && qids.has(qid)), e.text);
      }
    }
  });

  it('postfix: bulk sender, alias user and steady heavy sender are not flagged at warning or above', async () => {
    const { rows } = await scan('postfix-legit');
    assert.deepEqual(atLeastWarning(rows), []);
    for (const who of ['newsletter@example.edu', 'dean@example.edu', 'sales@example.edu']) {
      assert.ok(!rows.some((f) => f.account === who), `${who} flagged`);
    }
    // The one late message is a weak signal and stays info.
    assert.deepEqual(rows.map((f) => [f.account, f.rule, f.severity]), [['carol@example.edu', 'odd-hours', 'info']]);
  });

  it('kerio: the hijacked account is flagged; the Subject cannot change who sent it or from where', async () => {
    const { rows } = await scan('kerio-compromised');
    const eve = rows.filter((f) => f.account === 'eve@example.com');
    assert.ok(eve.some((f) => f.rule === 'sends-per-account' && f.severity === 'critical'));
    assert.ok(eve.some((f) => f.rule === 'from-user-mismatch' && f.severity === 'critical'));
    assert.ok(eve.some((f) => f.rule === 'foreign-sender-host' && f.data.client_ip === '203.0.113.50'));
    assert.deepEqual([...new Set(atLeastWarning(rows).map((f) => f.account))], ['eve@example.com']);
    assert.ok(!rows.some((f) => f.account === 'ceo@example.com'), 'the Subject blamed ceo@');
    // Webmail (0.0.0.0) and the alias sender are not flagged.
    assert.ok(!rows.some((f) => f.account === 'anna@example.com'));
  });
});
