// Per-route mounting with params: each route gets its own proxy, and route params go into
// the upstream path through the `to` template ({param.NAME}, {path}, {query}).
//
//   npm run build && node examples/route-params.mjs
import express from 'express';
import { proxy } from 'switchyard';
import { serve, startUpstream } from './stand-ins.mjs';

const accounts = await startUpstream('accounts');
const files = await startUpstream('files');

// GET /users/42?fields=name  →  accounts: /v2/accounts/42?fields=name
const users = proxy({ targets: accounts.url, to: '/v2/accounts/{param.id}{query}' });

// Router with mergeParams, so the proxy sees :team:
// GET /teams/red/files/docs/a.txt  →  files: /buckets/red/docs/a.txt
const storage = proxy({ targets: files.url, to: '/buckets/{param.team}{path}{query}' });
const teamFiles = express.Router({ mergeParams: true });
teamFiles.use(storage);

const app = express();
app.get('/users/:id', users);
app.use('/teams/:team/files', teamFiles);

await serve(app, {
  name: 'route-params',
  tryPaths: ["'{base}/users/42?fields=name'", '{base}/teams/red/files/docs/a.txt'],
  closeables: [users, storage, accounts, files],
});
