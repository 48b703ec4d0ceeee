/**
 * The large-body cases: `size` bytes streamed up to the origin's sink, or down from its
 * /stream endpoint, through a column. Reports bytes delivered and how long it took; the
 * caller reads the column's peak RSS. Bounded by `limitMs`, and aborted early when the
 * column's RSS passes `rssLimit` (a column that buffers the whole body).
 */
import http from 'node:http';
import { Readable } from 'node:stream';
import { procRss } from './proc.mjs';

const CHUNK = Buffer.alloc(64 * 1024, 'u');

function source(size) {
  let left = size;
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const n = Math.min(left, CHUNK.length);
      left -= n;
      this.push(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
    },
  });
}

/** Watches the column: ends the transfer when it overruns time or memory. */
function guard(pid, limitMs, rssLimit, abort) {
  let peak = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    const rss = procRss(pid) ?? 0;
    peak = Math.max(peak, rss);
    if (rss > rssLimit) abort(`column RSS passed ${Math.round(rssLimit / 2 ** 20)} MiB`);
    else if (Date.now() - started > limitMs) abort(`no end within ${limitMs / 1000} s`);
  }, 50);
  return { stop: () => clearInterval(timer), peak: () => peak };
}

/**
 * @param {'upload'|'download'} direction
 * @returns {Promise<{bytes:number, seconds:number, status:number|undefined, error:string|undefined, sampledPeakRss:number}>}
 */
export function transfer(direction, port, pid, size, { limitMs, rssLimit }) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    let bytes = 0;
    let status;
    let settled = false;
    const upload = direction === 'upload';
    const req = http.request({
      host: '127.0.0.1',
      port,
      agent: false,
      method: upload ? 'POST' : 'GET',
      path: upload ? '/sink' : `/stream?bytes=${size}`,
      headers: upload ? { 'content-type': 'application/octet-stream', 'content-length': size } : {},
    });
    const watch = guard(pid, limitMs, rssLimit, (why) => finish(why));
    function finish(error) {
      if (settled) return;
      settled = true;
      watch.stop();
      req.destroy();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      resolve({ bytes, seconds, status, error, sampledPeakRss: watch.peak() });
    }
    req.on('error', (err) => finish(err.message));
    req.on('response', (res) => {
      status = res.statusCode;
      if (upload) {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => {
          try {
            bytes = JSON.parse(text).bytes;
          } catch {
            return finish(`status ${status}`);
          }
          finish(status === 200 ? undefined : `status ${status}`);
        });
      } else {
        res.on('data', (d) => { bytes += d.length; });
        res.on('end', () => finish(status === 200 ? undefined : `status ${status}`));
      }
      res.on('error', (err) => finish(err.message));
    });
    if (upload) source(size).pipe(req);
    else req.end();
  });
}
