// A NAT between private hosts and the network. Egress: the private source address:port is
// replaced by a public one (mapping allocated on first use, endpoint-independent, RFC 4787);
// ingress: the public destination is mapped back. The endpoints behind it never learn of it.
// Rebinding (new public port or address) forgets old mappings, so replies to them are dropped.
import { addressKey, bytesToIp, ipToBytes, type SocketAddress } from '../../src/common/addr.js';
import type { SeededRandom } from '../../src/common/random.js';
import type { Duration, Instant } from '../../src/common/time.js';
import type { Host, PrivateGateway } from './host.js';
import type { Network } from './network.js';
import type { SimEvent } from './scheduler.js';
import type { NetNode, SimDatagram } from './types.js';

/**
 * Inbound filtering (RFC 4787 §5): which remotes may send to a mapping. 'endpoint-independent'
 * accepts anyone; 'address' remotes with an IP the mapping has sent to; 'address-and-port'
 * exactly the remote address:ports it has sent to.
 */
export type NatFiltering = 'endpoint-independent' | 'address' | 'address-and-port';

export interface NatOptions {
  /** Public IP the NAT owns on the network. */
  readonly publicAddress: string;
  readonly name?: string;
  /** Public ports are drawn at random from [min, max] (default [1024, 65535]). */
  readonly portRange?: readonly [number, number];
  /** Mappings idle for longer are forgotten (default: never). */
  readonly mappingTimeout?: Duration;
  readonly filtering?: NatFiltering;
}

export interface NatMapping {
  readonly private: SocketAddress;
  readonly public: SocketAddress;
}

export interface NatStats {
  translatedOut: number;
  translatedIn: number;
  /** Inbound to a public port with no (or an expired) mapping. */
  droppedNoMapping: number;
  /** Inbound from a remote the filtering rejects. */
  droppedFiltered: number;
  portRebinds: number;
  addressRebinds: number;
}

interface Mapping {
  readonly priv: SocketAddress;
  pub: SocketAddress;
  lastUsed: Instant;
  /** Remote keys (IP or IP:port) sent to, for filtering. */
  readonly remotes: Set<string>;
}

export interface Rebinder {
  stop(): void;
}

export class Nat implements NetNode, PrivateGateway {
  readonly name: string;
  readonly stats: NatStats = {
    translatedOut: 0,
    translatedIn: 0,
    droppedNoMapping: 0,
    droppedFiltered: 0,
    portRebinds: 0,
    addressRebinds: 0,
  };
  #network: Network;
  #rng: SeededRandom;
  #publicAddress: string;
  #minPort: number;
  #maxPort: number;
  #timeout: Duration;
  #filtering: NatFiltering;
  /** Private IP → host behind the NAT. */
  #hosts = new Map<string, Host>();
  /** Private IP → private port → mapping. */
  #byPrivate = new Map<string, Map<number, Mapping>>();
  /** Public port → mapping. */
  #byPublic = new Map<number, Mapping>();

  constructor(network: Network, rng: SeededRandom, options: NatOptions) {
    this.#network = network;
    this.#rng = rng;
    this.name = options.name ?? `nat(${options.publicAddress})`;
    this.#publicAddress = options.publicAddress;
    const [min, max] = options.portRange ?? [1024, 65535];
    if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 1 && max <= 65535 && min <= max)) {
      throw new RangeError(`invalid NAT port range [${min}, ${max}]`);
    }
    this.#minPort = min;
    this.#maxPort = max;
    this.#timeout = options.mappingTimeout ?? Number.POSITIVE_INFINITY;
    this.#filtering = options.filtering ?? 'endpoint-independent';
    network.attach(this.#publicAddress, this);
  }

  get publicAddress(): string {
    return this.#publicAddress;
  }

  /** Live mappings. */
  get mappings(): NatMapping[] {
    const now = this.#network.scheduler.now;
    const out: NatMapping[] = [];
    for (const m of this.#byPublic.values())
      if (!this.#expired(m, now)) out.push({ private: m.priv, public: m.pub });
    return out;
  }

  /** Public address currently mapped to a private one. */
  mappingFor(priv: SocketAddress): SocketAddress | undefined {
    const m = this.#byPrivate.get(priv.address)?.get(priv.port);
    return m && !this.#expired(m, this.#network.scheduler.now) ? m.pub : undefined;
  }

  attachPrivate(ip: string, host: Host): void {
    const owner = this.#hosts.get(ip);
    if (owner && owner !== host)
      throw new Error(`${this.name}: private address ${ip} already used by ${owner.name}`);
    this.#hosts.set(ip, host);
  }

  detachPrivate(ip: string, host: Host): void {
    if (this.#hosts.get(ip) !== host) return;
    this.#hosts.delete(ip);
    const ms = this.#byPrivate.get(ip);
    if (ms) for (const m of ms.values()) this.#byPublic.delete(m.pub.port);
    this.#byPrivate.delete(ip);
  }

  /** Egress from a private host: rewrite the source, then out to the network. */
  forward(dg: SimDatagram): void {
    const now = this.#network.scheduler.now;
    const priv = dg.src;
    let ports = this.#byPrivate.get(priv.address);
    let m = ports?.get(priv.port);
    if (m && this.#expired(m, now)) {
      this.#forget(m);
      m = undefined;
    }
    if (!m) {
      m = {
        priv,
        pub: { address: this.#publicAddress, port: this.#allocatePort() },
        lastUsed: now,
        remotes: new Set(),
      };
      if (!ports) this.#byPrivate.set(priv.address, (ports = new Map()));
      ports.set(priv.port, m);
      this.#byPublic.set(m.pub.port, m);
    }
    m.lastUsed = now;
    if (this.#filtering !== 'endpoint-independent') m.remotes.add(this.#remoteKey(dg.dst));
    dg.src = m.pub;
    this.stats.translatedOut++;
    this.#network.forward(dg);
  }

  /** Ingress from the network: map the destination back, then to the private host. */
  receive(dg: SimDatagram): void {
    const now = this.#network.scheduler.now;
    const m = dg.dst.address === this.#publicAddress ? this.#byPublic.get(dg.dst.port) : undefined;
    if (!m || this.#expired(m, now)) {
      if (m) this.#forget(m);
      this.stats.droppedNoMapping++;
      this.#network.drop(dg, 'nat-no-mapping', this.name);
      return;
    }
    if (this.#filtering !== 'endpoint-independent' && !m.remotes.has(this.#remoteKey(dg.src))) {
      this.stats.droppedFiltered++;
      this.#network.drop(dg, 'nat-filtered', this.name);
      return;
    }
    m.lastUsed = now;
    dg.dst = m.priv;
    this.stats.translatedIn++;
    const host = this.#hosts.get(m.priv.address);
    if (!host) {
      this.#network.stats.unroutable++;
      this.#network.drop(dg, 'unroutable', this.name);
      return;
    }
    host.receive(dg);
  }

  /** Moves every mapping to a new public port; the old ports are forgotten. */
  rebindPort(): void {
    const span = this.#maxPort - this.#minPort + 1;
    if (this.#byPublic.size * 2 > span) throw new Error(`${this.name}: not enough public ports to rebind`);
    // #byPublic still holds the old ports while drawing, so no mapping keeps or swaps into one.
    const fresh = new Map<number, Mapping>();
    for (const m of this.#byPublic.values()) {
      let port: number;
      do port = this.#minPort + this.#rng.int(span);
      while (this.#byPublic.has(port) || fresh.has(port));
      m.pub = { address: this.#publicAddress, port };
      m.remotes.clear();
      fresh.set(port, m);
    }
    this.#byPublic = fresh;
    this.stats.portRebinds++;
  }

  /** Moves the NAT (and every mapping, keeping ports) to a new public IP; the old one is released. */
  rebindAddress(newPublicIp: string): void {
    if (newPublicIp === this.#publicAddress) throw new RangeError(`${this.name} already uses ${newPublicIp}`);
    this.#network.attach(newPublicIp, this);
    this.#network.detach(this.#publicAddress, this);
    this.#publicAddress = newPublicIp;
    for (const m of this.#byPublic.values()) {
      m.pub = { address: newPublicIp, port: m.pub.port };
      m.remotes.clear();
    }
    this.stats.addressRebinds++;
  }

  /** Forgets every mapping (as after an idle timeout); the next egress allocates new ones. */
  expireMappings(): void {
    this.#byPublic.clear();
    this.#byPrivate.clear();
  }

  /**
   * Rebinds every `intervalUs` from now. For 'address', the new IPs come from `addresses`
   * (cycled) or, by default, the current one incremented by one (skipping owned addresses).
   */
  rebindEvery(intervalUs: Duration, kind: 'port' | 'address', addresses?: readonly string[]): Rebinder {
    if (!(intervalUs > 0)) throw new RangeError('rebind interval must be > 0');
    const scheduler = this.#network.scheduler;
    let next = 0;
    let event: SimEvent | undefined;
    const fire = (): void => {
      if (kind === 'port') this.rebindPort();
      else if (addresses && addresses.length > 0) {
        let ip = addresses[next++ % addresses.length]!;
        if (ip === this.#publicAddress) ip = addresses[next++ % addresses.length]!;
        this.rebindAddress(ip);
      } else this.rebindAddress(this.#nextFreeAddress());
      event = scheduler.schedule(scheduler.now + intervalUs, fire, undefined);
    };
    event = scheduler.schedule(scheduler.now + intervalUs, fire, undefined);
    return {
      stop: () => {
        if (event) scheduler.cancel(event);
      },
    };
  }

  #expired(m: Mapping, now: Instant): boolean {
    return now - m.lastUsed > this.#timeout;
  }

  #forget(m: Mapping): void {
    if (this.#byPublic.get(m.pub.port) === m) this.#byPublic.delete(m.pub.port);
    const ports = this.#byPrivate.get(m.priv.address);
    if (ports?.get(m.priv.port) === m) ports.delete(m.priv.port);
  }

  #remoteKey(a: SocketAddress): string {
    return this.#filtering === 'address' ? a.address : addressKey(a);
  }

  #allocatePort(): number {
    const span = this.#maxPort - this.#minPort + 1;
    if (this.#byPublic.size >= span) throw new Error(`${this.name}: public ports exhausted`);
    for (;;) {
      const port = this.#minPort + this.#rng.int(span);
      if (!this.#byPublic.has(port)) return port;
    }
  }

  #nextFreeAddress(): string {
    const bytes = ipToBytes(this.#publicAddress);
    if (!bytes) throw new Error(`${this.name}: cannot derive a new address from ${this.#publicAddress}`);
    for (let tries = 0; tries < 1000; tries++) {
      // Increment as a big-endian integer.
      for (let i = bytes.length - 1; i >= 0; i--) {
        bytes[i] = (bytes[i]! + 1) & 0xff;
        if (bytes[i] !== 0) break;
      }
      const ip = bytesToIp(bytes);
      if (!this.#network.ownerOf(ip)) return ip;
    }
    throw new Error(`${this.name}: no free address after ${this.#publicAddress}`);
  }
}
