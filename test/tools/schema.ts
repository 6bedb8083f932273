/**
 * config.schema.json, generated from the zod config schema (never edited by hand):
 * structure, types, enums, patterns and defaults from `z.toJSONSchema`, and each key's
 * description from the README's configuration tables, which a config test already keeps
 * complete. Draft-07, which every JSON-aware editor understands.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { configSchema } from '../../src/config/load.js';
import { repoPath } from '../helpers/paths.js';

export type JsonSchema = { [key: string]: unknown };

/** `key path` -> meaning, from every README table row whose first cell is a backticked key path. */
export function readmeDescriptions(readme: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readme.split('\n')) {
    const m = /^\| `([^`]+)` \|([^|]*)\|(.*)\|\s*$/.exec(line);
    if (!m?.[1] || out.has(m[1])) continue;
    const meaning = (m[3] ?? '').trim();
    const def = (m[2] ?? '').trim();
    out.set(m[1], meaning || (def ? `default: ${def}` : ''));
  }
  return out;
}

const plain = (md: string): string => md.replace(/`/g, '');

function isObject(v: unknown): v is JsonSchema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Walks the JSON schema by the same key paths as configKeyPaths and adds descriptions. */
function describe(node: unknown, prefix: string, docs: ReadonlyMap<string, string>): void {
  if (!isObject(node)) return;
  const props = node.properties;
  if (isObject(props)) {
    for (const [k, v] of Object.entries(props)) {
      const p = prefix ? `${prefix}.${k}` : k;
      const d = docs.get(p);
      if (d && isObject(v)) {
        v.description = plain(d);
        v.markdownDescription = d;
      }
      describe(v, p, docs);
    }
  }
  if (isObject(node.items)) describe(node.items, `${prefix}[]`, docs);
  if (isObject(node.additionalProperties)) describe(node.additionalProperties, `${prefix}.*`, docs);
  for (const k of ['anyOf', 'oneOf', 'allOf']) {
    const list = node[k];
    if (Array.isArray(list)) for (const o of list) describe(o, prefix, docs);
  }
}

/** The schema as it is committed: stable key order, two-space indent, final newline. */
export function renderConfigSchema(readme = readFileSync(repoPath('README.md'), 'utf8')): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as JsonSchema;
  describe(schema, '', readmeDescriptions(readme));
  const out: JsonSchema = {
    $schema: schema.$schema,
    title: 'sendwatch configuration',
    description: 'Generated from the zod schema in src/config (npm run generate); do not edit. Unknown keys are errors.',
    ...schema,
  };
  out.$schema = schema.$schema;
  return `${JSON.stringify(out, null, 2)}\n`;
}
