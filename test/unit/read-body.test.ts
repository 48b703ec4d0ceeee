import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBody } from '../../src/response/read-body.js';

const TEXT = 'hello, switchyard — ünïcödé '.repeat(50);
const BIG = Buffer.alloc(3 * 1024 * 1024, 'abcdefghij'); // many chunks on the wire

/** path → [Content-Encoding, encoded body, optional: write in slices of this size] */
const routes: Record<string, [string | undefined, Buffer, number?]> = {
  '/identity': [undefined, Buffer.from(TEXT)],
  '/identity-explicit': ['identity', Buffer.from(TEXT)],
  '/gzip': ['gzip', zlib.gzipSync(TEXT)],
  '/x-gzip': ['x-gzip', zlib.gzipSync(TEXT)],
  '/deflate': ['deflate', zlib.deflateSync(TEXT)],
  '/raw-deflate': ['deflate', zlib.deflateRawSync(TEXT)],
  '/deflate-one-byte-chunks': ['deflate', zlib.deflateSync(TEXT), 1],
  '/raw-deflate-one-byte-chunks': ['deflate', zlib.deflateRawSync(TEXT), 1],
  '/br': ['br', zlib.brotliCompressSync(TEXT)],
  '/upper-case': ['GZIP', zlib.gzipSync(TEXT)],
  // gzip applied first, then br: undone br first.
  '/chain': ['gzip, br', zlib.brotliCompressSync(zlib.gzipSync(TEXT))],
  '/chain-identity': ['identity, deflate , gzip', zlib.gzipSync(zlib.deflateRawSync(TEXT))],
  '/empty-gzip': ['gzip', Buffer.alloc(0)],
  '/empty-br': ['br', Buffer.alloc(0)],
  '/big-gzip': ['gzip', zlib.gzipSync(BIG), 16 * 1024],
  '/truncated-gzip': ['gzip', zlib.gzipSync(TEXT).subarray(0, 40)],
  '/corrupt-br': ['br', Buffer.from('definitely not brotli')],
  '/unknown': ['gzip, compress', Buffer.from('raw bytes')],
};

let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const route = routes[req.url ?? ''];
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    const [encoding, body, slice] = route;
    const headers: http.OutgoingHttpHeaders = { 'content-length': body.length };
    if (encoding !== undefined) headers['content-encoding'] = encoding;
    res.writeHead(200, headers);
    if (slice === undefined) {
      res.end(body);
      return;
    }
    // Slices written across ticks reach the client as separate chunks.
    let offset = 0;
    const writeNext = (): void => {
      if (offset >= body.length) {
        res.end();
        return;
      }
      res.write(body.subarray(offset, offset + slice));
      offset += slice;
      setImmediate(writeNext);
    };
    writeNext();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function get(path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    http.get(`${base}${path}`, { agent: false }, resolve).on('error', reject);
  });
}

describe('readBody', () => {
  it.each([
    '/identity',
    '/identity-explicit',
    '/gzip',
    '/x-gzip',
    '/deflate',
    '/raw-deflate',
    '/deflate-one-byte-chunks',
    '/raw-deflate-one-byte-chunks',
    '/br',
    '/upper-case',
    '/chain',
    '/chain-identity',
  ])('decodes %s', async (path) => {
    const body = await readBody(await get(path));
    expect(body.toString('utf8')).toBe(TEXT);
  });

  it.each(['/empty-gzip', '/empty-br'])('decodes an empty body with a coding (%s) to nothing', async (path) => {
    const body = await readBody(await get(path));
    expect(body.length).toBe(0);
  });

  it('decodes a large gzip body arriving in many chunks', async () => {
    const body = await readBody(await get('/big-gzip'));
    expect(body.equals(BIG)).toBe(true);
  });

  it('rejects an unknown coding by name and leaves the stream unread', async () => {
    const res = await get('/unknown');
    await expect(readBody(res)).rejects.toThrow(/"compress"/);
    // Still readable as it came from the upstream.
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('raw bytes');
  });

  it('rejects a truncated gzip body', async () => {
    await expect(readBody(await get('/truncated-gzip'))).rejects.toThrow();
  });

  it('rejects a corrupt br body', async () => {
    await expect(readBody(await get('/corrupt-br'))).rejects.toThrow();
  });

  it('reads any Readable with headers, including one with setEncoding()', async () => {
    const gz = Object.assign(Readable.from([zlib.gzipSync('abc')]), {
      headers: { 'content-encoding': 'gzip' },
    });
    expect((await readBody(gz)).toString()).toBe('abc');

    const plain = new Readable({ read() {} });
    plain.setEncoding('utf8');
    plain.push(Buffer.from('héllo'));
    plain.push(null);
    const body = await readBody(plain);
    expect(Buffer.isBuffer(body)).toBe(true);
    expect(body.toString()).toBe('héllo');
  });
});
