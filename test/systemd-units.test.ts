// The unit files as systemd reads them: `systemd-analyze verify` without complaint, and an exposure score
// of at most 2.0 for both services. Both commands work offline, without a running systemd.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const source = new URL('../systemd/', import.meta.url);
const units = ['skiff-api.socket', 'skiff-api.service', 'skiff-worker.service'];
const services = units.filter((u) => u.endsWith('.service'));

// verify checks that ExecStart binaries exist: on a machine whose node is not /usr/bin/node, check copies
// that point at this node instead (the README tells operators to do the same).
const dir = mkdtempSync(join(tmpdir(), 'skiff-units-'));
after(() => rmSync(dir, { recursive: true, force: true }));
for (const unit of units) {
  const text = readFileSync(new URL(unit, source), 'utf8');
  if (existsSync('/usr/bin/node')) copyFileSync(new URL(unit, source), join(dir, unit));
  else writeFileSync(join(dir, unit), text.replaceAll('/usr/bin/node', process.execPath));
}

test('systemd-analyze verify accepts the units without a warning', async () => {
  const { stdout, stderr } = await run('systemd-analyze', ['verify', ...units.map((u) => join(dir, u))]);
  assert.equal((stdout + stderr).trim(), '');
});

for (const service of services) {
  test(`${service}: systemd-analyze security exposure is at most 2.0`, async () => {
    const { stdout } = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', join(dir, service)]);
    const exposure = Number(/Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(stdout)?.[1]);
    assert.ok(exposure <= 2.0, `exposure ${exposure}`);
  });
}

test('the services keep what Node needs and drain through the supervisor', () => {
  for (const service of services) {
    const text = readFileSync(new URL(service, source), 'utf8');
    assert.match(text, /^MemoryDenyWriteExecute=no$/m, 'V8 JIT needs W+X memory');
    assert.doesNotMatch(text, /SystemCallFilter=~.*@resources/, 'Node calls setrlimit');
    assert.match(text, /^KillMode=mixed$/m);
    assert.match(text, /^Type=notify$/m);
    assert.match(text, /^NotifyAccess=all$/m);
    assert.match(text, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    assert.match(text, /^Restart=on-failure$/m);
    // TimeoutStopSec must leave room for GRACEFUL_TIMEOUT's default of 30 s.
    assert.ok(Number(/^TimeoutStopSec=(\d+)$/m.exec(text)?.[1]) > 30);
  }
});
