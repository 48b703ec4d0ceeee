/**
 * Spawns the real `switchyard` bin (dist/cli.js, built by `npm test`'s pretest) and watches
 * its output. Everything it is given listens on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { useCleanup } from '../helpers/lifecycle.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface CliProcess {
  readonly child: ChildProcess;
  /** Everything written to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** stdout lines so far. */
  lines(): string[];
  /** stderr lines so far. */
  errLines(): string[];
  /** Resolves with the first stdout match of `pattern` (now or later); rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves once stdout has `count` lines matching `pattern`. */
  waitForCount(pattern: RegExp, count: number): Promise<string[]>;
  /** Resolves once stderr has `count` lines matching `pattern`. */
  waitForErrCount(pattern: RegExp, count: number): Promise<string[]>;
  readonly exited: Promise<Exit>;
  /** Sends SIGKILL if still running (test clean-up). */
  kill(): void;
}

export interface RunningCli extends CliProcess {
  /** `http://127.0.0.1:PORT` from the start-up summary. */
  readonly url: string;
}

/** Spawns `node dist/cli.js ...args`. */
export function spawnCli(args: readonly string[], opts: { cwd?: string } = {}): CliProcess {
  return spawnScript(CLI, args, opts);
}

/** Spawns `node <script> ...args` and watches its output (the examples are run this way too). */
export function spawnScript(
  script: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; direct?: boolean } = {},
): CliProcess {
  // direct: exec the script itself (its `#!/usr/bin/env node` line), as an installed bin runs.
  const [file, argv] = opts.direct === true ? [script, [...args]] : [process.execPath, [script, ...args]];
  const child = spawn(file, argv, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let exit: Exit | undefined;
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    wake();
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
      wake();
    });
  });

  const lines = (): string[] => out.split('\n').filter((l) => l !== '');
  const errLines = (): string[] => err.split('\n').filter((l) => l !== '');
  const count = (source: () => string[], pattern: RegExp, n: number): string[] | undefined => {
    const found = source().filter((l) => pattern.test(l));
    return found.length >= n ? found : undefined;
  };
  function until<T>(check: () => T | undefined, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const test = (): void => {
        const found = check();
        if (found !== undefined) {
          waiters.delete(test);
          resolve(found);
        } else if (exit !== undefined) {
          waiters.delete(test);
          reject(new Error(`switchyard exited (${exit.code ?? exit.signal}) before ${what}\nstdout:\n${out}\nstderr:\n${err}`));
        }
      };
      waiters.add(test);
      test();
    });
  }

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    lines,
    errLines,
    waitFor: (pattern) => until(() => out.match(pattern) ?? undefined, `printing ${pattern}`),
    waitForCount: (pattern, n) => until(() => count(lines, pattern, n), `printing ${n} lines matching ${pattern}`),
    waitForErrCount: (pattern, n) => until(() => count(errLines, pattern, n), `printing ${n} lines matching ${pattern} on stderr`),
    exited,
    kill: () => {
      if (exit === undefined) child.kill('SIGKILL');
    },
  };
}

/** Spawns the CLI and waits for its "listening on" summary line. */
export async function startCli(args: readonly string[], opts: { cwd?: string; direct?: boolean } = {}): Promise<RunningCli> {
  const cli = opts.direct === true ? spawnScript(CLI, args, opts) : spawnCli(args, opts);
  const match = await cli.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  // The summary is one write; its `workers` line is always there (in JSON, one object).
  if (!args.includes('json')) await cli.waitFor(/^ {2}workers {3}.*$/m);
  return { ...cli, url: match[1] as string };
}

/** Runs the CLI to completion (for flags that make it exit). */
export async function runCli(args: readonly string[], opts: { cwd?: string } = {}): Promise<Exit & { stdout: string; stderr: string }> {
  const cli = spawnCli(args, opts);
  const exit = await cli.exited;
  return { ...exit, stdout: cli.stdout(), stderr: cli.stderr() };
}

/**
 * Per-file set-up (call at the top of a file): `cli()` starts the CLI like {@link startCli}
 * and kills it after the current test; `track()` closes upstreams and servers after it.
 */
export function useCli(): {
  cli(args: readonly string[], opts?: Parameters<typeof startCli>[1]): Promise<RunningCli>;
  track(...things: Array<{ close(): unknown }>): void;
} {
  const { defer, track } = useCleanup();
  return {
    async cli(args, opts) {
      const started = await startCli(args, opts);
      defer(() => started.kill());
      return started;
    },
    track: (...things) => void things.forEach((t) => track(t)),
  };
}
