/**
 * The responses a CLI server has in flight, for the drain: how many, and which have not sent
 * their head yet. An intrusive doubly linked list (each response carries its own links)
 * rather than a `Set`: a Set with one add and one delete per request keeps deleted entries
 * (and so every finished response, its request and buffers) reachable until the table is
 * rehashed, past the next scavenge, so V8 promotes them; profiled, that was 15 % of the
 * command's CPU in garbage collection (the same finding as transport/deadline-clock.ts).
 */
import type { ServerResponse } from 'node:http';

const PREV = Symbol('switchyard.inFlight.prev');
const NEXT = Symbol('switchyard.inFlight.next');

/** A response with the list's links. */
type Linked = ServerResponse & { [PREV]?: Linked | null; [NEXT]?: Linked | null };

export interface InFlight {
  add(res: ServerResponse): void;
  /** Harmless for a response not in the list. */
  delete(res: ServerResponse): void;
  readonly size: number;
  forEach(fn: (res: ServerResponse) => void): void;
}

export function createInFlight(): InFlight {
  let head: Linked | null = null;
  let size = 0;
  return {
    add(res: Linked) {
      res[PREV] = null;
      res[NEXT] = head;
      if (head !== null) head[PREV] = res;
      head = res;
      size++;
    },
    delete(res: Linked) {
      const prev = res[PREV];
      if (prev === undefined) return; // never added, or already removed
      const next = res[NEXT] ?? null;
      if (prev === null) head = next;
      else prev[NEXT] = next;
      if (next !== null) next[PREV] = prev;
      res[PREV] = undefined;
      res[NEXT] = undefined;
      size--;
    },
    get size() {
      return size;
    },
    forEach(fn) {
      for (let r = head; r !== null; r = r[NEXT] ?? null) fn(r);
    },
  };
}
