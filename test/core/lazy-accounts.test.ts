/**
 * LazyAccounts: rows decoded only when asked for, written back as read otherwise, in
 * the order one eagerly restored map would keep.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { decodeBase85, encodeBase85 } from '../../src/core/base85.js';
import { LazyAccounts, savedRows, TextPacker, type SavedRow } from '../../src/core/lazy-accounts.js';

interface Entry { n: number; at: number }

const decodeCounting = (calls: string[]) => (text: string, account: string): Entry | undefined => {
  calls.push(account);
  if (text === 'bad') return undefined;
  const [n, at] = text.split(',').map(Number);
  return n === undefined || at === undefined ? undefined : { n, at };
};
const encode = (e: Entry): string => `${e.n},${e.at}`;
const keepAll = (): boolean => true;

describe('LazyAccounts', () => {
  const rows: SavedRow[] = [['a', 10, '1,10'], ['b', 20, '2,20'], ['c', 30, 'bad'], ['d', 40, '4,40']];

  it('decodes only the accounts asked for, and saves the others byte for byte', () => {
    const calls: string[] = [];
    const m = new LazyAccounts(decodeCounting(calls), rows);
    const b = m.get('b');
    assert.deepEqual(b, { n: 2, at: 20 });
    if (b) b.n = 7;
    assert.deepEqual(calls, ['b']);
    assert.deepEqual(m.rows((e) => e.at, keepAll, encode), [['a', 10, '1,10'], ['b', 20, '7,20'], ['c', 30, 'bad'], ['d', 40, '4,40']]);
    // A decoded entry stays decoded: asked again, it is the same object.
    assert.equal(m.get('b'), b);
    assert.deepEqual(calls, ['b']);
  });

  it('keeps map order: a decoded account keeps its place, a new one goes last', () => {
    const m = new LazyAccounts(decodeCounting([]), rows);
    m.get('d');
    m.set('e', { n: 5, at: 50 });
    m.get('a');
    assert.deepEqual([...m.keys()], ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(m.rows((e) => e.at, keepAll, encode).map((r) => r[0]), ['a', 'b', 'c', 'd', 'e']);
  });

  it('drops an account whose text does not decode, as an eager restore would', () => {
    const m = new LazyAccounts(decodeCounting([]), rows);
    assert.equal(m.get('c'), undefined);
    assert.equal(m.has('c'), false);
    assert.equal(m.size, 3);
    assert.deepEqual([...m.entries()].map(([k]) => k), ['a', 'b', 'd']);
  });

  it('prunes by stamp without decoding, and the latest stamp counts undecoded rows', () => {
    const calls: string[] = [];
    const m = new LazyAccounts(decodeCounting(calls), rows);
    m.set('e', { n: 5, at: 35 });
    assert.equal(m.latest((e) => e.at), 40);
    const kept = m.rows((e) => e.at, (stamp) => stamp >= 25, encode);
    assert.deepEqual(kept.map((r) => r[0]), ['c', 'd', 'e']);
    assert.deepEqual(calls, []);
  });

  it('encode may drop a decoded entry', () => {
    const m = new LazyAccounts(decodeCounting([]), rows);
    m.get('a');
    assert.deepEqual(m.rows((e) => e.at, keepAll, (e) => (e.n === 1 ? undefined : encode(e))).map((r) => r[0]), ['b', 'c', 'd']);
  });

  it('savedRows accepts rows and refuses anything else whole', () => {
    assert.deepEqual(savedRows(JSON.parse(JSON.stringify(rows))), rows);
    assert.deepEqual(savedRows([]), []);
    for (const bad of [undefined, {}, [['a', 1]], [['a', '1', 'x']], [[1, 1, 'x']], [['a', 1, 2]], [['a', null, 'x']], [rows[0], 'x']]) {
      assert.equal(savedRows(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe('TextPacker', () => {
  const line = (i: number): string => `Mar  4 0${i % 10}:26:49 smtp2 postfix/submission/smtpd[${7000 + i}]: 2A13A4D36${i}: client=unknown[203.0.113.${i % 250}], sasl_method=PLAIN, sasl_username=user${i}@example.edu`;
  const texts = Array.from({ length: 200 }, (_, i) => JSON.stringify([[0, i, line(i)], [0, i + 1, line(i + 1)], [0, i + 2, line(i + 2)]]));

  it('gives back what it packed, through the dictionary a state file names', () => {
    const p = TextPacker.current();
    const again = TextPacker.fromSaved(JSON.parse(JSON.stringify(p.saved())));
    assert.ok(again);
    for (const t of [texts[0] ?? '', texts[199] ?? '', '', 'ünïcödé \u2028 "quoted"']) assert.equal(again.unpack(p.pack(t)), t);
  });

  it('packs an account\'s few lines smaller than deflate alone', () => {
    let withDict = 0;
    let plain = 0;
    for (const t of texts) {
      withDict += TextPacker.current().pack(t).length;
      plain += deflateRawSync(t).toString('base64').length;
    }
    assert.ok(withDict * 1.5 < plain, `${withDict} vs ${plain}`);
  });

  it('packs the same text the same way every time (a state does not depend on which run wrote it)', () => {
    assert.equal(TextPacker.current().pack(texts[3] ?? ''), TextPacker.current().pack(texts[3] ?? ''));
  });

  it('a damaged row gives undefined, not an exception', () => {
    const p = TextPacker.current();
    const packed = p.pack(texts[5] ?? '');
    assert.equal(p.unpack('!!not base64 at all'), undefined);
    assert.equal(p.unpack(packed.slice(0, 10)), undefined);
    assert.equal(p.unpack(encodeBase85(deflateRawSync('x'.repeat(20_000_000)))), undefined);
  });

  it('still reads the base64 rows of dictionary 1, and writes base85 (a sixteenth shorter)', () => {
    const v1 = TextPacker.fromSaved(1);
    assert.ok(v1);
    assert.equal(TextPacker.current().saved(), 2);
    let b64 = 0;
    let b85 = 0;
    for (const t of texts) {
      const old = v1.pack(t);
      const now = TextPacker.current().pack(t);
      assert.match(old, /^[A-Za-z0-9+/]*=*$/);
      assert.equal(v1.unpack(old), t);
      assert.deepEqual(decodeBase85(now), Buffer.from(old, 'base64'), 'the same deflated bytes');
      b64 += old.length;
      b85 += now.length;
    }
    assert.ok(b85 < b64 * 0.95, `${b85} vs ${b64}`);
  });

  it('refuses a dictionary it does not know', () => {
    for (const bad of [undefined, 0, 3, '1', '2', {}]) assert.equal(TextPacker.fromSaved(bad), undefined);
  });
});
