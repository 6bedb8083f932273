/**
 * The installed `sendwatch` command: the compiled CLI (dist/src) bundled into
 * dist/bin/cli by esbuild, run by `npm run build` after tsc.
 *
 * Why: every cron run starts Node anew, and loading some 170 ES modules one by one (95
 * of them zod's) took 50-60 ms of a 0.2 s run with nothing new. Bundled, the same code
 * loads from a few files; what only some commands need (the report's HTML, the mail
 * transport) stays in chunks of its own, loaded when asked for, as before.
 *
 * zod's 64 locales go: zod's `locales` namespace re-exports every language, so a bundle
 * cannot shake them out, and they were half of the 760 KB every run parsed. Only English,
 * which zod configures itself with, is kept. Whitespace and syntax are minified for the
 * same reason (names are kept, so stack traces and profiles still read).
 *
 * The other dependencies stay outside: they are CommonJS (whose `require` of Node's
 * modules does not survive bundling into an ES module) or few files already. The output
 * sits at the depth of dist/src/cli, so paths relative to the CLI's own file (package.json,
 * config.schema.json) are the same in both.
 */
import { build, type Plugin } from 'esbuild';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { sep } from 'node:path';
import { repoPath } from '../helpers/paths.js';

const BUNDLED_DEPENDENCIES = new Set(['zod']);

const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { dependencies?: Record<string, string> };
const external = Object.keys(pkg.dependencies ?? {}).filter((d) => !BUNDLED_DEPENDENCIES.has(d));
const outdir = repoPath('dist', 'bin', 'cli');

/** zod's `../locales/index.js`, as only English: the one zod itself uses (`config(en())`). */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (a) => (a.importer.includes(`${sep}node_modules${sep}zod${sep}`)
      ? { path: 'zod-locales', namespace: 'zod-english-only', pluginData: a.resolveDir }
      : undefined));
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (a) => ({
      contents: 'export { default as en } from "../locales/en.js";',
      resolveDir: String(a.pluginData),
      loader: 'js',
    }));
  },
};

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
  plugins: [zodEnglishOnly],
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
chmodSync(repoPath('dist', 'bin', 'cli', 'main.js'), 0o755);
// The unbundled CLI stays runnable too: npx caches a project's bin link by path, and a
// link made before the bundle existed still points there (it failed with 127 otherwise).
chmodSync(repoPath('dist', 'src', 'cli', 'main.js'), 0o755);
