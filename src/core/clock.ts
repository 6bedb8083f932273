/**
 * The only place that reads the wall clock. Windows and findings use log time; the
 * clock only anchors relative `--since 2h` and year-less stamps on stdin.
 * SENDWATCH_NOW (ISO 8601) pins it for tests and reproducible runs.
 */
export function now(): number {
  const pinned = process.env.SENDWATCH_NOW;
  if (pinned) {
    const t = Date.parse(pinned);
    if (!Number.isNaN(t)) return t;
  }
  return Date.now();
}
