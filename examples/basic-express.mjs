// Basic Express mount: everything under /api goes to two upstreams, round robin. Express
// strips the mount path, so GET /api/users?page=2 reaches an upstream as /users?page=2.
//
//   npm run build && node examples/basic-express.mjs      (PORT=3000 to pick the port)
import express from 'express';
import { proxy } from 'switchyard';
import { serve, startUpstream } from './stand-ins.mjs';

const a = await startUpstream('a');
const b = await startUpstream('b');

const api = proxy({ targets: [a.url, b.url] });

const app = express();
app.use('/api', api);
app.get('/stats', (req, res) => res.json(api.stats()));
app.get('/', (req, res) => res.send('served by Express itself\n'));

await serve(app, {
  name: 'basic-express',
  tryPaths: ['{base}/api/users?page=2', '{base}/stats'],
  // Close the proxy too: it owns pooled upstream sockets.
  closeables: [api, a, b],
});
