/**
 * Other tools rebuild dist/ (tsup cleans it first): the columns load a private copy taken at
 * start, so one bench run measures one build. The copy lives under bench/results/ so that
 * http-proxy-3 still resolves from the repository's node_modules. Columns find it through
 * the SWITCHYARD_DIST environment variable.
 */
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = fileURLToPath(new URL('..', import.meta.url));

/** Copies dist/ and returns `{ dir, remove() }`; waits up to 10 s for a rebuild in progress. */
export async function snapshotDist() {
  const source = join(BENCH, '..', 'dist');
  for (let i = 0; i < 50 && !existsSync(join(source, 'index.js')); i++) await new Promise((r) => setTimeout(r, 200));
  if (!existsSync(join(source, 'index.js'))) throw new Error('dist/index.js is missing: run `npm run build` first');
  const root = join(BENCH, 'results', `.snapshot-${process.pid}`);
  const dir = join(root, 'dist');
  cpSync(source, dir, { recursive: true });
  return { dir, remove: () => rmSync(root, { recursive: true, force: true }) };
}
