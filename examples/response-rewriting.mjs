// Response rewriting with modifyResponse: add a header on every response, and rewrite JSON
// bodies (readBody decodes gzip, deflate and br; the new body goes out uncompressed with a
// correct Content-Length). Other responses stream through untouched.
//
//   npm run build && node examples/response-rewriting.mjs
import zlib from 'node:zlib';
import express from 'express';
import { proxy, readBody } from 'switchyard';
import { serve, startUpstream } from './stand-ins.mjs';

// A stand-in service that leaks internal fields and gzips its JSON.
const catalog = await startUpstream('catalog', (req, res) => {
  if (req.url.startsWith('/products/')) {
    const product = { id: req.url.split('/')[2], name: 'Tea', price: 4.5, internalCost: 1.2, warehouse: 'B7' };
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    res.end(zlib.gzipSync(JSON.stringify(product)));
  } else {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('plain text, passed through as it is\n');
  }
});

const PRIVATE_FIELDS = ['internalCost', 'warehouse'];

const api = proxy({
  targets: catalog.url,
  async modifyResponse(proxyRes, req, res) {
    proxyRes.headers['x-served-by'] = res.locals.target.name;
    if (!String(proxyRes.headers['content-type']).startsWith('application/json')) return; // stream as is
    const product = JSON.parse((await readBody(proxyRes)).toString('utf8'));
    for (const field of PRIVATE_FIELDS) delete product[field];
    return JSON.stringify({ ...product, currency: 'EUR' });
  },
});

const app = express();
app.use('/api', api);

await serve(app, {
  name: 'response-rewriting',
  tryPaths: ['-i {base}/api/products/7', '{base}/api/about'],
  closeables: [api, catalog],
});
