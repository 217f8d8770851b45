// The network: nodes (hosts, NATs) own IP addresses; links carry datagrams between pairs of IPs.
// Routing is strictly by destination address: a datagram to an address nobody owns is dropped.
// Datagrams between IPs with no link use the default link config (one link per pair, created
// on first use) or, without a default, are dropped ('no-link').
import type { SocketAddress } from '../../src/common/addr.js';
import type { SeededRandom } from '../../src/common/random.js';
import type { Duration } from '../../src/common/time.js';
import { Link, type LinkConfig } from './link.js';
import type { Scheduler } from './scheduler.js';
import type {
  DatagramEvent,
  DatagramEventKind,
  DropCause,
  Ecn,
  Gateway,
  NetNode,
  SimDatagram,
} from './types.js';

export interface LinkPair {
  /** a → b */
  readonly ab: Link;
  /** b → a */
  readonly ba: Link;
}

export interface NetworkStats {
  /** No link between the source and destination IPs and no default link. */
  noLink: number;
  /** Destination address owned by nobody (at arrival). */
  unroutable: number;
  /** Datagrams injected directly (attackers). */
  injected: number;
}

const SLAB_SIZE = 256 * 1024;

export type DatagramListener = (ev: DatagramEvent) => void;

export class Network implements Gateway {
  readonly scheduler: Scheduler;
  readonly stats: NetworkStats = { noLink: 0, unroutable: 0, injected: 0 };
  #rng: SeededRandom;
  #nodes = new Map<string, NetNode>();
  #links = new Map<string, Map<string, Link>>();
  #defaultLink: Partial<LinkConfig> | undefined;
  #listeners: DatagramListener[] = [];
  #nextId = 1;
  #slab = new ArrayBuffer(SLAB_SIZE);
  #slabOffset = 0;
  readonly #routeFn = (dg: SimDatagram): void => this.arrive(dg);

  constructor(scheduler: Scheduler, rng: SeededRandom, defaultLink?: Partial<LinkConfig>) {
    this.scheduler = scheduler;
    this.#rng = rng;
    this.#defaultLink = defaultLink;
  }

  newId(): number {
    return this.#nextId++;
  }

  /**
   * A private copy of `data`, carved from a shared slab: a view on an existing ArrayBuffer is
   * much cheaper than a fresh one per datagram. Copies never overlap.
   */
  copy(data: Uint8Array): Uint8Array {
    const n = data.length;
    if (n > SLAB_SIZE / 4) return data.slice();
    if (this.#slabOffset + n > SLAB_SIZE) {
      this.#slab = new ArrayBuffer(SLAB_SIZE);
      this.#slabOffset = 0;
    }
    const out = new Uint8Array(this.#slab, this.#slabOffset, n);
    out.set(data);
    // 8-octet alignment keeps typed-array views over copies possible.
    this.#slabOffset += (n + 7) & ~7;
    return out;
  }

  /** Links a→b with `ab` and b→a with `ba` (default: same as `ab`). Each direction gets its own RNG. */
  connect(a: string, b: string, ab: Partial<LinkConfig> = {}, ba: Partial<LinkConfig> = ab): LinkPair {
    if (a === b) throw new RangeError(`cannot link ${a} to itself`);
    if (this.link(a, b) || this.link(b, a)) throw new Error(`${a} and ${b} are already connected`);
    return { ab: this.#addLink(a, b, ab), ba: this.#addLink(b, a, ba) };
  }

  /** The link from → to, if it exists (default links appear once used). */
  link(from: string, to: string): Link | undefined {
    return this.#links.get(from)?.get(to);
  }

  links(): Link[] {
    const out: Link[] = [];
    for (const m of this.#links.values()) for (const l of m.values()) out.push(l);
    return out;
  }

  /** Config for pairs with no explicit link; undefined = such datagrams are dropped. */
  setDefaultLink(config: Partial<LinkConfig> | undefined): void {
    this.#defaultLink = config;
  }

  /** Makes `node` the owner of `ip`. */
  attach(ip: string, node: NetNode): void {
    const owner = this.#nodes.get(ip);
    if (owner && owner !== node) throw new Error(`address ${ip} is already owned by ${owner.name}`);
    this.#nodes.set(ip, node);
  }

  detach(ip: string, node: NetNode): void {
    if (this.#nodes.get(ip) === node) this.#nodes.delete(ip);
  }

  ownerOf(ip: string): NetNode | undefined {
    return this.#nodes.get(ip);
  }

  /** Sends a datagram from its source IP towards its destination IP over their link. */
  forward(dg: SimDatagram): void {
    let link = this.#links.get(dg.src.address)?.get(dg.dst.address);
    if (!link) {
      if (!this.#defaultLink || dg.src.address === dg.dst.address) {
        this.stats.noLink++;
        this.drop(dg, 'no-link', 'network');
        return;
      }
      link = this.#addLink(dg.src.address, dg.dst.address, this.#defaultLink);
    }
    link.send(dg);
  }

  /** Delivers straight to the destination after `delay`, bypassing links (spoofing attackers). */
  inject(
    src: SocketAddress,
    dst: SocketAddress,
    data: Uint8Array,
    ecn: Ecn,
    delay: Duration,
    where: string,
  ): void {
    const dg: SimDatagram = { id: this.newId(), src, dst, data: this.copy(data), ecn };
    this.stats.injected++;
    this.scheduler.schedule(this.scheduler.now + delay, this.#routeFn, dg);
    this.emit('send', dg, where, undefined);
  }

  /** A datagram reaches its destination IP: routes it to the owner. */
  arrive(dg: SimDatagram): void {
    const node = this.#nodes.get(dg.dst.address);
    if (!node) {
      this.stats.unroutable++;
      this.drop(dg, 'unroutable', 'network');
      return;
    }
    node.receive(dg);
  }

  drop(dg: SimDatagram, cause: DropCause, where: string): void {
    if (this.#listeners.length > 0) this.emit('drop', dg, where, cause);
  }

  onDatagram(fn: DatagramListener): () => void {
    this.#listeners.push(fn);
    return () => {
      this.#listeners = this.#listeners.filter((f) => f !== fn);
    };
  }

  get tracing(): boolean {
    return this.#listeners.length > 0;
  }

  emit(kind: DatagramEventKind, dg: SimDatagram, where: string, cause: DropCause | undefined): void {
    const ls = this.#listeners;
    if (ls.length === 0) return;
    const ev: DatagramEvent = {
      kind,
      time: this.scheduler.now,
      id: dg.id,
      src: dg.src,
      dst: dg.dst,
      size: dg.data.length,
      ecn: dg.ecn,
      data: dg.data,
      where,
      cause,
    };
    for (let i = 0; i < ls.length; i++) ls[i]!(ev);
  }

  #addLink(from: string, to: string, config: Partial<LinkConfig>): Link {
    const link = new Link(this, from, to, this.#rng.fork(), config);
    let m = this.#links.get(from);
    if (!m) this.#links.set(from, (m = new Map()));
    m.set(to, link);
    return link;
  }
}
