// The sans-IO endpoint: one or more local addresses, many connections. Routes datagrams by
// destination connection ID (and by 4-tuple for zero-length CIDs), accepts new server
// connections, and answers statelessly: Version Negotiation, Retry, stateless reset
// (RFC 9000 §5.2, §6, §8.1, §10.3). Same driving contract as Connection: handle* then poll*.
import { addressKey, type Path, type SocketAddress } from '../common/addr.js';
import { TransportError, TransportErrorCode } from '../common/errors.js';
import type { QlogSink } from '../common/qlog.js';
import { cryptoRandom, type Random, randomBytes } from '../common/random.js';
import { type Duration, type Instant, NEVER } from '../common/time.js';
import type { Ecn, Transmit } from '../common/transmit.js';
import { resolveTransportConfig, type TransportConfig } from '../connection/config.js';
import { Connection, type ConnectionOptions } from '../connection/connection.js';
import { decodeSessionTicket } from '../connection/session-ticket.js';
import { AEAD_TAG_LENGTH } from '../protection/aead.js';
import { HeaderProtectionBatch } from '../protection/header-protection.js';
import { deriveInitialKeys } from '../protection/initial.js';
import { protectPacket } from '../protection/packet.js';
import { encodeRetryPacket } from '../protection/retry.js';
import type { CipherSuite } from '../tls/constants.js';
import { AntiReplay, createClientSession, createServerSession, type GroupName } from '../tls/index.js';
import { encodeFrame } from '../wire/frames.js';
import { type LongHeader, parseHeader, patchLength, writeLongHeader } from '../wire/header.js';
import { encodeStatelessReset, statelessResetLengthFor } from '../wire/stateless-reset.js';
import { decodeTransportParameters } from '../wire/transport-params.js';
import { encodeVersionNegotiation } from '../wire/version-negotiation.js';
import { QUIC_V1, QUIC_V2 } from '../wire/versions.js';
import { BufferWriter } from '../wire/writer.js';
import { type ConnectionIdGenerator, RandomConnectionIdGenerator } from './cid-generator.js';
import { TokenBucket } from './rate-limit.js';
import { StatelessResetTokens } from './reset-tokens.js';
import { AddressTokens } from './tokens.js';

/** Minimum size of a datagram carrying a client Initial (RFC 9000 §14.1). */
const MIN_INITIAL_SIZE = 1200;

export interface ServerTlsOptions {
  /** PEM chain, leaf first. */
  certificateChain: string;
  privateKey: string | import('node:crypto').KeyObject;
  /** ALPN protocols we serve, in preference order. */
  alpnProtocols: readonly string[];
  cipherSuites?: readonly CipherSuite[];
  groups?: readonly GroupName[];
  /** Ask clients for a certificate (verified against clientCa). */
  requestClientCertificate?: boolean;
  requireClientCertificate?: boolean;
  clientCa?: string | readonly string[];
}

export interface ServerOptions {
  tls: ServerTlsOptions;
  /** 'always': every new client must first echo a Retry token (RFC 9000 §8.1.2). */
  retry?: 'always' | 'never';
  /** Accept 0-RTT from resumed clients (RFC 9001 §4.6). Default true. */
  earlyData?: boolean;
  /** Issue session tickets. Default true. */
  sessionTickets?: boolean;
  /** Send NEW_TOKEN after the handshake (RFC 9000 §8.1.3). Default true. */
  newTokens?: boolean;
  /** Concurrent connections; beyond it new clients get CONNECTION_REFUSED. Default 10 000. */
  maxConnections?: number;
  /** Addresses advertised in preferred_address (must be local addresses of this endpoint). */
  preferredAddress?: { ipv4?: SocketAddress; ipv6?: SocketAddress };
  /** Version we prefer when the client offers it (compatible negotiation, RFC 9368). */
  transport?: Partial<TransportConfig>;
}

export interface ConnectOptions {
  /** Our address to send from (the Node runtime passes the socket's bound address). */
  local: SocketAddress;
  remote: SocketAddress;
  /** SNI and certificate name; defaults to the remote address. */
  serverName?: string;
  alpn: readonly string[];
  /** Trust anchors (PEM). Default: Node's root store. */
  ca?: string | readonly string[];
  /** Skip certificate verification (tests, --insecure). */
  insecure?: boolean;
  /** Blob from a 'session-ticket' event of an earlier connection. */
  session?: Uint8Array;
  /** Attempt 0-RTT with `session`. */
  earlyData?: boolean;
  /** Token from a 'new-token' event of an earlier connection to this server. */
  token?: Uint8Array;
  version?: number;
  transport?: Partial<TransportConfig>;
  cipherSuites?: readonly CipherSuite[];
  groups?: readonly GroupName[];
  keyShareGroups?: readonly GroupName[];
  certificateChain?: string;
  privateKey?: string | import('node:crypto').KeyObject;
}

export interface EndpointOptions {
  random?: Random;
  /** Wall clock in unix milliseconds (certificate validity, tickets, tokens). */
  wallClock: () => number;
  cidGenerator?: ConnectionIdGenerator;
  /** Key of stateless reset tokens (≥ 16 octets); share it across processes of one service. */
  statelessResetKey?: Uint8Array;
  /** Key of address-validation tokens (16 octets). */
  tokenKey?: Uint8Array;
  /** Key of session tickets (32 octets). */
  ticketKey?: Uint8Array;
  supportedVersions?: readonly number[];
  /**
   * Server: move clients that also support it to this version without a round trip
   * (compatible version negotiation, RFC 9368 §2.3), e.g. QUIC v2 for clients starting in v1.
   */
  preferredVersion?: number;
  transport?: Partial<TransportConfig>;
  server?: ServerOptions;
  /** Stateless packets (VN, Retry, reset, refusal) per second. */
  statelessRate?: number;
  keyLog?: (line: string) => void;
  qlog?: (info: { role: 'client' | 'server'; odcid: Uint8Array }) => QlogSink | undefined;
}

export type EndpointEvent = { type: 'connection'; connection: Connection };

/** RFC 9000 §5.2.2: 0-RTT datagrams buffered while their Initial is late, bounded every way. */
const EARLY_MAX_CIDS = 64;
const EARLY_MAX_PER_CID = 8;
const EARLY_MAX_BYTES = 256 * 1024;
const EARLY_TTL: Duration = 200_000;

interface EarlyDatagrams {
  readonly expires: Instant;
  readonly datagrams: { path: Path; data: Uint8Array; ecn: Ecn }[];
}

const latin1 = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

export class Endpoint {
  readonly #random: Random;
  readonly #wallClock: () => number;
  readonly #cidGenerator: ConnectionIdGenerator;
  readonly #resetTokens: StatelessResetTokens;
  readonly #addressTokens: AddressTokens;
  readonly #ticketKey: Uint8Array;
  readonly #antiReplay: AntiReplay;
  readonly #versions: readonly number[];
  readonly #options: EndpointOptions;
  readonly #statelessLimiter: TokenBucket;

  /** DCID → connection (our CIDs and, for servers, the client's original DCIDs). */
  readonly #byCid = new Map<string, Connection>();
  /** Path key → connection, for connections whose local CIDs are zero-length. */
  readonly #byPath = new Map<string, Connection>();
  readonly #cidsOf = new Map<Connection, Set<string>>();
  readonly #connections = new Set<Connection>();
  /** Connections that may have something to send. */
  readonly #dirty = new Set<Connection>();
  readonly #stateless: Transmit[] = [];
  /** Cached pollTimeout() of each connection; `#stale` ones are recomputed on demand. */
  readonly #deadlines = new Map<Connection, Instant>();
  readonly #stale = new Set<Connection>();
  /** Connections touched since the driver last asked (they may have application events). */
  #active = new Set<Connection>();
  readonly #events: EndpointEvent[] = [];
  #dirtyIter: Iterator<Connection> | undefined;
  /** Original DCID → 0-RTT datagrams that came before their Initial (insertion = expiry order). */
  readonly #early = new Map<string, EarlyDatagrams>();
  #earlyBytes = 0;

  readonly stats = {
    datagramsReceived: 0,
    datagramsDropped: 0,
    versionNegotiationSent: 0,
    retrySent: 0,
    statelessResetSent: 0,
    refused: 0,
    accepted: 0,
    /** 0-RTT datagrams kept until their late Initial arrived, and those later delivered. */
    zeroRttBuffered: 0,
    zeroRttReplayed: 0,
  };

  constructor(options: EndpointOptions) {
    this.#options = options;
    this.#random = options.random ?? cryptoRandom;
    this.#wallClock = options.wallClock;
    this.#cidGenerator = options.cidGenerator ?? new RandomConnectionIdGenerator(8, this.#random);
    this.#resetTokens = new StatelessResetTokens(options.statelessResetKey ?? randomBytes(this.#random, 32));
    this.#addressTokens = new AddressTokens(options.tokenKey ?? randomBytes(this.#random, 16), {
      random: this.#random,
    });
    this.#ticketKey = options.ticketKey ?? randomBytes(this.#random, 32);
    this.#antiReplay = new AntiReplay({ startTime: this.#wallClock() });
    this.#versions = options.supportedVersions ?? [QUIC_V1, QUIC_V2];
    this.#statelessLimiter = new TokenBucket(
      options.statelessRate ?? 1000,
      Math.max(10, (options.statelessRate ?? 1000) / 10),
    );
  }

  get connections(): ReadonlySet<Connection> {
    return this.#connections;
  }

  /** Length of our connection IDs (how short headers are parsed). */
  get cidLength(): number {
    return this.#cidGenerator.length;
  }

  pollEvent(): EndpointEvent | undefined {
    return this.#events.shift();
  }

  /** Set by the driver (Node runtime, simulator host): called when new work appeared outside handle*(). */
  onWake: (() => void) | undefined;

  /** Tells the endpoint a connection has work after an application command. */
  wake(conn: Connection): void {
    if (!this.#connections.has(conn)) return;
    this.#dirty.add(conn);
    this.#touch(conn);
    this.onWake?.();
  }

  /**
   * Connections that had input, timers, output or application commands since the last call:
   * the only ones that can have new events (drivers poll these instead of every connection).
   */
  takeActive(): ReadonlySet<Connection> {
    const a = this.#active;
    this.#active = new Set();
    return a;
  }

  #touch(conn: Connection): void {
    this.#stale.add(conn);
    this.#active.add(conn);
  }

  /** Whether `remote` is validated on `local` for every connection using that path (simulator checks). */
  isPathValidated(local: SocketAddress, remote: SocketAddress): boolean {
    let seen = false;
    for (const c of this.#connections) {
      const path = { local, remote };
      if (
        c
          .paths()
          .some(
            (p) =>
              p.local.port === local.port &&
              p.local.address === local.address &&
              p.remote.port === remote.port &&
              p.remote.address === remote.address,
          )
      ) {
        seen = true;
        if (!c.isPathValidated(path)) return false;
      }
    }
    return seen;
  }

  // ---------------------------------------------------------------------------------------
  // Client
  // ---------------------------------------------------------------------------------------

  connect(now: Instant, o: ConnectOptions): Connection {
    const transport = resolveTransportConfig({ ...this.#options.transport, ...o.transport });
    const version = o.version ?? this.#versions[0] ?? QUIC_V1;
    const dcid = randomBytes(this.#random, 8);
    let resumption: ReturnType<typeof decodeSessionTicket> | undefined;
    if (o.session) {
      try {
        resumption = decodeSessionTicket(o.session);
      } catch {
        resumption = undefined;
      }
    }
    const serverName = o.serverName ?? o.remote.address;
    const keyLog = this.#options.keyLog;
    const options: ConnectionOptions = {
      role: 'client',
      version,
      supportedVersions: this.#versions,
      now,
      path: { local: o.local, remote: o.remote },
      transport,
      random: this.#random,
      cidGenerator: this.#cidGenerator,
      resetTokenFor: (cid) => this.#resetTokens.tokenFor(cid),
      initialDcid: dcid,
      ...(o.token ? { token: o.token } : {}),
      ...(resumption?.parameters && o.earlyData ? { rememberedParameters: resumption.parameters } : {}),
      qlog: this.#options.qlog?.({ role: 'client', odcid: dcid }),
      createTls: (tp) =>
        createClientSession({
          serverName,
          alpnProtocols: o.alpn,
          transportParameters: tp as Uint8Array,
          random: this.#random,
          clock: this.#wallClock,
          ...(o.ca !== undefined ? { ca: o.ca } : {}),
          verifyPeer: !o.insecure,
          ...(resumption ? { session: resumption.ticket } : {}),
          earlyData: !!o.earlyData && !!resumption,
          ...(o.cipherSuites ? { cipherSuites: o.cipherSuites } : {}),
          ...(o.groups ? { groups: o.groups } : {}),
          ...(o.keyShareGroups ? { keyShareGroups: o.keyShareGroups } : {}),
          ...(o.certificateChain ? { certificateChain: o.certificateChain } : {}),
          ...(o.privateKey ? { privateKey: o.privateKey } : {}),
          ...(keyLog ? { keyLog } : {}),
        }),
    };
    let conn: Connection | undefined;
    options.onWake = () => {
      if (conn) this.wake(conn);
    };
    conn = new Connection(options);
    this.#register(conn, dcid);
    if (conn.initialScid.length === 0) this.#byPath.set(pathKeyOf(o.local, o.remote), conn);
    this.#dirty.add(conn);
    return conn;
  }

  // ---------------------------------------------------------------------------------------
  // Input
  // ---------------------------------------------------------------------------------------

  handleDatagram(now: Instant, path: Path, data: Uint8Array, ecn: Ecn = 0): void {
    this.stats.datagramsReceived++;
    if (data.length === 0) return;
    const cidLen = this.#cidGenerator.length;
    let hdr: ReturnType<typeof parseHeader>;
    try {
      hdr = parseHeader(data, 0, cidLen, true);
    } catch {
      this.stats.datagramsDropped++;
      return;
    }
    // RFC 9000 §5.2: match by DCID, then by 4-tuple for zero-length CIDs.
    let conn = this.#connectionOf(hdr.dcid);
    if (!conn && hdr.dcid.length === 0) conn = this.#byPath.get(pathKeyOf(path.local, path.remote));
    if (conn) {
      conn.handleDatagram(now, path, data, ecn, hdr);
      this.#afterInput(conn);
      return;
    }
    if (hdr.form === 'short') {
      this.#onUnknownShortHeader(now, path, data);
      return;
    }
    if (hdr.form === 'version-negotiation') {
      this.stats.datagramsDropped++;
      return;
    }
    this.#onUnknownLongHeader(now, path, data, ecn, hdr);
  }

  /** #byCid lookup; the last match is remembered (a bulk transfer repeats one DCID). */
  #connectionOf(dcid: Uint8Array): Connection | undefined {
    const last = this.#lastCid;
    if (last !== undefined && equal(dcid, last)) return this.#lastConn;
    const conn = this.#byCid.get(latin1(dcid));
    if (conn !== undefined) {
      this.#lastCid = dcid.slice();
      this.#lastConn = conn;
    }
    return conn;
  }

  #lastCid: Uint8Array | undefined = undefined;
  #lastConn: Connection | undefined = undefined;

  #onUnknownShortHeader(now: Instant, path: Path, data: Uint8Array): void {
    // RFC 9000 §10.3.1: a stateless reset for one of our connections looks like this.
    if (data.length >= 21) {
      for (const c of this.#connections) {
        if (c.role === 'client' && c.handleStatelessResetCandidate(now, path, data)) {
          this.#afterInput(c);
          return;
        }
      }
    }
    this.stats.datagramsDropped++;
    if (!this.#options.server || this.#cidGenerator.length === 0) return;
    // RFC 9000 §10.3: reset, smaller than the trigger (§10.3.3 looping), rate-limited.
    const len = statelessResetLengthFor(data.length);
    if (len === 0 || !this.#statelessLimiter.take(now)) return;
    const dcid = data.subarray(1, 1 + this.#cidGenerator.length);
    const token = this.#resetTokens.tokenFor(dcid);
    this.#stateless.push({ path, data: encodeStatelessReset(token, len, this.#random), ecn: 0 });
    this.stats.statelessResetSent++;
  }

  #onUnknownLongHeader(now: Instant, path: Path, data: Uint8Array, ecn: Ecn, hdr: LongHeader): void {
    const server = this.#options.server;
    if (!server) {
      this.stats.datagramsDropped++;
      return;
    }
    if (!this.#versions.includes(hdr.version)) {
      // RFC 9000 §6.1: answer datagrams big enough to start a connection with VN.
      if (data.length >= MIN_INITIAL_SIZE && this.#statelessLimiter.take(now)) {
        this.#stateless.push({
          path,
          data: encodeVersionNegotiation(hdr.scid, hdr.dcid, this.#versions, this.#random),
          ecn: 0,
        });
        this.stats.versionNegotiationSent++;
      } else {
        this.stats.datagramsDropped++;
      }
      return;
    }
    if (hdr.type === '0rtt') {
      this.#bufferEarly(now, path, data, ecn, hdr);
      return;
    }
    // Only an Initial can open a connection, in a datagram of at least 1200 octets (RFC 9000 §14.1).
    if (hdr.type !== 'initial' || data.length < MIN_INITIAL_SIZE || hdr.dcid.length < 8) {
      this.stats.datagramsDropped++;
      return;
    }
    let originalDcid = hdr.dcid;
    let retryScid: Uint8Array | undefined;
    let validated = false;
    if (hdr.token.length > 0) {
      const v = this.#addressTokens.validate(hdr.token, path.remote, this.#wallClock());
      if (v.kind === 'retry') {
        // RFC 9000 §8.1.2: the Retry SCID must be the DCID the client now uses.
        if (!equal(v.retryScid, hdr.dcid)) {
          this.#refuse(now, path, hdr, TransportErrorCode.INVALID_TOKEN);
          return;
        }
        originalDcid = v.originalDcid;
        retryScid = v.retryScid;
        validated = true;
      } else if (v.kind === 'new-token') {
        validated = true;
      }
    }
    if (server.retry === 'always' && !validated) {
      this.#sendRetry(now, path, hdr);
      return;
    }
    if (this.#connections.size >= (server.maxConnections ?? 10_000)) {
      this.#refuse(now, path, hdr, TransportErrorCode.CONNECTION_REFUSED);
      return;
    }
    const conn = this.#accept(now, path, hdr, originalDcid, retryScid, validated);
    conn.handleDatagram(now, path, data, ecn);
    const early = this.#takeEarly(now, hdr.dcid);
    if (early !== undefined) {
      for (const d of early.datagrams) {
        if (conn.isClosed) break;
        this.stats.zeroRttReplayed++;
        conn.handleDatagram(now, d.path, d.data, d.ecn);
      }
    }
    this.#afterInput(conn);
  }

  /** RFC 9000 §5.2.2: a server MAY buffer a limited number of 0-RTT packets before their Initial. */
  #bufferEarly(now: Instant, path: Path, data: Uint8Array, ecn: Ecn, hdr: LongHeader): void {
    this.#expireEarly(now);
    const key = latin1(hdr.dcid);
    let entry = this.#early.get(key);
    if (
      hdr.dcid.length < 8 ||
      this.#earlyBytes + data.length > EARLY_MAX_BYTES ||
      (entry === undefined && this.#early.size >= EARLY_MAX_CIDS) ||
      (entry !== undefined && entry.datagrams.length >= EARLY_MAX_PER_CID)
    ) {
      this.stats.datagramsDropped++;
      return;
    }
    if (entry === undefined) {
      entry = { expires: now + EARLY_TTL, datagrams: [] };
      this.#early.set(key, entry);
    }
    // The driver may reuse its receive buffer: keep a copy.
    entry.datagrams.push({ path, data: data.slice(), ecn });
    this.#earlyBytes += data.length;
    this.stats.zeroRttBuffered++;
  }

  #takeEarly(now: Instant, dcid: Uint8Array): EarlyDatagrams | undefined {
    if (this.#early.size === 0) return undefined;
    this.#expireEarly(now);
    const key = latin1(dcid);
    const entry = this.#early.get(key);
    if (entry === undefined) return undefined;
    this.#early.delete(key);
    for (const d of entry.datagrams) this.#earlyBytes -= d.data.length;
    return entry;
  }

  #expireEarly(now: Instant): void {
    for (const [key, entry] of this.#early) {
      if (entry.expires > now) return;
      this.#early.delete(key);
      for (const d of entry.datagrams) this.#earlyBytes -= d.data.length;
      this.stats.datagramsDropped += entry.datagrams.length;
    }
  }

  #accept(
    now: Instant,
    path: Path,
    hdr: LongHeader,
    originalDcid: Uint8Array,
    retryScid: Uint8Array | undefined,
    validated: boolean,
  ): Connection {
    const server = this.#options.server!;
    const transport = resolveTransportConfig({ ...this.#options.transport, ...server.transport });
    if (this.#cidGenerator.disableActiveMigration) transport.disableActiveMigration = true;
    const tls = server.tls;
    const keyLog = this.#options.keyLog;
    const earlyData = server.earlyData ?? true;
    const tickets = server.sessionTickets ?? true;
    let created: Connection | undefined;
    const conn: Connection = new Connection({
      onWake: () => {
        if (created) this.wake(created);
      },
      role: 'server',
      version: hdr.version,
      supportedVersions: this.#versions,
      ...(this.#options.preferredVersion !== undefined && this.#options.preferredVersion !== hdr.version
        ? { compatibleVersions: [this.#options.preferredVersion] }
        : {}),
      now,
      path,
      transport,
      random: this.#random,
      cidGenerator: this.#cidGenerator,
      resetTokenFor: (cid) => this.#resetTokens.tokenFor(cid),
      initialDcid: new Uint8Array(hdr.dcid),
      peerScid: new Uint8Array(hdr.scid),
      originalDcid: new Uint8Array(originalDcid),
      ...(retryScid ? { retryScid } : {}),
      addressValidated: validated,
      ...(server.preferredAddress ? { preferredAddress: server.preferredAddress } : {}),
      ...((server.newTokens ?? true)
        ? {
            issueToken: (remote: SocketAddress) =>
              this.#addressTokens.issueNewToken({ clientAddress: remote, now: this.#wallClock() }),
          }
        : {}),
      qlog: this.#options.qlog?.({ role: 'server', odcid: originalDcid }),
      createTls: (tp) =>
        createServerSession({
          certificateChain: tls.certificateChain,
          privateKey: tls.privateKey,
          alpnProtocols: tls.alpnProtocols,
          transportParameters: tp,
          random: this.#random,
          clock: this.#wallClock,
          ...(tickets ? { ticketKey: this.#ticketKey } : {}),
          maxEarlyData: earlyData && tickets,
          antiReplay: this.#antiReplay,
          // RFC 9000 §7.4.1: 0-RTT only if our limits did not shrink since the ticket.
          acceptEarlyData: (appData) =>
            earlyData && appData !== undefined && parametersStillAllow(appData, transport),
          ...(tls.cipherSuites ? { cipherSuites: tls.cipherSuites } : {}),
          ...(tls.groups ? { groups: tls.groups } : {}),
          ...(tls.requestClientCertificate ? { requestClientCertificate: true } : {}),
          ...(tls.requireClientCertificate ? { requireClientCertificate: true } : {}),
          ...(tls.clientCa ? { clientCa: tls.clientCa } : {}),
          ...(keyLog ? { keyLog } : {}),
        }),
    });
    created = conn;
    this.#register(conn, hdr.dcid);
    if (retryScid) this.#addCid(conn, retryScid);
    this.stats.accepted++;
    this.#events.push({ type: 'connection', connection: conn });
    return conn;
  }

  /** RFC 9000 §8.1.2: a stateless Retry carrying an address-validation token. */
  #sendRetry(now: Instant, path: Path, hdr: LongHeader): void {
    if (!this.#statelessLimiter.take(now)) return;
    const scid = this.#cidGenerator.generate();
    const token = this.#addressTokens.issueRetryToken({
      clientAddress: path.remote,
      originalDcid: hdr.dcid,
      retryScid: scid,
      now: this.#wallClock(),
    });
    const data = encodeRetryPacket({
      version: hdr.version,
      dcid: hdr.scid,
      scid,
      originalDcid: hdr.dcid,
      token,
      random: this.#random,
    });
    this.#stateless.push({ path, data, ecn: 0 });
    this.stats.retrySent++;
  }

  /** An Initial carrying CONNECTION_CLOSE, without creating state (RFC 9000 §5.2.2, §10.2.3). */
  #refuse(now: Instant, path: Path, hdr: LongHeader, code: number): void {
    this.stats.refused++;
    if (!this.#statelessLimiter.take(now)) return;
    const keys = deriveInitialKeys(hdr.version, hdr.dcid).server;
    const buf = new Uint8Array(256);
    const w = new BufferWriter(buf, 0, buf.length - AEAD_TAG_LENGTH);
    const h = writeLongHeader(w, {
      type: 'initial',
      version: hdr.version,
      dcid: hdr.scid,
      scid: this.#cidGenerator.generate(),
      pnLength: 1,
    });
    w.reserve(1);
    encodeFrame(w, {
      type: 'connection_close',
      application: false,
      errorCode: code,
      frameType: 0,
      reason: '',
    });
    if (w.offset - h.pnOffset < 4) w.zeros(4 - (w.offset - h.pnOffset));
    patchLength(buf, h.lengthOffset, w.offset - h.pnOffset + AEAD_TAG_LENGTH);
    const end = protectPacket(buf, 0, h.pnOffset, 1, w.offset, 0, keys);
    this.#stateless.push({ path, data: buf.subarray(0, end), ecn: 0 });
  }

  handleTimeout(now: Instant): void {
    this.#refreshDeadlines();
    for (const [c, d] of this.#deadlines) {
      if (d <= now) {
        c.handleTimeout(now);
        this.#afterInput(c);
      }
    }
  }

  #refreshDeadlines(): void {
    for (const c of this.#stale) if (this.#connections.has(c)) this.#deadlines.set(c, c.pollTimeout());
    this.#stale.clear();
  }

  #afterInput(conn: Connection): void {
    this.#dirty.add(conn);
    this.#touch(conn);
    this.#drainEndpointEvents(conn);
  }

  #drainEndpointEvents(conn: Connection): void {
    for (let e = conn.pollEndpointEvent(); e !== undefined; e = conn.pollEndpointEvent()) {
      switch (e.type) {
        case 'cid-issued':
          this.#addCid(conn, e.cid);
          break;
        case 'cid-retired':
          this.#lastCid = undefined;
          this.#byCid.delete(latin1(e.cid));
          this.#cidsOf.get(conn)?.delete(latin1(e.cid));
          break;
        case 'drained':
          this.#forget(conn);
          break;
      }
    }
  }

  #register(conn: Connection, initialDcid: Uint8Array): void {
    this.#connections.add(conn);
    this.#touch(conn);
    this.#cidsOf.set(conn, new Set());
    this.#addCid(conn, initialDcid);
    if (conn.initialScid.length > 0) this.#addCid(conn, conn.initialScid);
  }

  #addCid(conn: Connection, cid: Uint8Array): void {
    if (cid.length === 0) return;
    const key = latin1(cid);
    this.#lastCid = undefined;
    this.#byCid.set(key, conn);
    this.#cidsOf.get(conn)?.add(key);
  }

  #forget(conn: Connection): void {
    this.#lastCid = undefined;
    for (const key of this.#cidsOf.get(conn) ?? [])
      if (this.#byCid.get(key) === conn) this.#byCid.delete(key);
    this.#cidsOf.delete(conn);
    for (const [k, c] of this.#byPath) if (c === conn) this.#byPath.delete(k);
    this.#connections.delete(conn);
    this.#dirty.delete(conn);
    this.#deadlines.delete(conn);
    this.#stale.delete(conn);
    this.#active.add(conn);
  }

  // ---------------------------------------------------------------------------------------
  // Output
  // ---------------------------------------------------------------------------------------

  /**
   * The next datagram to send. With `deferHeaderProtection`, its header protection may still be
   * owed: call applyHeaderProtection() before sending it (one AES call for a burst of packets).
   */
  pollTransmit(now: Instant, deferHeaderProtection = false): Transmit | undefined {
    const s = this.#stateless.shift();
    if (s) return s;
    // Round-robin over connections that may have work; a connection leaves the set when idle.
    while (this.#dirty.size > 0) {
      if (!this.#dirtyIter) this.#dirtyIter = this.#dirty.values();
      const next = this.#dirtyIter.next();
      if (next.done) {
        this.#dirtyIter = undefined;
        continue;
      }
      const conn = next.value;
      const t = conn.pollTransmit(now, deferHeaderProtection ? this.#hpBatch : undefined);
      this.#touch(conn);
      this.#drainEndpointEvents(conn);
      if (t) return t;
      this.#dirty.delete(conn);
    }
    return undefined;
  }

  /** Applies the header protection owed by datagrams polled with `deferHeaderProtection`. */
  applyHeaderProtection(): void {
    this.#hpBatch.apply();
  }

  readonly #hpBatch = new HeaderProtectionBatch();

  pollTimeout(): Instant {
    this.#refreshDeadlines();
    let t = this.#stateless.length > 0 ? 0 : NEVER;
    for (const d of this.#deadlines.values()) if (d < t) t = d;
    return t;
  }
}

function pathKeyOf(local: SocketAddress, remote: SocketAddress): string {
  return `${addressKey(local)}>${addressKey(remote)}`;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * RFC 9000 §7.4.1: a server accepting 0-RTT must not reduce the limits it advertised in the
 * ticket's connection. `appData` holds the transport parameters sealed into the ticket.
 */
function parametersStillAllow(appData: Uint8Array, now: TransportConfig): boolean {
  try {
    const old = decodeTransportParameters(appData, 'server');
    return (
      now.initialMaxData >= old.initialMaxData &&
      now.initialMaxStreamDataBidiLocal >= old.initialMaxStreamDataBidiLocal &&
      now.initialMaxStreamDataBidiRemote >= old.initialMaxStreamDataBidiRemote &&
      now.initialMaxStreamDataUni >= old.initialMaxStreamDataUni &&
      now.initialMaxStreamsBidi >= old.initialMaxStreamsBidi &&
      now.initialMaxStreamsUni >= old.initialMaxStreamsUni &&
      (old.maxDatagramFrameSize ?? 0) <= now.maxDatagramFrameSize
    );
  } catch (e) {
    if (e instanceof TransportError) return false;
    throw e;
  }
}
