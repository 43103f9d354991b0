// skiff/testing: both test clients pass one suite (test/support/test-client-contract.ts), and for the same
// requests inject (no socket) answers exactly what testClient (a loopback socket) receives.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { inject, testClient, type TestClient, type TestResponse } from '../src/testing/index.ts';
import { clientContract, clientContractApp } from './support/test-client-contract.ts';

clientContract('testClient', (app) => testClient(app));
clientContract('inject', async (app) => inject(app));

// What differs by transport alone: the generated request id, the date, and keep-alive (a fresh pair per inject).
const TRANSPORT_HEADERS = new Set(['x-request-id', 'date', 'connection', 'keep-alive']);
const comparable = (res: TestResponse) => ({
  status: res.status,
  headers: [...res.headers].filter(([name]) => !TRANSPORT_HEADERS.has(name)),
  text: res.text,
});

let overSocket: TestClient;
let inProcess: TestClient;
before(async () => {
  overSocket = await testClient(clientContractApp());
  inProcess = inject(clientContractApp());
});
after(() => Promise.all([overSocket.close(), inProcess.close()]));

test('inject answers what the socket carries: status, every header but the transport ones, body', async () => {
  const requests: [string, string, unknown?, Record<string, string>?][] = [
    ['GET', '/things/7'], ['GET', '/things/404'], ['GET', '/things/abc'], ['GET', '/nowhere'], ['GET', '/boom'],
    ['HEAD', '/things/7'], ['OPTIONS', '/things/7'], ['DELETE', '/things/7'], ['POST', '/things/7', {}],
    ['POST', '/things', { id: 1, name: 'a' }], ['PUT', '/things/2', { id: 2, name: 'b' }], ['PATCH', '/things/3', { name: 'c' }],
    ['POST', '/things', 'x=1', { 'content-type': 'text/plain' }], ['POST', '/things/small', { text: 'y'.repeat(200) }],
    ['POST', '/things', '{', { 'content-type': 'application/json' }], ['GET', '/lines/same'], ['HEAD', '/lines/same'],
  ];
  for (const [method, path, body, headers] of requests) {
    const [a, b] = await Promise.all([overSocket.request(method, path, { body, headers }), inProcess.request(method, path, { body, headers })]);
    assert.deepEqual(comparable(b), comparable(a), `${method} ${path}`);
  }
});
