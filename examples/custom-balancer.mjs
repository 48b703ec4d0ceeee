// A custom balancer: canary routing. Requests with `x-canary: 1` go to the canary pool while
// it has an available target; everything else, and canary requests when the canary is down
// or full, go to the stable pool. Any object with `targets`, `add`, `remove` and `next` is a
// Balancer; here two built-in pools do the actual choosing.
//
//   npm run build && node examples/custom-balancer.mjs
import express from 'express';
import { proxy, roundRobin } from 'switchyard';
import { serve, startUpstream } from './stand-ins.mjs';

const v1a = await startUpstream('v1-a');
const v1b = await startUpstream('v1-b');
const v2 = await startUpstream('v2-canary');

const stable = roundRobin([v1a.url, v1b.url]);
const canary = roundRobin([{ url: v2.url, name: 'canary' }]);

/** @type {import('switchyard').Balancer} */
const canaryBalancer = {
  get targets() {
    return [...stable.targets, ...canary.targets];
  },
  add: (target) => stable.add(target),
  remove: (nameOrUrl) => stable.remove(nameOrUrl) || canary.remove(nameOrUrl),
  next(req, exclude) {
    // `exclude` holds targets already tried (retries): pass it on so each pool skips them.
    const wantsCanary = req.headers['x-canary'] === '1';
    return (wantsCanary ? canary.next(req, exclude) : undefined) ?? stable.next(req, exclude);
  },
};

const api = proxy({ balancer: canaryBalancer, retries: 1 });

const app = express();
app.use('/api', api);
app.get('/stats', (req, res) => res.json(api.stats()));

await serve(app, {
  name: 'custom-balancer',
  tryPaths: ['{base}/api/hello', "-H 'x-canary: 1' {base}/api/hello"],
  closeables: [api, v1a, v1b, v2],
});
