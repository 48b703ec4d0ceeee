// Dynamic targets, the switchyard way: what http-proxy-middleware's `router` and
// express-http-proxy's host function do, with one proxy per target set.
//
// - by Host: requests for `eu.example.test` go to the EU set, the rest to the US set
//   (an async `skip` could consult a database the same way; here it is a header check);
// - by path: `/v2/*` to the v2 set, mounted before the general one;
// - from a registry: the `/live` set is whatever the registry says right now;
//   `POST /registry/<name>` adds a stand-in upstream, `DELETE /registry/<name>` removes it,
//   and `mw.balancer.add/remove` applies the change to the running proxy.
//
//   npm run build && node examples/dynamic-targets.mjs
import express from 'express';
import { proxy } from 'switchyard';
import { serve, startUpstream } from './stand-ins.mjs';

const eu = await startUpstream('eu');
const us = await startUpstream('us');
const v2 = await startUpstream('v2');

// By Host: two proxies, each skipping the requests that belong to the other.
const isEu = (req) => (req.headers.host ?? '').split(':')[0] === 'eu.example.test';
const euProxy = proxy({ targets: eu.url, skip: async (req) => !isEu(req) });
const usProxy = proxy({ targets: us.url });

// By path: a proxy per prefix; Express picks the first that matches.
const v2Proxy = proxy({ targets: v2.url });

// From a registry: the live set starts empty and follows the registry.
const registry = new Map();
const live = proxy({ targets: [] });

const app = express();
app.use('/api/v2', v2Proxy);
app.use('/api', euProxy, usProxy);
app.use('/live', live);
app.post('/registry/:name', async (req, res) => {
  const name = req.params.name;
  if (!registry.has(name)) {
    const upstream = await startUpstream(name);
    registry.set(name, upstream);
    live.balancer.add({ url: upstream.url, name });
  }
  res.json(live.stats().map((s) => s.name));
});
app.delete('/registry/:name', async (req, res) => {
  const upstream = registry.get(req.params.name);
  if (upstream !== undefined) {
    live.balancer.remove(req.params.name);
    registry.delete(req.params.name);
    await upstream.close();
  }
  res.json(live.stats().map((s) => s.name));
});

await serve(app, {
  name: 'dynamic-targets',
  tryPaths: ["-H 'Host: eu.example.test' {base}/api/hello", '{base}/api/hello', '{base}/api/v2/hello', '-X POST {base}/registry/a', '{base}/live/hello'],
  closeables: [euProxy, usProxy, v2Proxy, live, eu, us, v2, { close: () => Promise.all([...registry.values()].map((u) => u.close())) }],
});
