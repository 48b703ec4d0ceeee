// A body parser in front of the proxy: the app reads and validates the JSON body itself, may
// change it, and switchyard re-sends req.body to the upstream with a correct Content-Length.
//
//   npm run build && node examples/body-parser.mjs
import express from 'express';
import { proxy } from 'switchyard';
import { serve, startUpstream } from './stand-ins.mjs';

const orders = await startUpstream('orders');
const ordersApi = proxy({ targets: orders.url });

const app = express();
app.use(express.json());
app.post('/api/orders', (req, res, next) => {
  if (typeof req.body.item !== 'string') {
    // Answered here: the upstream never sees an invalid order.
    return res.status(400).json({ error: 'item is required' });
  }
  req.body.channel = 'web'; // forwarded with the rest of the body
  next();
});
app.use('/api', ordersApi);

await serve(app, {
  name: 'body-parser',
  tryPaths: [`-X POST -H 'content-type: application/json' -d '{"item":"tea"}' {base}/api/orders`],
  closeables: [ordersApi, orders],
});
