import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxy } from '../../src/index.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { startUpstreams, type Upstream } from '../helpers/upstream.js';

describe('smoke: express mount round robin', () => {
  let ups: Upstream[];
  beforeAll(async () => {
    ups = await startUpstreams(3);
  });
  afterAll(async () => {
    await Promise.all(ups.map((u) => u.close()));
  });

  it('forwards mount-relative paths round robin and reports stats', async () => {
    const mw = proxy({ targets: ups.map((u) => u.url) });
    const app = express();
    app.use('/api', mw);
    const names: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await request(app).get('/api/users?x=1').expect(200);
      names.push(res.body.name);
      expect(res.body.url).toBe('/users?x=1');
    }
    expect(names).toEqual(['u0', 'u1', 'u2', 'u0', 'u1', 'u2']);
    const stats = mw.stats();
    expect(stats.map((s) => s.requests)).toEqual([2, 2, 2]);
    expect(stats.every((s) => s.active === 0)).toBe(true);
    await mw.close();
  });

  it('answers 502 for a dead target', async () => {
    const mw = proxy({ targets: await deadTargetUrl() });
    const app = express();
    app.use(mw);
    const res = await request(app).get('/x').set('accept', 'application/json').expect(502);
    expect(res.body.error.code).toBe('UPSTREAM_UNAVAILABLE');
    await mw.close();
  });
});
