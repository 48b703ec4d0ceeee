/**
 * Runs a doc's ```js block inside the test process, for tests that check what a recipe
 * does (not only that it runs): the block must use only the names the docs take as given
 * (`app`, `proxy`, ...; no imports), which the test passes in, and the upstream URLs it
 * shows are replaced by real upstreams'.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { extractSnippets, where, type Snippet } from './extract-snippets.js';

const ROOT = new URL('../../', import.meta.url);

/** The one ```js block of `file` (relative to the repo root) whose code contains `marker`. */
export function docSnippet(file: string, marker: string): Snippet {
  const markdown = readFileSync(fileURLToPath(new URL(file, ROOT)), 'utf8');
  const found = extractSnippets(markdown, file).filter((s) => s.lang === 'js' && s.code.includes(marker));
  if (found.length !== 1) throw new Error(`${file}: expected one js block containing ${JSON.stringify(marker)}, found ${found.length}`);
  return found[0] as Snippet;
}

type AsyncFn = (...args: unknown[]) => Promise<void>;
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...params: string[]) => AsyncFn;

/**
 * Runs `snippet` with `names` bound (e.g. `{ app, proxy }`), after replacing each key of
 * `urls` (a URL the doc shows, e.g. `http://127.0.0.1:3001`) with its value.
 */
export async function runInProcess(snippet: Snippet, names: Record<string, unknown>, urls: Record<string, string> = {}): Promise<void> {
  if (/^\s*import\s/m.test(snippet.code)) throw new Error(`${where(snippet)} imports modules: it cannot run in process`);
  let code = snippet.code;
  for (const [shown, real] of Object.entries(urls)) {
    if (!code.includes(shown)) throw new Error(`${where(snippet)} does not mention ${shown}`);
    code = code.split(shown).join(real);
  }
  await new AsyncFunction(...Object.keys(names), code)(...Object.values(names));
}
