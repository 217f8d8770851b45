// QuicEndpoint: the Node runtime around the sans-IO Endpoint. It owns the UDP sockets (never
// connect()ed, so datagrams from a changed peer address still arrive), one timer, and the
// monotonic clock. Datagrams are fed to the core as they arrive; the core's output, events and
// timer are handled in one pump per event-loop turn (setImmediate), not once per datagram.

import type { KeyObject } from 'node:crypto';
import type dgram from 'node:dgram';
import diagnostics from 'node:diagnostics_channel';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { addressFamily, type Path, type SocketAddress } from '../common/addr.js';
import type { Random } from '../common/random.js';
import type { Instant } from '../common/time.js';
import type { Transmit } from '../common/transmit.js';
import type { TransportConfig } from '../connection/config.js';
import type { Connection } from '../connection/connection.js';
import type { ConnectionIdGenerator } from '../endpoint/cid-generator.js';
import {
  type ConnectOptions,
  Endpoint,
  type EndpointOptions,
  type ServerOptions,
} from '../endpoint/endpoint.js';
import type { CipherSuite } from '../tls/constants.js';
import type { GroupName } from '../tls/index.js';
import { type ConnectionRuntime, QuicConnection } from './connection.js';
import {
  QuicAbortError,
  QuicEndpointClosedError,
  QuicInvalidArgumentError,
  QuicSocketError,
} from './errors.js';
import { KeyLogWriter } from './keylog.js';
import { ensureDir, QlogFileSink } from './qlog.js';
import {
  bindUdpSocket,
  type DatagramRemoteInfo,
  type DatagramSocket,
  type ProvidedSocket,
} from './socket.js';
import {
  type AddressInput,
  AsyncQueue,
  deferred,
  monotonicNow,
  toHostPort,
  toSocketAddress,
} from './util.js';

export interface QuicServerOptions {
  /** PEM certificate chain, leaf first. */
  certificateChain: string;
  privateKey: string | KeyObject;
  /** ALPN protocols served, in preference order. */
  alpn: readonly string[];
  cipherSuites?: readonly CipherSuite[];
  groups?: readonly GroupName[];
  requestClientCertificate?: boolean;
  requireClientCertificate?: boolean;
  clientCa?: string | readonly string[];
  /** Send a Retry to every new client first (RFC 9000 §8.1.2). */
  retry?: boolean;
  /** Accept 0-RTT (default true). */
  earlyData?: boolean;
  /** Issue session tickets (default true). */
  sessionTickets?: boolean;
  /** Send NEW_TOKEN after the handshake (default true). */
  newTokens?: boolean;
  maxConnections?: number;
  /**
   * Addresses advertised in preferred_address (RFC 9000 §9.6): the index of one of the
   * endpoint's `address` entries, or a bound address (port 0 = the last socket bound on that IP).
   */
  preferredAddress?: { ipv4?: AddressInput | number; ipv6?: AddressInput | number };
  transport?: Partial<TransportConfig>;
}

export interface QuicEndpointOptions {
  /** Local addresses to bind, one socket each (default '127.0.0.1:0' unless `sockets` is given). */
  address?: AddressInput | readonly AddressInput[];
  /**
   * Sockets made elsewhere (shared cluster sockets, load-balancer tunnels), used besides the
   * `address` ones. The endpoint closes them when it closes.
   */
  sockets?: readonly ProvidedSocket[];
  /** Makes the endpoint accept connections. */
  server?: QuicServerOptions;
  /** Transport defaults of every connection (core units: durations in µs). */
  transport?: Partial<TransportConfig>;
  /** Idle timeout in milliseconds (sets transport.maxIdleTimeout). */
  idleTimeout?: number;
  /** Append TLS secrets in NSS key log format to this file. */
  keyLogFile?: string;
  /** Write one qlog JSON-SEQ file per connection into this folder. */
  qlogDir?: string;
  /** Take keyLogFile / qlogDir from SSLKEYLOGFILE / QLOGDIR when not given. */
  fromEnv?: boolean;
  /** SO_RCVBUF / SO_SNDBUF in bytes (default 4 MiB; the OS may cap them). */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** IPv6 sockets only accept IPv6 (no IPv4-mapped addresses). */
  ipv6Only?: boolean;
  statelessResetKey?: Uint8Array;
  tokenKey?: Uint8Array;
  ticketKey?: Uint8Array;
  supportedVersions?: readonly number[];
  /** Server: move clients that also offer it to this version (compatible negotiation, RFC 9368). */
  preferredVersion?: number;
  statelessRate?: number;
  random?: Random;
  cidGenerator?: ConnectionIdGenerator;
  /** Wall clock (unix ms) for certificates, tickets and tokens (default Date.now). */
  wallClock?: () => number;
}

export interface QuicConnectOptions {
  /** ALPN protocol(s) offered. */
  alpn: string | readonly string[];
  /** SNI and certificate name (default: the host name given, else the IP address). */
  serverName?: string;
  /** Trust anchors (PEM); default Node's root store. */
  ca?: string | readonly string[];
  /** Skip certificate verification. */
  insecure?: boolean;
  /** A `sessionTicket` from an earlier connection: resumption. */
  session?: Uint8Array;
  /** Send 0-RTT data with `session` (use connectEarly() to write before the handshake ends). */
  earlyData?: boolean;
  /** A `newToken` from an earlier connection to this server. */
  token?: Uint8Array;
  version?: number;
  transport?: Partial<TransportConfig>;
  /** Idle timeout in milliseconds. */
  idleTimeout?: number;
  cipherSuites?: readonly CipherSuite[];
  groups?: readonly GroupName[];
  keyShareGroups?: readonly GroupName[];
  /** Client certificate. */
  certificateChain?: string;
  privateKey?: string | KeyObject;
  /** Which of the endpoint's sockets to use (default: the first of the remote's family). */
  local?: AddressInput;
  signal?: AbortSignal;
}

export interface QuicEndpointStats {
  datagramsReceived: number;
  bytesReceived: number;
  datagramsSent: number;
  bytesSent: number;
  /** Failed sends (EMSGSIZE, unreachable, …) and transmits with no matching socket. */
  sendErrors: number;
  noSocket: number;
  socketErrors: number;
  /** Exceptions thrown by the core (should stay 0). */
  coreErrors: number;
  pumps: number;
  connections: number;
  core: Endpoint['stats'];
}

interface BoundSocket {
  readonly socket: DatagramSocket;
  readonly requested: SocketAddress;
  readonly local: SocketAddress;
  /** Path of the last datagram received (reused while the sender does not change). */
  lastPath: Path;
}

const errorChannel = diagnostics.channel('feather-quic:endpoint:error');
/** max_udp_payload_size on endpoints bound only to loopback addresses. */
export const LOOPBACK_MAX_UDP_PAYLOAD = 16384;
/** Datagrams sent per pump before yielding to the event loop. */
const MAX_BURST = 32;
/** Datagrams whose header protection is computed together (one AES-ECB call). */
const HP_BATCH = 16;

export class QuicEndpoint implements AsyncIterable<QuicConnection> {
  readonly #core: Endpoint;
  readonly #options: QuicEndpointOptions;
  readonly #sockets: BoundSocket[] = [];
  readonly #conns = new Map<Connection, QuicConnection>();
  readonly #accepted = new AsyncQueue<QuicConnection>();
  readonly #runtime: ConnectionRuntime;
  readonly #keyLog: KeyLogWriter | undefined;
  readonly #qlogDir: string | undefined;
  readonly #qlogPending = new Map<string, QlogFileSink>();
  readonly #qlogOf = new Map<QuicConnection, QlogFileSink>();
  /** Log files being flushed (close() waits for them). */
  readonly #flushing = new Set<Promise<void>>();
  readonly #wallClock: () => number;
  readonly #server: boolean;
  #scheduled = false;
  #inPump = false;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #idleSpins = 0;
  /** The `now` of the latest core input (qlog traces start there). */
  #coreNow = 0;
  /** The last flush stopped at MAX_BURST: pump again on the next turn. */
  #more = false;
  #closing: Promise<void> | undefined;
  #destroyed = false;
  #refed = true;
  readonly #stats = {
    datagramsReceived: 0,
    bytesReceived: 0,
    datagramsSent: 0,
    bytesSent: 0,
    sendErrors: 0,
    noSocket: 0,
    socketErrors: 0,
    coreErrors: 0,
    pumps: 0,
  };

  /** Binds the sockets and starts the endpoint. */
  static async bind(options: QuicEndpointOptions = {}): Promise<QuicEndpoint> {
    const list =
      options.address === undefined
        ? options.sockets?.length
          ? []
          : ['127.0.0.1:0']
        : Array.isArray(options.address)
          ? options.address
          : [options.address];
    if (list.length === 0 && !options.sockets?.length)
      throw new QuicInvalidArgumentError('at least one address is needed');
    const requested = (list as readonly AddressInput[]).map(toSocketAddress);
    const qlogDir = options.qlogDir ?? (options.fromEnv ? process.env['QLOGDIR'] : undefined);
    if (qlogDir) ensureDir(qlogDir);
    const sockets: BoundSocket[] = [];
    try {
      for (const r of requested) sockets.push(await bindSocket(r, options));
      for (const p of options.sockets ?? [])
        sockets.push({
          socket: p.socket,
          requested: p.local,
          local: p.local,
          lastPath: { local: p.local, remote: { address: '', port: -1 } },
        });
      return new QuicEndpoint(options, sockets);
    } catch (e) {
      for (const s of sockets) s.socket.close();
      throw e;
    }
  }

  private constructor(options: QuicEndpointOptions, sockets: BoundSocket[]) {
    this.#options = options;
    this.#wallClock = options.wallClock ?? Date.now;
    this.#server = options.server !== undefined;
    const env = options.fromEnv ? process.env : {};
    const keyLogFile = options.keyLogFile ?? env['SSLKEYLOGFILE'];
    this.#keyLog = keyLogFile ? new KeyLogWriter(keyLogFile) : undefined;
    this.#qlogDir = options.qlogDir ?? env['QLOGDIR'];
    for (const s of sockets) this.#attach(s);
    const transport: Partial<TransportConfig> = { ...options.transport };
    if (options.idleTimeout !== undefined) transport.maxIdleTimeout = options.idleTimeout * 1000;
    // Loopback's MTU is 64 KiB: let DPLPMTUD find large datagrams (each size is validated by a
    // probe before use), as per-packet costs dominate. Only when every socket is on loopback.
    if (transport.maxUdpPayloadSize === undefined && sockets.every((s) => isLoopback(s.local.address))) {
      transport.maxUdpPayloadSize = LOOPBACK_MAX_UDP_PAYLOAD;
    }
    const keyLog = this.#keyLog;
    const core: EndpointOptions = {
      wallClock: this.#wallClock,
      transport,
      ...(options.random ? { random: options.random } : {}),
      ...(options.cidGenerator ? { cidGenerator: options.cidGenerator } : {}),
      ...(options.statelessResetKey ? { statelessResetKey: options.statelessResetKey } : {}),
      ...(options.tokenKey ? { tokenKey: options.tokenKey } : {}),
      ...(options.ticketKey ? { ticketKey: options.ticketKey } : {}),
      ...(options.supportedVersions ? { supportedVersions: options.supportedVersions } : {}),
      ...(options.preferredVersion !== undefined ? { preferredVersion: options.preferredVersion } : {}),
      ...(options.statelessRate !== undefined ? { statelessRate: options.statelessRate } : {}),
      ...(options.server ? { server: this.#serverOptions(options.server) } : {}),
      ...(keyLog ? { keyLog: (line: string) => keyLog.write(line) } : {}),
      ...(this.#qlogDir
        ? { qlog: (info: { role: 'client' | 'server'; odcid: Uint8Array }) => this.#createQlog(info) }
        : {}),
    };
    this.#core = new Endpoint(core);
    this.#core.onWake = this.#schedule;
    this.#runtime = {
      now: monotonicNow,
      schedule: this.#schedule,
      localAddressOf: (a) => this.#socketFor(a).local,
      addSocket: (a) => this.addSocket(a),
    };
    this.#updateRef();
  }

  #serverOptions(s: QuicServerOptions): ServerOptions {
    const pref: { ipv4?: SocketAddress; ipv6?: SocketAddress } = {};
    if (s.preferredAddress?.ipv4 !== undefined) pref.ipv4 = this.#resolvePreferred(s.preferredAddress.ipv4);
    if (s.preferredAddress?.ipv6 !== undefined) pref.ipv6 = this.#resolvePreferred(s.preferredAddress.ipv6);
    return {
      tls: {
        certificateChain: s.certificateChain,
        privateKey: s.privateKey,
        alpnProtocols: s.alpn,
        ...(s.cipherSuites ? { cipherSuites: s.cipherSuites } : {}),
        ...(s.groups ? { groups: s.groups } : {}),
        ...(s.requestClientCertificate ? { requestClientCertificate: true } : {}),
        ...(s.requireClientCertificate ? { requireClientCertificate: true } : {}),
        ...(s.clientCa ? { clientCa: s.clientCa } : {}),
      },
      retry: s.retry ? 'always' : 'never',
      ...(s.earlyData !== undefined ? { earlyData: s.earlyData } : {}),
      ...(s.sessionTickets !== undefined ? { sessionTickets: s.sessionTickets } : {}),
      ...(s.newTokens !== undefined ? { newTokens: s.newTokens } : {}),
      ...(s.maxConnections !== undefined ? { maxConnections: s.maxConnections } : {}),
      ...(pref.ipv4 || pref.ipv6 ? { preferredAddress: pref } : {}),
      ...(s.transport ? { transport: s.transport } : {}),
    };
  }

  #resolvePreferred(p: AddressInput | number): SocketAddress {
    if (typeof p === 'number') {
      const s = this.#sockets[p];
      if (!s) throw new QuicInvalidArgumentError(`preferredAddress: no socket #${p}`);
      return s.local;
    }
    const a = toSocketAddress(p);
    for (let i = this.#sockets.length - 1; i >= 0; i--) {
      const s = this.#sockets[i]!;
      if (s.local.address === a.address && (a.port === 0 || s.local.port === a.port)) return s.local;
      if (s.requested.address === a.address && a.port === 0) return s.local;
    }
    throw new QuicInvalidArgumentError(
      `preferredAddress ${a.address}:${a.port} is not bound by this endpoint`,
    );
  }

  // ------------------------------------------------------------------ public API

  /** The sans-IO core endpoint (advanced use). */
  get core(): Endpoint {
    return this.#core;
  }

  /** Bound addresses of the endpoint's sockets. */
  get addresses(): SocketAddress[] {
    return this.#sockets.map((s) => s.local);
  }

  /** The first bound address. */
  get address(): SocketAddress {
    return this.#sockets[0]!.local;
  }

  get stats(): QuicEndpointStats {
    return { ...this.#stats, connections: this.#conns.size, core: { ...this.#core.stats } };
  }

  /** Open connections (client and server). */
  get connections(): QuicConnection[] {
    return [...this.#conns.values()];
  }

  /** Binds one more socket (e.g. a new local address for client migration); returns its address. */
  async addSocket(address: AddressInput): Promise<SocketAddress> {
    if (this.#closing) throw new QuicEndpointClosedError();
    const s = await bindSocket(toSocketAddress(address), this.#options);
    if (this.#closing) {
      s.socket.close();
      throw new QuicEndpointClosedError();
    }
    this.#attach(s);
    this.#updateRef();
    return s.local;
  }

  /** Opens a connection; resolves when the handshake completes. */
  async connect(remote: AddressInput, options: QuicConnectOptions): Promise<QuicConnection> {
    const conn = await this.connectEarly(remote, options);
    const signal = options.signal;
    if (!signal) return conn.opened.then(() => conn);
    const d = deferred<QuicConnection>();
    const onAbort = (): void => {
      void conn.close(0, 'aborted');
      d.reject(new QuicAbortError(signal.reason));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    conn.opened.then(
      () => d.resolve(conn),
      (e: unknown) => d.reject(e),
    );
    try {
      return await d.promise;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Opens a connection and returns it at once, before the handshake: with `session` and
   * `earlyData`, streams opened now carry 0-RTT data. Await `conn.opened` for the handshake.
   */
  async connectEarly(remote: AddressInput, options: QuicConnectOptions): Promise<QuicConnection> {
    if (this.#closing) throw new QuicEndpointClosedError();
    const signal = options.signal;
    if (signal?.aborted) throw new QuicAbortError(signal.reason);
    const { host, port } = toHostPort(remote);
    let address = host;
    if (isIP(host) === 0) {
      try {
        const r = await dnsLookup(
          host,
          this.#sockets.some((s) => addressFamily(s.local) === 6) ? {} : { family: 4 },
        );
        address = r.address;
      } catch (e) {
        throw new QuicSocketError(`cannot resolve ${host}: ${(e as Error).message}`, e);
      }
    }
    if (signal?.aborted) throw new QuicAbortError(signal.reason);
    if (this.#closing) throw new QuicEndpointClosedError();
    const remoteAddr: SocketAddress = { address, port };
    const local =
      options.local !== undefined
        ? this.#socketFor(options.local)
        : await this.#socketForFamily(addressFamily(remoteAddr));
    const transport: Partial<TransportConfig> = { ...options.transport };
    if (options.idleTimeout !== undefined) transport.maxIdleTimeout = options.idleTimeout * 1000;
    const o: ConnectOptions = {
      local: local.local,
      remote: remoteAddr,
      serverName: options.serverName ?? (isIP(host) === 0 ? host : address),
      alpn: typeof options.alpn === 'string' ? [options.alpn] : options.alpn,
      transport,
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.insecure ? { insecure: true } : {}),
      ...(options.session ? { session: options.session } : {}),
      ...(options.earlyData ? { earlyData: true } : {}),
      ...(options.token ? { token: options.token } : {}),
      ...(options.version !== undefined ? { version: options.version } : {}),
      ...(options.cipherSuites ? { cipherSuites: options.cipherSuites } : {}),
      ...(options.groups ? { groups: options.groups } : {}),
      ...(options.keyShareGroups ? { keyShareGroups: options.keyShareGroups } : {}),
      ...(options.certificateChain ? { certificateChain: options.certificateChain } : {}),
      ...(options.privateKey ? { privateKey: options.privateKey } : {}),
    };
    let core: Connection;
    try {
      const now = monotonicNow();
      this.#coreNow = now;
      core = this.#core.connect(now, o);
    } catch (e) {
      throw e instanceof RangeError || e instanceof TypeError ? new QuicInvalidArgumentError(e.message) : e;
    }
    const conn = this.#adopt(core);
    this.#schedule();
    return conn;
  }

  /** The next accepted server connection (handshake complete); undefined once closed. */
  accept(): Promise<QuicConnection | undefined> {
    return this.#accepted.shift();
  }

  /** Accepted server connections, after their handshake completed. */
  [Symbol.asyncIterator](): AsyncIterator<QuicConnection> {
    return this.#accepted[Symbol.asyncIterator]();
  }

  /**
   * Closes every connection (CONNECTION_CLOSE with `code`, default 0), waits until they are
   * closed (at most `timeout` ms, default 1000), then closes the sockets and flushes logs.
   */
  close(options: { code?: number; reason?: string; timeout?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options);
    return this.#closing;
  }

  async #close(options: { code?: number; reason?: string; timeout?: number }): Promise<void> {
    await Promise.resolve();
    this.#accepted.end();
    const now = monotonicNow();
    for (const c of this.#conns.values()) {
      if (!c.closeInfo) {
        try {
          c.core.close(now, options.code ?? 0, options.reason ?? '');
        } catch {
          // Already closing.
        }
      }
    }
    const waits = [...this.#conns.values()].map((c) => c._finalized);
    this.#pump();
    if (waits.length > 0) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(waits),
        new Promise<void>((r) => {
          t = setTimeout(r, options.timeout ?? 1000);
        }),
      ]);
      clearTimeout(t);
    }
    this.destroy();
    await Promise.all(this.#flushing);
  }

  #track(p: Promise<void>): void {
    this.#flushing.add(p);
    void p.finally(() => this.#flushing.delete(p));
  }

  /** Stops at once: no CONNECTION_CLOSE, sockets closed, pending operations rejected. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#closing ??= Promise.resolve();
    this.#accepted.end();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const c of [...this.#conns.values()]) this.#finalize(c);
    for (const s of this.#sockets) {
      try {
        s.socket.close();
      } catch {
        // Already closed.
      }
    }
    if (this.#keyLog) this.#track(this.#keyLog.close());
    for (const s of [...this.#qlogPending.values(), ...this.#qlogOf.values()]) this.#track(s.close());
    this.#qlogPending.clear();
    this.#qlogOf.clear();
  }

  // ------------------------------------------------------------------ sockets

  #attach(s: BoundSocket): void {
    this.#sockets.push(s);
    const socket = s.socket;
    socket.on('error', this.#onSocketError);
    socket.on('message', (msg: Buffer, rinfo: DatagramRemoteInfo) => {
      const st = this.#stats;
      st.datagramsReceived++;
      st.bytesReceived += msg.length;
      let path = s.lastPath;
      if (path.remote.port !== rinfo.port || path.remote.address !== rinfo.address) {
        path = { local: s.local, remote: { address: rinfo.address, port: rinfo.port } };
        s.lastPath = path;
      }
      const now = monotonicNow();
      this.#coreNow = now;
      try {
        this.#core.handleDatagram(now, path, msg, 0);
      } catch (e) {
        this.#coreError(e);
      }
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#pump);
      }
    });
  }

  #onSocketError = (e: unknown): void => {
    this.#stats.socketErrors++;
    if (errorChannel.hasSubscribers) errorChannel.publish({ endpoint: this, error: e });
  };

  #onSent = (err: Error | null): void => {
    if (err) {
      this.#stats.sendErrors++;
      if (errorChannel.hasSubscribers) errorChannel.publish({ endpoint: this, error: err });
    }
  };

  #socketFor(a: AddressInput): BoundSocket {
    const addr = toSocketAddress(a);
    for (const s of this.#sockets) {
      if (s.local.port === addr.port && s.local.address === addr.address) return s;
    }
    throw new QuicInvalidArgumentError(`${addr.address}:${addr.port} is not a socket of this endpoint`);
  }

  async #socketForFamily(family: 4 | 6): Promise<BoundSocket> {
    for (const s of this.#sockets) if (addressFamily(s.local) === family) return s;
    await this.addSocket(family === 4 ? '0.0.0.0:0' : '[::]:0');
    return this.#sockets[this.#sockets.length - 1]!;
  }

  // ------------------------------------------------------------------ the pump

  #schedule = (): void => {
    if (this.#scheduled || this.#inPump || this.#destroyed) return;
    this.#scheduled = true;
    setImmediate(this.#pump);
  };

  #pump = (): void => {
    this.#scheduled = false;
    if (this.#destroyed) return;
    this.#inPump = true;
    this.#stats.pumps++;
    const core = this.#core;
    try {
      let now = monotonicNow();
      if (core.pollTimeout() <= now) core.handleTimeout(now);
      for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent())
        this.#onNewConnection(e.connection);
      // Events first: applications react (read, write) before we build packets. Only
      // connections the core touched since the last pump can have new events.
      this.#drainActive();
      now = monotonicNow();
      if (this.#flush(now) > 0) this.#idleSpins = 0;
      this.#drainActive();
    } catch (e) {
      this.#coreError(e);
    } finally {
      this.#inPump = false;
    }
    this.#arm();
  };

  /** Delivers the events of the connections the core touched; finalizes closed ones. */
  #drainActive(): void {
    for (const k of this.#core.takeActive()) {
      const c = this.#conns.get(k);
      if (c === undefined) continue;
      if (c._drain() && c.role === 'server') {
        if (this.#closing) void c.close(0, 'endpoint closing');
        else this.#accepted.push(c);
      }
      if (k.isClosed) this.#finalize(c);
    }
  }

  /** Sends everything the core has ready; returns the number of datagrams. */
  #flush(now: Instant): number {
    let n = 0;
    let k = 0;
    const core = this.#core;
    const socks = this.#sockets;
    const single = socks.length === 1 ? socks[0]! : undefined;
    const st = this.#stats;
    const out = this.#out;
    const outSockets = this.#outSockets;
    // Time passes while we send (the pacer refills): a fresh `now` for every datagram. At most
    // MAX_BURST datagrams per pump, so received ACKs are processed between bursts. Header
    // protection is applied for HP_BATCH datagrams at a time, before any of them is sent.
    for (
      let t = core.pollTransmit(now, true);
      t !== undefined;
      t = n < MAX_BURST ? core.pollTransmit(monotonicNow(), true) : undefined
    ) {
      const local = t.path.local;
      let s: BoundSocket | undefined;
      if (single !== undefined) {
        if (single.local.port === local.port && single.local.address === local.address) s = single;
      } else {
        for (let i = 0; i < socks.length; i++) {
          const x = socks[i]!;
          if (x.local.port === local.port && x.local.address === local.address) {
            s = x;
            break;
          }
        }
      }
      if (s === undefined) {
        st.noSocket++;
        st.sendErrors++;
        continue;
      }
      n++;
      out[k] = t;
      outSockets[k] = s;
      if (++k === HP_BATCH) {
        this.#send(k);
        k = 0;
      }
    }
    this.#send(k);
    this.#more = n >= MAX_BURST;
    return n;
  }

  /** Datagrams polled by #flush, waiting for their header protection. */
  readonly #out: (Transmit | undefined)[] = [];
  readonly #outSockets: (BoundSocket | undefined)[] = [];

  /** Applies the owed header protection, then sends the first `k` datagrams of #out. */
  #send(k: number): void {
    this.#core.applyHeaderProtection();
    const st = this.#stats;
    for (let i = 0; i < k; i++) {
      const t = this.#out[i]!;
      const s = this.#outSockets[i]!;
      this.#out[i] = undefined;
      this.#outSockets[i] = undefined;
      st.datagramsSent++;
      st.bytesSent += t.data.length;
      s.socket.send(t.data, t.path.remote.port, t.path.remote.address, this.#onSent);
    }
  }

  /** One timer per endpoint, re-armed to the core's next deadline. */
  #arm(): void {
    if (this.#destroyed) return;
    if (this.#more) {
      this.#schedule();
      return;
    }
    const at = this.#core.pollTimeout();
    if (at === Number.POSITIVE_INFINITY) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = at;
      return;
    }
    const delay = at - monotonicNow();
    if (delay < 1000 && this.#idleSpins < 1000) {
      // setTimeout cannot wait less than 1 ms: poll on the next loop turn instead (pacing).
      // A deadline that keeps coming back without any send falls back to the timer.
      this.#idleSpins++;
      this.#schedule();
      return;
    }
    // A timer firing early is harmless (the pump re-arms); only re-arm for earlier deadlines.
    if (this.#timer && this.#timerAt <= at + 1000 && this.#timerAt >= at - 1000) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#onTimer, Math.max(1, Math.ceil(delay / 1000)));
    if (!this.#refed || this.#conns.size === 0) this.#timer.unref();
  }

  #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#pump();
  };

  // ------------------------------------------------------------------ connections

  #onNewConnection(core: Connection): void {
    const c = this.#adopt(core);
    if (this.#closing) void c.close(0, 'endpoint closing');
  }

  #adopt(core: Connection): QuicConnection {
    const c = new QuicConnection(this.#runtime, core);
    this.#conns.set(core, c);
    if (this.#qlogDir) {
      const key = `${core.role}:${Buffer.from(core.originalDcid).toString('hex')}`;
      const sink = this.#qlogPending.get(key);
      if (sink) {
        this.#qlogPending.delete(key);
        this.#qlogOf.set(c, sink);
      }
    }
    this.#updateRef();
    return c;
  }

  #finalize(c: QuicConnection): void {
    if (!this.#conns.delete(c.core)) return;
    c._finalize();
    const sink = this.#qlogOf.get(c);
    if (sink) {
      this.#qlogOf.delete(c);
      this.#track(sink.close());
    }
    this.#updateRef();
  }

  #createQlog(info: { role: 'client' | 'server'; odcid: Uint8Array }): QlogFileSink {
    const sink = new QlogFileSink({
      dir: this.#qlogDir!,
      role: info.role,
      odcid: info.odcid,
      // Event times are relative to the `now` the core was given when it created the connection.
      start: this.#coreNow,
      referenceTime: this.#wallClock() - (monotonicNow() - this.#coreNow) / 1000,
    });
    this.#qlogPending.set(`${info.role}:${sink.odcid}`, sink);
    return sink;
  }

  /** Sockets and the timer keep the process alive only while there is something to do. */
  #updateRef(): void {
    const want = !this.#destroyed && (this.#conns.size > 0 || (this.#server && !this.#closing));
    if (want === this.#refed) return;
    this.#refed = want;
    for (const s of this.#sockets) {
      if (want) s.socket.ref();
      else s.socket.unref();
    }
    if (this.#timer) {
      if (want && this.#conns.size > 0) this.#timer.ref();
      else this.#timer.unref();
    }
  }

  #coreError(e: unknown): void {
    this.#stats.coreErrors++;
    if (errorChannel.hasSubscribers) errorChannel.publish({ endpoint: this, error: e });
  }
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.');
}

async function bindSocket(requested: SocketAddress, o: QuicEndpointOptions): Promise<BoundSocket> {
  let socket: dgram.Socket;
  try {
    socket = await bindUdpSocket(requested, {
      ...(o.ipv6Only ? { ipv6Only: true } : {}),
      ...(o.recvBufferSize !== undefined ? { recvBufferSize: o.recvBufferSize } : {}),
      ...(o.sendBufferSize !== undefined ? { sendBufferSize: o.sendBufferSize } : {}),
    });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    throw new QuicSocketError(`cannot bind ${requested.address}:${requested.port}: ${err.message}`, err);
  }
  const a = socket.address();
  const local = { address: a.address, port: a.port };
  return { socket, requested, local, lastPath: { local, remote: { address: '', port: -1 } } };
}
