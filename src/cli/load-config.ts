/**
 * `--config <file>`: a JSON file, or a module whose default export is the config. The file
 * holds any `proxy()` options plus `listen`; functions (hooks, a custom balancer) need a module.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ProxyConfig } from '../types.js';
import { CliError } from './cli-error.js';

/** A loaded config file, split into the CLI's own key and the options for `proxy()`. */
export interface ConfigFile {
  /** Absolute path of the file. */
  readonly path: string;
  /** `listen` as written in the file (parsed later, so errors can name the file). */
  readonly listen: unknown;
  readonly proxyConfig: ProxyConfig;
}

const MODULE_EXTENSIONS: ReadonlySet<string> = new Set(['.mjs', '.js', '.cjs']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

async function readJson(file: string, shown: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`switchyard: --config ${shown}: ${code === 'ENOENT' ? 'file not found' : (err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`switchyard: --config ${shown} is not valid JSON: ${(err as Error).message}`);
  }
}

let loads = 0;

async function importModule(file: string, shown: string, fresh: boolean): Promise<unknown> {
  let mod: { default?: unknown };
  // A new query is a new module to the ES module cache: how a reload sees an edited file.
  const href = pathToFileURL(file).href + (fresh ? `?reload=${++loads}` : '');
  try {
    mod = (await import(href)) as { default?: unknown };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && (err as Error).message.includes(file)) {
      throw new CliError(`switchyard: --config ${shown}: file not found`);
    }
    // The module itself failed (a syntax error, a throw): show Node's own message.
    throw new CliError(`switchyard: --config ${shown} failed to load: ${(err as Error).message}`);
  }
  return mod.default;
}

/**
 * Loads `file` (relative to `cwd`); `opts.fresh` re-imports a module that was loaded before
 * (a `.cjs` module stays cached by `require`: reload with `.json` or an ES module).
 * @throws CliError (exit code 2) when the file is missing, unreadable, not valid JSON, fails to
 * import, or does not hold (export by default) a plain object.
 */
export async function loadConfigFile(file: string, cwd: string = process.cwd(), opts: { fresh?: boolean } = {}): Promise<ConfigFile> {
  const abs = path.resolve(cwd, file);
  const ext = path.extname(abs).toLowerCase();
  let loaded: unknown;
  if (ext === '.json') loaded = await readJson(abs, file);
  else if (MODULE_EXTENSIONS.has(ext)) loaded = await importModule(abs, file, opts.fresh === true);
  else throw new CliError(`switchyard: --config ${file}: use a .json, .mjs, .js or .cjs file`);
  if (!isPlainObject(loaded)) {
    const what = ext === '.json' ? 'must hold a JSON object' : 'must export a config object by default (export default { … })';
    throw new CliError(`switchyard: --config ${file} ${what}, e.g. { "listen": 8080, "targets": ["http://127.0.0.1:3001"] }`);
  }
  // Copy without `listen`: never write to the user's object, and `proxy()` refuses unknown keys.
  const { listen, ...proxyConfig } = loaded;
  return { path: abs, listen, proxyConfig: proxyConfig as ProxyConfig };
}
