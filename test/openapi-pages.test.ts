// The docs routes over a real socket: the document with a strong ETag, the pages with their CSP, every asset
// from this server, and the config that moves or switches them off.
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { REDOC_CSP, SWAGGER_CSP } from '../src/openapi/index.ts';
import { startExampleApp, type RunningExample } from './contract-app.ts';
import { rawGet as get } from './support/raw-get.ts';

describe('with the default config', () => {
  let running: RunningExample;
  before(async () => {
    running = await startExampleApp();
  });
  after(() => running.stop());

  test('/openapi.json has a strong ETag; a matching If-None-Match gets 304 with no body', async () => {
    const first = await get(running.client.url + '/openapi.json');
    assert.equal(first.status, 200);
    assert.match(String(first.headers['content-type']), /^application\/json/);
    const etag = String(first.headers.etag);
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
    assert.equal(JSON.parse(first.body.toString()).openapi, '3.1.0');
    const again = await get(running.client.url + '/openapi.json', { 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal(again.headers.etag, etag);
  });

  test('gzip when asked, with its own ETag and Vary', async () => {
    const plain = await get(running.client.url + '/openapi.json');
    const zipped = await get(running.client.url + '/openapi.json', { 'accept-encoding': 'br, gzip;q=0.8' });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(zipped.headers.vary, 'accept-encoding');
    assert.notEqual(zipped.headers.etag, plain.headers.etag);
    assert.deepEqual(gunzipSync(zipped.body), plain.body);
    assert.equal((await get(running.client.url + '/openapi.json', { 'accept-encoding': 'gzip;q=0' })).headers['content-encoding'], undefined);
  });

  test('the pages carry a CSP that allows this origin only, and load nothing from another one', async () => {
    for (const [path, csp] of [['/redoc', REDOC_CSP], ['/docs', SWAGGER_CSP]]) {
      const page = await get(running.client.url + path);
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.equal(page.headers['content-security-policy'], csp);
      const html = page.body.toString();
      assert.doesNotMatch(html, /https?:\/\//, 'no absolute URL in the page');
      for (const [, src] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
        if (src.startsWith('data:')) continue;
        const asset = await get(running.client.url + src);
        assert.equal(asset.status, 200, src);
        assert.match(String(asset.headers['content-type']), /^text\/(javascript|css)/, src);
      }
    }
    assert.match(REDOC_CSP, /worker-src blob:/);
    for (const csp of [REDOC_CSP, SWAGGER_CSP]) {
      assert.match(csp, /default-src 'none'/);
      assert.doesNotMatch(csp, /https?:|\*|unsafe-eval/);
      assert.doesNotMatch(csp.replace("style-src 'self' 'unsafe-inline'", ''), /unsafe-inline/, 'inline styles only');
    }
  });

  test('HEAD of a page answers like GET without a body', async () => {
    const res = await fetch(running.client.url + '/redoc', { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });
});

describe('config', () => {
  test('DOCS_ENABLED=false serves no document and no pages', async () => {
    const running = await startExampleApp({ env: { DOCS_ENABLED: 'false' } });
    try {
      for (const path of ['/openapi.json', '/redoc', '/docs', '/docs/swagger-ui-bundle.js']) assert.equal((await running.client.get(path)).status, 404, path);
      assert.equal((await running.client.get('/healthz')).status, 200);
    } finally {
      await running.stop();
    }
  });

  test('the paths move, a page can be switched off alone, and servers are listed', async () => {
    const running = await startExampleApp({
      env: { DOCS_OPENAPI_PATH: '/api/spec.json', DOCS_REDOC_PATH: '', DOCS_SWAGGER_PATH: '/api/ui', DOCS_SERVERS: 'https://api.example.test, /' },
    });
    try {
      const spec = await running.client.get('/api/spec.json');
      assert.equal(spec.status, 200);
      assert.deepEqual(spec.json().servers, [{ url: 'https://api.example.test' }, { url: '/' }]);
      assert.equal((await running.client.get('/openapi.json')).status, 404);
      assert.equal((await running.client.get('/redoc')).status, 404);
      const ui = await running.client.get('/api/ui');
      assert.match(ui.text, /data-spec-url="\/api\/spec.json"/);
      assert.match(ui.text, /src="\/api\/ui\/swagger-ui-bundle.js"/);
      assert.equal((await running.client.get('/api/ui/swagger-init.js')).status, 200);
    } finally {
      await running.stop();
    }
  });
});
