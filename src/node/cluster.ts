// A QUIC server in several processes on one host (node:cluster). The primary forks N workers
// and hands them the secrets every process must share (stateless reset, address token, session
// ticket and QUIC-LB keys, the routing seed). Each worker binds the public UDP address as a
// cluster-shared socket (one kernel socket read by every worker: each datagram lands on
// whichever worker reads first) and a private forwarding socket on loopback; its endpoint's CIDs
// carry the worker index as QUIC-LB server ID, and a RoutingSocket relays every datagram to the
// worker that owns it (see routing-socket.ts). The primary distributes the table of forwarding
// ports, restarts workers that die (same index: their old connections end by stateless reset
// or idle timeout, as their state died with them), stops everything on SIGTERM/SIGINT and
// collects per-worker statistics over IPC.
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type dgram from 'node:dgram';
import type { SocketAddress } from '../common/addr.js';
import { QuicLbConnectionIdGenerator } from '../quic-lb/generator.js';
import type { QuicEndpoint } from './endpoint.js';
import {
  CLUSTER_NONCE_LENGTH,
  CLUSTER_SERVER_ID_LENGTH,
  clusterQuicLbConfig,
  clusterRoute,
  clusterServerId,
  MAX_CLUSTER_WORKERS,
  RoutingSocket,
  type RoutingStats,
} from './routing-socket.js';
import { bindUdpSocket, type ProvidedSocket } from './socket.js';
import { type AddressInput, deferred, toSocketAddress } from './util.js';

export { CLUSTER_NONCE_LENGTH, CLUSTER_SERVER_ID_LENGTH, MAX_CLUSTER_WORKERS };

/** Secrets every worker of one cluster shares (random unless given). */
export interface ClusterSecrets {
  /** Stateless reset tokens (RFC 9000 §10.3.2), 32 octets. */
  readonly statelessResetKey: Uint8Array;
  /** Address-validation tokens (Retry, NEW_TOKEN), 16 octets. */
  readonly tokenKey: Uint8Array;
  /** Session tickets (resumption, 0-RTT), 32 octets. */
  readonly ticketKey: Uint8Array;
  /** QUIC-LB AES-128 key of the CIDs (four-pass), 16 octets. */
  readonly quicLbKey: Uint8Array;
  /** Seed of the fallback hashes (unsigned 32-bit). */
  readonly routingSeed: number;
}

/** What a worker knows about itself. */
export interface ClusterWorkerInfo {
  readonly index: number;
  readonly workers: number;
  /** 0 for the first process of this index, +1 per restart. */
  readonly generation: number;
}

/** Options a worker must pass to QuicEndpoint.bind (spread them in). */
export interface ClusterEndpointOptions {
  readonly sockets: readonly ProvidedSocket[];
  readonly cidGenerator: QuicLbConnectionIdGenerator;
  readonly statelessResetKey: Uint8Array;
  readonly tokenKey: Uint8Array;
  readonly ticketKey: Uint8Array;
}

export interface ClusterWorkerStats extends RoutingStats {
  readonly index: number;
  readonly pid: number;
  readonly generation: number;
  /** Connections this worker's endpoint accepted (handshakes started) so far. */
  readonly connectionsAccepted: number;
  /** Connections open now. */
  readonly connections: number;
  /** Retry packets and stateless resets this worker's endpoint sent. */
  readonly retriesSent: number;
  readonly statelessResetsSent: number;
}

export type ClusterEvent =
  | { type: 'ready'; index: number; pid: number; generation: number }
  | {
      type: 'exit';
      index: number;
      pid: number;
      generation: number;
      code: number | null;
      signal: string | null;
    }
  | { type: 'restart'; index: number; generation: number; delayMs: number };

export interface ClusterServerOptions {
  /** Number of worker processes, 1..256 (the primary's value counts). */
  readonly workers: number;
  /**
   * The public address every worker shares, e.g. '0.0.0.0:4433' (port 0: one random port; the
   * primary's value counts).
   */
  readonly address: AddressInput;
  /**
   * Worker side: starts the application on an endpoint bound with `options` spread into
   * QuicEndpoint.bind (besides the application's own server options) and returns it.
   */
  readonly start: (options: ClusterEndpointOptions, worker: ClusterWorkerInfo) => Promise<QuicEndpoint>;
  /** Primary: the script workers run (default: this process's main script and arguments). */
  readonly exec?: string;
  readonly args?: readonly string[];
  readonly execArgv?: readonly string[];
  /** Primary: extra environment of the workers. */
  readonly env?: Readonly<Record<string, string>>;
  /** Primary: pipe the workers' stdout/stderr to worker.process instead of inheriting them. */
  readonly silent?: boolean;
  /** Primary: restart workers that die (default true). */
  readonly restart?: boolean;
  /** Primary: given secrets instead of random ones (e.g. to keep tickets valid across runs). */
  readonly secrets?: Partial<ClusterSecrets>;
  /** Loopback host of the forwarding sockets (default 127.0.0.1). */
  readonly forwardHost?: string;
  /** Both processes: SIGTERM/SIGINT close the cluster cleanly (default true). */
  readonly handleSignals?: boolean;
  /** Primary: SIGKILL workers still running this long after close() (ms, default 3000). */
  readonly stopTimeout?: number;
  /** Primary: a worker not ready this long after its fork fails the start (ms, default 15000). */
  readonly startTimeout?: number;
  /** SO_RCVBUF / SO_SNDBUF of the shared and forwarding sockets (default 4 MiB). */
  readonly recvBufferSize?: number;
  readonly sendBufferSize?: number;
  /** Primary: lifecycle events (for logs). */
  readonly onEvent?: (event: ClusterEvent) => void;
}

export interface ClusterProcessInfo {
  readonly index: number;
  readonly pid: number | undefined;
  readonly generation: number;
  readonly forwardPort: number;
  readonly state: 'starting' | 'ready' | 'down';
}

// ------------------------------------------------------------------ IPC messages

const TAG = 'feather-quic-cluster';
const ENV_MARK = 'FEATHER_QUIC_CLUSTER_WORKER';

type ToWorker =
  | {
      fq: typeof TAG;
      type: 'init';
      index: number;
      workers: number;
      generation: number;
      address: SocketAddress;
      forwardHost: string;
      keys: { reset: string; token: string; ticket: string; lb: string };
      seed: number;
    }
  | { fq: typeof TAG; type: 'table'; ports: number[] }
  | { fq: typeof TAG; type: 'stats?'; id: number }
  | { fq: typeof TAG; type: 'stop' };

type ToPrimary =
  | { fq: typeof TAG; type: 'hello' }
  | { fq: typeof TAG; type: 'bound'; forwardPort: number; address: SocketAddress }
  | { fq: typeof TAG; type: 'ready' }
  | { fq: typeof TAG; type: 'stats'; id: number; stats: ClusterWorkerStats }
  | { fq: typeof TAG; type: 'error'; message: string };

function isOurs<T extends { fq: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && (m as { fq?: unknown }).fq === TAG;
}

const FIRST_RESTART_DELAY = 250;
const MAX_RESTART_DELAY = 8000;
/** A worker that dies sooner than this after its fork backs off its restarts. */
const STABLE_AFTER = 5000;

/**
 * Starts a multi-process QUIC server. Call it in the primary and, with the same options, in the
 * workers (the default `exec` re-runs this process's script): the primary resolves with a
 * ClusterPrimary once every worker is ready; a worker resolves with its ClusterWorker once its
 * endpoint runs.
 */
export async function startClusterServer(
  options: ClusterServerOptions,
): Promise<ClusterPrimary | ClusterWorker> {
  checkOptions(options);
  if (cluster.isPrimary) return ClusterPrimary.start(options);
  if (process.env[ENV_MARK] !== '1') {
    throw new Error('startClusterServer: this worker was not forked by startClusterServer');
  }
  return ClusterWorker.start(options);
}

function checkOptions(o: ClusterServerOptions): void {
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > MAX_CLUSTER_WORKERS) {
    throw new RangeError(`workers must be an integer 1..${MAX_CLUSTER_WORKERS}, got ${o.workers}`);
  }
  toSocketAddress(o.address);
}

// ------------------------------------------------------------------ primary

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  generation: number;
  forwardPort: number;
  state: 'starting' | 'ready' | 'down';
  forkedAt: number;
  restartDelay: number;
  restartTimer: NodeJS.Timeout | undefined;
}

export class ClusterPrimary {
  readonly role = 'primary' as const;
  readonly workers: number;
  readonly #o: ClusterServerOptions;
  readonly #secrets: ClusterSecrets;
  readonly #forwardHost: string;
  readonly #requested: SocketAddress;
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<number, { stats: ClusterWorkerStats[]; left: number; done: () => void }>();
  readonly #closed = deferred<void>();
  #address: SocketAddress | undefined;
  #started = false;
  #startup = deferred<void>();
  #stopping = false;
  #closing: Promise<void> | undefined;
  #restarts = 0;
  #nextId = 1;

  private constructor(o: ClusterServerOptions) {
    this.#o = o;
    this.workers = o.workers;
    this.#forwardHost = o.forwardHost ?? '127.0.0.1';
    this.#requested = toSocketAddress(o.address);
    const s = o.secrets ?? {};
    this.#secrets = {
      statelessResetKey: s.statelessResetKey ?? randomBytes(32),
      tokenKey: s.tokenKey ?? randomBytes(16),
      ticketKey: s.ticketKey ?? randomBytes(32),
      quicLbKey: s.quicLbKey ?? randomBytes(16),
      routingSeed: s.routingSeed ?? randomBytes(4).readUInt32BE(0),
    };
    clusterQuicLbConfig(this.#secrets.quicLbKey); // checks the key
  }

  static async start(o: ClusterServerOptions): Promise<ClusterPrimary> {
    const p = new ClusterPrimary(o);
    cluster.setupPrimary({
      ...(o.exec !== undefined ? { exec: o.exec } : {}),
      ...(o.args !== undefined ? { args: [...o.args] } : {}),
      ...(o.execArgv !== undefined ? { execArgv: [...o.execArgv] } : {}),
      ...(o.silent !== undefined ? { silent: o.silent } : {}),
    });
    for (let i = 0; i < o.workers; i++) {
      p.#slots.push({
        index: i,
        worker: undefined,
        generation: 0,
        forwardPort: 0,
        state: 'down',
        forkedAt: 0,
        restartDelay: FIRST_RESTART_DELAY,
        restartTimer: undefined,
      });
    }
    if (o.handleSignals ?? true) {
      process.on('SIGTERM', p.#onSignal);
      process.on('SIGINT', p.#onSignal);
    }
    const timer = setTimeout(
      () => p.#startup.reject(new Error(`cluster workers not ready within ${o.startTimeout ?? 15_000} ms`)),
      o.startTimeout ?? 15_000,
    );
    try {
      for (const slot of p.#slots) p.#fork(slot);
      await p.#startup.promise;
    } catch (e) {
      await p.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    p.#started = true;
    return p;
  }

  /** The public address (port resolved). */
  get address(): SocketAddress {
    return this.#address!;
  }

  /** Worker processes by index. */
  get processes(): ClusterProcessInfo[] {
    return this.#slots.map((s) => ({
      index: s.index,
      pid: s.state === 'down' ? undefined : s.worker?.process.pid,
      generation: s.generation,
      forwardPort: s.forwardPort,
      state: s.state,
    }));
  }

  /** Workers restarted so far. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Resolves once the cluster stopped. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Statistics of every ready worker, by index (workers not answering within `timeoutMs` are left out). */
  stats(timeoutMs = 2000): Promise<ClusterWorkerStats[]> {
    const live = this.#slots.filter((s) => s.state === 'ready' && s.worker?.isConnected());
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const stats: ClusterWorkerStats[] = [];
      const done = (): void => {
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(stats.sort((a, b) => a.index - b.index));
      };
      const timer = setTimeout(done, timeoutMs);
      this.#pending.set(id, { stats, left: live.length, done });
      if (live.length === 0) done();
      for (const s of live) this.#send(s.worker!, { fq: TAG, type: 'stats?', id });
    });
  }

  /** Stops every worker (each closes its endpoint), SIGKILL after `stopTimeout`. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stopping = true;
    if (!this.#started) this.#startup.reject(new Error('cluster stopped while starting'));
    process.off('SIGTERM', this.#onSignal);
    process.off('SIGINT', this.#onSignal);
    const exits: Promise<void>[] = [];
    for (const s of this.#slots) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = undefined;
      const w = s.worker;
      if (!w || w.process.exitCode !== null || w.process.signalCode !== null) continue;
      exits.push(new Promise((r) => w.once('exit', () => r())));
      // A worker no longer connected is already leaving (it stopped on its own signal).
      this.#send(w, { fq: TAG, type: 'stop' });
    }
    const timer = setTimeout(() => this.#killAll(), this.#o.stopTimeout ?? 3000);
    await Promise.all(exits);
    clearTimeout(timer);
    for (const p of this.#pending.values()) p.done();
    this.#closed.resolve();
  }

  #killAll(): void {
    for (const s of this.#slots) {
      const w = s.worker;
      if (w && w.process.exitCode === null && w.process.signalCode === null) w.process.kill('SIGKILL');
    }
  }

  #onSignal = (): void => {
    if (this.#closing) this.#killAll();
    else void this.close();
  };

  #fork(slot: Slot): void {
    const w = cluster.fork({ ...this.#o.env, [ENV_MARK]: '1' });
    slot.worker = w;
    slot.state = 'starting';
    slot.forwardPort = 0;
    slot.forkedAt = performance.now();
    const generation = slot.generation;
    w.on('message', (m: unknown) => {
      if (slot.worker === w && isOurs<ToPrimary>(m)) this.#onMessage(slot, w, m);
    });
    w.on('error', () => {
      // IPC errors after the worker went away; its 'exit' follows.
    });
    w.once('exit', (code: number | null, signal: string | null) => {
      if (slot.worker !== w) return;
      this.#onExit(slot, generation, w.process.pid ?? 0, code, signal);
    });
  }

  #onMessage(slot: Slot, w: Worker, m: ToPrimary): void {
    switch (m.type) {
      case 'hello': {
        const s = this.#secrets;
        const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
        this.#send(w, {
          fq: TAG,
          type: 'init',
          index: slot.index,
          workers: this.workers,
          generation: slot.generation,
          address: this.#requested,
          forwardHost: this.#forwardHost,
          keys: {
            reset: hex(s.statelessResetKey),
            token: hex(s.tokenKey),
            ticket: hex(s.ticketKey),
            lb: hex(s.quicLbKey),
          },
          seed: s.routingSeed,
        });
        return;
      }
      case 'bound':
        slot.forwardPort = m.forwardPort;
        this.#address ??= m.address;
        // At start, the table goes out once every worker is bound; later on every change.
        if (this.#started || this.#slots.every((s) => s.forwardPort > 0)) this.#broadcastTable();
        return;
      case 'ready':
        slot.state = 'ready';
        this.#o.onEvent?.({
          type: 'ready',
          index: slot.index,
          pid: w.process.pid ?? 0,
          generation: slot.generation,
        });
        if (!this.#started && this.#slots.every((s) => s.state === 'ready')) this.#startup.resolve();
        return;
      case 'stats': {
        const p = this.#pending.get(m.id);
        if (!p) return;
        p.stats.push(m.stats);
        if (--p.left <= 0) p.done();
        return;
      }
      case 'error':
        if (!this.#started) this.#startup.reject(new Error(`worker ${slot.index}: ${m.message}`));
        return;
    }
  }

  #onExit(slot: Slot, generation: number, pid: number, code: number | null, signal: string | null): void {
    slot.state = 'down';
    slot.forwardPort = 0;
    slot.worker = undefined;
    this.#o.onEvent?.({ type: 'exit', index: slot.index, pid, generation, code, signal });
    if (!this.#started) {
      this.#startup.reject(
        new Error(`worker ${slot.index} exited during start (${signal ?? `code ${code}`})`),
      );
      return;
    }
    if (this.#stopping) return;
    this.#broadcastTable(); // others handle its datagrams meanwhile
    if (this.#o.restart === false) return;
    // A worker that keeps dying at once is restarted less and less often.
    if (performance.now() - slot.forkedAt >= STABLE_AFTER) slot.restartDelay = FIRST_RESTART_DELAY;
    const delayMs = slot.restartDelay;
    slot.restartDelay = Math.min(slot.restartDelay * 2, MAX_RESTART_DELAY);
    slot.generation++;
    this.#o.onEvent?.({ type: 'restart', index: slot.index, generation: slot.generation, delayMs });
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.#stopping) return;
      this.#restarts++;
      this.#fork(slot);
    }, delayMs);
  }

  #broadcastTable(): void {
    const ports = this.#slots.map((s) => s.forwardPort);
    for (const s of this.#slots) {
      if (s.worker && s.forwardPort > 0) this.#send(s.worker, { fq: TAG, type: 'table', ports });
    }
  }

  #send(w: Worker, m: ToWorker): void {
    if (!w.isConnected()) return;
    try {
      w.send(m);
    } catch {
      // The worker is going away; its 'exit' follows.
    }
  }
}

// ------------------------------------------------------------------ worker

export class ClusterWorker {
  readonly role = 'worker' as const;
  readonly index: number;
  readonly workers: number;
  readonly generation: number;
  readonly endpoint: QuicEndpoint;
  readonly socket: RoutingSocket;
  readonly #closed = deferred<void>();
  readonly #handleSignals: boolean;
  #closing: Promise<void> | undefined;

  private constructor(
    info: ClusterWorkerInfo,
    endpoint: QuicEndpoint,
    socket: RoutingSocket,
    signals: boolean,
  ) {
    this.index = info.index;
    this.workers = info.workers;
    this.generation = info.generation;
    this.endpoint = endpoint;
    this.socket = socket;
    this.#handleSignals = signals;
  }

  static async start(o: ClusterServerOptions): Promise<ClusterWorker> {
    const send = (m: ToPrimary): void => {
      if (process.connected) process.send?.(m);
    };
    const init = deferred<Extract<ToWorker, { type: 'init' }>>();
    const table = deferred<number[]>();
    let worker: ClusterWorker | undefined;
    let routing: RoutingSocket | undefined;
    let stopRequested = false;
    const onMessage = (m: unknown): void => {
      if (!isOurs<ToWorker>(m)) return;
      switch (m.type) {
        case 'init':
          init.resolve(m);
          return;
        case 'table':
          routing?.setPeers(m.ports);
          table.resolve(m.ports);
          return;
        case 'stats?':
          if (worker) send({ fq: TAG, type: 'stats', id: m.id, stats: worker.stats() });
          return;
        case 'stop':
          stopRequested = true;
          init.reject(new Error('cluster stopping'));
          table.reject(new Error('cluster stopping'));
          void worker?.close();
          return;
      }
    };
    const onDisconnect = (): void => {
      stopRequested = true;
      init.reject(new Error('cluster primary went away'));
      table.reject(new Error('cluster primary went away'));
      void worker?.close();
    };
    // Rejected when the cluster stops before we got there (awaited, or never: no unhandled rejection).
    init.promise.catch(() => {});
    table.promise.catch(() => {});
    process.on('message', onMessage);
    process.once('disconnect', onDisconnect);
    const sockets: dgram.Socket[] = [];
    try {
      send({ fq: TAG, type: 'hello' });
      const m = await init.promise;
      const info: ClusterWorkerInfo = { index: m.index, workers: m.workers, generation: m.generation };
      const key = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
      // The public socket, shared through the primary (exclusive: false).
      const shared = await bindUdp(m.address, false, o);
      sockets.push(shared);
      const forward = await bindUdp({ address: m.forwardHost, port: 0 }, true, o);
      sockets.push(forward);
      const a = shared.address();
      const local: SocketAddress = { address: a.address, port: a.port };
      const config = clusterQuicLbConfig(key(m.keys.lb));
      routing = new RoutingSocket({
        shared,
        local,
        forward,
        forwardHost: m.forwardHost,
        index: info.index,
        route: clusterRoute(config, info.workers, m.seed),
      });
      send({ fq: TAG, type: 'bound', forwardPort: forward.address().port, address: local });
      routing.setPeers(await table.promise);
      const endpoint = await o.start(
        {
          sockets: [{ socket: routing, local }],
          cidGenerator: new QuicLbConnectionIdGenerator(config, clusterServerId(info.index)),
          statelessResetKey: key(m.keys.reset),
          tokenKey: key(m.keys.token),
          ticketKey: key(m.keys.ticket),
        },
        info,
      );
      if (!endpoint.addresses.some((x) => x.port === local.port && x.address === local.address)) {
        endpoint.destroy();
        throw new Error('start() must bind the endpoint with the sockets it was given');
      }
      worker = new ClusterWorker(info, endpoint, routing, o.handleSignals ?? true);
      worker.#detach = () => {
        process.off('message', onMessage);
        process.off('disconnect', onDisconnect);
      };
      if (worker.#handleSignals) {
        process.on('SIGTERM', worker.#onSignal);
        process.on('SIGINT', worker.#onSignal);
      }
      if (stopRequested) void worker.close();
      else send({ fq: TAG, type: 'ready' });
      return worker;
    } catch (e) {
      for (const s of sockets) {
        try {
          s.close();
        } catch {
          // Closed by the routing socket already.
        }
      }
      send({ fq: TAG, type: 'error', message: e instanceof Error ? e.message : String(e) });
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
      leaveCluster();
      throw e;
    }
  }

  #detach: () => void = () => {};

  /** This worker's counters. */
  stats(): ClusterWorkerStats {
    const e = this.endpoint.stats;
    return {
      ...this.socket.stats,
      index: this.index,
      pid: process.pid,
      generation: this.generation,
      connectionsAccepted: e.core.accepted,
      connections: e.connections,
      retriesSent: e.core.retrySent,
      statelessResetsSent: e.core.statelessResetSent,
    };
  }

  /** Resolves once this worker stopped (endpoint closed, IPC disconnected). */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Closes the endpoint (CONNECTION_CLOSE to its connections) and leaves the cluster. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    try {
      await this.endpoint.close({ timeout: 1000 });
    } finally {
      this.socket.close();
      // The signal handlers stay: a second SIGTERM while exiting must not kill the process.
      this.#detach();
      leaveCluster();
      this.#closed.resolve();
    }
  }

  #onSignal = (): void => {
    void this.close();
  };
}

/**
 * Disconnects from the primary. Through the Worker (not process.disconnect()): node:cluster
 * exits at once on a disconnect it did not ask for, before the application could finish.
 */
function leaveCluster(): void {
  const w = cluster.worker;
  if (w?.isConnected()) w.disconnect();
  else if (process.connected) process.disconnect();
}

async function bindUdp(
  requested: SocketAddress,
  exclusive: boolean,
  o: Pick<ClusterServerOptions, 'recvBufferSize' | 'sendBufferSize'>,
): Promise<dgram.Socket> {
  try {
    return await bindUdpSocket(requested, {
      exclusive,
      ...(o.recvBufferSize !== undefined ? { recvBufferSize: o.recvBufferSize } : {}),
      ...(o.sendBufferSize !== undefined ? { sendBufferSize: o.sendBufferSize } : {}),
    });
  } catch (e) {
    throw new Error(
      `cannot bind ${requested.address}:${requested.port}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}
