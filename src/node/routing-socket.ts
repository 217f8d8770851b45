// The socket a cluster worker's QuicEndpoint reads: it wraps the public UDP socket that every
// worker shares (the kernel hands each datagram to whichever worker reads first) and this
// worker's private forwarding socket. Each datagram read from the public socket goes to its owner,
// decided statelessly from the datagram (QUIC-LB server ID in the DCID, else a hash every
// worker computes identically): ours go to the endpoint, others are relayed in an envelope to
// the owner's forwarding socket. Envelopes are accepted only from the other workers' forwarding
// ports and reach the endpoint as if read from the public socket (peer = client, local = public
// address). Sends go straight out of the public socket. No per-connection state.
import type { SocketAddress } from '../common/addr.js';
import { QuicLbConfig } from '../quic-lb/config.js';
import { firstFlightFallback, QuicLbRouter } from '../quic-lb/router.js';
import { decodeEnvelope, envelopeHeaderLength, writeEnvelopeHeader } from './envelope.js';
import type { DatagramRemoteInfo, DatagramSocket } from './socket.js';

/** The 4-tuple of a datagram read from the public socket (a scratch object, reused). */
export interface RoutingTuple {
  srcAddr: string;
  srcPort: number;
  dstAddr: string;
  dstPort: number;
}

/** The index of the worker that owns a datagram (0 ≤ index < workers). Must never throw. */
export type ClusterRoute = (datagram: Uint8Array, tuple: RoutingTuple) => number;

/** QUIC-LB layout of cluster CIDs: 1-octet server ID (the worker index), 7-octet nonce. */
export const CLUSTER_SERVER_ID_LENGTH = 1;
export const CLUSTER_NONCE_LENGTH = 7;
/** At most this many workers (one octet of server ID). */
export const MAX_CLUSTER_WORKERS = 256;
/** Largest UDP payload (IPv4) that the forwarding socket can send. */
const MAX_RELAYED = 65507;

/** The keyed four-pass QUIC-LB configuration every worker of a cluster shares. */
export function clusterQuicLbConfig(key: Uint8Array, configRotation = 0): QuicLbConfig {
  return new QuicLbConfig({
    configRotation,
    serverIdLength: CLUSTER_SERVER_ID_LENGTH,
    nonceLength: CLUSTER_NONCE_LENGTH,
    key,
  });
}

/** The server ID (QUIC-LB) of worker `index`. */
export function clusterServerId(index: number): Uint8Array {
  return Uint8Array.of(index);
}

/**
 * The owner of each datagram, the same in every worker given the same config, worker count and
 * seed: the worker named by the DCID's server ID (draft-ietf-quic-load-balancers §5.5); else
 * `firstFlightFallback`: a v1/v2 long header by a seeded hash of its DCID (every Initial and
 * 0-RTT packet a client sends before our first reply carries the DCID it chose, so they all meet
 * at one worker, and so does a replay of them from another address), anything else by
 * rendezvous hashing of the 4-tuple (§4.3.1).
 */
export function clusterRoute(config: QuicLbConfig, workers: number, seed: number): ClusterRoute {
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_CLUSTER_WORKERS) {
    throw new RangeError(`cluster workers must be an integer 1..${MAX_CLUSTER_WORKERS}, got ${workers}`);
  }
  if (config.serverIdLength !== CLUSTER_SERVER_ID_LENGTH) {
    throw new RangeError(`cluster QUIC-LB server IDs must be ${CLUSTER_SERVER_ID_LENGTH} octet`);
  }
  const servers = new Map<string, number>();
  for (let i = 0; i < workers; i++) servers.set(i.toString(16).padStart(2, '0'), i);
  const router = new QuicLbRouter<number>([config], servers, firstFlightFallback(servers, seed));
  return (datagram, tuple) => router.route(datagram, tuple).target;
}

export interface RoutingSocketOptions {
  /** The public socket all workers share; the endpoint's sends leave from it. */
  readonly shared: DatagramSocket;
  /** The public address as the endpoint sees it (path.local of every datagram). */
  readonly local: SocketAddress;
  /** This worker's private forwarding socket, bound on `forwardHost`. */
  readonly forward: DatagramSocket;
  /** Host every worker's forwarding socket is bound on (e.g. 127.0.0.1). */
  readonly forwardHost: string;
  /** This worker's index. */
  readonly index: number;
  readonly route: ClusterRoute;
  /** Forwarding port of each worker by index (0: not running). Default: none known yet. */
  readonly peers?: readonly number[];
}

export interface RoutingStats {
  /** Datagrams read from the public socket. */
  received: number;
  /** Of those, handed to our endpoint (ours, or their owner was not running). */
  deliveredLocally: number;
  /** Of those, relayed to their owner. */
  forwarded: number;
  /** Envelopes accepted from other workers and handed to our endpoint. */
  receivedForwarded: number;
  /** Datagrams whose owner was not running, handled here instead (counted in deliveredLocally). */
  ownerDown: number;
  /** untrusted + malformed + forwardErrors. */
  dropped: number;
  /** Datagrams at the forwarding socket from anything but another worker's forwarding port. */
  untrusted: number;
  /** Envelopes that did not decode, or named another public address. */
  malformed: number;
  /** Relays that were too large or that the forwarding socket failed to send. */
  forwardErrors: number;
}

type MessageListener = (msg: Buffer, rinfo: DatagramRemoteInfo) => void;
type ErrorListener = (error: Error) => void;

export class RoutingSocket implements DatagramSocket {
  readonly local: SocketAddress;
  readonly index: number;
  readonly #shared: DatagramSocket;
  readonly #forward: DatagramSocket;
  readonly #forwardHost: string;
  readonly #route: ClusterRoute;
  #peers: number[] = [];
  /** Forwarding ports of the other running workers (the trust boundary). */
  #trusted = new Set<number>();
  readonly #tuple: RoutingTuple;
  readonly #onMessage: MessageListener[] = [];
  readonly #onError: ErrorListener[] = [];
  #closed = false;
  readonly #stats: RoutingStats = {
    received: 0,
    deliveredLocally: 0,
    forwarded: 0,
    receivedForwarded: 0,
    ownerDown: 0,
    dropped: 0,
    untrusted: 0,
    malformed: 0,
    forwardErrors: 0,
  };

  constructor(o: RoutingSocketOptions) {
    this.#shared = o.shared;
    this.#forward = o.forward;
    this.#forwardHost = o.forwardHost;
    this.#route = o.route;
    this.local = { address: o.local.address, port: o.local.port };
    this.index = o.index;
    this.#tuple = { srcAddr: '', srcPort: 0, dstAddr: this.local.address, dstPort: this.local.port };
    this.setPeers(o.peers ?? []);
    o.shared.on('message', this.#fromPublic);
    o.forward.on('message', this.#fromWorker);
    o.shared.on('error', this.#emitError);
    o.forward.on('error', this.#emitError);
  }

  /** Replaces the table of forwarding ports (index → port, 0 = not running). */
  setPeers(ports: readonly number[]): void {
    this.#peers = ports.slice();
    const trusted = new Set<number>();
    ports.forEach((p, i) => {
      if (i !== this.index && p > 0) trusted.add(p);
    });
    this.#trusted = trusted;
  }

  get peers(): readonly number[] {
    return this.#peers;
  }

  get stats(): RoutingStats {
    return { ...this.#stats };
  }

  // ---------------------------------------------------------------- DatagramSocket

  send(
    data: Uint8Array,
    port: number,
    address: string,
    callback?: (error: Error | null, bytes?: number) => void,
  ): void {
    this.#shared.send(data, port, address, callback);
  }

  on(event: 'message', listener: MessageListener): this;
  on(event: 'error', listener: ErrorListener): this;
  on(event: 'message' | 'error', listener: MessageListener | ErrorListener): this {
    if (event === 'message') this.#onMessage.push(listener as MessageListener);
    else this.#onError.push(listener as ErrorListener);
    return this;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [this.#shared, this.#forward]) {
      try {
        s.close();
      } catch {
        // Already closed.
      }
    }
  }

  ref(): this {
    this.#shared.ref();
    this.#forward.ref();
    return this;
  }

  unref(): this {
    this.#shared.unref();
    this.#forward.unref();
    return this;
  }

  // ---------------------------------------------------------------- routing

  #fromPublic = (msg: Buffer, rinfo: DatagramRemoteInfo): void => {
    const st = this.#stats;
    st.received++;
    const t = this.#tuple;
    t.srcAddr = rinfo.address;
    t.srcPort = rinfo.port;
    let owner: number;
    try {
      owner = this.#route(msg, t);
    } catch {
      owner = this.index; // a route function must not throw; keep the datagram anyway
    }
    if (owner !== this.index) {
      const port = this.#peers[owner] ?? 0;
      if (port > 0) {
        this.#relay(msg, rinfo, port);
        return;
      }
      // The owner is not running (restarting): our endpoint answers (stateless reset for its
      // old connections' CIDs, which every worker derives from the shared key; new connections
      // are accepted here and then route here by their CIDs).
      st.ownerDown++;
    }
    st.deliveredLocally++;
    this.#deliver(msg, rinfo);
  };

  #relay(msg: Buffer, peer: DatagramRemoteInfo, port: number): void {
    const st = this.#stats;
    let head: number;
    try {
      head = envelopeHeaderLength(peer, this.local);
    } catch {
      head = -1;
    }
    if (head < 0 || head + msg.length > MAX_RELAYED) {
      st.forwardErrors++;
      st.dropped++;
      return;
    }
    // One buffer per relayed datagram: the socket keeps it until the send completes.
    const out = Buffer.allocUnsafe(head + msg.length);
    writeEnvelopeHeader(out, peer, this.local);
    out.set(msg, head);
    st.forwarded++;
    this.#forward.send(out, port, this.#forwardHost, this.#onRelayed);
  }

  #onRelayed = (error: Error | null): void => {
    if (error) {
      this.#stats.forwardErrors++;
      this.#stats.dropped++;
    }
  };

  #fromWorker = (msg: Buffer, rinfo: DatagramRemoteInfo): void => {
    const st = this.#stats;
    // Trust boundary: only the other workers' forwarding sockets may speak for a client.
    if (rinfo.address !== this.#forwardHost || !this.#trusted.has(rinfo.port)) {
      st.untrusted++;
      st.dropped++;
      return;
    }
    const env = decodeEnvelope(msg);
    if (
      env === undefined ||
      env.local.port !== this.local.port ||
      env.local.address !== this.local.address ||
      env.payload.length === 0
    ) {
      st.malformed++;
      st.dropped++;
      return;
    }
    st.receivedForwarded++;
    this.#deliver(env.payload as Buffer, env.peer);
  };

  #deliver(msg: Buffer, rinfo: DatagramRemoteInfo): void {
    const ls = this.#onMessage;
    for (let i = 0; i < ls.length; i++) ls[i]!(msg, rinfo);
  }

  #emitError = (error: Error): void => {
    const ls = this.#onError;
    for (let i = 0; i < ls.length; i++) ls[i]!(error);
  };
}
