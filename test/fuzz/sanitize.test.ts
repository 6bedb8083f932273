/**
 * The sanitisers every log-derived string goes through before a terminal, a TSV column,
 * an e-mail header or an NDJSON line, on arbitrary strings (controls, lone surrogates,
 * bidi, any code point), with a fixed seed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { escapeJsonText, sanitize, sanitizeHeader, sanitizeTsv } from '../../src/core/sanitize.js';
import { DEFAULT_SEED, hostileText } from './properties.js';

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const text = fc.oneof(hostileText(200), fc.string({ unit: 'binary', maxLength: 100 }));
const params = { seed: DEFAULT_SEED, numRuns: 2000 };

/** Reads back what sanitizeTsv wrote. */
function unescapeTsv(s: string): string {
  return s.replace(/\\(\\|t|n|r|x[0-9a-f]{2}|u[0-9a-f]{4})/g, (_, e: string) =>
    e === '\\' ? '\\' : e === 't' ? '\t' : e === 'n' ? '\n' : e === 'r' ? '\r' : String.fromCharCode(parseInt(e.slice(1), 16)));
}

describe('fuzz: sanitisers', () => {
  it('sanitize: no control character or bidi override survives; safe text is untouched', () => {
    fc.assert(fc.property(text, (s) => {
      const out = sanitize(s);
      assert.doesNotMatch(out, UNSAFE);
      if (!UNSAFE.test(s)) assert.equal(out, s);
    }), params);
  });

  it('sanitizeTsv: one column (no TAB, no line break), and it reads back to the very string', () => {
    fc.assert(fc.property(text, (s) => {
      const out = sanitizeTsv(s);
      assert.doesNotMatch(out, UNSAFE);
      assert.equal(unescapeTsv(out), s);
    }), params);
  });

  it('sanitizeHeader: one line of at most max characters', () => {
    fc.assert(fc.property(text, fc.integer({ min: 2, max: 300 }), (s, max) => {
      const out = sanitizeHeader(s, max);
      assert.doesNotMatch(out, /[\r\n]/);
      assert.doesNotMatch(out, UNSAFE);
      assert.ok(out.length <= max, `${out.length} > ${max}`);
    }), params);
  });

  it('escapeJsonText: the same JSON value, with nothing a terminal acts on left raw', () => {
    const value = fc.jsonValue().chain((v) => fc.tuple(fc.constant(v), fc.dictionary(text, text, { maxKeys: 4 })));
    fc.assert(fc.property(value, text, ([v, dict], s) => {
      const json = JSON.stringify({ v, dict, s });
      const out = escapeJsonText(json);
      assert.deepEqual(JSON.parse(out), JSON.parse(json));
      assert.doesNotMatch(out, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    }), params);
  });
});
