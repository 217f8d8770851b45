// QuicConnection: the async face of a core Connection. The endpoint runtime drains the core's
// events into it once per pump; it turns them into promises, async iterators, web streams and
// DOM-style events (plus diagnostics_channel messages).
import diagnostics from 'node:diagnostics_channel';
import type { Path, SocketAddress } from '../common/addr.js';
import type { Instant } from '../common/time.js';
import type { Connection, PathStats } from '../connection/connection.js';
import type { CloseInfo, ConnectionEvent, PathEventReason } from '../connection/events.js';
import {
  closeInfoToError,
  closeInfoToOperationError,
  fromCoreError,
  QuicAbortError,
  type QuicError,
  QuicPathError,
} from './errors.js';
import { QuicStream, type StreamHost } from './stream.js';
import { type AddressInput, AsyncQueue, type Deferred, deferred, noop, toSocketAddress } from './util.js';

/** What a connection needs from the endpoint runtime that drives it. */
export interface ConnectionRuntime {
  now(): Instant;
  /** Pump soon (after a core command whose output or events are pending). */
  schedule(): void;
  /** The bound socket address matching `a` (throws QuicInvalidArgumentError when none). */
  localAddressOf(a: AddressInput): SocketAddress;
  /** Binds a new socket of the endpoint. */
  addSocket(a: AddressInput): Promise<SocketAddress>;
}

/** Receives the core's stream events instead of QuicStream objects (HTTP/3 and hq-interop glue). */
export interface StreamEventSink {
  onStreamEvent(e: StreamEvent): void;
  /** The connection ended; `error` is undefined for a clean close. */
  onClose(info: CloseInfo, error: QuicError | undefined): void;
}

export type StreamEvent = Extract<
  ConnectionEvent,
  {
    type:
      | 'stream-opened'
      | 'stream-readable'
      | 'stream-writable'
      | 'stream-reset'
      | 'stream-stop-sending'
      | 'stream-finished'
      | 'streams-available';
  }
>;

export interface HandshakeInfo {
  readonly alpn: string | undefined;
  /** The TLS session was resumed from a ticket. */
  readonly resumed: boolean;
}

/** Details of the connection's events (`event.detail`). Durations in milliseconds. */
export interface QuicConnectionEventMap {
  pathvalidated: { pathId: number; path: Path; rtt: number };
  pathfailed: { pathId: number; path: Path; reason: PathEventReason };
  migrated: { pathId: number; from: Path; to: Path; preferredAddress: boolean };
  peermigrated: { pathId: number; from: Path; to: Path };
  keyupdate: { phase: number; initiator: 'local' | 'remote' };
  sessionticket: { ticket: Uint8Array };
  newtoken: { token: Uint8Array };
  earlydata: { accepted: boolean };
  handshake: HandshakeInfo;
  close: { info: CloseInfo; error: QuicError | undefined };
}

export interface PathResult {
  pathId: number;
  /** Round-trip time of the PATH_CHALLENGE/PATH_RESPONSE exchange, in milliseconds. */
  rtt: number;
}

export interface ProbeOptions {
  /** Peer address to probe (default: the current one). */
  remote?: AddressInput;
  signal?: AbortSignal;
}

type Listener = Parameters<EventTarget['addEventListener']>[1];
type AddListenerOptions = Parameters<EventTarget['addEventListener']>[2];
type RemoveListenerOptions = Parameters<EventTarget['removeEventListener']>[2];

const channels = {
  created: diagnostics.channel('feather-quic:connection:created'),
  handshake: diagnostics.channel('feather-quic:connection:handshake'),
  closed: diagnostics.channel('feather-quic:connection:closed'),
  pathvalidated: diagnostics.channel('feather-quic:connection:pathvalidated'),
  pathfailed: diagnostics.channel('feather-quic:connection:pathfailed'),
  migrated: diagnostics.channel('feather-quic:connection:migrated'),
  peermigrated: diagnostics.channel('feather-quic:connection:peermigrated'),
  keyupdate: diagnostics.channel('feather-quic:connection:keyupdate'),
  sessionticket: diagnostics.channel('feather-quic:connection:sessionticket'),
  newtoken: diagnostics.channel('feather-quic:connection:newtoken'),
  earlydata: diagnostics.channel('feather-quic:connection:earlydata'),
} as const;

/** Names of the diagnostics_channel channels; each message is `{ connection, ...detail }`. */
export const diagnosticsChannels: readonly string[] = Object.values(channels).map((c) => String(c.name));

interface ProbeWaiter {
  readonly d: Deferred<PathResult>;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

export class QuicConnection extends EventTarget implements StreamHost {
  readonly role: 'client' | 'server';
  readonly #rt: ConnectionRuntime;
  readonly #core: Connection;
  readonly #streams = new Map<number, QuicStream>();
  readonly #incoming = new AsyncQueue<QuicStream>();
  readonly #datagrams = new AsyncQueue<Uint8Array>(1024);
  readonly #openWaiters: [Deferred<void>[], Deferred<void>[]] = [[], []];
  readonly #probes = new Map<number, ProbeWaiter[]>();
  readonly #opened = deferred<HandshakeInfo>();
  readonly #confirmed = deferred<void>();
  readonly #closed = deferred<CloseInfo>();
  readonly #finalized = deferred<void>();
  #sink: StreamEventSink | undefined;
  #handshakeDone = false;
  #closeInfo: CloseInfo | undefined;
  #error: QuicError | undefined;
  #opError: QuicError | undefined;
  /**
   * The application's "no error" code: a peer close with it counts as clean (`closed` resolves).
   * 0 by default; the HTTP/3 glue sets H3_NO_ERROR (0x100).
   */
  applicationNoError = 0;
  #sessionTicket: Uint8Array | undefined;
  #newToken: Uint8Array | undefined;
  #earlyData: boolean | undefined;
  #resumed = false;

  /** @internal Created by QuicEndpoint. */
  constructor(rt: ConnectionRuntime, core: Connection) {
    super();
    this.#rt = rt;
    this.#core = core;
    this.role = core.role;
    this.#opened.promise.catch(noop);
    this.#confirmed.promise.catch(noop);
    this.#closed.promise.catch(noop);
    if (channels.created.hasSubscribers) channels.created.publish({ connection: this });
  }

  /** The sans-IO core connection (advanced use; commands on it must be followed by a pump). */
  get core(): Connection {
    return this.#core;
  }

  get alpn(): string | undefined {
    return this.#core.alpn;
  }

  /** Our address on the active path (changes when we migrate). */
  get localAddress(): SocketAddress {
    return this.#core.activePath.local;
  }

  /** The peer's address on the active path (changes on migration and NAT rebinding). */
  get remoteAddress(): SocketAddress {
    return this.#core.activePath.remote;
  }

  get state(): Connection['state'] {
    return this.#core.state;
  }

  /** Resolves when the handshake completes (client: TLS done; server: handshake confirmed). */
  get opened(): Promise<HandshakeInfo> {
    return this.#opened.promise;
  }

  /**
   * Resolves when the handshake is confirmed (RFC 9001 §4.1.2: the client received
   * HANDSHAKE_DONE). Migration is only possible from then on (RFC 9000 §9).
   */
  get confirmed(): Promise<void> {
    return this.#confirmed.promise;
  }

  get handshakeComplete(): boolean {
    return this.#handshakeDone;
  }

  /** Whether the session was resumed from a ticket (known after the handshake). */
  get resumed(): boolean {
    return this.#resumed;
  }

  /** Whether the server accepted our 0-RTT data (undefined until known or when not attempted). */
  get earlyDataAccepted(): boolean | undefined {
    return this.#earlyData;
  }

  /**
   * Resolves with the CloseInfo when the connection ends cleanly: we closed it (with any
   * application code) or the peer closed it with code 0. Rejects otherwise with a QuicError:
   * QuicApplicationError (peer's code ≠ 0), QuicTransportError / QuicHandshakeFailedError,
   * QuicIdleTimeoutError or QuicStatelessResetError.
   */
  get closed(): Promise<CloseInfo> {
    return this.#closed.promise;
  }

  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  /** The error `closed` rejected with (undefined while open or after a clean close). */
  get closeError(): QuicError | undefined {
    return this.#error;
  }

  /** Latest session ticket (pass it as `session` to resume; also the 'sessionticket' event). */
  get sessionTicket(): Uint8Array | undefined {
    return this.#sessionTicket;
  }

  /** Latest NEW_TOKEN token (pass it as `token` on the next connection to this server). */
  get newToken(): Uint8Array | undefined {
    return this.#newToken;
  }

  get maxDatagramSize(): number {
    return this.#core.maxDatagramSize;
  }

  // ------------------------------------------------------------------ streams

  /** Opens a stream, waiting for stream credit from the peer when its limit is reached. */
  async openStream(options: { bidirectional?: boolean; signal?: AbortSignal } = {}): Promise<QuicStream> {
    const bidi = options.bidirectional ?? true;
    const signal = options.signal;
    for (;;) {
      this.#checkOpen();
      signal?.throwIfAborted();
      let id: number | undefined;
      try {
        id = this.#core.openStream(bidi);
      } catch (e) {
        throw fromCoreError(e);
      }
      this.#rt.schedule();
      if (id !== undefined) {
        const s = new QuicStream(this, id, true);
        this.#streams.set(id, s);
        return s;
      }
      const d = deferred<void>();
      const list = this.#openWaiters[bidi ? 0 : 1];
      list.push(d);
      const onAbort = (): void => {
        const i = list.indexOf(d);
        if (i >= 0) list.splice(i, 1);
        d.reject(new QuicAbortError(signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await d.promise;
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    }
  }

  /** Streams opened by the peer, in order (`for await (const s of conn.incomingStreams)`). */
  get incomingStreams(): AsyncIterable<QuicStream> {
    return this.#incoming;
  }

  /** The next stream opened by the peer; undefined once the connection closed cleanly. */
  acceptStream(): Promise<QuicStream | undefined> {
    return this.#incoming.shift();
  }

  // ------------------------------------------------------------------ datagrams (RFC 9221)

  /** Queues an unreliable datagram; false when unsupported by the peer or too large. */
  sendDatagram(data: Uint8Array): boolean {
    this.#checkOpen();
    let ok: boolean;
    try {
      ok = this.#core.sendDatagram(new Uint8Array(data));
    } catch (e) {
      throw fromCoreError(e);
    }
    if (ok) this.#rt.schedule();
    return ok;
  }

  /** Received datagrams (the 1024 most recent are kept when not consumed). */
  get datagrams(): AsyncIterable<Uint8Array> {
    return this.#datagrams;
  }

  // ------------------------------------------------------------------ control

  /**
   * Closes the connection with an application error code (CONNECTION_CLOSE type 0x1d).
   * Resolves once the connection has ended (whatever the outcome).
   */
  async close(code = 0, reason = ''): Promise<void> {
    if (!this.#closeInfo) {
      try {
        this.#core.close(this.#rt.now(), code, reason);
      } catch {
        // Already closing.
      }
      this.#rt.schedule();
    }
    await this.#closed.promise.catch(noop);
  }

  /** Connection statistics of the core (durations in microseconds, sizes in octets). */
  stats(): ReturnType<Connection['stats']> {
    return this.#core.stats();
  }

  paths(): PathStats[] {
    return this.#core.paths();
  }

  /** Starts a 1-RTT key update (RFC 9001 §6); false when not permitted yet. */
  updateKey(): boolean {
    this.#checkOpen();
    let ok: boolean;
    try {
      ok = this.#core.initiateKeyUpdate(this.#rt.now());
    } catch (e) {
      throw fromCoreError(e);
    }
    this.#rt.schedule();
    return ok;
  }

  /** Sends a PING. */
  ping(): void {
    this.#checkOpen();
    this.#core.ping();
    this.#rt.schedule();
  }

  // ------------------------------------------------------------------ migration (RFC 9000 §9)

  /**
   * Validates a path from `local` (an address of one of the endpoint's sockets) to the peer.
   * Resolves with the path's ID and RTT; rejects with QuicPathError when validation fails
   * (no PATH_RESPONSE within 3×PTO), QuicMigrationError when the core refuses, QuicAbortError
   * on `signal`. The active path keeps carrying data meanwhile.
   */
  async probePath(local: AddressInput, options: ProbeOptions = {}): Promise<PathResult> {
    await this.#untilConfirmed(options.signal);
    return this.#probe(local, options, false);
  }

  /**
   * Probes a path and makes it the active one as soon as it is validated. Called before the
   * handshake is confirmed, it waits for that first (migration needs it, RFC 9000 §9).
   */
  async migrate(local?: AddressInput, options: ProbeOptions = {}): Promise<PathResult> {
    await this.#untilConfirmed(options.signal);
    const addr = local ?? (await this.#rt.addSocket({ address: this.localAddress.address, port: 0 }));
    return this.#probe(addr, options, true);
  }

  async #untilConfirmed(signal: AbortSignal | undefined): Promise<void> {
    if (this.#core.handshakeConfirmed || this.#closeInfo) return;
    if (!signal) return this.#confirmed.promise;
    if (signal.aborted) throw new QuicAbortError(signal.reason);
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(new QuicAbortError(signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
      this.#confirmed.promise
        .then(resolve, reject)
        .finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Makes a validated path the active one. */
  switchPath(pathId: number): void {
    this.#checkOpen();
    try {
      this.#core.switchPath(this.#rt.now(), pathId);
    } catch (e) {
      throw fromCoreError(e);
    }
    this.#rt.schedule();
  }

  /** Forgets a non-active path (pending probes on it reject). */
  abandonPath(pathId: number): void {
    try {
      this.#core.abandonPath(this.#rt.now(), pathId);
    } catch (e) {
      throw fromCoreError(e);
    }
    this.#rt.schedule();
  }

  #probe(local: AddressInput, options: ProbeOptions, switchOnValidation: boolean): Promise<PathResult> {
    try {
      this.#checkOpen();
      options.signal?.throwIfAborted();
    } catch (e) {
      return Promise.reject(
        e instanceof Error && e.name === 'AbortError' ? new QuicAbortError(options.signal?.reason) : e,
      );
    }
    let pathId: number;
    try {
      const l = this.#rt.localAddressOf(local);
      const r = options.remote !== undefined ? toSocketAddress(options.remote) : this.remoteAddress;
      pathId = this.#core.probePath(this.#rt.now(), l, r, switchOnValidation);
    } catch (e) {
      return Promise.reject(fromCoreError(e));
    }
    this.#rt.schedule();
    const d = deferred<PathResult>();
    const signal = options.signal;
    const onAbort = signal
      ? (): void => {
          this.#removeProbe(pathId, w);
          try {
            this.#core.abandonPath(this.#rt.now(), pathId);
          } catch {
            // The path became active meanwhile, or is gone.
          }
          this.#rt.schedule();
          d.reject(new QuicAbortError(signal.reason));
        }
      : undefined;
    const w: ProbeWaiter = { d, signal, onAbort };
    if (signal && onAbort) signal.addEventListener('abort', onAbort, { once: true });
    let list = this.#probes.get(pathId);
    if (!list) this.#probes.set(pathId, (list = []));
    list.push(w);
    return d.promise;
  }

  #removeProbe(pathId: number, w: ProbeWaiter): void {
    const list = this.#probes.get(pathId);
    if (!list) return;
    const i = list.indexOf(w);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#probes.delete(pathId);
  }

  #settleProbes(pathId: number, result: PathResult | QuicError): void {
    const list = this.#probes.get(pathId);
    if (!list) return;
    this.#probes.delete(pathId);
    for (const w of list) {
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      if (result instanceof Error) w.d.reject(result);
      else w.d.resolve(result);
    }
  }

  // ------------------------------------------------------------------ typed events

  override addEventListener<K extends keyof QuicConnectionEventMap>(
    type: K,
    listener:
      | ((ev: CustomEvent<QuicConnectionEventMap[K]>) => void)
      | { handleEvent(ev: CustomEvent<QuicConnectionEventMap[K]>): void }
      | null,
    options?: AddListenerOptions,
  ): void;
  override addEventListener(type: string, listener: Listener, options?: AddListenerOptions): void;
  override addEventListener(type: string, listener: unknown, options?: AddListenerOptions): void {
    super.addEventListener(type, listener as Listener, options);
  }

  override removeEventListener<K extends keyof QuicConnectionEventMap>(
    type: K,
    listener:
      | ((ev: CustomEvent<QuicConnectionEventMap[K]>) => void)
      | { handleEvent(ev: CustomEvent<QuicConnectionEventMap[K]>): void }
      | null,
    options?: RemoveListenerOptions,
  ): void;
  override removeEventListener(type: string, listener: Listener, options?: RemoveListenerOptions): void;
  override removeEventListener(type: string, listener: unknown, options?: RemoveListenerOptions): void {
    super.removeEventListener(type, listener as Listener, options);
  }

  #emit<K extends keyof QuicConnectionEventMap>(type: K, detail: QuicConnectionEventMap[K]): void {
    const ch = (channels as Record<string, diagnostics.Channel | undefined>)[type];
    if (ch?.hasSubscribers) ch.publish({ connection: this, ...detail });
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ------------------------------------------------------------------ runtime side

  /** @internal Routes stream events to `sink` from now on; streams not yet accepted are handed over. */
  _takeStreams(sink: StreamEventSink): void {
    this.#sink = sink;
    for (const s of this.#incoming.takeAll()) {
      this.#streams.delete(s.id);
      sink.onStreamEvent({ type: 'stream-opened', id: s.id });
      sink.onStreamEvent({ type: 'stream-readable', id: s.id });
    }
    if (this.#closeInfo) sink.onClose(this.#closeInfo, this.#error);
  }

  /** @internal StreamHost */
  forgetStream(id: number): void {
    this.#streams.delete(id);
  }

  /** @internal Resolves when the core connection is fully closed and forgotten. */
  get _finalized(): Promise<void> {
    return this.#finalized.promise;
  }

  /** @internal The endpoint dropped the core connection (closed and drained). */
  _finalize(): void {
    if (!this.#closeInfo) {
      this._onClosed({
        source: 'internal',
        application: false,
        code: 0,
        frameType: 0,
        reason: 'connection discarded',
      });
    }
    this.#finalized.resolve();
  }

  /** @internal Drains the core's events. Returns true once the handshake completed in this call. */
  _drain(): boolean {
    let handshake = false;
    const core = this.#core;
    for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent()) {
      switch (e.type) {
        case 'stream-opened':
        case 'stream-readable':
        case 'stream-writable':
        case 'stream-reset':
        case 'stream-stop-sending':
        case 'stream-finished':
        case 'streams-available':
          if (this.#sink) this.#sink.onStreamEvent(e);
          else this.#onStreamEvent(e);
          if (e.type === 'streams-available') this.#wakeOpeners(e.bidi ? 0 : 1);
          break;
        case 'datagram':
          this.#datagrams.push(e.data);
          break;
        case 'handshake-complete':
          if (!this.#handshakeDone) {
            this.#handshakeDone = true;
            this.#resumed = e.resumed;
            handshake = true;
            const info: HandshakeInfo = { alpn: e.alpn, resumed: e.resumed };
            this.#opened.resolve(info);
            this.#emit('handshake', info);
            // Stream limits are known now: retry opens that waited.
            this.#wakeOpeners(0);
            this.#wakeOpeners(1);
          }
          break;
        case 'handshake-confirmed':
          this.#confirmed.resolve();
          break;
        case 'early-data':
          this.#earlyData = e.accepted;
          this.#emit('earlydata', { accepted: e.accepted });
          break;
        case 'session-ticket':
          this.#sessionTicket = e.ticket;
          this.#emit('sessionticket', { ticket: e.ticket });
          break;
        case 'new-token':
          this.#newToken = e.token;
          this.#emit('newtoken', { token: e.token });
          break;
        case 'path-validated': {
          const detail = { pathId: e.pathId, path: e.path, rtt: e.rtt / 1000 };
          this.#settleProbes(e.pathId, { pathId: e.pathId, rtt: detail.rtt });
          this.#emit('pathvalidated', detail);
          break;
        }
        case 'path-failed':
          this.#settleProbes(e.pathId, new QuicPathError(e.pathId, e.path, e.reason));
          this.#emit('pathfailed', { pathId: e.pathId, path: e.path, reason: e.reason });
          break;
        case 'migrated':
          this.#emit('migrated', {
            pathId: e.pathId,
            from: e.from,
            to: e.to,
            preferredAddress: e.preferredAddress,
          });
          break;
        case 'peer-migrated':
          this.#emit('peermigrated', { pathId: e.pathId, from: e.from, to: e.to });
          break;
        case 'key-update':
          this.#emit('keyupdate', { phase: e.phase, initiator: e.initiator });
          break;
        case 'closed':
          this._onClosed(e.info);
          break;
      }
    }
    return handshake;
  }

  #onStreamEvent(e: StreamEvent): void {
    switch (e.type) {
      case 'stream-opened': {
        if (this.#streams.has(e.id)) return;
        const s = new QuicStream(this, e.id, false);
        this.#streams.set(e.id, s);
        this.#incoming.push(s);
        return;
      }
      case 'stream-readable':
        this.#streams.get(e.id)?._onReadable();
        return;
      case 'stream-writable':
        this.#streams.get(e.id)?._onWritable();
        return;
      case 'stream-reset':
        this.#streams.get(e.id)?._onReset(e.errorCode);
        return;
      case 'stream-stop-sending':
        this.#streams.get(e.id)?._onStopSending(e.errorCode);
        return;
      case 'stream-finished':
        this.#streams.get(e.id)?._onFinished();
        return;
      case 'streams-available':
        return;
    }
  }

  #wakeOpeners(dir: 0 | 1): void {
    const list = this.#openWaiters[dir];
    if (list.length === 0) return;
    this.#openWaiters[dir] = [];
    for (const d of list) d.resolve();
  }

  /** @internal */
  _onClosed(info: CloseInfo): void {
    if (this.#closeInfo) return;
    this.#closeInfo = info;
    const error = closeInfoToError(info, this.applicationNoError);
    this.#error = error;
    const opError = closeInfoToOperationError(info, this.applicationNoError);
    this.#opError = opError;
    if (error) this.#closed.reject(error);
    else this.#closed.resolve(info);
    if (!this.#handshakeDone) this.#opened.reject(opError);
    if (!this.#core.handshakeConfirmed) this.#confirmed.reject(opError);
    for (const s of [...this.#streams.values()]) s._onConnectionClosed(opError);
    this.#streams.clear();
    this.#sink?.onClose(info, error);
    if (error) this.#incoming.end(error);
    else this.#incoming.end();
    this.#datagrams.end();
    for (const list of this.#openWaiters) for (const d of list.splice(0)) d.reject(opError);
    for (const id of [...this.#probes.keys()]) this.#settleProbes(id, opError);
    this.#emit('close', { info, error });
    if (channels.closed.hasSubscribers) channels.closed.publish({ connection: this, info, error });
  }

  #checkOpen(): void {
    if (this.#closeInfo) throw this.#opError ?? closeInfoToOperationError(this.#closeInfo);
  }
}
