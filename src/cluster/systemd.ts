// The two systemd conventions a Node process can follow without native code: socket activation (LISTEN_FDS)
// and readiness notification through the `systemd-notify` binary (Node has no AF_UNIX datagram sockets).
import { spawn } from 'node:child_process';
import type { Logger } from '../log.ts';

/** sd_listen_fds(): the first passed descriptor (3) when systemd passed sockets to this very process. */
export function takeListenFd(env: NodeJS.ProcessEnv = process.env): number | null {
  const count = Number(env.LISTEN_FDS);
  const forUs = Number(env.LISTEN_PID) === process.pid;
  // Unset them as sd_listen_fds(1) does, so children do not mistake them for their own.
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  return forUs && count >= 1 ? 3 : null;
}

export type Notify = (fields: Record<string, string>) => void;

/**
 * sd_notify() through `systemd-notify`; a no-op outside a Type=notify unit. The unit needs NotifyAccess=all
 * since the message comes from the helper's PID; systemd-notify waits until systemd has read it, so the
 * helper never exits before systemd can attribute the message to our cgroup.
 */
export function systemdNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env): Notify {
  if (!env.NOTIFY_SOCKET) return () => {};
  return (fields) => {
    const args = [`--pid=${process.pid}`, ...Object.entries(fields).map(([k, v]) => `${k}=${v}`)];
    const child = spawn('systemd-notify', args, { stdio: 'ignore' });
    child.once('error', (err) => log.warn('systemd-notify failed', { err: err.message }));
    child.once('exit', (code) => { if (code) log.warn('systemd-notify failed', { code }); });
  };
}
