// A test client for apps built on skiff, like FastAPI's TestClient but over a real socket: the app runs on an
// ephemeral loopback port with the production server settings.
import type { AddressInfo } from 'node:net';
import { createServer, type ServerOptions } from '../http/index.ts';
import type { App } from '../router/index.ts';

export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (throws when it is not JSON). */
  json<T = any>(): T;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Sent as JSON unless it is a string. */
  body?: unknown;
}

export interface TestClient {
  readonly url: string;
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  get(path: string, options?: RequestOptions): Promise<TestResponse>;
  post(path: string, body?: unknown, options?: RequestOptions): Promise<TestResponse>;
  close(): Promise<void>;
}

const DEFAULTS: ServerOptions = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  drainTimeoutMs: 1_000,
  cors: { origins: [], methods: [], headers: [] },
};

export async function testClient(app: App, options: Partial<ServerOptions> = {}): Promise<TestClient> {
  const server = createServer(app, { ...DEFAULTS, ...options }, app.log);
  const address = (await server.listen({ port: 0, host: '127.0.0.1' })) as AddressInfo;
  const url = `http://127.0.0.1:${address.port}`;
  const request = async (method: string, path: string, opts: RequestOptions = {}): Promise<TestResponse> => {
    const headers: Record<string, string> = { ...opts.headers };
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      if (typeof opts.body !== 'string' && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    const res = await fetch(url + path, { method, headers, body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
  };
  return {
    url,
    request,
    get: (path, opts) => request('GET', path, opts),
    post: (path, body, opts) => request('POST', path, { ...opts, body }),
    close: () => server.drain(),
  };
}
