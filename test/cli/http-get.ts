/** One HTTP request on a fresh connection (no keep-alive), so cluster workers each get some. */
import http, { type IncomingHttpHeaders } from 'node:http';

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export function get(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // Not http.request(url): WHATWG URL parsing would resolve dot segments the test means to send.
    const { hostname, port, origin } = new URL(url);
    const path = url.slice(origin.length) || '/';
    const options = { hostname, port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false };
    const req = http.request(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The JSON body of an echo upstream's reply. */
export async function getJson<T>(url: string, opts?: Parameters<typeof get>[1]): Promise<{ status: number; json: T }> {
  const reply = await get(url, opts);
  return { status: reply.status, json: JSON.parse(reply.body) as T };
}
