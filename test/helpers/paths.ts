import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';

/** Repository root, whether running from src (ts) or dist/test (compiled). */
const here = fileURLToPath(new URL('.', import.meta.url));
export const ROOT = resolve(here, existsSync(join(here, '../../package.json')) ? '../..' : '../../..');

export function repoPath(...parts: string[]): string {
  return join(ROOT, ...parts);
}

/** `../shared/corpus` beside the repository (CI lays it there); undefined when absent. */
export function corpusDir(family: string): string | undefined {
  const d = resolve(ROOT, '..', 'shared', 'corpus', family);
  return existsSync(d) ? d : undefined;
}

/** The command as installed: the bundle `npm run build` makes of the compiled CLI (test/tools/bundle.ts). */
export const CLI = join(ROOT, 'dist', 'bin', 'cli', 'main.js');
