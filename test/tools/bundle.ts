/**
 * The installed `sendwatch` command: the compiled CLI (dist/src) bundled into
 * dist/bin/cli by esbuild, run by `npm run build` after tsc.
 *
 * Why: every cron run starts Node anew, and loading some 170 ES modules one by one (95
 * of them zod's) took 50-60 ms of a 0.2 s run with nothing new. Bundled, the same code
 * loads from a few files; what only some commands need (the report's HTML, the mail
 * transport) stays in chunks of its own, loaded when asked for, as before.
 *
 * The other dependencies stay outside: they are CommonJS (whose `require` of Node's
 * modules does not survive bundling into an ES module) or few files already. The output
 * sits at the depth of dist/src/cli, so paths relative to the CLI's own file (package.json,
 * config.schema.json) are the same in both.
 */
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { repoPath } from '../helpers/paths.js';

const BUNDLED_DEPENDENCIES = new Set(['zod']);

const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { dependencies?: Record<string, string> };
const external = Object.keys(pkg.dependencies ?? {}).filter((d) => !BUNDLED_DEPENDENCIES.has(d));
const outdir = repoPath('dist', 'bin', 'cli');

// Chunk names carry a hash: chunks of an earlier build would pile up.
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [repoPath('dist', 'src', 'cli', 'main.js')],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir,
  external,
  logLevel: 'warning',
});
chmodSync(repoPath('dist', 'bin', 'cli', 'main.js'), 0o755);
// The unbundled CLI stays runnable too: npx caches a project's bin link by path, and a
// link made before the bundle existed still points there (it failed with 127 otherwise).
chmodSync(repoPath('dist', 'src', 'cli', 'main.js'), 0o755);
