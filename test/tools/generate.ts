/**
 * Writes the generated files that are committed: config.schema.json (from the zod
 * config schema) and sendwatch.1 (from the command definitions).
 *
 *   npm run generate          rewrite both
 *   npm run generate -- --check   exit 1 if either is stale
 *
 * test/cli/generated.test.ts fails when a committed copy differs from what this writes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { repoPath } from '../helpers/paths.js';
import { renderManPage } from './man.js';
import { renderConfigSchema } from './schema.js';

export async function generatedFiles(): Promise<Record<string, string>> {
  return { 'config.schema.json': renderConfigSchema(), 'sendwatch.1': await renderManPage() };
}

async function run(check: boolean): Promise<number> {
  let stale = 0;
  for (const [name, text] of Object.entries(await generatedFiles())) {
    const path = repoPath(name);
    let old = '';
    try {
      old = readFileSync(path, 'utf8');
    } catch {
      old = '';
    }
    if (old === text) continue;
    if (check) {
      process.stderr.write(`${name} is stale: run npm run generate\n`);
      stale++;
    } else {
      writeFileSync(path, text);
      process.stdout.write(`wrote ${name}\n`);
    }
  }
  return stale ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run(process.argv.includes('--check')).then((code) => {
    process.exitCode = code;
  }, (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
