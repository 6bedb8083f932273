/**
 * Code-point order, for names of our own (rules, parsers): plain ASCII, which localeCompare
 * orders the same way, but whose first call loads ICU's collator, 5-8 ms of every run's
 * start-up (the registries are sorted as they load).
 */
export function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
