// The test client's shape, shared by the one over a socket (testClient) and the one without (inject): how a
// request is written, the method shortcuts, and the server settings both run the app with.
import type { ServerOptions } from '../http/index.ts';

/** The production server's settings, with a short keep-alive and drain so that a test ends quickly. */
export const TEST_SERVER_OPTIONS: ServerOptions = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  drainTimeoutMs: 1_000,
  cors: { origins: [], methods: [], headers: [] },
};

export interface TestResponse {
  status: number;
  headers: Headers;
  /** The body as received (empty for HEAD and bodiless statuses). */
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
  /** Where the app answers: its loopback address (testClient), or a placeholder origin (inject: no socket). */
  readonly url: string;
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  get(path: string, options?: RequestOptions): Promise<TestResponse>;
  head(path: string, options?: RequestOptions): Promise<TestResponse>;
  options(path: string, options?: RequestOptions): Promise<TestResponse>;
  delete(path: string, options?: RequestOptions): Promise<TestResponse>;
  post(path: string, body?: unknown, options?: RequestOptions): Promise<TestResponse>;
  put(path: string, body?: unknown, options?: RequestOptions): Promise<TestResponse>;
  patch(path: string, body?: unknown, options?: RequestOptions): Promise<TestResponse>;
  /** Ends what is still open (streams get the server's drain signal first). */
  close(): Promise<void>;
}

/** A request as it goes out: headers and the body's text (JSON unless given as a string). */
export interface OutgoingRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

export function outgoing(method: string, path: string, options: RequestOptions = {}): OutgoingRequest {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body === undefined) return { method, path, headers, body: undefined };
  const json = typeof options.body !== 'string';
  if (json && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  return { method, path, headers, body: json ? JSON.stringify(options.body) : (options.body as string) };
}

export function testResponse(status: number, headers: Headers, text: string): TestResponse {
  return { status, headers, text, json: () => JSON.parse(text) };
}

/** A client from its `request` (every shortcut goes through it) and its `close`. */
export function clientOf(url: string, request: TestClient['request'], close: () => Promise<void>): TestClient {
  return {
    url,
    request,
    get: (path, options) => request('GET', path, options),
    head: (path, options) => request('HEAD', path, options),
    options: (path, options) => request('OPTIONS', path, options),
    delete: (path, options) => request('DELETE', path, options),
    post: (path, body, options) => request('POST', path, { ...options, body }),
    put: (path, body, options) => request('PUT', path, { ...options, body }),
    patch: (path, body, options) => request('PATCH', path, { ...options, body }),
    close,
  };
}
