/**
 * WebSocket ends for tests that only need one round trip through the proxy: an upstream
 * side answering each message, and a client that sends one message and waits for the answer.
 * (test/integration/websocket.test.ts has the full-featured upstream.)
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer, type RawData } from 'ws';

/**
 * Accepts every WebSocket upgrade on `server` and answers each text message with
 * `reply(handshake, text)`. `close()` terminates the connections.
 */
export function answerWebSockets(server: Server | Http2SecureServer, reply: (req: IncomingMessage, text: string) => string): { close(): void } {
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data: RawData) => ws.send(reply(req, data.toString()))));
  });
  return {
    close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}

/**
 * Opens a WebSocket to `url` (`ws://…`), sends `text` and resolves with the first answer;
 * the client is terminated either way.
 */
export async function webSocketRoundTrip(url: string, text: string): Promise<string> {
  const client = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    const answer = new Promise<string>((resolve) => client.once('message', (data: RawData) => resolve(data.toString())));
    client.send(text);
    return await answer;
  } finally {
    client.terminate();
  }
}
