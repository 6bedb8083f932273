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
const CODES = Buffer.from(ALPHABET, 'latin1');

/** Each character code's digit, or 255. */
const DIGITS: Uint8Array = (() => {
  const d = new Uint8Array(256).fill(255);
  for (let i = 0; i < CODES.length; i++) d[CODES[i] ?? 0] = i;
  return d;
})();

// Both directions work on bytes and integers and build one string at the end: a cron run
// packs and unpacks some thousand accounts before V8 has compiled these loops.

export function encodeBase85(bytes: Uint8Array): string {
  const tail = bytes.length & 3;
  const out = Buffer.allocUnsafe((bytes.length >>> 2) * 5 + (tail === 0 ? 0 : tail + 1));
  let o = 0;
  for (let i = 0; i < bytes.length; i += 4) {
    // A short last group is padded with zero bytes, and only its first n + 1 digits are written.
    let v = (((bytes[i] ?? 0) << 24) | ((bytes[i + 1] ?? 0) << 16) | ((bytes[i + 2] ?? 0) << 8) | (bytes[i + 3] ?? 0)) >>> 0;
    const d4 = v % 85;
    v = (v - d4) / 85;
    const d3 = v % 85;
    v = (v - d3) / 85;
    const d2 = v % 85;
    v = (v - d2) / 85;
    const d1 = v % 85;
    const n = Math.min(4, bytes.length - i);
    out[o++] = CODES[(v - d1) / 85] ?? 0;
    out[o++] = CODES[d1] ?? 0;
    if (n > 1) out[o++] = CODES[d2] ?? 0;
    if (n > 2) out[o++] = CODES[d3] ?? 0;
    if (n > 3) out[o++] = CODES[d4] ?? 0;
  }
  return out.toString('latin1', 0, o);
}

/** The bytes `encodeBase85` was given, or undefined when `text` is not its output. */
export function decodeBase85(text: string): Buffer | undefined {
  const tail = text.length % 5;
  if (tail === 1) return undefined;
  const chars = Buffer.from(text, 'latin1');
  // latin1 keeps one byte per character only for codes below 256; the alphabet is ASCII.
  if (chars.length !== text.length) return undefined;
  const out = Buffer.allocUnsafe(Math.floor(text.length / 5) * 4 + (tail === 0 ? 0 : tail - 1));
  let o = 0;
  for (let i = 0; i < chars.length; i += 5) {
    const n = Math.min(5, chars.length - i);
    let v = 0;
    for (let k = 0; k < 5; k++) {
      const digit = k < n ? (DIGITS[chars[i + k] ?? 0] ?? 255) : 84; // 84 = '#', the highest digit
      if (digit === 255) return undefined;
      v = v * 85 + digit;
    }
    if (v > 0xffffffff) return undefined;
    for (let k = 0; k < n - 1; k++) out[o++] = (v >>> (24 - 8 * k)) & 0xff;
  }
  return out;
}
