/**
 * The request body across attempts (src/body/request-body.ts), driven with a stand-in client
 * stream: read lazily, kept up to the limit, resent whole, handed on whole.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { resolveRequestBody } from '../../src/body/request-body.js';

/** A client request stream carrying `headers`, as body parsers and we see `req`. */
function clientRequest(headers: Record<string, string>): IncomingMessage & PassThrough {
  return Object.assign(new PassThrough(), { headers, complete: false }) as unknown as IncomingMessage & PassThrough;
}

function readAll(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** Reads the first chunk of `stream`, then abandons it, as a failed attempt does. */
function readFirstChunk(stream: Readable): Promise<Buffer> {
  return new Promise((resolve) => stream.once('data', (c: Buffer) => {
    stream.pause();
    resolve(c);
  }));
}

describe('resolveRequestBody', () => {
  it('sends nothing for a request without a body', () => {
    const body = resolveRequestBody(clientRequest({}), {}, 1024);
    expect(body.forAttempt()).toBeNull();
    expect(body.replayable).toBe(true);
  });

  it('re-sends a parsed body as bytes with a matching Content-Length', () => {
    const req = Object.assign(clientRequest({ 'content-type': 'application/json', 'content-length': '9' }), { body: { a: 1 } });
    req.end();
    req.resume();
    return new Promise<void>((resolve) => req.once('end', () => {
      const headers: OutgoingHttpHeaders = {};
      const body = resolveRequestBody(req, headers, 0);
      expect(body.forAttempt()).toEqual(Buffer.from('{"a":1}'));
      expect(headers['content-length']).toBe('7');
      resolve();
    }));
  });

  it('does not read the client before an attempt asks for the body', async () => {
    const req = clientRequest({ 'content-length': '5' });
    const body = resolveRequestBody(req, {}, 1024);
    req.write('hello');
    const stream = body.forAttempt() as Readable;
    expect(req.listenerCount('data')).toBe(0);
    expect(req.readableLength).toBe(5);
    req.end();
    expect((await readAll(stream)).toString()).toBe('hello');
  });

  it('an attempt that never read leaves the body whole for the next, whatever the limit', async () => {
    const req = clientRequest({ 'content-length': '11' });
    const body = resolveRequestBody(req, {}, 0);
    body.forAttempt(); // never read: the connection was refused
    expect(body.replayable).toBe(true);
    req.end('hello world');
    expect((await readAll(body.forAttempt() as Readable)).toString()).toBe('hello world');
  });

  it('a retry resends the kept bytes, then the rest as the client sends it', async () => {
    const req = clientRequest({ 'transfer-encoding': 'chunked' });
    const body = resolveRequestBody(req, {}, 1024);
    const first = body.forAttempt() as Readable;
    req.write('part one, ');
    expect((await readFirstChunk(first)).toString()).toBe('part one, ');
    first.destroy();
    expect(body.replayable).toBe(true);
    const second = body.forAttempt() as Readable;
    req.end('part two');
    expect((await readAll(second)).toString()).toBe('part one, part two');
  });

  it('a body read past the limit is not replayable (never sent in part)', async () => {
    const req = clientRequest({ 'transfer-encoding': 'chunked' });
    const body = resolveRequestBody(req, {}, 4);
    const first = body.forAttempt() as Readable;
    req.write('more than four bytes');
    await readFirstChunk(first);
    expect(body.replayable).toBe(false);
  });

  it('release(true) puts kept bytes back so the next reader gets the whole body', async () => {
    const req = clientRequest({ 'transfer-encoding': 'chunked' });
    const body = resolveRequestBody(req, {}, 1024);
    const first = body.forAttempt() as Readable;
    req.write('abc');
    await readFirstChunk(first);
    first.destroy();
    body.release(true);
    expect(req.listenerCount('data')).toBe(0);
    req.end('def');
    expect((await readAll(req)).toString()).toBe('abcdef');
  });
});
