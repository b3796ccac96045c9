/**
 * @module SSRF protection for consumer webhook URLs: a static check when a URL is registered
 * (`checkUrl`) and a guarded DNS `lookup` for `http.request` / `https.request` that refuses a
 * connection when any resolved address is not plain public unicast. Because the socket connects
 * to exactly the address the guarded lookup returned, a name that resolves to a public address
 * at registration and to 10.0.0.5 at delivery (DNS rebinding) is still refused.
 * See the OWASP SSRF Prevention Cheat Sheet.
 */
import { promises as dns, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** The `code` of the error the guarded lookup reports for a refused address. */
export const SSRF_BLOCKED = 'ERR_SSRF_BLOCKED';

/** Configuration mistakes in the notify primitives (bad allow-list entry, bad SMTP URL). */
export class NotifyConfigError extends Error {
  readonly code = 'notify.invalid_config';

  constructor(message: string) {
    super(message);
    this.name = 'NotifyConfigError';
  }
}

export type UrlCheck = { ok: true } | { ok: false; reason: string };

/** Resolves every address of a name (injected in tests; default `dns.promises.lookup` with `all`). */
export type ResolveAll = (hostname: string) => Promise<LookupAddress[]>;

/** The shape of `dns.lookup` that `net.connect` (and so `http.request`) calls. */
export type LookupFunction = (
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

export interface UrlGuardOptions {
  /** Allow 127.0.0.0/8, ::1 and `localhost` (local development, tests). Default `false`. */
  allowLoopback?: boolean;
  /** `'loopback-only'` (default): plain http only to a loopback host, and only with `allowLoopback`; `'never'`: https only. */
  allowHttp?: 'loopback-only' | 'never';
  /** CIDRs (`"10.20.0.0/16"`), single addresses and exact hostnames allowed although private. Default none. */
  allowList?: readonly string[];
  /** Resolves all addresses of a name. Default `dns.promises.lookup(name, { all: true })`. */
  lookup?: ResolveAll;
}

export interface UrlGuard {
  /** Static check of a webhook URL (at registration, and again before each delivery). */
  checkUrl(url: string): UrlCheck;
  /** Whether one IP address may be connected to. */
  checkAddress(address: string): UrlCheck;
  /** `dns.lookup` replacement for the `lookup` option of `http.request` / `https.request`. */
  lookup: LookupFunction;
}

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Cloud metadata service names (the addresses themselves are link-local or CGNAT, refused anyway). */
const METADATA_HOSTNAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.internal',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** Suffixes that only ever name private hosts (RFC 6761 .localhost handled apart; .internal per ICANN 2024; .local is mDNS). */
const INTERNAL_SUFFIXES = ['.internal', '.local', '.localdomain', '.home.arpa'];

function refuse(reason: string): UrlCheck {
  return { ok: false, reason };
}

/** Lower-case, no trailing dot, no IPv6 brackets. */
function normaliseHost(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  while (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

/** An IPv4-mapped IPv6 CIDR (`::ffff:10.0.0.0/104`) is kept as its IPv4 equivalent, since addresses are compared after `ipaddr.process`. */
function parseRange(entry: string): [Address, number] {
  let addr: Address;
  let bits: number;
  if (entry.includes('/')) {
    [addr, bits] = ipaddr.parseCIDR(entry);
  } else {
    addr = ipaddr.parse(entry);
    bits = addr.kind() === 'ipv4' ? 32 : 128;
  }
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [addr, bits];
}

/**
 * Builds the URL guard. Throws `NotifyConfigError` for an allow-list entry that is neither a
 * CIDR, an IP address nor a hostname.
 *
 * @param options.allowLoopback default `false`
 * @param options.allowHttp default `'loopback-only'`
 * @param options.allowList default `[]`
 * @param options.lookup default `dns.promises.lookup` with `{ all: true }`
 * @example
 * const guard = createUrlGuard({ allowList: ['10.20.0.0/16', 'hooks.corp.example'] });
 * const check = guard.checkUrl(consumer.webhookUrl);
 * if (!check.ok) throw new ControlPlaneError('request.validation_failed', `webhookUrl: ${check.reason}`);
 * https.request(consumer.webhookUrl, { method: 'POST', lookup: guard.lookup });
 */
export function createUrlGuard(options: UrlGuardOptions = {}): UrlGuard {
  const allowLoopback = options.allowLoopback ?? false;
  const allowHttp = options.allowHttp ?? 'loopback-only';
  const resolveAll: ResolveAll = options.lookup ?? ((hostname) => dns.lookup(hostname, { all: true }));
  const allowedRanges: [Address, number][] = [];
  const allowedHosts = new Set<string>();
  for (const entry of options.allowList ?? []) {
    const trimmed = entry.trim();
    if (trimmed.includes('/') || isIP(trimmed) !== 0) {
      if (!ipaddr.isValidCIDR(trimmed) && !ipaddr.isValid(trimmed)) throw new NotifyConfigError(`allowList entry "${entry}" is not a valid CIDR`);
      allowedRanges.push(parseRange(trimmed));
    } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(trimmed)) {
      allowedHosts.add(normaliseHost(trimmed));
    } else {
      throw new NotifyConfigError(`allowList entry "${entry}" is neither a CIDR, an IP address nor a hostname`);
    }
  }

  function inAllowedRange(addr: Address): boolean {
    // match() throws across address families, hence the kind check.
    return allowedRanges.some((range) => range[0].kind() === addr.kind() && addr.match(range));
  }

  function checkParsed(addr: Address, shown: string): UrlCheck {
    if (inAllowedRange(addr)) return { ok: true };
    const range = addr.range();
    if (range === 'loopback') return allowLoopback ? { ok: true } : refuse(`${shown} is a loopback address`);
    if (range !== 'unicast') return refuse(`${shown} is in the ${range} range`);
    // ::/96 (deprecated IPv4-compatible, RFC 4291 §2.5.5.1) is "unicast" to ipaddr.js but may reach IPv4 hosts.
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0)) return refuse(`${shown} is an IPv4-compatible IPv6 address`);
    return { ok: true };
  }

  function checkAddress(address: string): UrlCheck {
    const bare = normaliseHost(address);
    // net.isIP rather than ipaddr.isValid: the latter accepts "10" or "0x7f.1" as IPv4.
    if (isIP(bare) === 0) return refuse(`${address} is not an IP address`);
    // process() turns ::ffff:127.0.0.1 into 127.0.0.1 so the IPv4 ranges apply.
    return checkParsed(ipaddr.process(bare), bare);
  }

  /** Checks a host name (not an IP); `loopback` tells whether plain http may be allowed. */
  function checkHostname(host: string): UrlCheck & { loopback: boolean } {
    if (allowedHosts.has(host)) return { ok: true, loopback: false };
    if (isLoopbackName(host)) return allowLoopback ? { ok: true, loopback: true } : { ...refuse(`${host} is a loopback name`), loopback: true };
    if (METADATA_HOSTNAMES.has(host)) return { ...refuse(`${host} is a cloud metadata service`), loopback: false };
    // Single-label names resolve through the resolver's search domains, i.e. to internal hosts.
    if (!host.includes('.')) return { ...refuse(`${host} is not a fully qualified domain name`), loopback: false };
    if (INTERNAL_SUFFIXES.some((suffix) => host.endsWith(suffix))) return { ...refuse(`${host} is an internal-only name`), loopback: false };
    return { ok: true, loopback: false };
  }

  function checkUrl(raw: string): UrlCheck {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return refuse('not a valid absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return refuse(`scheme ${url.protocol.slice(0, -1)} is not allowed (https only)`);
    if (url.username !== '' || url.password !== '') return refuse('credentials in the URL are not allowed');
    // URL drops an empty "#", so look at the raw text.
    if (raw.includes('#')) return refuse('a fragment is not allowed');
    const host = normaliseHost(url.hostname);
    if (host === '') return refuse('the URL has no host');
    let loopback: boolean;
    if (isIP(host) !== 0) {
      const check = checkAddress(host);
      if (!check.ok) return check;
      loopback = ipaddr.process(host).range() === 'loopback';
    } else {
      const check = checkHostname(host);
      if (!check.ok) return refuse(check.reason);
      loopback = check.loopback;
    }
    if (url.protocol === 'http:' && !(allowHttp === 'loopback-only' && allowLoopback && loopback)) return refuse('plain http is not allowed (https only)');
    return { ok: true };
  }

  function blocked(message: string, hostname: string): NodeJS.ErrnoException {
    return Object.assign(new Error(message), { code: SSRF_BLOCKED, hostname });
  }

  /** Resolves, filters by the requested family, and refuses if any address is not allowed. */
  async function resolveChecked(hostname: string, family: number): Promise<LookupAddress[]> {
    const host = normaliseHost(hostname);
    if (isIP(host) !== 0) {
      const check = checkAddress(host);
      if (!check.ok) throw blocked(`refused: ${check.reason}`, hostname);
      return [{ address: host, family: isIP(host) }];
    }
    const nameCheck = checkHostname(host);
    if (!nameCheck.ok) throw blocked(`refused: ${nameCheck.reason}`, hostname);
    const all = (await resolveAll(hostname)).filter((a) => family === 0 || a.family === family);
    if (all.length === 0) throw Object.assign(new Error(`no ${family === 0 ? '' : `IPv${family} `}address for ${hostname}`), { code: 'ENOTFOUND', hostname });
    if (allowedHosts.has(host)) return all;
    // Any refused address refuses the name: a connection may be tried on each of them.
    for (const { address } of all) {
      const check = checkAddress(address);
      if (!check.ok) throw blocked(`refused: ${hostname} resolves to a disallowed address (${check.reason})`, hostname);
    }
    return all;
  }

  function lookup(hostname: string, options: LookupOptions, callback: Parameters<LookupFunction>[2]): void {
    // dns.lookup's own overloads: (host, cb), (host, family, cb), (host, options, cb).
    const opts: LookupOptions = typeof options === 'object' && options !== null ? options : typeof options === 'number' ? { family: options } : {};
    const cb = typeof options === 'function' ? (options as Parameters<LookupFunction>[2]) : callback;
    const family = opts.family === 4 || opts.family === 'IPv4' ? 4 : opts.family === 6 || opts.family === 'IPv6' ? 6 : 0;
    resolveChecked(hostname, family).then(
      (addresses) => {
        // The callback runs outside the promise so an exception in it is not swallowed as a rejection.
        const first = addresses[0] as LookupAddress;
        process.nextTick(() => (opts.all === true ? cb(null, addresses) : cb(null, first.address, first.family)));
      },
      (error: NodeJS.ErrnoException) => process.nextTick(() => cb(error, opts.all === true ? [] : '', 0)),
    );
  }

  return { checkUrl, checkAddress, lookup };
}
