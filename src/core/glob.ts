/**
 * `*`-only wildcard matching for account and address patterns (`*@dept.example.edu`).
 * The classic two-pointer algorithm: at worst O(text x pattern), never exponential,
 * since the text is attacker-written and a regex built from a pattern could backtrack.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** A set of exact strings and patterns, compared case-insensitively. */
export class PatternSet {
  private readonly exact = new Set<string>();
  private readonly globs: string[] = [];

  constructor(patterns: Iterable<string>) {
    for (const raw of patterns) {
      const p = raw.toLowerCase();
      if (p.includes('*')) this.globs.push(p);
      else this.exact.add(p);
    }
  }

  get size(): number {
    return this.exact.size + this.globs.length;
  }

  has(value: string): boolean {
    const v = value.toLowerCase();
    if (this.exact.has(v)) return true;
    for (const g of this.globs) if (globMatch(g, v)) return true;
    return false;
  }
}
