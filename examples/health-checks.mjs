// Health checks: an active check (GET /health every second) takes a failing upstream out of
// rotation and brings it back once it passes again; `retries: 1` covers requests that reach
// it in between. `/stats` shows each target's `healthy` flag.
//
//   npm run build && node examples/health-checks.mjs
//   curl -X POST http://127.0.0.1:PORT/admin/b/fail      make upstream b fail its checks
//   curl -X POST http://127.0.0.1:PORT/admin/b/recover   and pass them again
import express from 'express';
import { proxy } from 'switchyard';
import { serve, startUpstream } from './stand-ins.mjs';

const a = await startUpstream('a');
let bFailing = false;
const b = await startUpstream('b', (req, res) => {
  if (bFailing) return res.writeHead(503).end('b is failing\n');
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ upstream: 'b', url: req.url }));
});

const api = proxy({
  targets: [{ url: a.url, name: 'a' }, { url: b.url, name: 'b' }],
  healthCheck: { path: '/health', interval: 1000, timeout: 500 },
  retries: 1,
  retryOn: [503],
});

const app = express();
app.use('/api', api);
app.get('/stats', (req, res) => res.json(api.stats().map(({ name, healthy, requests }) => ({ name, healthy, requests }))));
// Only for this demo: switch the stand-in upstream b between failing and healthy.
app.post('/admin/b/:state', (req, res) => {
  bFailing = req.params.state === 'fail';
  res.json({ bFailing });
});

await serve(app, {
  name: 'health-checks',
  tryPaths: ['{base}/api/hello', '{base}/stats', '-X POST {base}/admin/b/fail'],
  closeables: [api, a, b],
});
