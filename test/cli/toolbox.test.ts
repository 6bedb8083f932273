/** init, completion, --help on every command, and the generated schema and man page (the built binary where a user runs it). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { runCli } from '../helpers/cli.js';
import { repoPath } from '../helpers/paths.js';
import { configKeyPaths, parseConfig } from '../../src/config/load.js';
import { generatedFiles } from '../tools/generate.js';
import { loadProgram } from '../tools/man.js';
import { readmeDescriptions } from '../tools/schema.js';

const tmp = mkdtempSync(join(tmpdir(), 'sendwatch-toolbox-'));
const PF_LOG = join('fixtures', 'scenarios', 'postfix-compromised', 'input.log');
const KERIO_LOG = join('fixtures', 'scenarios', 'kerio-compromised', 'input.log');

type Json = { [k: string]: unknown };
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON Schema (draft-07) check of the keywords config.schema.json uses; returns the paths that fail. */
function validate(schema: unknown, value: unknown, path = '$'): string[] {
  if (!isObj(schema)) return [];
  const errs: string[] = [];
  const type = schema.type;
  const typeOf = (v: unknown): string => (Array.isArray(v) ? 'array' : v === null ? 'null' : Number.isInteger(v) ? 'integer' : typeof v);
  if (typeof type === 'string') {
    const t = typeOf(value);
    if (!(t === type || (type === 'number' && t === 'integer'))) return [`${path}: expected ${type}, got ${t}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errs.push(`${path}: not one of ${schema.enum.join(', ')}`);
  if ('const' in schema && schema.const !== value) errs.push(`${path}: not ${String(schema.const)}`);
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) errs.push(`${path}: does not match ${schema.pattern}`);
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) errs.push(`${path}: too short`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errs.push(`${path}: below minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errs.push(`${path}: above maximum`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) errs.push(`${path}: not above ${schema.exclusiveMinimum}`);
  }
  for (const k of ['anyOf', 'oneOf']) {
    const alts = schema[k];
    if (Array.isArray(alts)) {
      const ok = alts.filter((a) => validate(a, value, path).length === 0).length;
      if (k === 'anyOf' ? ok === 0 : ok !== 1) errs.push(`${path}: matches ${ok} of the ${k} alternatives`);
    }
  }
  if (Array.isArray(schema.allOf)) for (const a of schema.allOf) errs.push(...validate(a, value, path));
  if (Array.isArray(value) && isObj(schema.items)) value.forEach((v, i) => errs.push(...validate(schema.items, v, `${path}[${i}]`)));
  if (isObj(value)) {
    const props = isObj(schema.properties) ? schema.properties : {};
    if (Array.isArray(schema.required)) for (const r of schema.required) if (!(String(r) in value)) errs.push(`${path}.${String(r)}: required`);
    for (const [k, v] of Object.entries(value)) {
      if (k in props) errs.push(...validate(props[k], v, `${path}.${k}`));
      else if (schema.additionalProperties === false) errs.push(`${path}.${k}: unknown key`);
      else if (isObj(schema.additionalProperties)) errs.push(...validate(schema.additionalProperties, v, `${path}.${k}`));
    }
  }
  return errs;
}

describe('config.schema.json and sendwatch.1', () => {
  it('are committed as generated (npm run generate rewrites them)', async () => {
    for (const [name, text] of Object.entries(await generatedFiles())) {
      const committed = existsSync(repoPath(name)) ? readFileSync(repoPath(name), 'utf8') : '';
      assert.ok(committed === text, `${name} is stale: run "npm run generate" and commit it`);
    }
  });

  it('the schema accepts config.example.json, refuses unknown keys and bad values, and describes every key', () => {
    const schema = JSON.parse(readFileSync(repoPath('config.schema.json'), 'utf8')) as Json;
    const example = JSON.parse(readFileSync(repoPath('config.example.json'), 'utf8')) as Json;
    assert.equal(example.$schema, './config.schema.json');
    assert.deepEqual(validate(schema, example), []);
    assert.match(validate(schema, { ...example, timezon: 'UTC' }).join(), /\$\.timezon: unknown key/);
    assert.match(validate(schema, { rules: { 'odd-hours': { severity: 'loud' } } }).join(), /severity: not one of/);
    assert.match(validate(schema, { officeHours: { start: '7am' } }).join(), /does not match/);
    // Every key the README documents carries its description into the schema.
    const described = new Set<string>();
    const walk = (n: unknown, p: string): void => {
      if (!isObj(n)) return;
      if (isObj(n.properties)) {
        for (const [k, v] of Object.entries(n.properties)) {
          const q = p ? `${p}.${k}` : k;
          if (isObj(v) && typeof v.description === 'string') described.add(q);
          walk(v, q);
        }
      }
      walk(n.items, `${p}[]`);
      walk(n.additionalProperties, `${p}.*`);
      for (const k of ['anyOf', 'oneOf', 'allOf']) if (Array.isArray(n[k])) for (const o of n[k]) walk(o, p);
    };
    walk(schema, '');
    const documented = readmeDescriptions(readFileSync(repoPath('README.md'), 'utf8'));
    const missing = configKeyPaths().filter((p) => documented.get(p) && !described.has(p));
    assert.deepEqual(missing, []);
    assert.ok(described.has('timezone') && described.has('rules.odd-hours.gapMinutes') && described.has('accounts.*.aliases'));
  });

  it('the man page renders without warnings', (t) => {
    if (!existsSync('/usr/bin/groff')) {
      t.skip('groff is not installed');
      return;
    }
    const r = spawnSync('/usr/bin/groff', ['-man', '-Tutf8', '-ww', '-z', repoPath('sendwatch.1')], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.equal(r.stderr, '');
    const text = spawnSync('/usr/bin/groff', ['-man', '-Tascii', repoPath('sendwatch.1')], { encoding: 'utf8' }).stdout.replace(/.\x08/g, '');
    for (const s of ['sendwatch report [options] [files...]', 'sendwatch parse', 'sendwatch completion', 'EXIT STATUS', '--output html']) assert.ok(text.includes(s), s);
  });
});

describe('--help on every command, with examples', () => {
  it('each command prints usage and an Examples block, exit 0', async () => {
    const program = await loadProgram();
    const paths: string[][] = [];
    const walk = (c: Command, p: string[]): void => {
      if (c.commands.length === 0) paths.push(p);
      for (const s of c.commands) walk(s, [...p, s.name()]);
    };
    walk(program, []);
    assert.ok(paths.length >= 11);
    for (const p of [[], ...paths]) {
      const r = await runCli([...p, '--help']);
      assert.equal(r.code, 0, p.join(' '));
      assert.match(r.stdout, /^Usage: sendwatch/, p.join(' '));
      assert.match(r.stdout, /\nExamples:\n {2}\S/, `${p.join(' ')} has examples`);
    }
  });
});

describe('sendwatch init', () => {
  it('writes a commented config for the format found that the schema and sendwatch accept, and says where to put it', async () => {
    const out = join(tmp, 'sendwatch.json');
    const r = await runCli(['init', '-o', out, '--timezone', 'Europe/Berlin', KERIO_LOG]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Wrote .*sendwatch\.json: a starting config for kerio \(fixtures\/scenarios\/kerio-compromised\/input\.log\)/);
    assert.match(r.stdout, /defaultDomain "example\.com" was guessed/);
    assert.match(r.stdout, /sudo install -D -m 0644 .*sendwatch\.json \/etc\/sendwatch\/config\.json/);
    assert.match(r.stdout, /\*\/10 \* \* \* \* sendwatch run --config \/etc\/sendwatch\/config\.json/);
    const cfg = JSON.parse(readFileSync(out, 'utf8')) as Json;
    assert.match(String(cfg.$schema), /^file:\/\/.*\/config\.schema\.json$/);
    assert.ok(existsSync(new URL(String(cfg.$schema))), 'the $schema file exists');
    assert.ok(Array.isArray(cfg.$comment) && cfg.$comment.length > 5);
    assert.equal(cfg.timezone, 'Europe/Berlin');
    assert.deepEqual((cfg.sources as Json[]).map((s) => s.format), ['kerio']);
    assert.ok(isObj(cfg.rules) && Object.keys(cfg.rules).includes('sends-per-account'));
    parseConfig(cfg);
    const schema = JSON.parse(readFileSync(repoPath('config.schema.json'), 'utf8')) as Json;
    assert.deepEqual(validate(schema, cfg), []);
    // The config it wrote works.
    const scan = await runCli(['scan', '--config', out, KERIO_LOG]);
    assert.equal(scan.code, 1, scan.stderr);
    // Never overwrites by accident.
    const again = await runCli(['init', '-o', out, KERIO_LOG]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists: not overwritten/);
    assert.equal((await runCli(['init', '-o', out, '--force', PF_LOG])).code, 0);
    assert.deepEqual(((JSON.parse(readFileSync(out, 'utf8')) as Json).sources as Json[]).map((s) => s.format), ['postfix']);
  });

  it('-o - writes the config to stdout and the guidance to stderr', async () => {
    const r = await runCli(['init', '-o', '-', PF_LOG]);
    assert.equal(r.code, 0, r.stderr);
    parseConfig(JSON.parse(r.stdout));
    assert.match(r.stderr, /Next:/);
  });

  it('a top-level $comment is allowed, and only there', () => {
    parseConfig({ $comment: 'one line' });
    parseConfig({ $comment: ['two', 'lines'] });
    assert.throws(() => parseConfig({ officeHours: { $comment: 'no' } }), /unknown key "officeHours\.\$comment"/);
  });
});

describe('sendwatch completion', () => {
  it('bash: completes commands, options, choices and parser names', async (t) => {
    const r = await runCli(['completion', 'bash']);
    assert.equal(r.code, 0);
    const script = join(tmp, 'sendwatch.bash');
    writeFileSync(script, r.stdout);
    if (!existsSync('/bin/bash')) {
      t.skip('no bash');
      return;
    }
    const complete = (line: string): string[] => {
      const words = line.split(' ');
      const prog = [
        `source ${script}`,
        `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
        `COMP_CWORD=${words.length - 1}`,
        '_sendwatch',
        'printf "%s\\n" "${COMPREPLY[@]}"',
      ].join('\n');
      const out = spawnSync('/bin/bash', ['-c', prog], { encoding: 'utf8', cwd: repoPath() });
      assert.equal(out.stderr, '');
      return out.stdout.split('\n').filter(Boolean);
    };
    assert.deepEqual(complete('sendwatch re'), ['report']);
    assert.ok(complete('sendwatch ').includes('parse'));
    assert.deepEqual(complete('sendwatch report --ou'), ['--output']);
    assert.deepEqual(complete('sendwatch report --output '), ['text', 'ndjson', 'tsv', 'html']);
    assert.deepEqual(complete('sendwatch scan --format m'), ['metermaid', 'mta-transaction']);
    assert.deepEqual(complete('sendwatch state s'), ['show']);
    assert.ok(complete('sendwatch scan --timezone Europe/Ber').includes('Europe/Berlin'));
    assert.deepEqual(complete('sendwatch completion '), ['bash', 'zsh']);
    assert.ok(complete('sendwatch scan fixtures/scen').includes('fixtures/scenarios'));
  });

  it('zsh: a #compdef script zsh accepts', async (t) => {
    const r = await runCli(['completion', 'zsh']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^#compdef sendwatch\n/);
    assert.ok(r.stdout.includes(`{-o,--output}'[output format; html is one self-contained file]:format:(text ndjson tsv html)'`));
    const zsh = ['/usr/bin/zsh', '/bin/zsh'].find((p) => existsSync(p));
    if (!zsh) {
      t.skip('zsh is not installed: syntax not checked');
      return;
    }
    const file = join(tmp, '_sendwatch');
    writeFileSync(file, r.stdout);
    const check = spawnSync(zsh, ['-n', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    // Loaded into an interactive-like shell with compinit, it defines the function without errors.
    const load = spawnSync(zsh, ['-f', '-c', `autoload -U compinit && compinit -u -D && source ${file} && whence -w _sendwatch _sendwatch__report`], { encoding: 'utf8' });
    assert.equal(load.status, 0, load.stderr);
    assert.match(load.stdout, /_sendwatch: function\n_sendwatch__report: function/);
  });
});
