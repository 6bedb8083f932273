/**
 * base85: the text form of packed state rows. Checked against the Z85 specification's
 * own example, on every tail length, and on text that is not its output.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBase85, encodeBase85 } from '../../src/core/base85.js';

describe('base85', () => {
  it('writes the Z85 specification\'s example as the specification does', () => {
    // ZeroMQ RFC 32: 0x86 0x4F 0xD2 0x6F 0xB5 0x59 0xF7 0x5B is "HelloWorld".
    const bytes = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    assert.equal(encodeBase85(bytes), 'HelloWorld');
    assert.deepEqual(decodeBase85('HelloWorld'), bytes);
  });

  it('gives back every length of bytes, including the extreme byte values, in 5 characters per 4', () => {
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff;
    for (let len = 0; len <= 41; len++) {
      for (const fill of ['random', 0x00, 0xff] as const) {
        const bytes = Buffer.from(Array.from({ length: len }, () => (fill === 'random' ? next() : fill)));
        const text = encodeBase85(bytes);
        assert.equal(text.length, Math.floor(len / 4) * 5 + (len % 4 === 0 ? 0 : (len % 4) + 1));
        assert.deepEqual(decodeBase85(text), bytes, `${len} bytes of ${String(fill)}`);
      }
    }
  });

  it('writes nothing JSON would escape', () => {
    const all = encodeBase85(Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + (i >> 4)) & 0xff)));
    assert.equal(JSON.stringify(all), `"${all}"`);
  });

  it('refuses text that is not its output', () => {
    for (const bad of ['Hello World', 'Hello"orld', 'x', 'HelloWorlda', 'Héllo', '%%%%%', '#####']) {
      assert.equal(decodeBase85(bad), undefined, bad);
    }
  });
});
