// A test client for apps built on skiff, like FastAPI's TestClient but over a real socket: the app runs on an
// ephemeral loopback port with the production server settings.
import type { AddressInfo } from 'node:net';
import { createServer, type ServerOptions } from '../http/index.ts';
import type { App } from '../router/index.ts';
import { clientOf, outgoing, TEST_SERVER_OPTIONS, testResponse, type TestClient } from './client.ts';

export async function testClient(app: App, options: Partial<ServerOptions> = {}): Promise<TestClient> {
  const server = createServer(app, { ...TEST_SERVER_OPTIONS, ...options }, app.log);
  const address = (await server.listen({ port: 0, host: '127.0.0.1' })) as AddressInfo;
  const url = `http://127.0.0.1:${address.port}`;
  return clientOf(url, async (method, path, options) => {
    const { headers, body } = outgoing(method, path, options);
    const res = await fetch(url + path, { method, headers, body });
    return testResponse(res.status, res.headers, await res.text());
  }, () => server.drain());
}
