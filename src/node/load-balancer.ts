// QuicLoadBalancer: a stateless QUIC-LB load balancer (draft-ietf-quic-load-balancers) in front
// of feather-quic backends. One public UDP socket faces the clients; one tunnel socket talks to
// the backends, each a QuicEndpoint over a TunnelSocket (src/node/tunnel-socket.ts).
//
//   client datagram → QuicLbRouter (by CID, else firstFlightFallback: a v1/v2 long header by a
//   hash of its client-chosen DCID, anything else by the 4-tuple, over the live backends) → envelope(peer = client, local = public address) → that backend's tunnel address
//   backend envelope (only from a configured backend address) → payload sent from the public
//   socket to `peer`
//
// No per-connection or per-flow table (§6): every datagram is routed from its own octets and
// 4-tuple. Nothing is buffered: a datagram that cannot be sent at once is dropped and counted.
// Backends are live from their first heartbeat (or datagram) until `healthTimeout` ms of silence
// or their goodbye; a dead backend's server ID is unroutable (§4.1), so its clients' datagrams
// take the fallback to a live backend, which answers with a stateless reset when the backends
// share the reset key (see sharedKeys).

import type dgram from 'node:dgram';
import diagnostics from 'node:diagnostics_channel';
import type { SocketAddress } from '../common/addr.js';
import { fromHex, hex } from '../common/bytes.js';
import { hkdfExpand, hkdfExtract } from '../protection/hkdf.js';
import type { QuicLbConfig } from '../quic-lb/config.js';
import { type FourTuple, firstFlightFallback, QuicLbRouter, type RouteReason } from '../quic-lb/router.js';
import { decodeEnvelope, MAX_ENVELOPE_HEADER, writeEnvelopeHeader } from './envelope.js';
import type { DatagramRemoteInfo, DatagramSocket, ProvidedSocket } from './socket.js';
import { bindUdp, ControlType, canonicalAddress, decodeControl } from './tunnel-socket.js';
import { type AddressInput, toSocketAddress } from './util.js';

export interface QuicLoadBalancerOptions {
  /** Public address the clients send to (bound here)… */
  listen?: AddressInput;
  /** …or a socket made elsewhere, with its address. */
  publicSocket?: ProvidedSocket;
  /** The load balancer's tunnel address, where backends send their envelopes (bound here)… */
  tunnel?: AddressInput;
  /** …or a socket made elsewhere, with its address. */
  tunnelSocket?: ProvidedSocket;
  /** Server ID (hex) → the backend's tunnel address. */
  backends: Readonly<Record<string, AddressInput>>;
  /** The QUIC-LB configuration(s) shared with the backends, at most one per config rotation codepoint. */
  configs: QuicLbConfig | readonly QuicLbConfig[];
  /** Seed of the fallback hash; every load balancer of a pool must use the same (default 0). */
  fallbackSeed?: number;
  /**
   * A backend is dead after this many milliseconds without a heartbeat or datagram (default
   * 1000). 0: no health checks, every backend is always live.
   */
  healthTimeout?: number;
  /** Datagrams queued in a socket beyond which new ones are dropped (default 1024). */
  maxSendQueue?: number;
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** Called when a backend becomes live or dead. */
  onBackendChange?: (serverId: string, live: boolean) => void;
}

export interface QuicLoadBalancerBackendStats {
  readonly serverId: string;
  readonly address: SocketAddress;
  readonly live: boolean;
  /** Client datagrams forwarded to the backend, and their octets. */
  readonly datagramsTo: number;
  readonly bytesTo: number;
  /** Datagrams the backend sent to clients through us, and their octets. */
  readonly datagramsFrom: number;
  readonly bytesFrom: number;
  readonly heartbeats: number;
}

export interface QuicLoadBalancerStats {
  /** Datagrams (and octets) received from clients. */
  clientDatagrams: number;
  clientBytes: number;
  /** Client datagrams routed by their CID's server ID, and by the 4-tuple fallback. */
  routedByCid: number;
  routedByFallback: number;
  /** Backend datagrams sent on to clients, and their octets. */
  backendDatagrams: number;
  backendBytes: number;
  heartbeats: number;
  goodbyes: number;
  dropped: {
    /** No live backend. */
    noBackend: number;
    /** Tunnel datagram from an address that is not a configured backend (trust boundary). */
    unknownSender: number;
    /** Tunnel datagram from a backend that is neither an envelope nor a control message. */
    malformed: number;
    /** Envelope whose public address is not ours. */
    wrongLocal: number;
    /** Heartbeat naming another server ID than the one configured for its address. */
    serverIdMismatch: number;
    /** The socket's send queue was full (nothing is buffered here). */
    queueFull: number;
    /** The kernel refused the send. */
    sendError: number;
    /** An exception in the relay (a bug; should stay 0). */
    internal: number;
  };
  socketErrors: number;
  backends: QuicLoadBalancerBackendStats[];
}

/** Diagnostics channel with one message per routed client datagram (only when subscribed). */
export const loadBalancerRouteChannel = diagnostics.channel('feather-quic:lb:route');

export interface LoadBalancerRouteMessage {
  readonly reason: RouteReason;
  readonly serverId: string;
  readonly client: SocketAddress;
  readonly length: number;
}

interface Backend {
  readonly serverId: string;
  readonly address: SocketAddress;
  live: boolean;
  heardAt: number;
  datagramsTo: number;
  bytesTo: number;
  datagramsFrom: number;
  bytesFrom: number;
  heartbeats: number;
}

type QueueCount = () => number;

function queueCounter(s: DatagramSocket): QueueCount | undefined {
  const f = (s as Partial<Pick<dgram.Socket, 'getSendQueueCount'>>).getSendQueueCount;
  return typeof f === 'function' ? () => f.call(s) : undefined;
}

export class QuicLoadBalancer {
  /** The public address (clients' side). */
  readonly address: SocketAddress;
  /** The tunnel address (backends' side). */
  readonly tunnelAddress: SocketAddress;
  readonly #public: DatagramSocket;
  readonly #tunnel: DatagramSocket;
  readonly #publicQueue: QueueCount | undefined;
  readonly #tunnelQueue: QueueCount | undefined;
  readonly #configs: readonly QuicLbConfig[];
  readonly #backends: Backend[];
  readonly #seed: number;
  readonly #healthTimeout: number;
  readonly #maxQueue: number;
  readonly #onChange: ((serverId: string, live: boolean) => void) | undefined;
  #router: QuicLbRouter<Backend> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Reused for every client datagram (route() is synchronous and keeps no reference). */
  readonly #tuple: { srcAddr: string; srcPort: number; dstAddr: string; dstPort: number };
  readonly #stats = {
    clientDatagrams: 0,
    clientBytes: 0,
    routedByCid: 0,
    routedByFallback: 0,
    backendDatagrams: 0,
    backendBytes: 0,
    heartbeats: 0,
    goodbyes: 0,
    socketErrors: 0,
    dropped: {
      noBackend: 0,
      unknownSender: 0,
      malformed: 0,
      wrongLocal: 0,
      serverIdMismatch: 0,
      queueFull: 0,
      sendError: 0,
      internal: 0,
    },
  };

  /** Binds (or adopts) the two sockets and starts routing. RangeError for a bad configuration. */
  static async bind(options: QuicLoadBalancerOptions): Promise<QuicLoadBalancer> {
    const configs = Array.isArray(options.configs)
      ? (options.configs as readonly QuicLbConfig[])
      : [options.configs as QuicLbConfig];
    const backends = parseBackends(options.backends, configs);
    const bound: dgram.Socket[] = [];
    const open = async (
      provided: ProvidedSocket | undefined,
      address: AddressInput | undefined,
      what: string,
    ): Promise<ProvidedSocket> => {
      if (provided !== undefined) return { socket: provided.socket, local: canonicalAddress(provided.local) };
      if (address === undefined) throw new RangeError(`the load balancer needs a ${what} address`);
      const s = await bindUdp(toSocketAddress(address), options.recvBufferSize, options.sendBufferSize);
      bound.push(s);
      const a = s.address();
      return { socket: s, local: canonicalAddress({ address: a.address, port: a.port }) };
    };
    try {
      const pub = await open(options.publicSocket, options.listen, 'public');
      const tunnel = await open(options.tunnelSocket, options.tunnel, 'tunnel');
      return new QuicLoadBalancer(options, configs, backends, pub, tunnel);
    } catch (e) {
      for (const s of bound) s.close();
      throw e;
    }
  }

  private constructor(
    options: QuicLoadBalancerOptions,
    configs: readonly QuicLbConfig[],
    backends: Backend[],
    pub: ProvidedSocket,
    tunnel: ProvidedSocket,
  ) {
    this.#configs = configs;
    this.#backends = backends;
    this.#seed = options.fallbackSeed ?? 0;
    this.#healthTimeout = options.healthTimeout ?? 1000;
    this.#maxQueue = options.maxSendQueue ?? 1024;
    this.#onChange = options.onBackendChange;
    this.address = pub.local;
    this.tunnelAddress = tunnel.local;
    this.#public = pub.socket;
    this.#tunnel = tunnel.socket;
    this.#publicQueue = queueCounter(pub.socket);
    this.#tunnelQueue = queueCounter(tunnel.socket);
    this.#tuple = { srcAddr: '', srcPort: 0, dstAddr: pub.local.address, dstPort: pub.local.port };
    if (this.#healthTimeout <= 0) {
      for (const b of backends) b.live = true;
    } else {
      this.#timer = setInterval(this.#checkHealth, Math.max(10, this.#healthTimeout / 4));
      this.#timer.unref();
    }
    this.#rebuild();
    pub.socket.on('message', this.#onClientDatagram);
    tunnel.socket.on('message', this.#onTunnelDatagram);
    pub.socket.on('error', this.#onSocketError);
    tunnel.socket.on('error', this.#onSocketError);
  }

  get stats(): QuicLoadBalancerStats {
    const s = this.#stats;
    return {
      ...s,
      dropped: { ...s.dropped },
      backends: this.#backends.map((b) => ({
        serverId: b.serverId,
        address: b.address,
        live: b.live,
        datagramsTo: b.datagramsTo,
        bytesTo: b.bytesTo,
        datagramsFrom: b.datagramsFrom,
        bytesFrom: b.bytesFrom,
        heartbeats: b.heartbeats,
      })),
    };
  }

  /** Server IDs (hex) of the live backends. */
  get liveBackends(): string[] {
    return this.#backends.filter((b) => b.live).map((b) => b.serverId);
  }

  /** Closes both sockets. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const s of [this.#public, this.#tunnel]) {
      try {
        s.close();
      } catch {
        // Already closed.
      }
    }
  }

  // ------------------------------------------------------------------ clients → backends

  #onClientDatagram = (msg: Buffer, rinfo: DatagramRemoteInfo): void => {
    try {
      this.#routeClientDatagram(msg, rinfo);
    } catch {
      this.#stats.dropped.internal++;
    }
  };

  #routeClientDatagram(msg: Buffer, rinfo: DatagramRemoteInfo): void {
    const st = this.#stats;
    st.clientDatagrams++;
    st.clientBytes += msg.length;
    const router = this.#router;
    if (router === undefined) {
      st.dropped.noBackend++;
      return;
    }
    const t = this.#tuple;
    t.srcAddr = rinfo.address;
    t.srcPort = rinfo.port;
    // §4.2 step 1 (routable CID), else step 5 (the baseline fallback, §4.3.1); no tables.
    const d = router.route(msg, t as FourTuple);
    const b = d.target;
    if (d.reason === 'cid') st.routedByCid++;
    else st.routedByFallback++;
    if (loadBalancerRouteChannel.hasSubscribers) {
      loadBalancerRouteChannel.publish({
        reason: d.reason,
        serverId: b.serverId,
        client: { address: rinfo.address, port: rinfo.port },
        length: msg.length,
      } satisfies LoadBalancerRouteMessage);
    }
    if (this.#tunnelQueue !== undefined && this.#tunnelQueue() >= this.#maxQueue) {
      st.dropped.queueFull++;
      return;
    }
    // One buffer per datagram: header, then a copy of the payload (sends may be queued).
    const out = Buffer.allocUnsafe(MAX_ENVELOPE_HEADER + msg.length);
    const n = writeEnvelopeHeader(out, rinfo, this.address);
    msg.copy(out, n);
    b.datagramsTo++;
    b.bytesTo += msg.length;
    this.#tunnel.send(out.subarray(0, n + msg.length), b.address.port, b.address.address, this.#onSent);
  }

  // ------------------------------------------------------------------ backends → clients

  #onTunnelDatagram = (msg: Buffer, rinfo: DatagramRemoteInfo): void => {
    try {
      this.#relayBackendDatagram(msg, rinfo);
    } catch {
      this.#stats.dropped.internal++;
    }
  };

  #relayBackendDatagram(msg: Buffer, rinfo: DatagramRemoteInfo): void {
    const st = this.#stats;
    // Trust boundary: only configured backends may use the tunnel.
    const b = this.#backendAt(rinfo);
    if (b === undefined) {
      st.dropped.unknownSender++;
      return;
    }
    const env = decodeEnvelope(msg);
    if (env === undefined) {
      this.#onControl(b, msg);
      return;
    }
    const local = env.local;
    if (local.port !== this.address.port || local.address !== this.address.address) {
      st.dropped.wrongLocal++;
      return;
    }
    this.#heard(b);
    if (this.#publicQueue !== undefined && this.#publicQueue() >= this.#maxQueue) {
      st.dropped.queueFull++;
      return;
    }
    const payload = env.payload;
    b.datagramsFrom++;
    b.bytesFrom += payload.length;
    st.backendDatagrams++;
    st.backendBytes += payload.length;
    this.#public.send(payload, env.peer.port, env.peer.address, this.#onSent);
  }

  #onControl(b: Backend, msg: Buffer): void {
    const st = this.#stats;
    const c = decodeControl(msg);
    if (c === undefined) {
      st.dropped.malformed++;
      return;
    }
    if (c.serverId.length > 0 && hex(c.serverId) !== b.serverId) {
      st.dropped.serverIdMismatch++;
      return;
    }
    if (c.type === ControlType.Goodbye) {
      st.goodbyes++;
      if (this.#healthTimeout > 0) this.#setLive(b, false);
      return;
    }
    st.heartbeats++;
    b.heartbeats++;
    this.#heard(b);
  }

  #backendAt(rinfo: DatagramRemoteInfo): Backend | undefined {
    const list = this.#backends;
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      if (b.address.port === rinfo.port && b.address.address === rinfo.address) return b;
    }
    return undefined;
  }

  // ------------------------------------------------------------------ health

  #heard(b: Backend): void {
    if (this.#healthTimeout <= 0) return;
    b.heardAt = performance.now();
    if (!b.live) this.#setLive(b, true);
  }

  #checkHealth = (): void => {
    const now = performance.now();
    for (const b of this.#backends) {
      if (b.live && now - b.heardAt > this.#healthTimeout) this.#setLive(b, false);
    }
  };

  #setLive(b: Backend, live: boolean): void {
    if (b.live === live) return;
    b.live = live;
    this.#rebuild();
    this.#onChange?.(b.serverId, live);
  }

  /** A router over the live backends: a dead backend's server ID is unroutable (§4.1). */
  #rebuild(): void {
    const live = new Map<string, Backend>();
    for (const b of this.#backends) if (b.live) live.set(b.serverId, b);
    this.#router =
      live.size === 0
        ? undefined
        : new QuicLbRouter(this.#configs, live, firstFlightFallback(live, this.#seed));
  }

  // ------------------------------------------------------------------ errors

  #onSent = (e: Error | null): void => {
    if (e) this.#stats.dropped.sendError++;
  };

  #onSocketError = (): void => {
    this.#stats.socketErrors++;
  };
}

function parseBackends(
  backends: Readonly<Record<string, AddressInput>>,
  configs: readonly QuicLbConfig[],
): Backend[] {
  if (configs.length === 0) throw new RangeError('the load balancer needs a QUIC-LB configuration');
  const lengths = new Set(configs.map((c) => c.serverIdLength));
  const out: Backend[] = [];
  for (const [id, addr] of Object.entries(backends)) {
    let sid: Uint8Array;
    try {
      sid = fromHex(id);
    } catch {
      throw new RangeError(`server ID must be hex, got '${id}'`);
    }
    if (!lengths.has(sid.length)) {
      throw new RangeError(
        `server ID ${id} is ${sid.length} octets; the configuration says ${[...lengths].join(' or ')}`,
      );
    }
    const address = canonicalAddress(toSocketAddress(addr));
    for (const o of out) {
      if (o.serverId === hex(sid)) throw new RangeError(`server ID ${id} given twice`);
      if (o.address.port === address.port && o.address.address === address.address) {
        throw new RangeError(`backends ${o.serverId} and ${id} have the same address`);
      }
    }
    out.push({
      serverId: hex(sid),
      address,
      live: false,
      heardAt: 0,
      datagramsTo: 0,
      bytesTo: 0,
      datagramsFrom: 0,
      bytesFrom: 0,
      heartbeats: 0,
    });
  }
  if (out.length === 0) throw new RangeError('the load balancer needs at least one backend');
  return out;
}

export interface SharedKeys {
  /** Stateless reset tokens (RFC 9000 §10.3.2): any backend can reset a CID another issued. */
  readonly statelessResetKey: Uint8Array;
  /** Retry and NEW_TOKEN tokens (RFC 9000 §8.1): validated whichever backend gets them. */
  readonly tokenKey: Uint8Array;
  /** Session tickets: resumption and 0-RTT on any backend. */
  readonly ticketKey: Uint8Array;
}

const SHARED_KEYS_SALT = new TextEncoder().encode('feather-quic shared keys v1');

/** The endpoint keys every backend of a pool must share, derived from one secret (≥ 16 octets) with HKDF. */
export function sharedKeys(secret: Uint8Array): SharedKeys {
  if (secret.length < 16) throw new RangeError('the shared secret must be at least 16 octets');
  const prk = hkdfExtract('sha256', SHARED_KEYS_SALT, secret);
  const expand = (label: string, n: number): Uint8Array =>
    hkdfExpand('sha256', prk, new TextEncoder().encode(label), n);
  return {
    statelessResetKey: expand('stateless reset', 32),
    tokenKey: expand('address token', 16),
    ticketKey: expand('session ticket', 32),
  };
}
