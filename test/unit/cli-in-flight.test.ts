/** The CLI server's in-flight list: adds, deletes in any order, the size, and harmless repeats. */
import { ServerResponse, IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createInFlight } from '../../src/cli/in-flight.js';

function response(): ServerResponse {
  return new ServerResponse(new IncomingMessage(new Socket()));
}

describe('createInFlight', () => {
  it('counts and lists what was added and not deleted, whatever the order of deletes', () => {
    const list = createInFlight();
    const [a, b, c, d] = [response(), response(), response(), response()];
    for (const r of [a, b, c, d]) list.add(r);
    expect(list.size).toBe(4);
    list.delete(c); // middle
    list.delete(d); // head (newest)
    list.delete(a); // tail (oldest)
    const seen: ServerResponse[] = [];
    list.forEach((r) => seen.push(r));
    expect(seen).toEqual([b]);
    expect(list.size).toBe(1);
    list.delete(b);
    expect(list.size).toBe(0);
    list.forEach(() => {
      throw new Error('the list should be empty');
    });
  });

  it('ignores deleting a response twice or one never added', () => {
    const list = createInFlight();
    const [a, b] = [response(), response()];
    list.add(a);
    list.delete(b);
    list.delete(a);
    list.delete(a);
    expect(list.size).toBe(0);
    list.add(b);
    list.add(a); // re-added after removal
    const seen: ServerResponse[] = [];
    list.forEach((r) => seen.push(r));
    expect(seen).toEqual([a, b]);
  });
});
