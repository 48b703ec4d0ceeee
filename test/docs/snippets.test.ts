// Docs are code: every ```js block in docs/ and README.md runs against the built package, and
// every ```ts block compiles under `tsc --strict`, so a doc cannot drift from the library.
// A failure names the Markdown file and line of the block. How snippets run: snippet-runner.mjs;
// which blocks count: extract-snippets.ts; the rules for writing them: test/README.md.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCerts } from '../helpers/certs.js';
import { literal } from '../helpers/match.js';
import { extractSnippets, where, type Snippet } from './extract-snippets.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNNER = fileURLToPath(new URL('./snippet-runner.mjs', import.meta.url));
/** Snippets running at once: node start-up dominates, and the machines have 2 cores. */
const CONCURRENCY = 2;
/** Per snippet; one that keeps the process alive (an open server or timer) fails at this bound. */
const LIMIT_MS = 10_000;
/** ```js fragment blocks (syntax-checked only). Keep this small: prefer blocks that run. */
const MAX_FRAGMENTS = 5;

function markdownFiles(): string[] {
  const files = ['README.md'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.md')) files.push(rel);
    }
  };
  walk('docs');
  return files.sort();
}

const snippets = markdownFiles().flatMap((file) => extractSnippets(readFileSync(path.join(ROOT, file), 'utf8'), file));
const jsSnippets = snippets.filter((s) => s.lang === 'js');
const tsSnippets = snippets.filter((s) => s.lang === 'ts');

if (!existsSync(path.join(ROOT, 'dist', 'index.js'))) {
  throw new Error('test/docs runs the docs against dist/: run `npm run build` first (`npm test` does)');
}
// <tmp>/node_modules -> the repo's node_modules (express, ws, ...), and
// <tmp>/run/node_modules/switchyard -> the repo itself, so `import 'switchyard'` loads dist/
// through the package's own exports, as an installed copy would.
const TMP = mkdtempSync(path.join(os.tmpdir(), 'switchyard-doc-snippets-'));
const RUN = path.join(TMP, 'run');
mkdirSync(path.join(RUN, 'node_modules'), { recursive: true });
symlinkSync(path.join(ROOT, 'node_modules'), path.join(TMP, 'node_modules'), 'dir');
symlinkSync(ROOT, path.join(RUN, 'node_modules', 'switchyard'), 'dir');
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

// The files docs/tls.md reads, so its snippets load real PEM (which proxy() checks).
beforeAll(async () => {
  const certs = await generateCerts();
  const files: Record<string, string> = {
    'internal-ca.pem': certs.ca,
    'dev-ca.pem': certs.ca,
    'upstream.crt': certs.server.cert,
    'upstream.key': certs.server.key,
    'proxy-client.crt': certs.client.cert,
    'proxy-client.key': certs.client.key,
  };
  for (const [name, pem] of Object.entries(files)) writeFileSync(path.join(RUN, name), pem);
  await certs.cleanup();
});

/** Node flags a snippet asks for on its first line, e.g. `// node --allow-natives-syntax`. */
function nodeFlags(s: Snippet): string[] {
  const m = /^\/\/ node((?: --[\w-]+)+)\s*$/m.exec(s.code.split('\n', 1)[0] ?? '');
  return m === null ? [] : (m[1] as string).trim().split(' ');
}

function fileFor(s: Snippet, ext: string): string {
  return path.join(RUN, `${s.file.replace(/[/.]/g, '_')}_${s.line}.${ext}`);
}

/** A semaphore: at most `limit` callers inside `run` at once. */
function limiter(limit: number): <T>(run: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (run) => {
    // A finishing caller hands its slot straight to the next waiter, so none can slip in between.
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else active += 1;
    try {
      return await run();
    } finally {
      const next = waiting.shift();
      if (next === undefined) active -= 1;
      else next();
    }
  };
}
const slot = limiter(CONCURRENCY);

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  output: string;
}

function runNode(args: readonly string[], limitMs: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: RUN, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, output });
    });
  });
}

/** Why `out` is a failure, or undefined when the process exited 0 by itself. */
function problemOf(out: Outcome, limitMs: number): string | undefined {
  if (out.timedOut) return `did not exit within ${limitMs} ms (a server, socket or timer left open?)`;
  return out.code === 0 ? undefined : `exited with ${out.code ?? out.signal}`;
}

/** Rewrites the temp file's path and line numbers in `output` as the doc's file and line. */
function inDocTerms(s: Snippet, file: string, output: string): string {
  return output.replace(new RegExp(`(?:file://)?${literal(file)}(?::(\\d+))?`, 'g'), (_m, line?: string) =>
    line === undefined ? s.file : `${s.file}:${s.line + Number(line) - 1}`,
  );
}

/** Runs one snippet in its own process; resolves with what went wrong, if anything. */
async function runAlone(s: Snippet, mode: 'run' | 'check'): Promise<string | undefined> {
  const file = fileFor(s, 'mjs');
  writeFileSync(file, s.code);
  const args = mode === 'run' ? [...nodeFlags(s), RUNNER, file] : [...nodeFlags(s), '--check', file];
  const out = await slot(() => runNode(args, LIMIT_MS));
  const problem = problemOf(out, LIMIT_MS);
  return problem === undefined ? undefined : `the snippet at ${where(s)} ${problem}:\n${inDocTerms(s, file, out.output)}`;
}

const fragments = jsSnippets.filter((s) => s.flags.includes('fragment'));
const byFile = new Map<string, Snippet[]>();
for (const s of jsSnippets.filter((x) => !fragments.includes(x))) byFile.set(s.file, [...(byFile.get(s.file) ?? []), s]);

describe.concurrent('JavaScript snippets in the docs', () => {
  it('are found, and few are fragments', () => {
    expect(jsSnippets.length).toBeGreaterThan(50);
    expect(fragments.length, `fragments: ${fragments.map(where).join(', ')}`).toBeLessThanOrEqual(MAX_FRAGMENTS);
  });

  it('fragments parse', async () => {
    const problems = await Promise.all(fragments.map((s) => runAlone(s, 'check')));
    expect(problems.filter(Boolean).join('\n')).toBe('');
  });

  // The snippets of one file run in one process, one after another; only if that fails does
  // each run alone, to name the one at fault (and its line). Users run a snippet alone, so a
  // failure that only shows when they share a process does not count.
  for (const [doc, list] of byFile) {
    it(`${doc}: every snippet runs (${list.length})`, async () => {
      const files = list.map((s) => {
        const file = fileFor(s, 'mjs');
        writeFileSync(file, s.code);
        return file;
      });
      const flags = [...new Set(list.flatMap(nodeFlags))];
      const batchLimit = LIMIT_MS + list.length * 1_000;
      const together = await slot(() => runNode([...flags, RUNNER, ...files], batchLimit));
      if (problemOf(together, batchLimit) === undefined) {
        // Every `// curl … → upstream sees …` comment was understood and checked.
        const claims = list.reduce((n, s) => n + s.code.split('\n').filter((l) => /^\s*\/\/\s*curl\s.*→\s+upstream sees\s/.test(l)).length, 0);
        expect(together.output).toContain(`snippet-runner: ${claims} claims checked`);
        return;
      }
      const problems = await Promise.all(list.map((s) => runAlone(s, 'run')));
      expect(problems.filter(Boolean).join('\n')).toBe('');
    }, 60_000 + list.length * LIMIT_MS);
  }
});

/**
 * Lines appended to a ts block so that each interface and `declare function` it documents must
 * be switchyard's own export of that name, each assignable to the other; `checks[i]` names the
 * declaration checked on appended line i.
 */
function sameAsLibrary(code: string): { lines: string[]; checks: string[] } {
  const interfaces = [...code.matchAll(/^interface (\w+)/gm)].map((m) => m[1] as string);
  const functions = [...code.matchAll(/^declare function (\w+)/gm)].map((m) => m[1] as string);
  if (interfaces.length + functions.length === 0) return { lines: [], checks: [] };
  const lines = [
    "import type * as documented__lib from 'switchyard';",
    'type Documented__Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;',
    ...interfaces.map((n) => `export const documented__${n}: Documented__Same<${n}, documented__lib.${n}> = true;`),
    ...functions.map((n) => `export const documented__${n}: Documented__Same<typeof ${n}, typeof documented__lib.${n}> = true;`),
  ];
  return { lines, checks: ['', '', ...interfaces, ...functions] };
}

describe('TypeScript snippets in the docs', () => {
  it("compile under tsc --strict, and the types they document are the library's", () => {
    expect(tsSnippets.length).toBeGreaterThan(0);
    // One program for all of them: one type-check of node's and switchyard's types, not one each.
    // `export {}` makes each file a module, so two snippets declaring the same name don't merge.
    const files = new Map<string, { s: Snippet; codeLines: number; checks: string[] }>();
    for (const s of tsSnippets) {
      const file = fileFor(s, 'ts');
      const codeLines = s.code.split('\n').length - 1;
      const { lines, checks } = sameAsLibrary(s.code);
      writeFileSync(file, `${s.code}export {};\n${lines.map((l) => `${l}\n`).join('')}`);
      files.set(file, { s, codeLines: codeLines + 1, checks });
    }
    const program = ts.createProgram([...files.keys()], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      esModuleInterop: true,
      skipLibCheck: true,
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      const entry = d.file === undefined ? undefined : files.get(path.normalize(d.file.fileName));
      if (d.file === undefined || d.start === undefined || entry === undefined) return text;
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      const { s, codeLines, checks } = entry;
      if (line < codeLines) return `${s.file}:${s.line + line}: ${text}`;
      const name = checks[line - codeLines] ?? '';
      return `${where(s)}: the documented ${name} is not switchyard's ${name}: ${text}`;
    });
    expect(problems).toEqual([]);
  });
});
