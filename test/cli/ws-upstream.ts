/** A WebSocket upstream on 127.0.0.1 for the CLI tests, and a client that asks it one thing. */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

export interface WsUpstream {
  /** `http://127.0.0.1:PORT`, a target for the CLI. */
  readonly url: string;
  /** Terminates every socket and closes the server. */
  close(): Promise<void>;
}

/** Answers each message with `reply(message, request path)`. */
export async function startWsUpstream(reply: (text: string, path: string) => string): Promise<WsUpstream> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  wss.on('connection', (socket, req) => socket.on('message', (data) => socket.send(reply(String(data), req.url ?? ''))));
  return {
    url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((resolve) => wss.close(resolve));
    },
  };
}

/** An open WebSocket to `httpUrl` (http: swapped for ws:) with one-call request/answer. */
export async function openWs(httpUrl: string): Promise<{ ask(text: string): Promise<string>; close(): Promise<void> }> {
  const client = new WebSocket(httpUrl.replace(/^http:/, 'ws:'));
  await once(client, 'open');
  return {
    async ask(text) {
      client.send(text);
      return String(((await once(client, 'message')) as [Buffer])[0]);
    },
    async close() {
      client.close();
      await once(client, 'close');
    },
  };
}
