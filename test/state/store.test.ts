/**
 * The state file: the order its sections are written in, reading the cursors and outbox
 * from its start (peekState) whatever follows them, and loading with the cheap checks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { topLevelSpans } from '../../src/state/json-spans.js';
import { emptyState, type SourceState, type State } from '../../src/state/schema.js';
import { loadState, peekState, saveState, serializeState } from '../../src/state/store.js';

function stateDir(): string {
  return mkdtempSync(join(tmpdir(), 'sendwatch-state-'));
}

/** A state with every section, rules big enough that the head is far from the end. */
/** A log's state as the head of the file holds it: the cursor, without the parser's open messages. */
function withoutParser(v: SourceState): SourceState {
  const c = { ...v };
  delete c.parser;
  return c;
}

function sampleState(ruleEntries = 10): State {
  const cursor = { path: '/var/log/maillog', dev: 1, ino: 2, size: 300, offset: 300, lineNo: 7, headHash: '0123456789abcdef', headLength: 300, mtimeMs: 1_700_000_000_000.5 };
  return {
    version: 1,
    updatedAt: 1_700_000_000_000,
    sources: { '/var/log/maillog': { cursor, format: 'postfix', parser: { open: [['qid', { from: 'a@b' }]] } } },
    rules: { 'sends-per-account': { v: 1, accounts: Array.from({ length: ruleEntries }, (_, i) => [`user${i}@example.org "quoted" \\ {[`, { secs: [i, i + 1] }]) } },
    alerts: { 'odd-hours|ann@example.org|info': { rule: 'odd-hours', account: 'ann@example.org', severity: 'info', firstSeen: 1, lastSeen: 2, lastSent: 2, magnitude: 1, sent: 1 } },
    outbox: [],
    incidents: { v: 1, open: [] },
  };
}

describe('topLevelSpans', () => {
  it('finds each wanted value as JSON.parse reads it, through strings with quotes, escapes and brackets', () => {
    const value = { a: 'x"}]\\', b: [1, { c: '}' }], d: null, e: -1.5e3, f: true, g: {} };
    const text = JSON.stringify(value);
    const spans = topLevelSpans(text, new Set(Object.keys(value)));
    assert.ok(typeof spans !== 'string');
    for (const [k, [start, end]] of spans) assert.deepEqual(JSON.parse(text.slice(start, end)), (value as Record<string, unknown>)[k]);
    assert.equal(spans.size, Object.keys(value).length);
  });

  it('stops at the last wanted key: the rest of the text is not looked at', () => {
    const text = '{"version":1,"sources":{},"outbox":[],"rules":{"x": this is never read';
    const spans = topLevelSpans(text, new Set(['version', 'sources', 'outbox']));
    assert.ok(typeof spans !== 'string');
    assert.deepEqual([...spans.keys()], ['version', 'sources', 'outbox']);
  });

  it('says incomplete for a prefix that ends before the wanted keys, malformed for what is no object', () => {
    assert.equal(topLevelSpans('{"rules":{"a":[1,2', new Set(['outbox'])), 'incomplete');
    assert.equal(topLevelSpans('{"version":1', new Set(['outbox'])), 'incomplete');
    assert.equal(topLevelSpans('', new Set(['outbox'])), 'incomplete');
    assert.equal(topLevelSpans('[1,2]', new Set(['outbox'])), 'malformed');
    assert.equal(topLevelSpans('{"a" 1}', new Set(['outbox'])), 'malformed');
    assert.equal(topLevelSpans('{"a":1;"b":2}', new Set(['b'])), 'malformed');
    assert.equal(topLevelSpans('{version:1}', new Set(['version'])), 'malformed');
  });

  it('agrees with JSON.parse on any JSON object', () => {
    fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.boolean(), (obj, pretty) => {
      const text = pretty ? JSON.stringify(obj, null, 2) : JSON.stringify(obj);
      const parsed = JSON.parse(text) as Record<string, unknown>;
      const keys = Object.keys(parsed);
      const spans = topLevelSpans(text, new Set(keys));
      if (typeof spans === 'string') return false;
      return keys.every((k) => {
        const span = spans.get(k);
        return span !== undefined && JSON.stringify(JSON.parse(text.slice(span[0], span[1]))) === JSON.stringify(parsed[k]);
      });
    }), { seed: 42, numRuns: 300 });
  });
});

describe('state file', () => {
  it('writes the cursors and the outbox before the bulk, and loads back what it saved', () => {
    const dir = stateDir();
    const path = join(dir, 'state.json');
    const state = sampleState();
    saveState(path, state);
    const text = readFileSync(path, 'utf8');
    assert.equal(text, serializeState(state));
    // One JSON object; each log's parser state is written apart from its cursor, after the alerts.
    const { sources, ...rest } = state;
    const cursors = Object.fromEntries(Object.entries(sources).map(([k, v]) => [k, withoutParser(v)]));
    const parsers = Object.fromEntries(Object.entries(sources).map(([k, v]) => [k, v.parser]));
    const alerts = [['odd-hours', 'ann@example.org', 'info', 1, 2, 2, 1, 1]];
    assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify({ ...rest, sources: cursors, alerts, parsers })));
    const order = ['version', 'updatedAt', 'sources', 'outbox', 'alerts', 'parsers', 'incidents', 'rules'].map((k) => text.indexOf(`"${k}":`));
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
    const loaded = loadState(path, 0);
    assert.equal(loaded.warning, undefined);
    assert.deepEqual(loaded.state, state);
  });

  it('peekState reads the cursors and the outbox of a state of any size from its start', () => {
    const dir = stateDir();
    const path = join(dir, 'state.json');
    const state = sampleState(200_000);
    // Open messages as big as a busy Messaging Server's stay out of the head.
    const source = state.sources['/var/log/maillog'];
    assert.ok(source);
    source.parser = { known: Array.from({ length: 20_000 }, (_, i) => [`m:${i}@example.org`, { account: 'a@example.org', at: i }]) };
    saveState(path, state);
    const text = readFileSync(path, 'utf8');
    assert.ok(text.length > 1_000_000);
    assert.ok(text.indexOf('"alerts":') < 4096);
    assert.deepEqual(peekState(path), { version: 1, sources: { '/var/log/maillog': withoutParser(source) }, outbox: [] });
    assert.deepEqual(loadState(path, 0).state.sources, state.sources);
  });

  it('loads a file from before parsers were written apart, with each parser state beside its cursor', () => {
    const dir = stateDir();
    const path = join(dir, 'state.json');
    const state = sampleState();
    writeFileSync(path, `${JSON.stringify(state)}\n`, { mode: 0o600 });
    assert.deepEqual(loadState(path, 0).state, state);
  });

  it('peekState reads a file written with its sections in another order (an earlier version) whole', () => {
    const dir = stateDir();
    const path = join(dir, 'state.json');
    const state = sampleState(20_000);
    writeFileSync(path, `${JSON.stringify(state)}\n`, { mode: 0o600 });
    assert.ok(readFileSync(path, 'utf8').indexOf('"outbox"') > 64 * 1024);
    assert.deepEqual(peekState(path), { version: 1, sources: state.sources, outbox: [] });
  });

  it('peekState leaves a missing, damaged, old or foreign state to loadState, which deals with it', () => {
    const dir = stateDir();
    const path = join(dir, 'state.json');
    assert.equal(peekState(path), undefined);
    for (const text of ['{"version":1,"sources":{', 'not json', '{"version":2,"sources":{},"outbox":[]}', '{"version":1,"sources":{"x":{"cursor":7}},"outbox":[]}', '{"version":1,"sources":{},"outbox":{}}']) {
      writeFileSync(path, text, { mode: 0o600 });
      assert.equal(peekState(path), undefined, text);
    }
    const link = join(dir, 'link.json');
    saveState(path, sampleState());
    symlinkSync(path, link);
    assert.throws(() => peekState(link), /symbolic link/);
  });

  it('loadState moves aside a state whose alert memory is damaged, naming the entry', () => {
    const dir = stateDir();
    const path = join(dir, 'state.json');
    const state = sampleState();
    const bad = { ...state, alerts: { ...state.alerts, 'x|y|info': { rule: 'x', account: 'y', severity: 'loud', firstSeen: 1, lastSeen: 1, lastSent: 1, magnitude: 1, sent: 1 } } };
    writeFileSync(path, JSON.stringify(bad), { mode: 0o600 });
    const loaded = loadState(path, 0);
    assert.deepEqual(loaded.state, emptyState(0));
    assert.match(loaded.warning ?? '', /invalid \(alerts\.x\|y\|info: not an alert memory entry\)/);
    assert.ok(readdirSync(dir).some((f) => f.startsWith('state.json.corrupt-')));
    // The rows a current file holds: a damaged one is named by its place.
    const good = ['odd-hours', 'ann@example.org', 'info', 1, 2, 2, 1, 1];
    for (const row of [['x', 'y', 'loud', 1, 1, 1, 1, 1], good.slice(0, 7), [...good.slice(0, 3), '1', ...good.slice(4)], 'row']) {
      writeFileSync(path, JSON.stringify({ ...state, alerts: [good, row] }), { mode: 0o600 });
      assert.match(loadState(path, 0).warning ?? '', /invalid \(alerts\.1: not an alert memory entry\)/, JSON.stringify(row));
    }
    for (const [section, value, want] of [['rules', [], 'expected an object'], ['alerts', null, 'expected a list or an object']] as const) {
      writeFileSync(path, JSON.stringify({ ...state, [section]: value }), { mode: 0o600 });
      assert.match(loadState(path, 0).warning ?? '', new RegExp(`invalid \\(${section}: ${want}\\)`));
    }
  });

  it('writes the alert memory as rows, and still loads a file that holds it as an object by fingerprint', () => {
    const dir = stateDir();
    const path = join(dir, 'state.json');
    const state: State = {
      ...sampleState(),
      alerts: Object.fromEntries(['info', 'warning', 'critical'].flatMap((severity, i) => ['ann@example.org', 'bob "b" \\ \u00e9@example.org'].map((account, j) => {
        const m = { rule: i === 2 ? 'auth-failures' : 'odd-hours', account, severity: severity as 'info', firstSeen: i, lastSeen: i + j, lastSent: i, magnitude: 2.5 * j, sent: i + 1 };
        return [`${m.rule}|${account}|${severity}`, m];
      }))),
    };
    saveState(path, state);
    const text = readFileSync(path, 'utf8');
    const saved = (JSON.parse(text) as { alerts: unknown }).alerts;
    assert.ok(Array.isArray(saved) && saved.length === 6 && saved.every((r) => Array.isArray(r) && r.length === 8), text);
    assert.ok(!text.includes('"firstSeen"'), 'no field names are repeated per entry');
    const loaded = loadState(path, 0);
    assert.equal(loaded.warning, undefined);
    assert.deepEqual(loaded.state.alerts, state.alerts);
    // In the same order: the policy keeps it, and a rewrite gives the same bytes.
    assert.deepEqual(Object.keys(loaded.state.alerts), Object.keys(state.alerts));
    assert.equal(serializeState(loaded.state), text);
    // A file written before the rows.
    writeFileSync(path, JSON.stringify({ ...JSON.parse(text) as object, alerts: state.alerts }), { mode: 0o600 });
    const old = loadState(path, 0);
    assert.equal(old.warning, undefined);
    assert.deepEqual(old.state.alerts, state.alerts);
    assert.equal(serializeState(old.state), text);
  });
});
