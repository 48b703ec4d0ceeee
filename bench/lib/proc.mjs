/** Child processes: spawn (optionally pinned to CPUs), wait for messages, stop, and read their RSS. */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let tasksetAvailable;

/** Whether `taskset` can pin processes here (Linux with util-linux). */
export function canPin() {
  tasksetAvailable ??= process.platform === 'linux' && spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
  return tasksetAvailable;
}

/** `[command, args]` that runs `command args` pinned to `cpus` (e.g. '1') when given. */
export function pinned(cpus, command, args) {
  return cpus ? ['taskset', ['-c', cpus, command, ...args]] : [command, args];
}

/** Pins every thread of this process to `cpus`. */
export function pinSelf(cpus) {
  spawnSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}

/** Resolves with the next IPC message of `type` from `child`, or rejects after `ms`. */
export function nextMessage(child, type, ms = 30_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no '${type}' message from pid ${child.pid} within ${ms} ms`)), ms);
    const onMessage = (msg) => {
      if (msg?.type === type) finish(undefined, msg);
    };
    const onExit = (code, signal) => finish(new Error(`pid ${child.pid} exited (${code ?? signal}) before '${type}'`));
    function finish(err, msg) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(msg);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Sends `{type}` and waits for the reply of the same type. */
export async function ask(child, type) {
  const reply = nextMessage(child, type, 10_000);
  child.send({ type });
  return reply;
}

/** Spawns a Node script with an IPC channel and waits for its `ready` message. */
export async function startNode(script, args, { cpus, nodeFlags = [], env } = {}) {
  const [cmd, argv] = pinned(cpus, process.execPath, [...nodeFlags, script, ...args]);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: env ?? process.env });
  const ready = await nextMessage(child, 'ready', 30_000);
  return { child, ready };
}

/** Asks the child to exit (so profiles get written); kills it if it does not within `ms`. */
export async function stop(child, ms = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    child.send({ type: 'exit' });
  } catch {
    child.kill('SIGKILL');
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

/** Current resident set size of `pid` in bytes from /proc (undefined off Linux or after exit). */
export function procRss(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}
