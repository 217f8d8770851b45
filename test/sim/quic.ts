// QUIC on the simulator: real endpoints (real TLS, real packet protection) on simulated hosts,
// with small applications that move bytes and check them. Everything runs on virtual time and
// one seed.
import { createHash, type Hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Path, SocketAddress } from '../../src/common/addr.js';
import { SeededRandom } from '../../src/common/random.js';
import type { Instant } from '../../src/common/time.js';
import type { Transmit } from '../../src/common/transmit.js';
import type { TransportConfig } from '../../src/connection/config.js';
import type { Connection } from '../../src/connection/connection.js';
import type { ConnectionEvent } from '../../src/connection/events.js';
import {
  type ConnectOptions,
  Endpoint,
  type EndpointOptions,
  type ServerOptions,
} from '../../src/endpoint/endpoint.js';
import type { Host } from './host.js';
import type { LinkConfig } from './link.js';
import { Simulation } from './sim.js';
import type { Ecn, SimEndpoint } from './types.js';

const certDir = new URL('../../../test/fixtures/certs/', import.meta.url);
const pem = (name: string): string => readFileSync(new URL(name, certDir), 'utf8');

export const TEST_CA = pem('ca.pem');
export const TEST_CHAIN = pem('leaf-p256.pem') + pem('intermediate.pem');
export const TEST_KEY = pem('leaf-p256.key');
/** Wall-clock origin of simulated runs (inside the test certificates' validity). */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);

/** Adapts an Endpoint to the simulator and runs an application hook after every input. */
export class EndpointHost implements SimEndpoint {
  /** Replaceable: a test can swap in a fresh endpoint to simulate a server that lost its state. */
  endpoint: Endpoint;
  /** Called after each input with the current time: applications react to events here. */
  app: ((now: Instant) => void) | undefined;

  constructor(endpoint: Endpoint) {
    this.endpoint = endpoint;
  }

  handleDatagram(now: Instant, path: Path, data: Uint8Array, ecn: Ecn): void {
    this.endpoint.handleDatagram(now, path, data, ecn);
    this.app?.(now);
  }

  handleTimeout(now: Instant): void {
    this.endpoint.handleTimeout(now);
    this.app?.(now);
  }

  pollTransmit(now: Instant): Transmit | undefined {
    return this.endpoint.pollTransmit(now);
  }

  pollTimeout(): Instant {
    return this.endpoint.pollTimeout();
  }
}

export interface QuicSimOptions {
  seed: number;
  /** Virtual start time (µs); the wall clock follows it. */
  startTime?: number;
  /** Link in both directions (client↔server). */
  link?: Partial<LinkConfig>;
  /** Overrides for the server→client direction. */
  downlink?: Partial<LinkConfig>;
  clientIp?: string;
  serverIp?: string;
  serverPort?: number;
  /** Extra server addresses (e.g. a preferred address); links like the main one. */
  extraServerIps?: string[];
  /** Put the client behind a NAT with this public address. */
  natPublicIp?: string;
  server?: Partial<ServerOptions>;
  serverTransport?: Partial<TransportConfig>;
  clientTransport?: Partial<TransportConfig>;
  serverEndpoint?: Partial<EndpointOptions>;
  clientEndpoint?: Partial<EndpointOptions>;
  /** Check the 3× amplification limit on every server send (default true). */
  checkAmplification?: boolean;
}

/** A client and a server endpoint on a simulated network. */
export class QuicSim {
  readonly sim: Simulation;
  readonly server: EndpointHost;
  readonly client: EndpointHost;
  readonly serverHost: Host;
  readonly clientHost: Host;
  readonly serverAddress: SocketAddress;
  readonly clientAddress: SocketAddress;
  readonly nat: ReturnType<Simulation['addNat']> | undefined;
  readonly amplification: ReturnType<Simulation['checkAmplification']> | undefined;
  /** Server connections in accept order. */
  readonly accepted: Connection[] = [];
  readonly options: QuicSimOptions;

  constructor(o: QuicSimOptions) {
    this.options = o;
    // Any address pair (e.g. a NAT's next public IP) gets the main link's characteristics.
    this.sim = new Simulation({
      seed: o.seed,
      defaultLink: { ...o.link },
      ...(o.startTime !== undefined ? { startTime: o.startTime } : {}),
    });
    const clientIp = o.clientIp ?? '10.0.0.1';
    const serverIp = o.serverIp ?? '10.0.0.2';
    this.serverAddress = { address: serverIp, port: o.serverPort ?? 4433 };
    this.clientAddress = { address: clientIp, port: 50000 };
    const wallClock = (): number => SIM_EPOCH_MS + Math.floor(this.sim.now / 1000);
    const serverEp = new Endpoint({
      random: this.sim.forkRandom(),
      wallClock,
      server: {
        tls: {
          certificateChain: TEST_CHAIN,
          privateKey: TEST_KEY,
          alpnProtocols: ['test', 'h3', 'hq-interop'],
        },
        ...o.server,
        ...(o.serverTransport ? { transport: o.serverTransport } : {}),
      },
      ...o.serverEndpoint,
    });
    const clientEp = new Endpoint({
      random: this.sim.forkRandom(),
      wallClock,
      ...(o.clientTransport ? { transport: o.clientTransport } : {}),
      ...o.clientEndpoint,
    });
    this.server = new EndpointHost(serverEp);
    this.client = new EndpointHost(clientEp);
    this.serverHost = this.sim.addHost({
      endpoint: this.server,
      addresses: [serverIp, ...(o.extraServerIps ?? [])],
      name: 'server',
    });
    serverEp.onWake = () => this.serverHost.wake();
    this.server.app = () => {
      for (let e = serverEp.pollEvent(); e; e = serverEp.pollEvent()) this.accepted.push(e.connection);
      this.onServerActivity?.(this.sim.now);
    };
    if (o.natPublicIp) {
      this.nat = this.sim.addNat({ publicAddress: o.natPublicIp, name: 'nat' });
      this.clientHost = this.sim.addHost({
        endpoint: this.client,
        addresses: [clientIp],
        name: 'client',
        via: this.nat,
      });
      for (const ip of [serverIp, ...(o.extraServerIps ?? [])])
        this.sim.connect(o.natPublicIp, ip, o.link ?? {}, { ...o.link, ...o.downlink });
    } else {
      this.nat = undefined;
      this.clientHost = this.sim.addHost({ endpoint: this.client, addresses: [clientIp], name: 'client' });
      for (const ip of [serverIp, ...(o.extraServerIps ?? [])])
        this.sim.connect(clientIp, ip, o.link ?? {}, { ...o.link, ...o.downlink });
    }
    clientEp.onWake = () => this.clientHost.wake();
    this.client.app = () => this.onClientActivity?.(this.sim.now);
    if (o.checkAmplification ?? true) {
      this.amplification = this.sim.checkAmplification(this.serverHost, (local, remote) =>
        serverEp.isPathValidated(local, remote),
      );
    } else {
      this.amplification = undefined;
    }
  }

  onServerActivity: ((now: Instant) => void) | undefined;
  onClientActivity: ((now: Instant) => void) | undefined;

  get now(): Instant {
    return this.sim.now;
  }

  /** Opens a client connection to the server (ALPN 'test', CA-verified for localhost). */
  connect(o: Partial<ConnectOptions> = {}): Connection {
    const conn = this.client.endpoint.connect(this.sim.now, {
      local: this.clientAddress,
      remote: this.serverAddress,
      serverName: 'localhost',
      alpn: ['test'],
      ca: TEST_CA,
      ...o,
    });
    this.clientHost.wake();
    return conn;
  }

  /** Runs until `predicate` holds; the 3× amplification invariant is checked after every run. */
  runUntil(predicate: () => boolean, maxDurationUs = 120_000_000): void {
    try {
      this.sim.runUntil(predicate, { maxDuration: maxDurationUs });
    } finally {
      this.amplification?.assertNoViolations();
    }
  }

  runFor(durationUs: number): void {
    this.sim.runFor(durationUs);
    this.amplification?.assertNoViolations();
  }

  /** Runs until both sides report the handshake complete. */
  handshake(
    o: Partial<ConnectOptions> = {},
    maxDurationUs = 60_000_000,
  ): { client: Connection; server: Connection } {
    const before = this.accepted.length;
    const client = this.connect(o);
    const seen = new Events(client);
    this.runUntil(
      () =>
        seen.has('handshake-complete') &&
        this.accepted.length > before &&
        this.accepted[before]!.handshakeComplete,
      maxDurationUs,
    );
    return { client, server: this.accepted[before]! };
  }
}

const eventLogs = new WeakMap<Connection, ConnectionEvent[]>();

/** The connection's full event history (events are pulled from the connection into it). */
export function eventLog(conn: Connection): ConnectionEvent[] {
  let log = eventLogs.get(conn);
  if (!log) eventLogs.set(conn, (log = []));
  for (let e = conn.pollEvent(); e; e = conn.pollEvent()) log.push(e);
  return log;
}

/**
 * A view of a connection's events shared by every consumer: `has`/`of` see the whole history,
 * `drain` returns what this consumer has not seen yet. Tests and apps never call pollEvent().
 */
export class Events {
  readonly conn: Connection;
  #cursor = 0;

  constructor(conn: Connection) {
    this.conn = conn;
  }

  get all(): ConnectionEvent[] {
    return eventLog(this.conn);
  }

  drain(): ConnectionEvent[] {
    const log = eventLog(this.conn);
    const out = log.slice(this.#cursor);
    this.#cursor = log.length;
    return out;
  }

  has(type: ConnectionEvent['type']): boolean {
    return eventLog(this.conn).some((e) => e.type === type);
  }

  of<T extends ConnectionEvent['type']>(type: T): Extract<ConnectionEvent, { type: T }>[] {
    return eventLog(this.conn).filter((e) => e.type === type) as Extract<ConnectionEvent, { type: T }>[];
  }
}

/** Deterministic payload: a seeded 64 KiB block repeated. */
export class Payload {
  readonly block: Uint8Array;
  readonly size: number;

  constructor(size: number, seed = 1) {
    this.size = size;
    this.block = new Uint8Array(65536);
    new SeededRandom(seed).fill(this.block);
  }

  /** Bytes [offset, offset+len) as a view when possible. */
  slice(offset: number, len: number): Uint8Array {
    const start = offset % this.block.length;
    const n = Math.min(len, this.block.length - start, this.size - offset);
    return this.block.subarray(start, start + n);
  }

  sha256(): string {
    const h = createHash('sha256');
    for (let off = 0; off < this.size; ) {
      const s = this.slice(off, this.size - off);
      h.update(s);
      off += s.length;
    }
    return h.digest('hex');
  }
}

/** Writes `payload` on a stream, respecting backpressure; call `pump()` on activity. */
export class StreamWriter {
  readonly conn: Connection;
  readonly id: number;
  readonly payload: Payload;
  offset = 0;
  done = false;

  constructor(conn: Connection, id: number, payload: Payload) {
    this.conn = conn;
    this.id = id;
    this.payload = payload;
  }

  pump(): void {
    while (!this.done) {
      const chunk = this.payload.slice(this.offset, 64 * 1024);
      const fin = this.offset + chunk.length >= this.payload.size;
      if (chunk.length === 0) {
        this.conn.writeStream(this.id, new Uint8Array(0), true);
        this.done = true;
        return;
      }
      const n = this.conn.writeStream(this.id, chunk, fin);
      if (n === 0) return;
      this.offset += n;
      if (n === chunk.length && fin) this.done = true;
    }
  }
}

/** Reads a stream to its end, hashing what arrives. */
export class StreamReader {
  readonly conn: Connection;
  readonly id: number;
  readonly hash: Hash = createHash('sha256');
  received = 0;
  finished = false;
  digest: string | undefined;

  constructor(conn: Connection, id: number) {
    this.conn = conn;
    this.id = id;
  }

  pump(): void {
    if (this.finished) return;
    for (let r = this.conn.readStream(this.id); r; r = this.conn.readStream(this.id)) {
      this.hash.update(r.data);
      this.received += r.data.length;
      if (r.fin) {
        this.finished = true;
        this.digest = this.hash.digest('hex');
        return;
      }
    }
  }
}
