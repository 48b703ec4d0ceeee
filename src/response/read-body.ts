import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';

/** A response body stream with the headers that describe it (an `IncomingMessage` fits). */
export type ReadableBody = IncomingMessage | (Readable & { headers?: IncomingHttpHeaders });

/** The content codings readBody can undo (`x-gzip` is read as `gzip`, RFC 9110 §8.4.1.3). */
type Coding = 'gzip' | 'deflate' | 'br' | 'zstd';

/**
 * Reads a whole response body and undoes its `Content-Encoding`, for use in `modifyResponse`:
 *
 * ```ts
 * modifyResponse: async (proxyRes) => JSON.stringify(transform(JSON.parse((await readBody(proxyRes)).toString())))
 * ```
 *
 * Understands `gzip`/`x-gzip`, `deflate` (zlib-wrapped or raw, as browsers accept since
 * servers have sent both for decades), `br`, `identity`, `zstd` where the Node.js runtime has
 * it, and lists such as `gzip, br`, which are undone last-applied first (RFC 9110 §8.4). An
 * empty body decodes to an empty Buffer whatever the coding (HEAD, 204 and 304 carry none).
 *
 * Rejects with an Error naming an unknown coding before reading anything, so the caller can
 * still forward the stream untouched; rejects when the stream errors or a decoder fails
 * (a truncated gzip body is an error, not a silently shortened result).
 */
export async function readBody(proxyRes: ReadableBody): Promise<Buffer> {
  const codings = parseContentEncoding(proxyRes.headers?.['content-encoding']);
  // Decoders run in reverse order of application: the last coding listed was applied last.
  const decoders = codings.reverse().map((coding) => new LazyDecoder(coding));

  const chunks: Buffer[] = [];
  const sink = new Writable({
    // decodeStrings (the default) turns chunks of a stream with setEncoding() back into Buffers.
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  await pipeline([proxyRes, ...decoders, sink]);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** Splits a `Content-Encoding` value into codings to undo; throws on one it cannot undo. */
function parseContentEncoding(value: string | string[] | undefined): Coding[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(',') : value;
  const codings: Coding[] = [];
  for (const raw of joined.split(',')) {
    const token = raw.trim().toLowerCase();
    if (token === '' || token === 'identity') continue;
    if (token === 'gzip' || token === 'x-gzip') codings.push('gzip');
    else if (token === 'deflate' || token === 'br') codings.push(token);
    else if (token === 'zstd' && zstdDecompress !== undefined) codings.push('zstd');
    else throw new Error(`readBody: unsupported Content-Encoding "${raw.trim()}"`);
  }
  return codings;
}

/** `zlib.createZstdDecompress` exists from Node.js 22.15/23.8; typed loosely for Node 20 types. */
const zstdDecompress = (zlib as unknown as { createZstdDecompress?: () => Transform })
  .createZstdDecompress;

/**
 * A zlib RFC 1950 header: compression method 8 (deflate) with a window of at most 32 KiB, and
 * a check value making the first two bytes a multiple of 31. Raw deflate (RFC 1951) data that
 * misses this is inflated raw — the same sniff browsers use.
 */
function looksLikeZlib(head: Buffer): boolean {
  const cmf = head[0]!;
  const flg = head[1]!;
  return (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && ((cmf << 8) | flg) % 31 === 0;
}

function createDecoder(coding: Coding, head: Buffer): Transform {
  switch (coding) {
    case 'gzip':
      return zlib.createGunzip();
    case 'br':
      return zlib.createBrotliDecompress();
    case 'zstd':
      return zstdDecompress!();
    case 'deflate':
      return head.length >= 2 && looksLikeZlib(head) ? zlib.createInflate() : zlib.createInflateRaw();
  }
}

/**
 * Wraps a node:zlib decompressor created on the first body byte: an empty body then decodes to
 * nothing (zlib would reject it as "unexpected end of file"), and `deflate` can pick zlib or
 * raw inflate from the first two bytes. Only those two bytes are ever held back.
 */
class LazyDecoder extends Transform {
  readonly #coding: Coding;
  #inner: Transform | undefined;
  #head: Buffer = Buffer.alloc(0);

  constructor(coding: Coding) {
    super();
    this.#coding = coding;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#inner !== undefined) {
      this.#write(chunk, callback);
      return;
    }
    const head = this.#head.length === 0 ? chunk : Buffer.concat([this.#head, chunk]);
    if (head.length === 0 || (this.#coding === 'deflate' && head.length < 2)) {
      this.#head = head;
      callback();
      return;
    }
    this.#head = Buffer.alloc(0);
    this.#start(head);
    this.#write(head, callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#inner === undefined) {
      if (this.#head.length === 0) {
        callback();
        return;
      }
      // A one-byte deflate body: let the decoder report it.
      this.#start(this.#head);
      this.#inner!.write(this.#head);
    }
    this.#inner!.once('end', () => callback());
    this.#inner!.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#inner?.destroy();
    callback(error);
  }

  #start(head: Buffer): void {
    const inner = createDecoder(this.#coding, head);
    this.#inner = inner;
    // The consumer (readBody's collector) never applies backpressure, so data is pushed as is.
    inner.on('data', (data: Buffer) => this.push(data));
    inner.once('error', (error) => this.destroy(error));
  }

  #write(chunk: Buffer, callback: TransformCallback): void {
    if (this.#inner!.write(chunk)) callback();
    else this.#inner!.once('drain', () => callback());
  }
}
