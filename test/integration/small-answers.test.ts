/**
 * Small answers, which usually arrive whole (head and body in one read), leave the proxy in
 * one write instead of through a pipe. What the client sees must not change: status, headers
 * and framing as the upstream sent them, bodiless answers stay bodiless, the pooled socket
 * is reused, and the target's counters settle.
 */
import http from 'node:http';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { proxy } from '../../src/index.js';
import { sendRequest } from '../helpers/client.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen, rawRequest } from '../helpers/listen.js';
import { startUpstream } from '../helpers/upstream.js';

const { track } = useCleanup({ parallel: true });

/** Answers every path with a fixed status, headers and body (`undefined` body: none). */
async function fixedUpstream(status: number, headers: Record<string, string>, body?: string) {
  return track(
    await startUpstream((_req, res) => {
      res.writeHead(status, headers);
      res.end(body);
    }),
  );
}

async function frontFor(upstreamUrl: string) {
  const mw = track(proxy({ targets: upstreamUrl }));
  const front = track(await listen(express().use(mw)));
  return { mw, front };
}

describe('small answers that arrived whole', () => {
  it('reach the client unchanged, reuse one pooled socket, and settle the counters', async () => {
    const up = await fixedUpstream(201, { 'Content-Type': 'text/plain', 'Content-Length': '5', 'X-Upstream': 'a' }, 'hello');
    const { mw, front } = await frontFor(up.url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 30; i++) {
        const reply = await sendRequest(`${front.url}/x`, { agent });
        expect(reply.status).toBe(201);
        expect(reply.body.toString()).toBe('hello');
        expect(reply.headers['content-length']).toBe('5');
        // The upstream's letter case survives.
        expect(reply.rawHeaders).toContain('X-Upstream');
      }
    } finally {
      agent.destroy();
    }
    expect(up.connections).toBe(1);
    const [stats] = mw.stats();
    expect(stats?.active).toBe(0);
    expect(stats?.statuses).toEqual({ 201: 30 });
  });

  it('a HEAD answer keeps the Content-Length of the resource and sends no body', async () => {
    const up = await fixedUpstream(200, { 'content-type': 'text/plain', 'content-length': '1234' });
    const { front } = await frontFor(up.url);
    const reply = await rawRequest(front.port, 'HEAD /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply).toMatch(/\r\ncontent-length: 1234\r\n/i);
    // Nothing after the head.
    expect(reply.endsWith('\r\n\r\n')).toBe(true);
  });

  it.each([204, 304])('a %i answer stays bodiless', async (status) => {
    const up = await fixedUpstream(status, { etag: '"v1"' });
    const { front } = await frontFor(up.url);
    const reply = await rawRequest(front.port, 'GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(reply).toMatch(/\r\netag: "v1"\r\n/i);
    expect(reply).not.toMatch(/transfer-encoding/i);
    expect(reply.endsWith('\r\n\r\n')).toBe(true);
  });

  it('a small chunked answer stays chunked (no Content-Length invented)', async () => {
    const up = track(
      await startUpstream((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('hi');
      }),
    );
    const { front } = await frontFor(up.url);
    const reply = await rawRequest(front.port, 'GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/\r\ntransfer-encoding: chunked\r\n/i);
    expect(reply).not.toMatch(/content-length/i);
    expect(reply).toMatch(/\r\n\r\n2\r\nhi\r\n0\r\n\r\n$/);
  });
});
