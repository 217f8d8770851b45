// Socket addresses and network paths. Every datagram in and out of the core carries its path.

export interface SocketAddress {
  /** IPv4 dotted quad or IPv6 text (no brackets, no zone). */
  readonly address: string;
  readonly port: number;
}

/** A network path as seen from one endpoint (RFC 9000 §1.2: the 4-tuple). */
export interface Path {
  readonly local: SocketAddress;
  readonly remote: SocketAddress;
}

export function addressFamily(a: SocketAddress): 4 | 6 {
  return a.address.includes(':') ? 6 : 4;
}

/** Stable string key of an address, e.g. `127.0.0.1:4433` or `[::1]:4433`. */
export function addressKey(a: SocketAddress): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

export function pathKey(p: Path): string {
  return `${addressKey(p.local)}>${addressKey(p.remote)}`;
}

export function sameAddress(a: SocketAddress, b: SocketAddress): boolean {
  return a.port === b.port && a.address === b.address;
}

/** Same IP, any port. */
export function sameHost(a: SocketAddress, b: SocketAddress): boolean {
  return a.address === b.address;
}

export function samePath(a: Path, b: Path): boolean {
  return sameAddress(a.local, b.local) && sameAddress(a.remote, b.remote);
}

export function socketAddress(address: string, port: number): SocketAddress {
  return { address, port };
}

/** Parses `host:port`, `[v6]:port`. Throws RangeError on malformed input. */
export function parseSocketAddress(text: string): SocketAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m) throw new RangeError(`invalid socket address: ${text}`);
  const port = Number(m[2]);
  if (port > 65535) throw new RangeError(`invalid port in ${text}`);
  return { address: m[1]!, port };
}

/** 4 (IPv4) or 16 (IPv6) raw octets of an IP address text; undefined if not an IP literal. */
export function ipToBytes(ip: string): Uint8Array | undefined {
  if (!ip.includes(':')) {
    const parts = ip.split('.');
    if (parts.length !== 4) return undefined;
    const out = new Uint8Array(4);
    for (let i = 0; i < 4; i++) {
      const s = parts[i]!;
      if (!/^\d{1,3}$/.test(s)) return undefined;
      const n = Number(s);
      if (n > 255) return undefined;
      out[i] = n;
    }
    return out;
  }
  let text = ip;
  // Embedded IPv4 tail (::ffff:1.2.3.4)
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: Uint8Array | undefined;
  if (v4tail) {
    tail = ipToBytes(v4tail[1]!);
    if (!tail) return undefined;
    text = `${text.slice(0, -v4tail[1]!.length)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (halves.length === 1 && head.length !== 8) return undefined;
  if (groups < 0) return undefined;
  const all = [...head, ...new Array<string>(groups).fill('0'), ...rest];
  if (all.length !== 8) return undefined;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    const n = Number.parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

/** Text form of 4 or 16 raw octets (IPv6 compressed per RFC 5952). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new RangeError('IP address must be 4 or 16 octets');
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[i * 2]! << 8) | b[i * 2 + 1]!);
  // Longest run of zero groups (length >= 2) becomes '::'.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
