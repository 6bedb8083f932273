/**
 * Bytes as text for a JSON state file, in ZeroMQ's Z85 alphabet: five characters per four
 * bytes where base64 spends five and a third. Packed evidence lines are most of a large
 * site's state, so this is 6% of the file. The alphabet has no `"` or `\`, so JSON
 * writes the text as it is.
 *
 * A last group of n < 4 bytes is written as n + 1 characters, as Ascii85 does: the group
 * is padded with zero bytes, and the reader pads it back with the highest digit.
 */

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/** Each character code's digit, or -1. */
const DIGITS: Int8Array = (() => {
  const d = new Int8Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) d[ALPHABET.charCodeAt(i)] = i;
  return d;
})();

export function encodeBase85(bytes: Uint8Array): string {
  let out = '';
  const chars = ['', '', '', '', ''];
  for (let i = 0; i < bytes.length; i += 4) {
    const n = Math.min(4, bytes.length - i);
    let v = 0;
    for (let k = 0; k < 4; k++) v = v * 256 + (k < n ? (bytes[i + k] ?? 0) : 0);
    for (let k = 4; k >= 0; k--) {
      chars[k] = ALPHABET[v % 85] ?? '';
      v = Math.floor(v / 85);
    }
    for (let k = 0; k <= n; k++) out += chars[k] ?? '';
  }
  return out;
}

/** The bytes `encodeBase85` was given, or undefined when `text` is not its output. */
export function decodeBase85(text: string): Buffer | undefined {
  const tail = text.length % 5;
  if (tail === 1) return undefined;
  const out = Buffer.allocUnsafe(Math.floor(text.length / 5) * 4 + (tail === 0 ? 0 : tail - 1));
  let o = 0;
  for (let i = 0; i < text.length; i += 5) {
    const n = Math.min(5, text.length - i);
    let v = 0;
    for (let k = 0; k < 5; k++) {
      const code = k < n ? text.charCodeAt(i + k) : 0x23; // '#', the highest digit
      const digit = code < 128 ? (DIGITS[code] ?? -1) : -1;
      if (digit < 0) return undefined;
      v = v * 85 + digit;
    }
    if (v > 0xffffffff) return undefined;
    for (let k = 0; k < n - 1; k++) out[o++] = Math.floor(v / 2 ** (24 - 8 * k)) & 0xff;
  }
  return out;
}
