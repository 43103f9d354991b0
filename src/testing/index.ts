// Public face of skiff/testing, for people building on skiff: a test client over a real loopback socket
// (testClient) or without one (inject), and a checker of every response against the app's OpenAPI document.
export { clientOf, type RequestOptions, type TestClient, type TestResponse } from './client.ts';
export { testClient } from './socket.ts';
export { inject, INJECT_ORIGIN } from './inject.ts';
export { openApiContract, type OpenApiContract, type ReceivedResponse } from './contract.ts';
