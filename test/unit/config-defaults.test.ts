/**
 * DEFAULTS is the one source of defaults, and the defaults column of docs/options.md is held
 * to it: every table there with a `default` column is parsed and compared, so the reference
 * cannot drift from the code (issue 12, item 13).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { countersOf } from '../../src/balancer/target.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import { KNOWN_OPTIONS, normalizeConfig } from '../../src/config/normalize-config.js';
import type { ProxyConfig } from '../../src/types.js';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/options.md');

/** One row of a defaults table: the option path (`timeout`, `pool.maxSockets`) and its default cell. */
interface DocDefault {
  readonly path: string;
  readonly cell: string;
}

function cells(line: string): string[] {
  // `\|` inside a cell is an escaped pipe (types such as `string \| null`), not a separator.
  return line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim());
}

/**
 * The rows of every table whose first column is `option` (a top-level option) or `key` (a key
 * of the option whose `### \`name\`` section holds the table) and that has a `default` column.
 */
function documentedDefaults(markdown: string): DocDefault[] {
  const rows: DocDefault[] = [];
  let section: string | undefined;
  let table: { parent: string | undefined; column: number } | undefined;
  for (const line of markdown.split('\n')) {
    const heading = /^### `(\w+)`/.exec(line);
    if (heading !== null) section = heading[1];
    if (!line.startsWith('|')) {
      table = undefined;
      continue;
    }
    const row = cells(line);
    if (table === undefined) {
      const column = row.indexOf('default');
      if (column > 0 && (row[0] === 'option' || row[0] === 'key')) table = { parent: row[0] === 'key' ? section : undefined, column };
      continue;
    }
    if (/^-+$/.test(row[0] ?? '')) continue;
    // `cert`, `key` is two keys sharing a default; `maxSockets` (per upstream host) is one.
    const names = row[0]!.startsWith('[') ? [/`(\w+)`/.exec(row[0]!)![1]!] : Array.from(row[0]!.matchAll(/`(\w+)`/g), (m) => m[1]!);
    for (const name of names) rows.push({ path: table.parent === undefined ? name : `${table.parent}.${name}`, cell: row[table.column]! });
  }
  return rows;
}

/** A cell's value: the code in its first backticks (`30000`, `'target'`, `{ verify: true }`), `unlimited`, or none. */
function cellValue(cell: string): { value: unknown } | undefined {
  if (cell === 'unlimited') return { value: Infinity };
  const code = /^`([^`]+)`$/.exec(cell)?.[1];
  // Our own doc's literals (numbers, strings, arrays, small objects): evaluated, not parsed by hand.
  return code === undefined ? undefined : { value: new Function(`return (${code});`)() as unknown };
}

function lookup(p: string): unknown {
  return p.split('.').reduce<unknown>((obj, key) => (obj as Record<string, unknown> | undefined)?.[key], DEFAULTS);
}

const rows = documentedDefaults(readFileSync(DOC, 'utf8'));

describe('docs/options.md states the defaults DEFAULTS holds', () => {
  it('finds the tables (the parser still reads the page)', () => {
    expect(rows.map((r) => r.path)).toEqual(expect.arrayContaining(['timeout', 'balancer', 'pool.maxSockets', 'tls.verify', 'healthCheck.interval', 'passive.maxFails']));
  });

  it.each(rows.map((r) => [r.path, r.cell] as const))('%s: %s', (option, cell) => {
    const documented = cellValue(cell);
    const actual = lookup(option);
    if (documented !== undefined) {
      expect(actual).toEqual(documented.value);
    } else if (actual !== undefined) {
      // "off", "none", "keep-alive on": no value of its own, only defaults for its keys (a table of them).
      expect(typeof actual).toBe('object');
      for (const key of Object.keys(actual as object)) expect(rows.map((r) => r.path)).toContain(`${option}.${key}`);
    }
  });

  it('documents every default of an option proxy() accepts, and every key default of a nested one', () => {
    const documented = new Set(rows.map((r) => r.path));
    for (const [option, value] of Object.entries(DEFAULTS)) {
      if (!(KNOWN_OPTIONS as readonly string[]).includes(option)) continue;
      expect(documented, option).toContain(option);
      if (typeof value === 'object' && !Array.isArray(value)) {
        for (const key of Object.keys(value)) expect(documented, `${option}.${key}`).toContain(`${option}.${key}`);
      }
    }
  });
});

describe('DEFAULTS', () => {
  it('is frozen all the way down, so no module can change a default for the others', () => {
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
    for (const value of Object.values(DEFAULTS)) if (typeof value === 'object') expect(Object.isFrozen(value)).toBe(true);
  });

  it('is what an empty config resolves to', () => {
    const cfg = normalizeConfig({ targets: 'http://127.0.0.1:3001', healthCheck: { path: '/h' }, passive: {} } as ProxyConfig);
    try {
      expect(cfg).toMatchObject({
        timeout: DEFAULTS.timeout,
        connectTimeout: DEFAULTS.connectTimeout,
        retries: DEFAULTS.retries,
        tryDuration: DEFAULTS.tryDuration,
        tryInterval: DEFAULTS.tryInterval,
        maxReplayBody: DEFAULTS.maxReplayBody,
        maxConns: DEFAULTS.maxConns,
        preserveHost: DEFAULTS.preserveHost,
        contextKey: DEFAULTS.contextKey,
        ws: DEFAULTS.ws,
        pool: DEFAULTS.pool,
        tls: DEFAULTS.tls,
        healthCheck: DEFAULTS.healthCheck,
      });
      expect(cfg.headerPlan.xfwd).toBe(DEFAULTS.xfwd);
      expect(cfg.headerPlan.isTrusted('127.0.0.1')).toBe(DEFAULTS.trustProxy);
      expect([...cfg.retryOn]).toEqual(DEFAULTS.retryOn);
      expect(cfg.balancer.targets.map((t) => countersOf(t).maxConns)).toEqual([DEFAULTS.maxConns]);
    } finally {
      cfg.passive?.close();
    }
  });
});
