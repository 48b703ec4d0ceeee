// The busiest proxied prefix dispatched before Express: requests under /api/ go straight to
// switchyard as a bare node:http handler, everything else to the Express app. Express swaps
// the prototypes of every req and res it handles, which makes all later work on them slower
// (see docs/performance.md); requests that never enter Express skip that cost.
// Outside Express nothing strips the mount path, so a rewrite rule does it:
// GET /api/users?page=2 reaches an upstream as /users?page=2, as with app.use('/api', ...).
//
//   npm run build && node examples/outside-express.mjs      (PORT=3000 to pick the port)
import express from 'express';
import { proxy } from 'switchyard';
import { serve, startUpstream } from './stand-ins.mjs';

const a = await startUpstream('a');
const b = await startUpstream('b');

const api = proxy({ targets: [a.url, b.url], rewrite: { '/api/*': '/$1' } });

const app = express();
app.get('/stats', (req, res) => res.json(api.stats()));
app.get('/', (req, res) => res.send('served by Express itself\n'));

// Without `next`, switchyard answers its own errors (502, 503, 504 …) with its default handler.
const handler = (req, res) => (req.url.startsWith('/api/') ? api(req, res) : app(req, res));

await serve(handler, {
  name: 'outside-express',
  tryPaths: ['{base}/api/users?page=2', '{base}/stats'],
  closeables: [api, a, b],
});
