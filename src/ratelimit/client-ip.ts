// Who a request comes from, for per-IP limits: the socket's peer, unless that peer is a trusted proxy
// (TRUSTED_PROXIES, CIDRs); then the Forwarded / X-Forwarded-For hops are read from the right, skipping trusted
// proxies, and the first address no trusted proxy could have written is the client. Entries left of it are
// whatever the client sent, so they are never read.
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** The trusted proxies as a matcher; throws on an entry that is not an address or CIDR. */
export function trustedProxies(cidrs: readonly string[]): BlockList | null {
  if (cidrs.length === 0) return null;
  const list = new BlockList();
  for (const entry of cidrs) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address);
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    const max = family === 6 ? 128 : 32;
    if (family === 0 || extra !== undefined || !/^\d{1,3}$/.test(String(prefix)) || prefix > max) {
      throw new TypeError(`"${entry}" is not an IP address or CIDR (e.g. 10.0.0.0/8, ::1)`);
    }
    list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** `::ffff:1.2.3.4` is 1.2.3.4: one client, one partition, whichever socket family it came in on. */
function canonical(address: string): string {
  if (address.charCodeAt(0) !== 58 /* : */) return address;
  const mapped = MAPPED_V4.exec(address);
  return mapped !== null ? mapped[1] : address;
}

function trusted(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** A `for=` value of RFC 7239 without quotes, brackets or port: `"[2001:db8::1]:4711"` → 2001:db8::1. */
function forwardedFor(node: string): string {
  let value = node.trim();
  if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  if (value.startsWith('[')) return value.slice(1, value.indexOf(']') === -1 ? undefined : value.indexOf(']'));
  const colon = value.indexOf(':');
  return colon !== -1 && value.indexOf(':', colon + 1) === -1 ? value.slice(0, colon) : value;
}

/** The hops the proxies recorded, client first: Forwarded when present, else X-Forwarded-For. */
function forwardedHops(req: IncomingMessage): string[] {
  const forwarded = req.headers.forwarded;
  if (typeof forwarded === 'string' && forwarded !== '') {
    const hops: string[] = [];
    for (const element of forwarded.split(',')) {
      const pair = element.split(';').find((p) => p.trim().toLowerCase().startsWith('for='));
      hops.push(pair === undefined ? '' : forwardedFor(pair.trim().slice(4)));
    }
    return hops;
  }
  const xff = req.headers['x-forwarded-for'];
  return typeof xff === 'string' && xff !== '' ? xff.split(',').map((h) => h.trim()) : [];
}

/** The client's address: see the file's head. */
export function clientIp(req: IncomingMessage, proxies: BlockList | null): string {
  let client = canonical(req.socket.remoteAddress ?? '');
  if (proxies === null || !trusted(proxies, client)) return client;
  const hops = forwardedHops(req);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = canonical(hops[i]);
    // Not an address (`unknown`, an obfuscated node, garbage): the trusted proxy to its right is as far as we know.
    if (isIP(hop) === 0) return client;
    client = hop;
    if (!trusted(proxies, hop)) return hop;
  }
  return client;
}
