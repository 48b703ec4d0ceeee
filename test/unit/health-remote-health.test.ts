/** Health decided elsewhere (the CLI primary's checks), applied by target name as active marks. */
import { describe, expect, it } from 'vitest';
import { followRemoteHealth } from '../../src/health/remote-health.js';
import { downMarks, markDown, markUp } from '../../src/health/target-health.js';
import { roundRobin } from '../../src/index.js';

const healthy = (b: ReturnType<typeof roundRobin>): Record<string, boolean> =>
  Object.fromEntries(b.targets.map((t) => [t.name, t.healthy]));

describe('followRemoteHealth', () => {
  it('marks down exactly the named targets and releases the others', () => {
    const b = roundRobin([{ url: 'http://127.0.0.1:1', name: 'a' }, { url: 'http://127.0.0.1:2', name: 'b' }]);
    const remote = followRemoteHealth(b);
    remote.apply(new Set(['a']));
    expect(healthy(b)).toEqual({ a: false, b: true });
    remote.apply(new Set(['a'])); // the same verdict again takes no second mark
    expect(downMarks(b.targets[0]!, 'active')).toBe(1);
    remote.apply(new Set(['b', 'unknown']));
    expect(healthy(b)).toEqual({ a: true, b: false });
    remote.release();
    expect(healthy(b)).toEqual({ a: true, b: true });
  });

  it('covers targets added later and forgets removed ones', () => {
    const b = roundRobin([{ url: 'http://127.0.0.1:1', name: 'a' }]);
    const remote = followRemoteHealth(b);
    remote.apply(new Set(['a', 'c']));
    const c = b.add({ url: 'http://127.0.0.1:3', name: 'c' });
    expect(c.healthy).toBe(true);
    remote.apply(new Set(['a', 'c']));
    expect(c.healthy).toBe(false);
    const a = b.targets[0]!;
    b.remove('a');
    remote.apply(new Set(['c']));
    expect(downMarks(a, 'active')).toBe(0);
  });

  it('leaves passive marks alone: a target stays down while passive health holds it', () => {
    const b = roundRobin([{ url: 'http://127.0.0.1:1', name: 'a' }]);
    const [a] = b.targets;
    const remote = followRemoteHealth(b);
    markDown(a!, 'passive');
    remote.apply(new Set(['a']));
    remote.apply(new Set());
    expect(a!.healthy).toBe(false);
    markUp(a!, 'passive');
    expect(a!.healthy).toBe(true);
  });
});
