// A stand-in upstream for the recipes: `node echo-upstream.mjs`.
//
// Listens on http://127.0.0.1:3001 and http://127.0.0.1:3002 and answers every request with
// JSON describing it: { port, method, url, headers, body }. Query switches:
//   ?status=503   answer with that status
//   ?delay=2000   wait that many ms before answering
//   ?gzip=1       gzip the answer (Content-Encoding: gzip)
//   ?die=1        send headers and part of the body, then drop the connection
import http from 'node:http';
import zlib from 'node:zlib';

for (const port of [3001, 3002]) {
  http
    .createServer((req, res) => {
      const chunks = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', () => {
        const q = new URL(req.url, 'http://upstream').searchParams;
        const echo = { port, method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() };
        let body = Buffer.from(`${JSON.stringify(echo)}\n`);
        const headers = { 'content-type': 'application/json' };
        if (q.has('gzip')) {
          body = zlib.gzipSync(body);
          headers['content-encoding'] = 'gzip';
        }
        headers['content-length'] = body.length;
        setTimeout(() => {
          res.writeHead(Number(q.get('status') ?? 200), headers);
          if (q.has('die')) {
            res.write(body.subarray(0, 10));
            setTimeout(() => res.destroy(), 100);
          } else {
            res.end(body);
          }
        }, Number(q.get('delay') ?? 0));
      });
    })
    .listen(port, '127.0.0.1', () => console.log(`echo upstream on http://127.0.0.1:${port}`));
}
