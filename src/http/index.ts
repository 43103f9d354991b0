// Public face of the HTTP layer: the node:http server that runs an app.
export { createServer, type ServerOptions, type SkiffServer, type ListenTarget } from './server.ts';
export { createRequestHandler } from './handle.ts';
export { createCors, type CorsOptions } from './cors.ts';
export { readJsonBody, parseJson } from './body.ts';
export { drainHttpServer, type DrainOptions } from './drain.ts';
