/**
 * `--admin` with `--workers`: the admin listener lives in the primary (one `/metrics` for the
 * process), which asks every worker over IPC for its `stats()` and `metrics()` and merges the
 * answers. A worker that does not answer within a second is left out of that answer.
 */
import cluster, { type Worker } from 'node:cluster';
import type { ProxyMiddleware, TargetStats } from '../types.js';
import type { AdminSource } from './admin-server.js';
import { mergeMetrics } from './metrics-merge.js';

const REQUEST = 'switchyard:admin';
const REPLY = 'switchyard:admin-reply';
const TIMEOUT_MS = 1000;

interface AdminReply {
  readonly type: typeof REPLY;
  readonly id: number;
  readonly stats: TargetStats[];
  readonly metrics: string;
}

const isRequest = (m: unknown): m is { type: typeof REQUEST; id: number } =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === REQUEST;
const isReply = (m: unknown): m is AdminReply => typeof m === 'object' && m !== null && (m as { type?: unknown }).type === REPLY;

/** A worker's side: answers the primary's admin requests from the current proxy. */
export function answerAdminRequests(current: () => ProxyMiddleware): void {
  process.on('message', (message: unknown) => {
    if (!isRequest(message) || process.send === undefined) return;
    const mw = current();
    const reply: AdminReply = { type: REPLY, id: message.id, stats: mw.stats(), metrics: mw.metrics() };
    process.send(reply);
  });
}

/**
 * Sums the workers' stats by target name. A target is `healthy` only when every worker says
 * so (a worker's passive health may hold it down), so `/stats` shows trouble anywhere.
 */
export function sumStats(lists: ReadonlyArray<readonly TargetStats[]>): TargetStats[] {
  const byName = new Map<string, { name: string; url: string; healthy: boolean; active: number; requests: number; failures: number; statuses: Record<number, number> }>();
  for (const list of lists) {
    for (const t of list) {
      const sum = byName.get(t.name);
      if (sum === undefined) {
        byName.set(t.name, { ...t, statuses: { ...t.statuses } });
        continue;
      }
      sum.healthy &&= t.healthy;
      sum.active += t.active;
      sum.requests += t.requests;
      sum.failures += t.failures;
      for (const [status, n] of Object.entries(t.statuses)) sum.statuses[Number(status)] = (sum.statuses[Number(status)] ?? 0) + n;
    }
  }
  return [...byName.values()];
}

/** The primary's admin source: asks `workers()` and merges their answers. */
export function clusterAdminSource(workers: () => Iterable<Worker>): AdminSource {
  let nextId = 0;
  const pending = new Map<number, (worker: Worker, reply: AdminReply) => void>();
  cluster.on('message', (worker, message: unknown) => {
    if (isReply(message)) pending.get(message.id)?.(worker, message);
  });

  const ask = (): Promise<Array<{ worker: number; reply: AdminReply }>> => {
    const id = ++nextId;
    const asked = [...workers()].filter((w) => w.isConnected());
    const replies: Array<{ worker: number; reply: AdminReply }> = [];
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(replies.sort((a, b) => a.worker - b.worker));
      };
      const timer = setTimeout(finish, TIMEOUT_MS);
      pending.set(id, (worker, reply) => {
        replies.push({ worker: worker.id, reply });
        if (replies.length === asked.length) finish();
      });
      if (asked.length === 0) return finish();
      for (const w of asked) w.send({ type: REQUEST, id });
    });
  };

  return {
    stats: async () => sumStats((await ask()).map((r) => r.reply.stats)),
    metrics: async () => mergeMetrics((await ask()).map((r) => ({ worker: r.worker, text: r.reply.metrics }))),
  };
}
