// A tiny HTTP worker for supervisor tests: says which process answered, can be slow or block its event loop.
import http from 'node:http';
import { describeListenError, joinSupervisor, listenTarget } from '../../src/cluster/index.ts';
import { drainHttpServer } from '../../src/http/index.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';

const config = loadConfig();
if (process.env.TEST_CRASH_AT_START) throw new Error('crashing at start, as asked');
const log = createLogger(config.logLevel, { pid: process.pid });
const link = joinSupervisor({
  log,
  stop: () => drainHttpServer(server, { timeoutMs: config.cluster.gracefulTimeoutMs, closeAfterMs: 100, reapAfterMs: 500 }),
  collect: () => process.pid,
});

const server = http.createServer(async (req, res) => {
  link.served();
  const url = new URL(req.url ?? '/', 'http://x');
  const ms = Number(url.searchParams.get('ms') ?? 0);
  if (url.pathname === '/slow') await new Promise((r) => setTimeout(r, ms));
  if (url.pathname === '/block') {
    const until = Date.now() + ms;
    while (Date.now() < until);
  }
  const body = url.pathname === '/gather' ? { pid: process.pid, pids: await link.gather() } : { pid: process.pid };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
});
server.keepAliveTimeout = 30_000;
server.once('error', (err) => link.fatal(describeListenError(err, { host: config.host, port: config.port, variable: 'PORT' })));
server.listen(listenTarget(config.host, config.port), () => link.ready());
