/**
 * The upstream response as `modifyResponse` sees it: a Readable of the body carrying
 * `statusCode`, `statusMessage`, `headers` and `rawHeaders`, the members of Node's
 * `IncomingMessage` that proxy hooks use (so http-proxy-middleware and express-http-proxy
 * hooks keep working). Made only when a hook is configured; without one, the body is written
 * straight from the transport into `res`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { UpstreamResponse } from '../types.js';

/** The transport controls the response body needs. */
export interface BodyControl {
  resume(): void;
  abort(): void;
  readonly done: boolean;
}

class HookResponse extends Readable implements UpstreamResponse {
  statusCode: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];

  constructor(
    private readonly control: BodyControl,
    status: number,
    statusText: string,
    rawHeaders: string[],
  ) {
    super();
    this.statusCode = status;
    this.statusMessage = statusText;
    this.rawHeaders = rawHeaders;
    this.headers = headerObject(rawHeaders);
  }

  override _read(): void {
    this.control.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Nobody reads the rest (client gone, body replaced and abandoned): free the upstream.
    if (!this.control.done) this.control.abort();
    cb(err);
  }
}

/** Node's rules for `IncomingMessage.headers`: lower-case names, `set-cookie` an array, others joined by `, `. */
export function headerObject(raw: readonly string[]): IncomingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    const seen = headers[name];
    if (name === 'set-cookie') {
      if (seen === undefined) headers[name] = [value];
      else (seen as string[]).push(value);
    } else {
      headers[name] = seen === undefined ? value : `${seen as string}, ${value}`;
    }
  }
  return headers as IncomingHttpHeaders;
}

export function createUpstreamResponse(control: BodyControl, status: number, statusText: string, rawHeaders: string[]): UpstreamResponse {
  return new HookResponse(control, status, statusText, rawHeaders);
}
