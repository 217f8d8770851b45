// The QUIC connection state machine (RFC 9000, RFC 9001, RFC 9002), sans-IO.
//
// Contract (after quinn): inputs are `handle*` calls — handleDatagram(now, path, data, ecn) and
// handleTimeout(now) — and application commands (streams, datagrams, migration, close). Outputs
// are polled in this order after every input: pollTransmit(now) until undefined, pollTimeout(),
// pollEndpointEvent() until undefined, pollEvent() until undefined. Time is explicit (µs); every
// datagram in and out carries its path. Nothing here touches sockets, timers or the wall clock.
import { addressFamily, type Path, type SocketAddress, sameAddress } from '../common/addr.js';
import { equalBytes } from '../common/bytes.js';
import { TransportError, TransportErrorCode, toTransportError } from '../common/errors.js';
import { Level, type Role, Space, spaceOfLevel } from '../common/levels.js';
import type { QlogSink } from '../common/qlog.js';
import type { Random } from '../common/random.js';
import { type Duration, type Instant, ms, NEVER } from '../common/time.js';
import type { Ecn, Transmit } from '../common/transmit.js';
import type { ConnectionIdGenerator } from '../endpoint/cid-generator.js';
import { LocalCids } from '../paths/local-cids.js';
import { classifyPathChange, MIN_DATAGRAM_SIZE, NetworkPath } from '../paths/path.js';
import { RemoteCids } from '../paths/remote-cids.js';
import { AEAD_TAG_LENGTH } from '../protection/aead.js';
import type { CipherSuite } from '../protection/cipher-suites.js';
import type { HeaderProtectionBatch } from '../protection/header-protection.js';
import { deriveInitialKeys } from '../protection/initial.js';
import { protectPacket, type ReceiveKeys, unprotectPacket } from '../protection/packet.js';
import { derivePacketKeys, type PacketKeys } from '../protection/packet-keys.js';
import { decodeRetryPacket, verifyRetryIntegrity } from '../protection/retry.js';
import { LossDetection, type LossTimerOptions, type SentPacket } from '../recovery/loss-detection.js';
import type { RttEstimator } from '../recovery/rtt.js';
import { Reassembler } from '../streams/reassembler.js';
import { SendBuffer } from '../streams/send-buffer.js';
import { type StreamEvent, StreamManager, type StreamRecord } from '../streams/stream-manager.js';
import type { TlsSession } from '../tls/session.js';
import { isAckEliciting, isFrameAllowed, isProbing } from '../wire/frame-rules.js';
import {
  ackFrameLength,
  cryptoFrameHeaderLength,
  decodeFrameBody,
  encodeFrame,
  type Frame,
  FrameType,
  readFrameType,
  writeAckFrame,
  writeCryptoFrameHeader,
} from '../wire/frames.js';
import {
  type LongHeader,
  type PacketHeader,
  type PacketType,
  parseHeader,
  patchLength,
  writeLongHeader,
  writeShortHeader,
} from '../wire/header.js';
import { packetNumberLength } from '../wire/packet-number.js';
import { BufferReader } from '../wire/reader.js';
import {
  decodeTransportParameters,
  defaultTransportParameters,
  encodeTransportParameters,
  type TransportParameters,
  validateConnectionIdParameters,
} from '../wire/transport-params.js';
import { decodeVersionNegotiation } from '../wire/version-negotiation.js';
import { QUIC_V1, QUIC_V2 } from '../wire/versions.js';
import { BufferWriter } from '../wire/writer.js';
import { AckTracker } from './ack-tracker.js';
import type { TransportConfig } from './config.js';
import type { CloseInfo, ConnectionEvent, EndpointEvent, PathEventReason } from './events.js';
import { type LevelKeys, OneRttKeys } from './keys.js';
import { SentRecords } from './sent-records.js';
import { encodeSessionTicket } from './session-ticket.js';

export type ConnectionState = 'handshake' | 'established' | 'closing' | 'draining' | 'closed';

/** Encoded transport parameters, or (server) a function of the client's. */
export type TransportParametersSource = Uint8Array | ((clientParameters: Uint8Array) => Uint8Array);

/** Everything a connection needs from its endpoint when it is created. */
export interface ConnectionOptions {
  role: Role;
  /** Client: version of the first Initial. Server: negotiated version. */
  version: number;
  /** Versions we support, in preference order (RFC 9368 version_information). */
  supportedVersions: readonly number[];
  now: Instant;
  /** Path of the handshake. */
  path: Path;
  transport: TransportConfig;
  random: Random;
  cidGenerator: ConnectionIdGenerator;
  /** Stateless reset token for one of our CIDs (RFC 9000 §10.3.2). */
  resetTokenFor: (cid: Uint8Array) => Uint8Array;
  /** Builds the TLS session once our transport parameters are known (a server may answer per ClientHello). */
  createTls: (transportParameters: TransportParametersSource) => TlsSession;
  /** Client: random DCID of the first Initial (≥ 8 octets). Server: DCID of the client's Initial. */
  initialDcid: Uint8Array;
  /** Our first source CID (defaults to a fresh one from cidGenerator). */
  initialScid?: Uint8Array;
  /** Server: the client's SCID from its Initial. */
  peerScid?: Uint8Array;
  /** Server: original_destination_connection_id (the DCID before Retry). */
  originalDcid?: Uint8Array;
  /** Server: retry_source_connection_id when this connection follows a Retry. */
  retryScid?: Uint8Array;
  /** Server: the client's address was validated by a token (RFC 9000 §8.1.3). */
  addressValidated?: boolean;
  /**
   * Server: compatible version negotiation (RFC 9368 §2.3). Our versions in preference order; we
   * switch from the client's version to the first one the client also lists.
   */
  compatibleVersions?: readonly number[];
  /** Client: token from a NEW_TOKEN frame of an earlier connection (RFC 9000 §8.1.3). */
  token?: Uint8Array;
  /** Client: transport parameters remembered with the session ticket, enabling 0-RTT (RFC 9000 §7.4.1). */
  rememberedParameters?: TransportParameters;
  /** Server: addresses advertised in preferred_address (RFC 9000 §9.6). */
  preferredAddress?: { ipv4?: SocketAddress | undefined; ipv6?: SocketAddress | undefined };
  /** Server: issues NEW_TOKEN tokens for the client's address after the handshake. */
  issueToken?: (remote: SocketAddress) => Uint8Array;
  /** Called when an application command created work to send (the endpoint polls us then). */
  onWake?: () => void;
  qlog?: QlogSink | undefined;
}

export interface PathStats {
  readonly id: number;
  readonly local: SocketAddress;
  readonly remote: SocketAddress;
  readonly active: boolean;
  readonly validated: boolean;
  readonly rtt: number;
  readonly cwnd: number;
  readonly mtu: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

export interface ConnectionStats {
  packetsSent: number;
  packetsReceived: number;
  packetsLost: number;
  packetsDropped: number;
  bytesSent: number;
  bytesReceived: number;
  datagramsSent: number;
  datagramsReceived: number;
  decryptFailures: number;
  keyUpdates: number;
  pathValidations: number;
  migrations: number;
  ptoCount: number;
  congestionEvents: number;
  /** 0-RTT packets sent (client) / received and decrypted (server). */
  zeroRttSent: number;
  zeroRttReceived: number;
  framesSent: Record<string, number>;
  framesReceived: Record<string, number>;
}

/** Raised by application commands used in the wrong state (mapped to ERR_QUIC_* by the Node layer). */
export class ConnectionUsageError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ConnectionUsageError';
    this.code = code;
  }
}

interface SpaceState {
  readonly space: Space;
  readonly ack: AckTracker;
  nextPn: number;
  readonly cryptoSend: SendBuffer;
  readonly cryptoRecv: Reassembler;
  discarded: boolean;
  /** PTO probes still to send (RFC 9002 §6.2.4). */
  probes: number;
}

interface CloseFrame {
  application: boolean;
  code: number;
  frameType: number;
  reason: string;
}

/** Undecryptable-yet packets kept until keys arrive (RFC 9001 §5.7). */
interface BufferedPacket {
  data: Uint8Array;
  path: Path;
  ecn: Ecn;
  level: Level;
}

const MAX_BUFFERED_PACKETS = 16;
/** CRYPTO data buffered beyond the read offset (RFC 9000 §7.5: at least 4096). */
const MAX_CRYPTO_BUFFER = 64 * 1024;
/** Packets of one key phase before we start a key update ahead of the AEAD limit (RFC 9001 §6.6). */
const KEY_UPDATE_MARGIN = 1 << 16;
const EMPTY = new Uint8Array(0);

const PACKET_TYPE_OF_LEVEL: readonly PacketType[] = ['initial', '0rtt', 'handshake', '1rtt'];

/**
 * One QUIC connection. See the file header for the driving contract.
 */
export class Connection {
  readonly role: Role;
  readonly config: TransportConfig;
  version: number;
  readonly #supportedVersions: readonly number[];
  #state: ConnectionState = 'handshake';
  readonly #random: Random;
  readonly #qlog: QlogSink | undefined;
  readonly #createTls: (tp: TransportParametersSource) => TlsSession;
  readonly #options: ConnectionOptions;

  // --- connection IDs (RFC 9000 §5.1, §7.2) ---
  /** Client: DCID of the first Initial; server: the client's original DCID. */
  #originalDcid: Uint8Array;
  /** DCID we currently use for Initial keys / before the peer's SCID is known (client). */
  #initialDcid: Uint8Array;
  readonly #initialScid: Uint8Array;
  #retryScid: Uint8Array | undefined;
  readonly #localCids: LocalCids;
  #remoteCids: RemoteCids | undefined;
  readonly #localCidLength: number;
  #peerCidKnown: boolean;
  /** The peer's SCID from its first packet (checked against initial_source_connection_id, §7.3). */
  #peerInitialScid: Uint8Array = EMPTY;

  // --- TLS and keys (RFC 9001) ---
  #tls: TlsSession;
  readonly #keys: LevelKeys[] = [
    { read: undefined, write: undefined },
    { read: undefined, write: undefined },
    { read: undefined, write: undefined },
    { read: undefined, write: undefined },
  ];
  #oneRtt: OneRttKeys | undefined;
  #pendingAppRead: { suite: CipherSuite; secret: Uint8Array } | undefined;
  /** Server with compatible version negotiation: keys for the client's first-version Initials. */
  #altInitial: { version: number; read: PacketKeys; write: PacketKeys } | undefined;
  #handshakeComplete = false;
  #handshakeConfirmed = false;
  #peerParams: TransportParameters | undefined;
  #localParams: TransportParameters;
  #zeroRttRejected = false;
  #zeroRttDiscardAt: Instant = NEVER;
  #retried = false;
  #versionNegotiated = false;
  /** Client: a Version Negotiation packet made us restart (RFC 9368 §4 downgrade checks apply). */
  #receivedVersionNegotiation = false;
  #receivedAnyPacket = false;
  #token: Uint8Array;
  readonly #buffered: BufferedPacket[] = [];
  #decryptFailures = 0;

  // --- spaces, recovery, streams ---
  readonly #spaces: SpaceState[];
  readonly #loss: LossDetection<SentRecords>;
  readonly streams: StreamManager;
  readonly #datagramsOut: Uint8Array[] = [];
  #datagramsOutBytes = 0;

  // --- paths (RFC 9000 §8.2, §9) ---
  readonly #paths: NetworkPath[] = [];
  #active: NetworkPath;
  #nextPathId = 0;
  /** Last validated path before an unvalidated switch, to revert to (RFC 9000 §9.3.2). */
  #fallback: NetworkPath | undefined;
  /** Largest 1-RTT packet number received (for §9.3's "highest-numbered non-probing packet"). */
  #largestAppPn = -1;
  #preferredPathStarted = false;
  #peerPreferredAddressUsed = false;
  #handshakeRemote: SocketAddress;

  // --- timers ---
  #idleTimeout: Duration = 0;
  #idleDeadline: Instant = NEVER;
  #closeDeadline: Instant = NEVER;
  #keepAliveAt: Instant = NEVER;
  #pacingWakeAt: Instant = NEVER;
  /**
   * Receiver liveness: the peer was sending to us and went silent while streams are open. A
   * PING then tells a peer whose packets die at a stale NAT binding where we are now (our
   * ACK-only traffic elicits nothing, so no PTO would ever fire on our side).
   */
  #silenceProbeAt: Instant = NEVER;
  #silenceProbes = 0;
  #padNextDatagram = false;
  /** Replace our CIDs when the generator asks for a lifetime (RFC 9000 §5.1.2, rotation). */
  #cidRotateAt: Instant = NEVER;
  #ackElicitingSinceReceive = false;

  // --- control frames and closing ---
  #handshakeDonePending = false;
  readonly #newTokensPending: Uint8Array[] = [];
  #pingPending = false;
  #closeFrame: CloseFrame | undefined;
  #closeSendPending = false;
  #closingPacketsReceived = 0;
  #closeInfo: CloseInfo | undefined;
  #drainedReported = false;

  readonly #events: ConnectionEvent[] = [];
  #eventHead = 0;
  readonly #endpointEvents: EndpointEvent[] = [];
  readonly #stats: ConnectionStats = {
    packetsSent: 0,
    packetsReceived: 0,
    packetsLost: 0,
    packetsDropped: 0,
    bytesSent: 0,
    bytesReceived: 0,
    datagramsSent: 0,
    datagramsReceived: 0,
    decryptFailures: 0,
    keyUpdates: 0,
    pathValidations: 0,
    migrations: 0,
    ptoCount: 0,
    congestionEvents: 0,
    zeroRttSent: 0,
    zeroRttReceived: 0,
    framesSent: {},
    framesReceived: {},
  };

  constructor(options: ConnectionOptions) {
    this.#options = options;
    this.role = options.role;
    this.config = options.transport;
    this.version = options.version;
    this.#supportedVersions = options.supportedVersions;
    this.#random = options.random;
    this.#qlog = options.qlog;
    this.#createTls = options.createTls;
    const now = options.now;
    this.#handshakeRemote = options.path.remote;

    this.#initialScid = options.initialScid ?? options.cidGenerator.generate();
    this.#localCidLength = this.#initialScid.length;
    this.#initialDcid = options.initialDcid;
    this.#originalDcid = options.originalDcid ?? options.initialDcid;
    this.#retryScid = options.retryScid;
    this.#token = options.token ?? EMPTY;

    // Sequence 1 goes to preferred_address when the server advertises one (RFC 9000 §5.1.1).
    const preferredCid =
      this.role === 'server' && options.preferredAddress && this.#initialScid.length > 0
        ? options.cidGenerator.generate()
        : undefined;
    this.#localCids = new LocalCids({
      generator: options.cidGenerator,
      resetTokenFor: options.resetTokenFor,
      initialCid: this.#initialScid,
      ...(preferredCid ? { preferredAddressCid: preferredCid } : {}),
    });
    if (this.role === 'server') {
      this.#peerInitialScid = options.peerScid ?? EMPTY;
      this.#remoteCids = new RemoteCids({
        initialCid: this.#peerInitialScid,
        activeLimit: this.config.activeConnectionIdLimit,
      });
      this.#peerCidKnown = true;
    } else {
      this.#peerCidKnown = false;
    }

    this.#spaces = [Space.Initial, Space.Handshake, Space.Application].map((space) => ({
      space,
      ack: new AckTracker(space),
      nextPn: 0,
      cryptoSend: new SendBuffer(),
      cryptoRecv: new Reassembler({
        maxBufferedAhead: MAX_CRYPTO_BUFFER,
        bufferedAheadErrorCode: TransportErrorCode.CRYPTO_BUFFER_EXCEEDED,
        frameType: FrameType.CRYPTO,
      }),
      discarded: false,
      probes: 0,
    }));
    this.#loss = new LossDetection<SentRecords>(this.role);

    const t = this.config;
    this.streams = new StreamManager({
      role: this.role,
      maxStreamsBidi: t.initialMaxStreamsBidi,
      maxStreamsUni: t.initialMaxStreamsUni,
      initialMaxData: t.initialMaxData,
      initialMaxStreamDataBidiLocal: t.initialMaxStreamDataBidiLocal,
      initialMaxStreamDataBidiRemote: t.initialMaxStreamDataBidiRemote,
      initialMaxStreamDataUni: t.initialMaxStreamDataUni,
      maxConnectionWindow: t.maxConnectionWindow,
      maxStreamWindow: t.maxStreamWindow,
      sendBufferLimit: t.sendBufferLimit,
    });

    this.#active = this.#addPath(options.path, now);
    this.#active.everActive = true;
    if (this.role === 'client' || options.addressValidated) this.#active.validated = true;

    this.#installInitialKeys(this.version, this.#initialDcid);

    this.#localParams = this.#buildLocalParameters(preferredCid);
    const compatible = options.compatibleVersions;
    this.#tls = this.#createTls(
      this.role === 'server' && compatible && compatible.length > 0
        ? this.#negotiateTransportParameters(compatible)
        : encodeTransportParameters(this.#localParams, { role: this.role, greaseRandom: this.#random }),
    );
    this.#qlogEvent(now, 'transport:parameters_set', {
      owner: 'local',
      ...this.#qlogParams(this.#localParams),
    });

    if (this.role === 'client') {
      if (options.rememberedParameters) this.#applyRememberedParameters(options.rememberedParameters);
      this.#tls.start();
      this.#drainTls(now);
    }
    this.#idleDeadline = now + (this.config.maxIdleTimeout || NEVER);
    this.#idleTimeout = this.config.maxIdleTimeout;
  }

  // ---------------------------------------------------------------------------------------
  // Getters
  // ---------------------------------------------------------------------------------------

  get state(): ConnectionState {
    return this.#state;
  }

  get handshakeComplete(): boolean {
    return this.#handshakeComplete;
  }

  get handshakeConfirmed(): boolean {
    return this.#handshakeConfirmed;
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  get alpn(): string | undefined {
    return this.#tls.alpn;
  }

  get tls(): TlsSession {
    return this.#tls;
  }

  get peerParameters(): TransportParameters | undefined {
    return this.#peerParams;
  }

  get localParameters(): TransportParameters {
    return this.#localParams;
  }

  /** The path non-probing packets currently use. */
  get activePath(): Path {
    return { local: this.#active.local, remote: this.#active.remote };
  }

  get activePathId(): number {
    return this.#active.id;
  }

  /** Our handshake source CID (sequence 0). */
  get initialScid(): Uint8Array {
    return this.#initialScid;
  }

  /** Client: the DCID of the first Initial (how the server first knows this connection). */
  get originalDcid(): Uint8Array {
    return this.#originalDcid;
  }

  /** Whether the peer's address on `path` is validated (anti-amplification lifted). */
  isPathValidated(path: Path): boolean {
    const p = this.#findPath(path);
    return p?.validated ?? false;
  }

  paths(): PathStats[] {
    return this.#paths.map((p) => ({
      id: p.id,
      local: p.local,
      remote: p.remote,
      active: p === this.#active,
      validated: p.validated,
      rtt: p.rtt.smoothed,
      cwnd: p.cc.window,
      mtu: p.mtu,
      bytesSent: p.totalBytesSent,
      bytesReceived: p.totalBytesReceived,
    }));
  }

  stats(): ConnectionStats & {
    rtt: number;
    minRtt: number;
    cwnd: number;
    bytesInFlight: number;
    mtu: number;
    cids: unknown;
  } {
    const p = this.#active;
    return {
      ...this.#stats,
      rtt: p.rtt.smoothed,
      minRtt: p.rtt.min,
      cwnd: p.cc.window,
      bytesInFlight: p.cc.bytesInFlight,
      mtu: p.mtu,
      cids: { local: this.#localCids.stats, remote: this.#remoteCids?.stats },
    };
  }

  // ---------------------------------------------------------------------------------------
  // Outputs
  // ---------------------------------------------------------------------------------------

  pollEvent(): ConnectionEvent | undefined {
    if (this.#eventHead >= this.#events.length) {
      this.#pumpStreamEvents();
      if (this.#eventHead >= this.#events.length) return undefined;
    }
    const e = this.#events[this.#eventHead++];
    if (this.#eventHead > 64 && this.#eventHead * 2 > this.#events.length) {
      this.#events.splice(0, this.#eventHead);
      this.#eventHead = 0;
    }
    return e;
  }

  pollEndpointEvent(): EndpointEvent | undefined {
    this.#pumpCidEvents();
    return this.#endpointEvents.shift();
  }

  #emit(e: ConnectionEvent): void {
    this.#events.push(e);
  }

  #pumpStreamEvents(): void {
    let e: StreamEvent | undefined;
    while ((e = this.streams.pollEvent()) !== undefined) {
      switch (e.type) {
        case 'opened':
          this.#emit({ type: 'stream-opened', id: e.id });
          break;
        case 'readable':
          this.#emit({ type: 'stream-readable', id: e.id });
          break;
        case 'writable':
          this.#emit({ type: 'stream-writable', id: e.id });
          break;
        case 'reset':
          this.#emit({ type: 'stream-reset', id: e.id, errorCode: e.errorCode, finalSize: e.finalSize });
          break;
        case 'stop-sending':
          this.#emit({ type: 'stream-stop-sending', id: e.id, errorCode: e.errorCode });
          break;
        case 'finished':
          this.#emit({ type: 'stream-finished', id: e.id });
          break;
        case 'streams-available':
          this.#emit({ type: 'streams-available', bidi: e.bidi });
          break;
      }
    }
  }

  #pumpCidEvents(): void {
    for (let e = this.#localCids.pollEvent(); e !== undefined; e = this.#localCids.pollEvent()) {
      if (e.type === 'issued')
        this.#endpointEvents.push({ type: 'cid-issued', cid: e.cid, resetToken: e.resetToken });
      else this.#endpointEvents.push({ type: 'cid-retired', cid: e.cid });
    }
    if (this.#state === 'closed' && !this.#drainedReported) {
      this.#drainedReported = true;
      this.#endpointEvents.push({ type: 'drained' });
    }
  }

  // ---------------------------------------------------------------------------------------
  // Receiving (RFC 9000 §12, §13.1; RFC 9001 §5)
  // ---------------------------------------------------------------------------------------

  #now: Instant = 0;
  #buffersReady = false;
  #appAckEliciting = 0;
  #selector: ReceiveKeys | undefined;

  /**
   * A UDP datagram arrived on `path` (`path.local` is our address it arrived on). It may hold
   * several coalesced packets (RFC 9000 §12.2).
   */
  handleDatagram(now: Instant, path: Path, data: Uint8Array, ecn: Ecn = 0, firstHeader?: PacketHeader): void {
    this.#receive(now, path, data, ecn, false, firstHeader);
  }

  /**
   * `replay`: a buffered packet whose keys arrived — already counted when it was received.
   * `firstHeader`: the endpoint's parse of the first packet (not parsed twice per datagram).
   */
  #receive(
    now: Instant,
    path: Path,
    data: Uint8Array,
    ecn: Ecn,
    replay: boolean,
    firstHeader?: PacketHeader,
  ): void {
    this.#now = now;
    if (this.#state === 'closed' || this.#state === 'draining') return;
    if (!replay) {
      this.#stats.datagramsReceived++;
      this.#stats.bytesReceived += data.length;
    }
    if (this.#state === 'closing') {
      // RFC 9000 §10.2.1: answer with CONNECTION_CLOSE, rate-limited (1, 2, 4, 8... packets).
      this.#closingPacketsReceived++;
      if ((this.#closingPacketsReceived & (this.#closingPacketsReceived - 1)) === 0)
        this.#closeSendPending = true;
      return;
    }
    // Replays (of buffered packets) run after the outer datagram is done with its context.
    const ctx: DatagramContext = replay ? { path: undefined, counted: true, size: 0 } : this.#datagramCtx;
    ctx.path = this.#findPath(path);
    ctx.counted = replay;
    ctx.size = data.length;
    if (ctx.path && !replay) {
      // RFC 9000 §8.1: count every datagram attributed to this connection.
      ctx.path.onDatagramReceived(data.length, now);
      ctx.counted = true;
    }
    let offset = 0;
    let firstDcid: Uint8Array | undefined;
    while (offset < data.length && !this.#terminating()) {
      let hdr: PacketHeader;
      // The endpoint parses leniently: the fixed bit may only be 0 if we greased it (RFC 9287).
      const reuse =
        offset === 0 &&
        firstHeader !== undefined &&
        ((firstHeader.firstByte & 0x40) !== 0 || this.#localParams.greaseQuicBit);
      try {
        hdr = reuse
          ? firstHeader
          : parseHeader(data, offset, this.#localCidLength, this.#localParams.greaseQuicBit);
      } catch {
        this.#dropPacket(now, 'header_parse_error');
        break;
      }
      // RFC 9000 §12.2: coalesced packets with another DCID are not ours.
      if (firstDcid === undefined) firstDcid = hdr.dcid;
      else if (!equalBytes(firstDcid, hdr.dcid)) {
        this.#dropPacket(now, 'dcid_mismatch');
        offset = hdr.packetEnd;
        continue;
      }
      this.#handlePacket(now, path, data, hdr, ecn, ctx);
      offset = hdr.packetEnd;
    }
    if (this.#buffersReady) this.#replayBuffered(now);
  }

  readonly #datagramCtx: DatagramContext = { path: undefined, counted: false, size: 0 };

  /** Closing, draining or closed (a method, so TypeScript does not narrow #state across calls). */
  #terminating(): boolean {
    return this.#state === 'closing' || this.#state === 'draining' || this.#state === 'closed';
  }

  #dropPacket(now: Instant, trigger: string): void {
    this.#stats.packetsDropped++;
    this.#qlogEvent(now, 'transport:packet_dropped', { trigger });
  }

  #handlePacket(
    now: Instant,
    path: Path,
    data: Uint8Array,
    hdr: PacketHeader,
    ecn: Ecn,
    ctx: DatagramContext,
  ): void {
    if (hdr.form === 'version-negotiation') {
      this.#onVersionNegotiation(now, data, hdr.start, hdr.packetEnd);
      return;
    }
    let level: Level;
    let initialKeys: PacketKeys | undefined;
    if (hdr.form === 'long') {
      if (hdr.type === undefined) {
        this.#dropPacket(now, 'unsupported_version');
        return;
      }
      if (hdr.type === 'retry') {
        this.#onRetry(now, data, hdr);
        return;
      }
      level =
        hdr.type === 'initial' ? Level.Initial : hdr.type === 'handshake' ? Level.Handshake : Level.EarlyData;
      if (hdr.version !== this.version) {
        initialKeys = this.#keysForOtherVersion(now, hdr);
        if (initialKeys === undefined && hdr.version !== this.version) {
          this.#dropPacket(now, 'unexpected_version');
          return;
        }
      }
      if (level === Level.EarlyData && this.role === 'client') {
        this.#dropPacket(now, 'unexpected_packet_type');
        return;
      }
    } else {
      level = Level.Application;
    }
    const space = spaceOfLevel(level);
    const sp = this.#spaces[space]!;
    if (sp.discarded) {
      this.#dropPacket(now, 'key_unavailable');
      return;
    }

    let keys: ReceiveKeys | undefined;
    if (initialKeys !== undefined) keys = initialKeys;
    else if (level === Level.Application) keys = this.#selector;
    else keys = this.#keys[level]!.read;
    if (keys === undefined) {
      // RFC 9001 §5.7: keep a few packets that may become decryptable.
      if (level !== Level.Initial && this.#buffered.length < MAX_BUFFERED_PACKETS) {
        this.#buffered.push({ data: data.slice(hdr.start, hdr.packetEnd), path, ecn, level });
        this.#qlogEvent(now, 'transport:packet_buffered', { packet_type: PACKET_TYPE_OF_LEVEL[level] });
      } else {
        this.#dropPacket(now, 'key_unavailable');
      }
      return;
    }

    const u = unprotectPacket(data, hdr.start, hdr.pnOffset, hdr.packetEnd, keys, sp.ack.largestReceived);
    if (u === null) {
      this.#onDecryptFailure(now, data, hdr);
      return;
    }
    if (u.reservedBits !== 0) {
      // RFC 9000 §17.2, §17.3.1: non-zero reserved bits after removing protection.
      this.#closeWithError(
        now,
        new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'reserved bits set'),
      );
      return;
    }
    const pn = u.pn;
    if (sp.ack.isDuplicate(pn)) {
      this.#dropPacket(now, 'duplicate');
      return;
    }

    let p = ctx.path;
    if (p === undefined) {
      // RFC 9000 §9: a client discards packets from server addresses it did not probe.
      if (this.role === 'client') {
        this.#dropPacket(now, 'unknown_path');
        return;
      }
      p = this.#pathForIncoming(path, now);
      ctx.path = p;
    }
    if (!ctx.counted) {
      p.onDatagramReceived(ctx.size, now);
      ctx.counted = true;
    }
    p.packetsReceived++;

    if (level === Level.Application && this.#oneRtt !== undefined) {
      try {
        this.#onOneRttKeysUsed(now, u.keys, pn);
      } catch (e) {
        this.#closeWithError(now, toTransportError(e));
        return;
      }
    }

    this.#receivedAnyPacket = true;
    if (level === Level.EarlyData) this.#stats.zeroRttReceived++;
    const packetType: PacketType = PACKET_TYPE_OF_LEVEL[level]!;
    if (this.#qlog) {
      this.#qlogEvent(now, 'transport:packet_received', {
        header: { packet_type: packetType, packet_number: pn, dcid: hexOf(hdr.dcid) },
        raw: { length: hdr.packetEnd - hdr.start },
        frames: describeFrames(u.payload, undefined),
        path: { local: p.local, remote: p.remote },
      });
    }
    let result: number;
    try {
      if (level === Level.Initial && this.role === 'client' && !this.#peerCidKnown && hdr.form === 'long') {
        this.#onFirstServerPacket(hdr.scid);
      }
      result = this.#processFrames(now, level, packetType, u.payload, p, hdr.dcid);
    } catch (e) {
      this.#closeWithError(now, toTransportError(e));
      return;
    }
    const ackEliciting = (result & FRAMES_ACK_ELICITING) !== 0;
    sp.ack.onPacketReceived(pn, now, ackEliciting, ecn);
    this.#stats.packetsReceived++;
    if (this.#terminating()) return;

    if (level === Level.Handshake && this.role === 'server') {
      // RFC 9000 §8.1: a Handshake packet from the client validates its address.
      if (!p.validated) this.#markValidated(now, p);
      // RFC 9001 §4.9.1: the server discards Initial keys on its first Handshake packet.
      this.#discardSpace(now, Space.Initial);
    }
    if (level === Level.Application) {
      if (ackEliciting && this.#handshakeConfirmed) {
        this.#silenceProbes = 0;
        // The peer streams to us: silence longer than its PTO (no ack delay) is suspicious.
        this.#silenceProbeAt = now + this.#active.rtt.pto(0, false);
      }
      // Ack decimation for bulk transfers (see TransportConfig.ackElicitingThreshold).
      if (ackEliciting && ++this.#appAckEliciting === this.config.ackDecimationAfter) {
        sp.ack.ackElicitingThreshold = this.config.ackElicitingThreshold;
      }
      this.#afterApplicationPacket(now, p, pn, result);
    }
    // RFC 9000 §10.1: a processed packet restarts the idle timer.
    this.#ackElicitingSinceReceive = false;
    this.#idleDeadline = now + this.#effectiveIdleTimeout();
  }

  /** Connection migration decisions for a 1-RTT packet (RFC 9000 §9.3, §9.6.2). */
  #afterApplicationPacket(now: Instant, p: NetworkPath, pn: number, result: number): void {
    if (this.role === 'server' && this.#zeroRttDiscardAt === NEVER && this.#keys[Level.EarlyData]!.read) {
      // RFC 9001 §4.9.3: 0-RTT keys may be kept for a while after the first 1-RTT packet.
      this.#zeroRttDiscardAt = now + 3 * this.#currentPto();
    }
    if (pn > p.largestPnReceived) p.largestPnReceived = pn;
    const highest = pn > this.#largestAppPn;
    if (highest) this.#largestAppPn = pn;
    if (p === this.#active) return;
    if (this.role === 'client') return;
    if ((result & FRAMES_NON_PROBING) !== 0 && highest) {
      // RFC 9000 §9.3: only the highest-numbered non-probing packet moves the path.
      this.#onPeerAddressChange(now, p);
    } else if (!p.validated && !p.validating && this.#oneRtt) {
      // RFC 9000 §9.6.3, §8.2: validate a client address that probes us.
      this.#startPathValidation(now, p);
    }
  }

  #keysForOtherVersion(now: Instant, hdr: LongHeader): PacketKeys | undefined {
    if (this.role === 'server') {
      // Compatible version negotiation (RFC 9368 §2.3): Initials in the client's first version.
      if (hdr.type === 'initial' && this.#altInitial && hdr.version === this.#altInitial.version)
        return this.#altInitial.read;
      return undefined;
    }
    // Client: the server answered in another version we offered (RFC 9368 §2.3, §4).
    if (
      hdr.type === 'initial' &&
      !this.#receivedAnyPacket &&
      hdr.version !== this.version &&
      this.#supportedVersions.includes(hdr.version)
    ) {
      const previous = this.version;
      this.version = hdr.version;
      this.#versionNegotiated = true;
      this.#installInitialKeys(this.version, this.#initialDcid);
      this.#qlogEvent(now, 'transport:version_information', {
        chosen_version: hex32(this.version),
        previous: hex32(previous),
      });
      return this.#keys[Level.Initial]!.read;
    }
    return undefined;
  }

  #onFirstServerPacket(scid: Uint8Array): void {
    // RFC 9000 §7.2: the client switches to the server's SCID as DCID.
    this.#peerInitialScid = new Uint8Array(scid);
    this.#remoteCids = new RemoteCids({
      initialCid: this.#peerInitialScid,
      activeLimit: this.config.activeConnectionIdLimit,
    });
    this.#remoteCids.bind(this.#active.id);
    this.#peerCidKnown = true;
  }

  #onDecryptFailure(now: Instant, data: Uint8Array, hdr: PacketHeader): void {
    this.#stats.decryptFailures++;
    this.#decryptFailures++;
    this.#dropPacket(now, 'decryption_failure');
    // RFC 9001 §6.6: too many forgeries end the connection.
    if (this.#oneRtt && this.#decryptFailures >= this.#oneRtt.integrityLimit) {
      this.#closeWithError(now, new TransportError(TransportErrorCode.AEAD_LIMIT_REACHED, 'integrity limit'));
      return;
    }
    // RFC 9000 §10.3.1: a datagram ending in a known stateless reset token.
    if (hdr.form === 'short' && this.#remoteCids && data.length >= 21) {
      if (this.#remoteCids.matchesStatelessReset(data.subarray(data.length - 16)))
        this.#onStatelessReset(now);
    }
  }

  /** 1-RTT key phase handling on receipt (RFC 9001 §6.2–§6.5). */
  #onOneRttKeysUsed(now: Instant, used: PacketKeys, pn: number): void {
    const k = this.#oneRtt!;
    if (used === k.nextRead) {
      // The peer updated its keys.
      if (k.awaitingAckOfUpdate) {
        // RFC 9001 §6.2: a second update before we acknowledged the first.
        throw new TransportError(TransportErrorCode.KEY_UPDATE_ERROR, 'consecutive key updates');
      }
      k.rotate(now, 3 * this.#currentPto());
      k.firstReceivedPn = pn;
      k.awaitingAckOfUpdate = true;
      this.#stats.keyUpdates++;
      this.#emit({ type: 'key-update', phase: k.generation, initiator: 'remote' });
      this.#qlogEvent(now, 'security:key_updated', {
        key_type: '1rtt',
        generation: k.generation,
        trigger: 'remote_update',
      });
      return;
    }
    if (used === k.read) {
      if (pn < k.firstReceivedPn) k.firstReceivedPn = pn;
      return;
    }
    // Previous keys: only valid for packets older than the current phase (RFC 9001 §6.4).
    if (pn > k.firstReceivedPn)
      throw new TransportError(TransportErrorCode.KEY_UPDATE_ERROR, 'old keys after new');
  }

  /**
   * Server, compatible version negotiation (RFC 9368 §2.3, §4): once the ClientHello's
   * parameters are known, answer in our preferred version among those the client lists; the
   * client's Initials in its first version stay readable.
   */
  #negotiateTransportParameters(preference: readonly number[]): (client: Uint8Array) => Uint8Array {
    return (client) => {
      let available: readonly number[] = [];
      try {
        available = decodeTransportParameters(client, 'client').versionInformation?.available ?? [];
      } catch {
        // Malformed parameters are reported by #checkPeerParameters with the right code.
      }
      const chosen = preference.find((v) => available.includes(v) && isCompatibleVersion(v, this.version));
      if (chosen !== undefined && chosen !== this.version) {
        const k = deriveInitialKeys(this.version, this.#initialDcid);
        this.#altInitial = { version: this.version, read: k.client, write: k.server };
        this.version = chosen;
        this.#installInitialKeys(chosen, this.#initialDcid);
        this.#localParams = {
          ...this.#localParams,
          versionInformation: { chosen, available: [...this.#supportedVersions] },
        };
      }
      return encodeTransportParameters(this.#localParams, { role: this.role, greaseRandom: this.#random });
    };
  }

  #installInitialKeys(version: number, dcid: Uint8Array): void {
    const k = deriveInitialKeys(version, dcid);
    const lk = this.#keys[Level.Initial]!;
    lk.read = this.role === 'client' ? k.server : k.client;
    lk.write = this.role === 'client' ? k.client : k.server;
  }

  #replayBuffered(now: Instant): void {
    this.#buffersReady = false;
    const pending = this.#buffered.splice(0);
    for (const b of pending) {
      if (this.#state !== 'handshake' && this.#state !== 'established') return;
      const haveKeys =
        b.level === Level.Application
          ? this.#selector !== undefined
          : this.#keys[b.level]!.read !== undefined;
      if (!haveKeys) {
        this.#buffered.push(b);
        continue;
      }
      this.#receive(now, b.path, b.data, b.ecn, true);
    }
  }

  /** Client: Version Negotiation (RFC 9000 §6.2, RFC 9368 §4). */
  #onVersionNegotiation(now: Instant, data: Uint8Array, start: number, end: number): void {
    if (this.role !== 'client' || this.#receivedAnyPacket || this.#versionNegotiated) return;
    let vn: ReturnType<typeof decodeVersionNegotiation>;
    try {
      vn = decodeVersionNegotiation(data.subarray(start, end));
    } catch {
      this.#dropPacket(now, 'invalid_version_negotiation');
      return;
    }
    // RFC 9000 §6.2: ignore a VN that echoes other CIDs or lists the version we chose.
    if (!equalBytes(vn.dcid, this.#initialScid) || !equalBytes(vn.scid, this.#initialDcid)) return;
    if (vn.versions.includes(this.version)) return;
    const next = this.#supportedVersions.find((v) => vn.versions.includes(v));
    this.#qlogEvent(now, 'transport:version_information', { server_versions: vn.versions.map(hex32) });
    if (next === undefined) {
      this.#closeInfo = {
        source: 'remote',
        application: false,
        code: TransportErrorCode.VERSION_NEGOTIATION_ERROR,
        frameType: 0,
        reason: 'no common QUIC version',
      };
      this.#emit({ type: 'closed', info: this.#closeInfo });
      this.#setClosed();
      return;
    }
    // Start over in the negotiated version with a fresh Initial (RFC 9368 §2.2).
    this.version = next;
    this.#versionNegotiated = true;
    this.#receivedVersionNegotiation = true;
    this.#localParams = {
      ...this.#localParams,
      versionInformation: { chosen: next, available: [...this.#supportedVersions] },
    };
    this.#restartHandshake(now);
  }

  /** Client: Retry (RFC 9000 §17.2.5.2, RFC 9001 §5.8). */
  #onRetry(now: Instant, data: Uint8Array, hdr: LongHeader): void {
    if (this.role !== 'client' || this.#receivedAnyPacket || this.#retried) {
      this.#dropPacket(now, 'unexpected_retry');
      return;
    }
    const packet = data.subarray(hdr.start, hdr.packetEnd);
    if (!verifyRetryIntegrity(packet, this.#originalDcid, hdr.version)) {
      this.#dropPacket(now, 'retry_integrity');
      return;
    }
    const retry = decodeRetryPacket(packet);
    if (!retry || retry.token.length === 0) {
      this.#dropPacket(now, 'invalid_retry');
      return;
    }
    if (equalBytes(retry.scid, this.#initialDcid)) {
      this.#dropPacket(now, 'invalid_retry');
      return;
    }
    this.#retried = true;
    this.#retryScid = new Uint8Array(retry.scid);
    this.#initialDcid = this.#retryScid;
    this.#token = new Uint8Array(retry.token);
    this.#installInitialKeys(this.version, this.#retryScid);
    this.#qlogEvent(now, 'transport:packet_received', {
      header: { packet_type: 'retry', scid: hexOf(retry.scid) },
    });
    // RFC 9002 §6.3: Initial (and 0-RTT) data is sent again; packet numbers keep increasing.
    this.#resendAllInSpace(Space.Initial, () => true);
    this.#resendAllInSpace(Space.Application, (p) => p.frames.zeroRtt);
  }

  #restartHandshake(now: Instant): void {
    this.#resendAllInSpace(Space.Initial, () => true);
    this.#resendAllInSpace(Space.Application, (p) => p.frames.zeroRtt);
    const initial = this.#spaces[Space.Initial]!;
    (initial as { cryptoSend: SendBuffer }).cryptoSend = new SendBuffer();
    this.#installInitialKeys(this.version, this.#initialDcid);
    this.#keys[Level.EarlyData]!.write = undefined;
    this.#tls = this.#createTls(
      encodeTransportParameters(this.#localParams, { role: this.role, greaseRandom: this.#random }),
    );
    this.#tls.start();
    this.#drainTls(now);
  }

  /** Forget in-flight packets of a space (without congestion reaction) and queue their data again. */
  #resendAllInSpace(space: Space, predicate: (p: SentPacket<SentRecords>) => boolean): void {
    const packets = this.#loss.drainUnacked(space, predicate);
    for (const p of packets) {
      if (p.inFlight) this.#pathById(p.pathId)?.cc.discard(p.size);
      this.#requeueRecords(p.frames);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Frames (RFC 9000 §12.4, §19)
  // ---------------------------------------------------------------------------------------

  #processFrames(
    now: Instant,
    level: Level,
    packetType: PacketType,
    payload: Uint8Array,
    path: NetworkPath,
    dcid: Uint8Array,
  ): number {
    // RFC 9000 §12.4: a packet with no frames is a PROTOCOL_VIOLATION.
    if (payload.length === 0)
      throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'packet without frames');
    const r = new BufferReader(payload);
    let ackEliciting = false;
    let nonProbing = false;
    while (!r.done) {
      const type = readFrameType(r);
      // RFC 9000 §12.4, Table 3: frame permitted in this packet type?
      if (!isFrameAllowed(type, packetType)) {
        throw new TransportError(
          TransportErrorCode.PROTOCOL_VIOLATION,
          `frame not allowed in ${packetType} packet`,
          type,
        );
      }
      const f = decodeFrameBody(r, type);
      if (isAckEliciting(type)) ackEliciting = true;
      if (!isProbing(type)) nonProbing = true;
      if (this.#qlog) this.#countFrame(this.#stats.framesReceived, f.type);
      try {
        this.#onFrame(now, f, level, path, dcid);
      } catch (e) {
        if (e instanceof TransportError && e.frameType === 0) throw e.withFrameType(type);
        throw e;
      }
      if (this.#state === 'draining' || this.#state === 'closed') break;
    }
    return (ackEliciting ? FRAMES_ACK_ELICITING : 0) | (nonProbing ? FRAMES_NON_PROBING : 0);
  }

  #countFrame(table: Record<string, number>, name: string): void {
    table[name] = (table[name] ?? 0) + 1;
  }

  #onFrame(now: Instant, f: Frame, level: Level, path: NetworkPath, dcid: Uint8Array): void {
    switch (f.type) {
      case 'padding':
      case 'ping':
        return;
      case 'ack':
        this.#onAck(now, spaceOfLevel(level), f.ranges, f.ackDelay, f.ecn);
        return;
      case 'crypto':
        this.#onCrypto(now, level, f.offset, f.data);
        return;
      case 'new_token':
        // RFC 9000 §19.7: only servers send NEW_TOKEN.
        if (this.role === 'server')
          throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'NEW_TOKEN from client');
        this.#emit({ type: 'new-token', token: new Uint8Array(f.token) });
        return;
      case 'stream':
      case 'reset_stream':
      case 'stop_sending':
      case 'max_data':
      case 'max_stream_data':
      case 'max_streams':
      case 'data_blocked':
      case 'stream_data_blocked':
      case 'streams_blocked':
        this.streams.onFrame(f, now);
        return;
      case 'new_connection_id': {
        const remote = this.#remoteCids;
        // RFC 9000 §19.15: a peer using zero-length CIDs must not send NEW_CONNECTION_ID.
        if (!remote || remote.zeroLength) {
          throw new TransportError(
            TransportErrorCode.PROTOCOL_VIOLATION,
            'NEW_CONNECTION_ID with zero-length CIDs',
          );
        }
        remote.onNewConnectionId(f);
        this.#rebindRetiredPaths(now);
        return;
      }
      case 'retire_connection_id':
        // RFC 9000 §19.16: we use zero-length CIDs → no CID can be retired.
        if (this.#localCidLength === 0) {
          throw new TransportError(
            TransportErrorCode.PROTOCOL_VIOLATION,
            'RETIRE_CONNECTION_ID with zero-length CIDs',
          );
        }
        this.#localCids.onRetireConnectionId(f.sequence, dcid);
        return;
      case 'path_challenge':
        // RFC 9000 §8.2.2: answer on the path the challenge arrived on.
        path.queueResponse(f.data);
        // RFC 9000 §9.3.3: a challenge on the active path gets a non-probing packet too.
        if (path === this.#active) this.#pingPending = true;
        return;
      case 'path_response':
        this.#onPathResponse(now, f.data);
        return;
      case 'connection_close':
        this.#onConnectionClose(now, f.application, f.errorCode, f.frameType, f.reason);
        return;
      case 'handshake_done':
        // RFC 9000 §19.20: a server receiving HANDSHAKE_DONE → PROTOCOL_VIOLATION.
        if (this.role === 'server')
          throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'HANDSHAKE_DONE from client');
        this.#confirmHandshake(now);
        return;
      case 'datagram': {
        // RFC 9221 §3: DATAGRAM without (or beyond) our max_datagram_frame_size.
        const max = this.config.maxDatagramFrameSize;
        if (max === 0)
          throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'DATAGRAM not negotiated');
        if (f.data.length + 1 > max) {
          throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'DATAGRAM frame too large');
        }
        this.#emit({ type: 'datagram', data: new Uint8Array(f.data) });
        return;
      }
    }
  }

  #onCrypto(now: Instant, level: Level, offset: number, data: Uint8Array): void {
    const sp = this.#spaces[spaceOfLevel(level)]!;
    sp.cryptoRecv.insert(offset, data, false);
    let chunk: Uint8Array | undefined;
    while ((chunk = sp.cryptoRecv.read(Number.POSITIVE_INFINITY)) !== undefined) {
      this.#tls.receive(level, chunk);
    }
    this.#drainTls(now);
  }

  // ---------------------------------------------------------------------------------------
  // TLS, keys, handshake (RFC 9001 §4)
  // ---------------------------------------------------------------------------------------

  #drainTls(now: Instant): void {
    this.#checkPeerParameters(now);
    for (let e = this.#tls.poll(); e !== undefined; e = this.#tls.poll()) {
      switch (e.type) {
        case 'send':
          this.#spaces[spaceOfLevel(e.level)]!.cryptoSend.write(e.data);
          break;
        case 'secret':
          this.#installSecret(now, e.level, e.direction, e.suite, e.secret);
          break;
        case 'handshake-complete':
          this.#checkPeerParameters(now);
          this.#onHandshakeComplete(now);
          break;
        case 'early-data':
          this.#onEarlyData(now, e.accepted);
          break;
        case 'session-ticket':
          this.#emit({ type: 'session-ticket', ticket: this.#sessionTicketBlob(e.ticket) });
          break;
      }
    }
    this.#checkPeerParameters(now);
  }

  #installSecret(
    now: Instant,
    level: Level,
    direction: 'read' | 'write',
    suite: CipherSuite,
    secret: Uint8Array,
  ): void {
    this.#qlogEvent(now, 'security:key_updated', {
      key_type: `${direction === 'read' ? (this.role === 'client' ? 'server' : 'client') : this.role}_${['initial', '0rtt', 'handshake', '1rtt'][level]}_secret`,
    });
    if (level === Level.Application) {
      // The write secret may come first (server: 0.5-RTT, RFC 9001 §5.7); a client gets both.
      if (direction === 'write') {
        this.#oneRtt = new OneRttKeys(suite, this.version, secret, this.#pendingAppRead?.secret);
        this.#pendingAppRead = undefined;
      } else if (this.#oneRtt) {
        this.#oneRtt.installRead(secret);
      } else {
        this.#pendingAppRead = { suite, secret };
      }
      const k = this.#oneRtt;
      if (k?.hasRead && this.#selector === undefined) {
        this.#selector = {
          hp: k.read.hp,
          keysFor: (bit: 0 | 1, pn: number) => k.readKeys(bit, pn),
        };
        this.#buffersReady = this.#buffered.length > 0;
      }
      return;
    }
    const keys = derivePacketKeys(suite, secret, this.version);
    this.#keys[level]![direction] = keys;
    if (direction === 'read' && this.#buffered.length > 0) this.#buffersReady = true;
  }

  #onHandshakeComplete(now: Instant): void {
    if (this.#handshakeComplete) return;
    this.#handshakeComplete = true;
    if (this.#state === 'handshake') this.#state = 'established';
    this.#emit({ type: 'handshake-complete', alpn: this.#tls.alpn, resumed: this.#tls.resumed });
    this.#qlogEvent(now, 'transport:connection_state_updated', { new: 'handshake_complete' });
    if (this.role === 'server') {
      // RFC 9001 §4.1.2: the server's handshake is confirmed when it completes.
      this.#handshakeDonePending = true;
      this.#confirmHandshake(now);
      this.#tls.sendSessionTicket({
        appData: encodeTransportParameters(this.#localParams, { role: 'server' }),
      });
      this.#drainTls(now);
      const issue = this.#options.issueToken;
      if (issue) this.#newTokensPending.push(issue(this.#active.remote));
    }
  }

  #confirmHandshake(now: Instant): void {
    if (this.#handshakeConfirmed) return;
    this.#handshakeConfirmed = true;
    this.#emit({ type: 'handshake-confirmed' });
    this.#qlogEvent(now, 'transport:connection_state_updated', { new: 'handshake_confirmed' });
    // RFC 9001 §4.9.2: Handshake keys go once the handshake is confirmed.
    this.#discardSpace(now, Space.Initial);
    this.#discardSpace(now, Space.Handshake);
    if (this.role === 'client') this.#maybeStartPreferredAddress(now);
    this.#keepAliveAt = this.config.keepAliveInterval > 0 ? now + this.config.keepAliveInterval : NEVER;
    const lifetime = this.#options.cidGenerator.lifetime;
    if (lifetime !== undefined && lifetime > 0 && this.#localCidLength > 0)
      this.#cidRotateAt = now + lifetime;
  }

  #onEarlyData(now: Instant, accepted: boolean): void {
    this.#emit({ type: 'early-data', accepted });
    this.#qlogEvent(now, 'transport:early_data', { accepted });
    if (this.role === 'client' && !accepted) {
      // RFC 9001 §4.6.2: everything sent in 0-RTT is lost; send it again in 1-RTT.
      this.#zeroRttRejected = true;
      this.#keys[Level.EarlyData]!.write = undefined;
      for (const p of this.#loss.drainUnacked(Space.Application, (x) => x.frames.zeroRtt)) {
        if (p.inFlight) this.#pathById(p.pathId)?.cc.discard(p.size);
      }
      this.streams.discardZeroRttData();
    }
  }

  /** The client's resumption blob: TLS ticket plus the server's transport parameters (RFC 9000 §7.4.1). */
  #sessionTicketBlob(ticket: Parameters<typeof encodeSessionTicket>[0]): Uint8Array {
    return encodeSessionTicket(ticket, this.#peerParams);
  }

  #checkPeerParameters(now: Instant): void {
    if (this.#peerParams !== undefined) return;
    const raw = this.#tls.peerTransportParameters;
    if (raw === undefined) return;
    const peerRole = this.role === 'client' ? 'server' : 'client';
    const tp = decodeTransportParameters(raw, peerRole);
    // RFC 9000 §7.3: authenticate the connection IDs used in the handshake.
    if (this.role === 'client') {
      validateConnectionIdParameters(
        tp,
        {
          originalDestinationConnectionId: this.#originalDcid,
          initialSourceConnectionId: this.#peerInitialScid,
          retrySourceConnectionId: this.#retryScid,
        },
        this.role,
      );
    } else {
      validateConnectionIdParameters(tp, { initialSourceConnectionId: this.#peerInitialScid }, this.role);
    }
    this.#validateVersionInformation(tp);
    this.#peerParams = tp;
    this.#qlogEvent(now, 'transport:parameters_set', { owner: 'remote', ...this.#qlogParams(tp) });
    this.#applyPeerParameters(tp);
  }

  /** RFC 9368 §4: downgrade protection for version negotiation. */
  #validateVersionInformation(tp: TransportParameters): void {
    const vi = tp.versionInformation;
    const fail = (why: string): never => {
      throw new TransportError(TransportErrorCode.VERSION_NEGOTIATION_ERROR, why);
    };
    if (this.role === 'client') {
      if (vi === undefined) {
        if (this.#receivedVersionNegotiation) fail('missing version_information after version negotiation');
        return;
      }
      if (vi.chosen !== this.version) fail('chosen version mismatch');
      if (this.#receivedVersionNegotiation && vi.available.length > 0) {
        const expected = this.#supportedVersions.find((v) => vi.available.includes(v));
        if (expected !== undefined && expected !== this.version) fail('version downgrade');
      }
    } else if (vi !== undefined) {
      const clientVersion = this.#altInitial?.version ?? this.version;
      if (vi.chosen !== clientVersion) fail('client chosen version mismatch');
    }
  }

  #applyPeerParameters(tp: TransportParameters): void {
    this.streams.setPeerLimits({
      initialMaxData: tp.initialMaxData,
      initialMaxStreamDataBidiLocal: tp.initialMaxStreamDataBidiLocal,
      initialMaxStreamDataBidiRemote: tp.initialMaxStreamDataBidiRemote,
      initialMaxStreamDataUni: tp.initialMaxStreamDataUni,
      initialMaxStreamsBidi: tp.initialMaxStreamsBidi,
      initialMaxStreamsUni: tp.initialMaxStreamsUni,
    });
    this.#localCids.setPeerActiveLimit(tp.activeConnectionIdLimit);
    if (this.role === 'client') {
      if (tp.statelessResetToken) this.#remoteCids?.setInitialResetToken(tp.statelessResetToken);
      if (tp.preferredAddress && !this.#remoteCids?.zeroLength) {
        this.#remoteCids?.setPreferredAddressCid(
          tp.preferredAddress.connectionId,
          tp.preferredAddress.statelessResetToken,
        );
      }
    }
    const maxUdp = Math.min(this.config.maxUdpPayloadSize, tp.maxUdpPayloadSize);
    for (const p of this.#paths) p.mtud.maxProbe = maxUdp;
    this.#idleTimeout = this.#negotiatedIdleTimeout(tp);
  }

  /** RFC 9000 §10.1: the smaller of the two advertised idle timeouts (0 = none). */
  #negotiatedIdleTimeout(tp: TransportParameters): Duration {
    const local = this.config.maxIdleTimeout;
    const peer = ms(tp.maxIdleTimeout);
    if (local === 0) return peer;
    if (peer === 0) return local;
    return Math.min(local, peer);
  }

  #effectiveIdleTimeout(): Duration {
    if (this.#idleTimeout === 0) return NEVER;
    // RFC 9000 §10.1: at least three times the current PTO.
    return Math.max(this.#idleTimeout, 3 * this.#currentPto());
  }

  #applyRememberedParameters(tp: TransportParameters): void {
    // RFC 9000 §7.4.1: 0-RTT uses the server's remembered limits.
    this.streams.setPeerLimits({
      initialMaxData: tp.initialMaxData,
      initialMaxStreamDataBidiLocal: tp.initialMaxStreamDataBidiLocal,
      initialMaxStreamDataBidiRemote: tp.initialMaxStreamDataBidiRemote,
      initialMaxStreamDataUni: tp.initialMaxStreamDataUni,
      initialMaxStreamsBidi: tp.initialMaxStreamsBidi,
      initialMaxStreamsUni: tp.initialMaxStreamsUni,
    });
  }

  #buildLocalParameters(preferredCid: Uint8Array | undefined): TransportParameters {
    const c = this.config;
    const tp = defaultTransportParameters();
    tp.maxIdleTimeout = Math.floor(c.maxIdleTimeout / 1000);
    tp.maxUdpPayloadSize = c.maxUdpPayloadSize;
    tp.initialMaxData = c.initialMaxData;
    tp.initialMaxStreamDataBidiLocal = c.initialMaxStreamDataBidiLocal;
    tp.initialMaxStreamDataBidiRemote = c.initialMaxStreamDataBidiRemote;
    tp.initialMaxStreamDataUni = c.initialMaxStreamDataUni;
    tp.initialMaxStreamsBidi = c.initialMaxStreamsBidi;
    tp.initialMaxStreamsUni = c.initialMaxStreamsUni;
    tp.ackDelayExponent = c.ackDelayExponent;
    tp.maxAckDelay = Math.floor(c.maxAckDelay / 1000);
    tp.disableActiveMigration = c.disableActiveMigration;
    tp.activeConnectionIdLimit = c.activeConnectionIdLimit;
    tp.initialSourceConnectionId = this.#initialScid;
    tp.maxDatagramFrameSize = c.maxDatagramFrameSize > 0 ? c.maxDatagramFrameSize : undefined;
    tp.greaseQuicBit = c.greaseQuicBit;
    tp.versionInformation = { chosen: this.version, available: [...this.#supportedVersions] };
    if (this.role === 'server') {
      tp.originalDestinationConnectionId = this.#originalDcid;
      tp.retrySourceConnectionId = this.#retryScid;
      tp.statelessResetToken =
        this.#initialScid.length > 0 ? this.#options.resetTokenFor(this.#initialScid) : undefined;
      const pa = this.#options.preferredAddress;
      if (pa && preferredCid) {
        tp.preferredAddress = {
          ipv4: pa.ipv4,
          ipv6: pa.ipv6,
          connectionId: preferredCid,
          statelessResetToken: this.#options.resetTokenFor(preferredCid),
        };
      }
    }
    return tp;
  }

  #discardSpace(now: Instant, space: Space): void {
    const sp = this.#spaces[space]!;
    if (sp.discarded) return;
    sp.discarded = true;
    sp.probes = 0;
    const level =
      space === Space.Initial
        ? Level.Initial
        : space === Space.Handshake
          ? Level.Handshake
          : Level.Application;
    this.#keys[level]!.read = undefined;
    this.#keys[level]!.write = undefined;
    if (space === Space.Initial) this.#altInitial = undefined;
    for (const p of this.#loss.discardSpace(space)) {
      if (p.inFlight) this.#pathById(p.pathId)?.cc.discard(p.size);
    }
    sp.cryptoSend.release();
    this.#qlogEvent(now, 'security:key_discarded', {
      key_type: `${['initial', 'handshake', '1rtt'][space]}`,
    });
  }

  // ---------------------------------------------------------------------------------------
  // Acknowledgements and loss (RFC 9002)
  // ---------------------------------------------------------------------------------------

  #peerMaxAckDelay(): Duration {
    return ms(this.#peerParams?.maxAckDelay ?? 25);
  }

  #onAck(
    now: Instant,
    space: Space,
    ranges: number[],
    ackDelayField: number,
    ecn: { ect0: number; ect1: number; ce: number } | undefined,
  ): void {
    const exponent = this.#peerParams?.ackDelayExponent ?? 3;
    // RFC 9002 §5.3: ack delay only matters in the application space.
    const ackDelay = space === Space.Application ? ackDelayField * 2 ** exponent : 0;
    const rtt = this.#active.rtt;
    // RTT samples go to the path the acknowledged packet was sent on (RFC 9000 §9.4).
    const res = this.#loss.onAckReceived(
      space,
      ranges,
      ackDelay,
      now,
      this.#rttOfPath,
      this.#handshakeConfirmed,
      this.#peerMaxAckDelay(),
    );
    if (res.rttSampled) {
      this.streams.setSmoothedRtt(rtt.smoothed);
      if (this.#qlog) {
        this.#qlogEvent(now, 'recovery:metrics_updated', {
          smoothed_rtt: rtt.smoothed / 1000,
          latest_rtt: rtt.latest / 1000,
          min_rtt: rtt.min / 1000,
          rtt_variance: rtt.rttvar / 1000,
          congestion_window: this.#active.cc.window,
          bytes_in_flight: this.#active.cc.bytesInFlight,
          ssthresh: this.#active.cc.ssthresh,
          congestion_state: this.#active.cc.state,
        });
      }
    }
    const acked = res.newlyAcked;
    if (acked.length > 0) {
      const k = this.#oneRtt;
      for (const p of acked) {
        this.#onPacketAcked(now, p);
        if (k !== undefined && p.frames.keyGeneration === k.generation) k.currentPhaseAcked = true;
      }
      this.#ccAcked(now, acked);
      if (res.largestNewlyAcked !== undefined) {
        this.#onEcnCounts(now, space, acked, ecn, res.largestNewlyAcked.timeSent, res.largestAckedIncreased);
      }
    }
    if (res.lost.length > 0) this.#onPacketsLost(now, res.lost, res.persistentCongestion);
  }

  /** ECN validation and CE reaction (RFC 9000 §13.4.2, RFC 9002 §7.1). */
  #onEcnCounts(
    now: Instant,
    space: Space,
    acked: SentPacket<SentRecords>[],
    counts: { ect0: number; ect1: number; ce: number } | undefined,
    largestSentTime: Instant,
    largestAckedIncreased: boolean,
  ): void {
    const p = this.#active;
    let marked = 0;
    for (const a of acked) if (a.pathId === p.id && a.frames.ecnMarked) marked++;
    if (p.ecn.onAck(space, marked, counts, largestAckedIncreased)) {
      p.cc.onEcnCongestion(now, largestSentTime);
      this.#stats.congestionEvents++;
    }
  }

  /** Congestion-control credit for acknowledged packets, per path (RFC 9000 §9.4). */
  #ccAcked(now: Instant, acked: SentPacket<SentRecords>[]): void {
    const appLimited = this.#appLimited;
    let first = -1;
    let mixed = false;
    for (const p of acked) {
      if (!p.inFlight) continue;
      if (first === -1) first = p.pathId;
      else if (p.pathId !== first) mixed = true;
    }
    if (first === -1) return;
    if (!mixed) {
      const path = this.#pathById(first);
      if (path) path.cc.onPacketsAcked(now, acked.filter(isInFlight), path.rtt, appLimited);
      return;
    }
    const byPath = new Map<number, SentPacket<SentRecords>[]>();
    for (const p of acked) {
      if (!p.inFlight) continue;
      let list = byPath.get(p.pathId);
      if (!list) byPath.set(p.pathId, (list = []));
      list.push(p);
    }
    for (const [id, list] of byPath) {
      const path = this.#pathById(id);
      if (path) path.cc.onPacketsAcked(now, list, path.rtt, appLimited);
    }
  }

  readonly #rttOfPath = (id: number): RttEstimator => this.#pathById(id)?.rtt ?? this.#active.rtt;

  #onPacketAcked(now: Instant, p: SentPacket<SentRecords>): void {
    const r = p.frames;
    // DPLPMTUD black-hole detection needs to see full-size packets getting through (RFC 8899 §4.3).
    if (r.mtuProbe === 0 && p.inFlight) this.#pathById(p.pathId)?.mtud.onPacketAcked(p.size);
    if (r.stream) this.streams.onAcked(r.stream);
    if (r.streams) for (const s of r.streams) this.streams.onAcked(s);
    if (r.localCids) for (const c of r.localCids) this.#localCids.onAcked(c);
    if (r.remoteCids && this.#remoteCids) for (const c of r.remoteCids) this.#remoteCids.onAcked(c);
    if (r.crypto) {
      for (const c of r.crypto) {
        const sp = this.#spaces[spaceOfLevel(c.level)]!;
        if (!sp.discarded) sp.cryptoSend.onAcked(c.offset, c.length, false);
      }
    }
    if (r.ackLargest >= 0) this.#spaces[r.ackSpace]!.ack.onAckFrameAcked(r.ackLargest);
    if (r.mtuProbe > 0) {
      const path = this.#pathById(p.pathId);
      if (path) {
        path.mtud.onProbeAcked(p.pn);
        path.cc.maxDatagramSize = path.mtu;
        this.#qlogEvent(now, 'transport:mtu_updated', { mtu: path.mtu, done: false, path_id: path.id });
      }
    }
  }

  #onPacketsLost(now: Instant, lost: SentPacket<SentRecords>[], persistentCongestion: boolean): void {
    const forCc: SentPacket<SentRecords>[] = [];
    for (const p of lost) {
      this.#stats.packetsLost++;
      const path = this.#pathById(p.pathId);
      if (this.#qlog) {
        this.#qlogEvent(now, 'recovery:packet_lost', {
          header: { packet_number: p.pn },
          trigger: 'reordering_threshold',
        });
      }
      if (p.frames.mtuProbe > 0) {
        // RFC 9000 §14.4: a lost PMTU probe is not a congestion signal.
        path?.mtud.onProbeLost(p.pn);
        if (p.inFlight) path?.cc.discard(p.size);
        continue;
      }
      path?.mtud.onPacketLost(p.size);
      if (p.inFlight) forCc.push(p);
      this.#requeueRecords(p.frames);
    }
    if (forCc.length === 0) return;
    const first = forCc[0]!.pathId;
    if (forCc.every((p) => p.pathId === first)) {
      this.#pathById(first)?.cc.onPacketsLost(now, forCc, persistentCongestion);
    } else {
      const ids = new Set(forCc.map((p) => p.pathId));
      for (const id of ids)
        this.#pathById(id)?.cc.onPacketsLost(
          now,
          forCc.filter((p) => p.pathId === id),
          persistentCongestion,
        );
    }
    this.#stats.congestionEvents++;
    if (persistentCongestion) this.#active.rtt.onPersistentCongestion();
  }

  /** Queue again the information a lost packet carried (RFC 9000 §13.3). */
  #requeueRecords(r: SentRecords): void {
    if (r.stream) this.streams.onLost(r.stream);
    if (r.streams) for (const s of r.streams) this.streams.onLost(s);
    if (r.localCids) for (const c of r.localCids) this.#localCids.onLost(c);
    if (r.remoteCids && this.#remoteCids) for (const c of r.remoteCids) this.#remoteCids.onLost(c);
    if (r.crypto) {
      for (const c of r.crypto) {
        const sp = this.#spaces[spaceOfLevel(c.level)]!;
        if (!sp.discarded) sp.cryptoSend.onLost(c.offset, c.length, false);
      }
    }
    if (r.handshakeDone) this.#handshakeDonePending = true;
    if (r.newTokens) this.#newTokensPending.push(...r.newTokens);
  }

  // ---------------------------------------------------------------------------------------
  // Sending (RFC 9000 §12.2, §13, §14; RFC 9002 §7)
  // ---------------------------------------------------------------------------------------

  #appLimited = false;

  /**
   * The next datagram to send, or undefined when there is nothing to send right now. With
   * `hpBatch`, header protection is only queued there: apply the batch before sending.
   */
  pollTransmit(now: Instant, hpBatch?: HeaderProtectionBatch): Transmit | undefined {
    this.#hpBatch = hpBatch;
    const t = this.#pollTransmit(now);
    this.#hpBatch = undefined;
    return t;
  }

  /** Where #sealPacket queues header protection during a pollTransmit call (or applies it). */
  #hpBatch: HeaderProtectionBatch | undefined = undefined;

  #pollTransmit(now: Instant): Transmit | undefined {
    this.#now = now;
    switch (this.#state) {
      case 'closed':
      case 'draining':
        return undefined;
      case 'closing':
        return this.#sendClose(now);
      default:
        break;
    }
    // Probing traffic on other paths: PATH_RESPONSE where the challenge came from (§8.2.2),
    // PATH_CHALLENGE on paths being validated (§8.2.1).
    for (const p of this.#paths) {
      if (p === this.#active) continue;
      if (p.responses.length > 0 || (p.challengePending && p.nextChallengeAt <= now)) {
        const t = this.#buildProbeDatagram(now, p);
        if (t) return t;
      }
    }
    const t = this.#buildDatagram(now, this.#active);
    if (t) return t;
    return this.#buildMtuProbe(now, this.#active);
  }

  /** What the application space would put in a packet now. */
  #appHasData(ccOpen: boolean): boolean {
    if (this.#handshakeDonePending || this.#newTokensPending.length > 0 || this.#pingPending) return true;
    if (this.#localCids.hasPendingFrames() || (this.#remoteCids?.hasPendingFrames() ?? false)) return true;
    const a = this.#active;
    if (a.responses.length > 0 || (a.challengePending && a.nextChallengeAt <= this.#now)) return true;
    if (this.#spaces[Space.Application]!.cryptoSend.hasPending()) return true;
    if (!ccOpen) return false;
    return this.#datagramsOut.length > 0 || this.streams.hasPendingFrames();
  }

  #writeKeysFor(level: Level): PacketKeys | undefined {
    if (level === Level.Application) return this.#oneRtt?.write;
    return this.#keys[level]!.write;
  }

  #buildDatagram(now: Instant, path: NetworkPath): Transmit | undefined {
    const budget = path.amplificationBudget();
    // RFC 9000 §8.1: nothing at all may be sent beyond the amplification limit.
    if (budget < 64) return undefined;
    const size = Math.min(path.mtu, budget);
    const cc = path.cc;
    const ccOpen = cc.bytesInFlight < cc.window;
    let paced = true;
    if (ccOpen) {
      const at = path.pacer.nextSendTime(now, size, cc.window, path.rtt.smoothed, path.mtu);
      if (at > now) {
        paced = false;
        this.#pacingWakeAt = at;
      } else {
        this.#pacingWakeAt = NEVER;
      }
    }
    const sendData = ccOpen && paced;

    // Plan which levels get a packet in this datagram (coalescing, RFC 9000 §12.2).
    const plan = this.#plan;
    plan.length = 0;
    let padTarget = 0;
    // (Once the handshake is confirmed both handshake spaces are gone: skip them.)
    for (let i = 0; i < 2 && !this.#handshakeConfirmed; i++) {
      const level = i === 0 ? Level.Initial : Level.Handshake;
      const sp = this.#spaces[spaceOfLevel(level)]!;
      if (sp.discarded || !this.#keys[level]!.write) continue;
      const ackDue = sp.ack.ackDeadline(0) <= now;
      const data = sp.cryptoSend.hasPending() || sp.probes > 0;
      if (ackDue || (data && (sendData || sp.probes > 0))) {
        plan.push(level);
        // RFC 9000 §14.1: clients pad every datagram with an Initial; servers those with an
        // ack-eliciting Initial.
        if (level === Level.Initial && (this.role === 'client' || data)) padTarget = MIN_DATAGRAM_SIZE;
      }
    }
    const appSp = this.#spaces[Space.Application]!;
    let appLevel: Level | undefined;
    if (this.#oneRtt) appLevel = Level.Application;
    else if (this.role === 'client' && this.#keys[Level.EarlyData]!.write && !this.#zeroRttRejected)
      appLevel = Level.EarlyData;
    if (appLevel !== undefined) {
      const ackDue = appLevel === Level.Application && appSp.ack.ackDeadline(this.config.maxAckDelay) <= now;
      const data =
        appLevel === Level.Application
          ? this.#appHasData(sendData) || appSp.probes > 0
          : sendData && (this.streams.hasPendingFrames() || this.#datagramsOut.length > 0);
      if (ackDue || data) plan.push(appLevel);
      if (data) this.#appLimited = false;
    }
    if (plan.length === 0) {
      if (ccOpen && paced) this.#appLimited = true;
      return undefined;
    }
    if (plan.at(-1) === Level.Application) {
      // RFC 9000 §8.2.1, §8.2.2: datagrams with PATH_CHALLENGE or PATH_RESPONSE are expanded
      // to 1200 octets. PTO probes and silence probes are padded too: after a NAT rebinding
      // they are what the peer first sees from our new address, and its 3× budget follows it.
      const pathFrames = path.responses.length > 0 || (path.challengePending && path.nextChallengeAt <= now);
      if (pathFrames || this.#padNextDatagram || appSp.probes > 0)
        padTarget = Math.max(padTarget, MIN_DATAGRAM_SIZE);
      this.#padNextDatagram = false;
    }
    if (padTarget > size) padTarget = size;

    const buf = datagramBuffer(size);
    let off = 0;
    let ackEliciting = false;
    for (let i = 0; i < plan.length; i++) {
      const level = plan[i]!;
      const last = i === plan.length - 1;
      const r = this.#writePacket(now, level, buf, off, size, path, sendData, last ? padTarget : 0, 0);
      if (r < 0) continue;
      if (r > 0) ackEliciting = true;
      off = this.#lastPacketEnd;
    }
    if (off === 0) return undefined;
    if (ackEliciting) this.#onAckElicitingSent(now);
    return this.#finishDatagram(now, path, buf, off);
  }

  #lastPacketEnd = 0;
  /** Levels planned for the datagram being built (reused: no allocation per datagram). */
  readonly #plan: Level[] = [];

  #finishDatagram(now: Instant, path: NetworkPath, buf: Uint8Array, size: number): Transmit {
    path.onDatagramSent(size, now);
    this.#stats.datagramsSent++;
    this.#stats.bytesSent += size;
    const ecn: Ecn = path.ecn.shouldMark() ? 2 : 0;
    return { path: path.asPath, data: size === buf.length ? buf : buf.subarray(0, size), ecn };
  }

  #onAckElicitingSent(now: Instant): void {
    // RFC 9000 §10.1: sending the first ack-eliciting packet after receiving restarts the timer.
    if (!this.#ackElicitingSinceReceive) {
      this.#ackElicitingSinceReceive = true;
      this.#idleDeadline = now + this.#effectiveIdleTimeout();
    }
    if (this.config.keepAliveInterval > 0 && this.#handshakeConfirmed)
      this.#keepAliveAt = now + this.config.keepAliveInterval;
  }

  /** DCID for packets on `path` (RFC 9000 §9.5: a path never shares a CID with another). */
  #dcidFor(path: NetworkPath): Uint8Array | undefined {
    const remote = this.#remoteCids;
    if (!remote || !this.#peerCidKnown) return this.#initialDcid;
    const cid = remote.current(path.id)?.cid ?? remote.bind(path.id)?.cid;
    if (cid !== undefined || this.role === 'client') return cid;
    // Server on a path the peer moved to or from, with no fresh CID left: RFC 9000 §9.5 lets us
    // keep using a current one (the peer changed address, we did not).
    const active = remote.current(this.#active.id)?.cid;
    if (active !== undefined) return active;
    for (const e of remote.held()) if (e.used) return e.cid;
    return undefined;
  }

  /**
   * Starts a packet at `level` in `buf[off..end)`: header up to the packet number (RFC 9000
   * §17). Undefined when there are no keys or no room. Frames are then written with `d.w` and
   * `#sealPacket` finishes it.
   */
  #beginPacket(
    level: Level,
    buf: Uint8Array,
    off: number,
    end: number,
    dcid: Uint8Array,
  ): PacketDraft | undefined {
    const keys = this.#writeKeysFor(level);
    if (!keys) return undefined;
    const space = spaceOfLevel(level);
    const pn = this.#spaces[space]!.nextPn;
    const pnLength = packetNumberLength(pn, this.#loss.largestAcked(space));
    // One writer and one draft per connection: packets are built one at a time.
    const w = this.#draft.w;
    w.buf = buf;
    w.offset = off;
    w.limit = end - AEAD_TAG_LENGTH;
    let lengthOffset = -1;
    let pnOffset: number;
    if (level !== Level.Application) {
      if (w.remaining < 7 + dcid.length + this.#initialScid.length + 3 + this.#token.length + 8)
        return undefined;
      const h = writeLongHeader(w, {
        type: level === Level.Initial ? 'initial' : level === Level.Handshake ? 'handshake' : '0rtt',
        version: this.version,
        dcid,
        scid: this.#initialScid,
        token: level === Level.Initial && this.role === 'client' ? this.#token : undefined,
        pnLength,
      });
      lengthOffset = h.lengthOffset;
      pnOffset = h.pnOffset;
    } else {
      if (w.remaining < 1 + dcid.length + 4 + 8) return undefined;
      pnOffset = writeShortHeader(w, { dcid, pnLength, keyPhase: this.#oneRtt!.phase, spin: false });
    }
    w.reserve(pnLength);
    const d = this.#draft;
    d.keys = keys;
    d.space = space;
    d.pn = pn;
    d.pnLength = pnLength;
    d.pnOffset = pnOffset;
    d.lengthOffset = lengthOffset;
    d.start = off;
    d.payloadStart = w.offset;
    d.padded = false;
    return d;
  }

  readonly #draft = new PacketDraft();
  /** Scratch list for the stream-layer records of the packet being written. */
  readonly #streamRecords: StreamRecord[] = [];
  /** qlog frames of the packet `#sealPacket` sealed last (undefined without qlog). */
  #sealedFrames: unknown = undefined;

  /**
   * Pads (to make the datagram `padTarget` octets; and for the header-protection sample, RFC
   * 9001 §5.4.2), seals and protects the packet; returns its end. qlog frames are described
   * from the plaintext into `#sealedFrames` when qlog is on.
   */
  #sealPacket(d: PacketDraft, padTarget: number, records: SentRecords | undefined): number {
    const w = d.w;
    if (padTarget > 0) {
      const want = padTarget - (w.offset + AEAD_TAG_LENGTH);
      if (want > 0 && want <= w.remaining) {
        w.zeros(want);
        d.padded = true;
      }
    }
    const minPayload = 4 - d.pnLength;
    if (w.offset - d.payloadStart < minPayload) w.zeros(minPayload - (w.offset - d.payloadStart));
    const payloadEnd = w.offset;
    if (d.lengthOffset >= 0) patchLength(w.buf, d.lengthOffset, payloadEnd - d.pnOffset + AEAD_TAG_LENGTH);
    this.#sealedFrames = this.#qlog
      ? describeFrames(w.buf.subarray(d.payloadStart, payloadEnd), records)
      : undefined;
    const end = protectPacket(
      w.buf,
      d.start,
      d.pnOffset,
      d.pnLength,
      payloadEnd,
      d.pn,
      d.keys!,
      this.#hpBatch,
    );
    this.#spaces[d.space]!.nextPn++;
    this.#stats.packetsSent++;
    return end;
  }

  /**
   * Writes one packet at `level` into `buf[off..end)`. Returns 1 when it wrote an ack-eliciting
   * packet, 0 for a non-ack-eliciting one, -1 when nothing was written. `this.#lastPacketEnd`
   * holds the end offset. `padTarget`: pad so the datagram reaches this size.
   */
  #writePacket(
    now: Instant,
    level: Level,
    buf: Uint8Array,
    off: number,
    end: number,
    path: NetworkPath,
    sendData: boolean,
    padTarget: number,
    mtuProbe: number,
  ): number {
    const dcid = this.#dcidFor(path);
    if (dcid === undefined) return -1;
    const d = this.#beginPacket(level, buf, off, end, dcid);
    if (d === undefined) return -1;
    const { w, space, pn, payloadStart } = d;
    const sp = this.#spaces[space]!;
    const records = new SentRecords();
    let ackEliciting = false;

    // ACK first (RFC 9000 §13.2): every packet may carry one; 0-RTT packets cannot. Packets
    // that were not ack-eliciting are only acknowledged along with ones that are (§13.2.1).
    if (level !== Level.EarlyData && sp.ack.ackElicitingPending) {
      const exp = space === Space.Application ? this.config.ackDelayExponent : 0;
      const ack = sp.ack.buildAck(now, exp);
      if (ack !== undefined) {
        const len = ackFrameLength(ack.ranges, ack.ackDelay, ack.ecn);
        if (len <= w.remaining) {
          writeAckFrame(w, ack.ranges, ack.ackDelay, ack.ecn);
          sp.ack.onAckSent(now);
          records.ackLargest = ack.ranges[0]!;
          records.ackSpace = space;
        }
      }
    }

    if (mtuProbe > 0) {
      // DPLPMTUD probe (RFC 8899 §4.1): PING + PADDING to exactly the probed size.
      w.u8(FrameType.PING);
      ackEliciting = true;
      records.mtuProbe = mtuProbe;
    } else if (level === Level.Initial || level === Level.Handshake) {
      if (this.#writeCrypto(w, level, sp, records)) ackEliciting = true;
      if (sp.probes > 0) {
        sp.probes--;
        if (!ackEliciting) {
          w.u8(FrameType.PING);
          ackEliciting = true;
        }
        // The second probe datagram carries the handshake data again (RFC 9002 §6.2.4).
        if (sp.probes > 0) sp.cryptoSend.requeueAll();
      }
    } else if (level === Level.Application) {
      ackEliciting = this.#writeApplicationFrames(now, w, path, records, sendData) || ackEliciting;
      if (sp.probes > 0) {
        sp.probes--;
        if (!ackEliciting && w.remaining > 0) {
          w.u8(FrameType.PING);
          ackEliciting = true;
        }
      }
    } else {
      // 0-RTT (RFC 9001 §4.6.1): stream data and datagrams only.
      records.zeroRtt = true;
      this.#stats.zeroRttSent++;
      if (sendData) ackEliciting = this.#writeStreamsAndDatagrams(now, w, records) || ackEliciting;
    }

    if (w.offset === payloadStart && padTarget === 0) return -1;
    const packetEnd = this.#sealPacket(d, padTarget, records);
    this.#lastPacketEnd = packetEnd;

    const size = packetEnd - off;
    const inFlight = ackEliciting || d.padded;
    if (level === Level.Application) {
      const k = this.#oneRtt!;
      records.keyGeneration = k.generation;
      if (k.firstSentPn < 0) k.firstSentPn = pn;
      k.sentInPhase++;
      // Our packet carrying an ACK in the new phase completes a peer-initiated update (RFC 9001 §6.2).
      if (records.ackLargest >= 0) k.awaitingAckOfUpdate = false;
    }
    records.ecnMarked = path.ecn.shouldMark();
    records.pn = pn;
    records.timeSent = now;
    records.size = size;
    records.ackEliciting = ackEliciting;
    records.inFlight = inFlight;
    records.pathId = path.id;
    records.isMtuProbe = mtuProbe > 0;
    this.#loss.onPacketSent(space, records);
    if (inFlight) {
      path.cc.onPacketSent(now, size);
      path.pacer.onSent(now, size);
    }
    if (this.#qlog) {
      this.#qlogEvent(now, 'transport:packet_sent', {
        header: { packet_type: PACKET_TYPE_OF_LEVEL[level], packet_number: pn, dcid: hexOf(dcid) },
        raw: { length: size },
        frames: this.#sealedFrames,
        path: { local: path.local, remote: path.remote },
      });
    }
    // RFC 9001 §4.9.1: a client discards Initial keys when it first sends a Handshake packet.
    if (level === Level.Handshake && this.role === 'client') this.#discardSpace(now, Space.Initial);
    return ackEliciting ? 1 : 0;
  }

  #writeCrypto(w: BufferWriter, level: Level, sp: SpaceState, records: SentRecords): boolean {
    const send = sp.cryptoSend;
    let wrote = false;
    while (w.remaining > 8) {
      const room = w.remaining - cryptoFrameHeaderLength(send.sentOffset + 0xffff, w.remaining);
      if (room <= 0 || !send.nextPiece(room)) break;
      const offset = send.pieceOffset;
      const length = send.pieceLength;
      if (length === 0) break;
      writeCryptoFrameHeader(w, offset, length);
      send.copyOut(w.buf, w.offset, offset, length);
      w.offset += length;
      send.commitPiece();
      (records.crypto ??= []).push({ level, offset, length });
      wrote = true;
    }
    return wrote;
  }

  /** 1-RTT frames in priority order. Returns true when an ack-eliciting frame was written. */
  #writeApplicationFrames(
    now: Instant,
    w: BufferWriter,
    path: NetworkPath,
    records: SentRecords,
    sendData: boolean,
  ): boolean {
    let eliciting = this.#writePathFrames(now, w, path);
    if (this.#handshakeDonePending && w.remaining >= 1) {
      w.u8(FrameType.HANDSHAKE_DONE);
      this.#handshakeDonePending = false;
      records.handshakeDone = true;
      eliciting = true;
    }
    const sp = this.#spaces[Space.Application]!;
    if (this.#writeCrypto(w, Level.Application, sp, records)) eliciting = true;
    while (this.#newTokensPending.length > 0) {
      const token = this.#newTokensPending[0]!;
      const f: Frame = { type: 'new_token', token };
      if (w.remaining < token.length + 10) break;
      encodeFrame(w, f);
      this.#newTokensPending.shift();
      (records.newTokens ??= []).push(token);
      eliciting = true;
    }
    if (this.#localCids.hasPendingFrames()) {
      const before = w.offset;
      this.#localCids.writeFrames(w, (records.localCids ??= []));
      if (w.offset > before) eliciting = true;
    }
    if (this.#remoteCids?.hasPendingFrames()) {
      const before = w.offset;
      this.#remoteCids.writeFrames(w, (records.remoteCids ??= []));
      if (w.offset > before) eliciting = true;
    }
    if (sendData && this.#writeStreamsAndDatagrams(now, w, records)) eliciting = true;
    if (this.#pingPending && w.remaining >= 1) {
      if (!eliciting) w.u8(FrameType.PING);
      this.#pingPending = false;
      eliciting = true;
    }
    return eliciting;
  }

  #writeStreamsAndDatagrams(now: Instant, w: BufferWriter, records: SentRecords): boolean {
    let eliciting = false;
    // DATAGRAM frames before stream data: they exist for latency (RFC 9221 §5).
    while (this.#datagramsOut.length > 0) {
      const d = this.#datagramsOut[0]!;
      if (d.length + 3 > w.remaining) break;
      encodeFrame(w, { type: 'datagram', data: d });
      this.#datagramsOut.shift();
      this.#datagramsOutBytes -= d.length;
      eliciting = true;
    }
    if (this.streams.hasPendingFrames()) {
      const before = w.offset;
      // Explicit Length on every STREAM frame: padding may follow (RFC 9000 §19.8).
      const list = this.#streamRecords;
      this.streams.writeFrames(w, list, now, false);
      records.addStreamRecords(list);
      list.length = 0;
      if (w.offset > before) eliciting = true;
    }
    return eliciting;
  }

  /** PATH_RESPONSEs owed on this path and a due PATH_CHALLENGE (RFC 9000 §8.2). */
  #writePathFrames(now: Instant, w: BufferWriter, path: NetworkPath): boolean {
    let wrote = false;
    while (path.responses.length > 0 && w.remaining >= 9) {
      encodeFrame(w, { type: 'path_response', data: path.responses.shift()! });
      wrote = true;
    }
    if (path.challengePending && path.nextChallengeAt <= now && w.remaining >= 9) {
      this.#writeChallenge(now, w, path);
      wrote = true;
    }
    return wrote;
  }

  #writeChallenge(now: Instant, w: BufferWriter, path: NetworkPath): void {
    const data = new Uint8Array(8);
    this.#random.fill(data);
    encodeFrame(w, { type: 'path_challenge', data });
    // RFC 9000 §8.2.1: retransmit no faster than Initials would be (PTO with backoff).
    const pto = this.#pathPto(path) * 2 ** Math.min(path.challenges.length, 6);
    path.onChallengeSent(data, now, w.limit + AEAD_TAG_LENGTH >= MIN_DATAGRAM_SIZE, now + pto);
    this.#stats.pathValidations++;
    this.#qlogEvent(now, 'transport:path_challenge_sent', {
      path_id: path.id,
      remote: path.remote,
      local: path.local,
    });
  }

  /**
   * A datagram of probing frames only (PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID,
   * PADDING — RFC 9000 §9.1) on a path other than the active one, padded to 1200 octets when
   * the amplification limit allows (§8.2.1, §8.2.2).
   */
  #buildProbeDatagram(now: Instant, path: NetworkPath): Transmit | undefined {
    if (!this.#oneRtt) return undefined;
    const budget = path.amplificationBudget();
    if (budget < 64) {
      path.responses.length = 0;
      return undefined;
    }
    const dcid = this.#dcidFor(path);
    if (dcid === undefined) {
      // No CID to send with (RFC 9000 §9.5): this path cannot be validated now.
      path.responses.length = 0;
      if (path.validating) this.#failPath(now, path, 'no-connection-id');
      return undefined;
    }
    const size = Math.min(MIN_DATAGRAM_SIZE, budget);
    const buf = datagramBuffer(size);
    const d = this.#beginPacket(Level.Application, buf, 0, size, dcid);
    if (d === undefined) return undefined;
    const w = d.w;
    const records = new SentRecords();
    const eliciting = this.#writePathFrames(now, w, path);
    if (this.#localCids.hasPendingFrames()) this.#localCids.writeFrames(w, (records.localCids ??= []));
    if (w.offset === d.payloadStart) return undefined;
    const packetEnd = this.#sealPacket(d, size, records);
    records.keyGeneration = this.#oneRtt!.generation;
    records.pn = d.pn;
    records.timeSent = now;
    records.size = packetEnd;
    records.ackEliciting = eliciting;
    records.inFlight = false;
    records.pathId = path.id;
    this.#loss.onPacketSent(Space.Application, records);
    if (this.#qlog) {
      this.#qlogEvent(now, 'transport:packet_sent', {
        header: { packet_type: '1rtt', packet_number: d.pn, dcid: hexOf(dcid) },
        raw: { length: packetEnd },
        frames: this.#sealedFrames,
        path: { local: path.local, remote: path.remote },
        probing: true,
      });
    }
    return this.#finishDatagram(now, path, buf, packetEnd);
  }

  #buildMtuProbe(now: Instant, path: NetworkPath): Transmit | undefined {
    if (!this.#handshakeConfirmed || !path.validated || !this.#oneRtt) return undefined;
    const size = path.mtud.pollProbe(now);
    if (size === undefined || size <= path.mtu) return undefined;
    if (path.cc.bytesInFlight + size > path.cc.window) return undefined;
    const buf = datagramBuffer(size);
    const r = this.#writePacket(now, Level.Application, buf, 0, size, path, false, size, size);
    if (r < 0) return undefined;
    path.mtud.onProbeSent(this.#spaces[Space.Application]!.nextPn - 1, size, now);
    this.#qlogEvent(now, 'transport:mtu_probe_sent', { size, path_id: path.id });
    return this.#finishDatagram(now, path, buf, this.#lastPacketEnd);
  }

  /** CONNECTION_CLOSE in every level the peer may be able to read (RFC 9000 §10.2.3). */
  #sendClose(now: Instant): Transmit | undefined {
    if (!this.#closeSendPending || !this.#closeFrame) return undefined;
    this.#closeSendPending = false;
    const path = this.#active;
    const budget = path.amplificationBudget();
    if (budget < 64) return undefined;
    const size = Math.min(path.mtu, budget);
    const buf = datagramBuffer(size);
    let off = 0;
    const levels: Level[] = [];
    if (!this.#handshakeConfirmed) {
      if (this.#keys[Level.Initial]!.write) levels.push(Level.Initial);
      if (this.#keys[Level.Handshake]!.write) levels.push(Level.Handshake);
    }
    if (this.#oneRtt) levels.push(Level.Application);
    const padInitial = this.role === 'client' && levels.includes(Level.Initial);
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i]!;
      const r = this.#writeClosePacket(
        level,
        buf,
        off,
        size,
        path,
        padInitial && i === levels.length - 1 ? Math.min(size, MIN_DATAGRAM_SIZE) : 0,
      );
      if (r > off) off = r;
    }
    if (off === 0) return undefined;
    return this.#finishDatagram(now, path, buf, off);
  }

  #writeClosePacket(
    level: Level,
    buf: Uint8Array,
    off: number,
    end: number,
    path: NetworkPath,
    padTarget: number,
  ): number {
    const dcid = this.#dcidFor(path);
    const cf = this.#closeFrame;
    if (dcid === undefined || !cf) return off;
    const d = this.#beginPacket(level, buf, off, end, dcid);
    if (d === undefined) return off;
    // RFC 9000 §10.2.3: an application close cannot appear in Initial/Handshake packets;
    // it becomes a transport APPLICATION_ERROR without the reason.
    const appInLongHeader = cf.application && level !== Level.Application;
    const frame: Frame = {
      type: 'connection_close',
      application: appInLongHeader ? false : cf.application,
      errorCode: appInLongHeader ? TransportErrorCode.APPLICATION_ERROR : cf.code,
      frameType: appInLongHeader ? 0 : cf.frameType,
      reason: appInLongHeader ? '' : cf.reason.slice(0, 256),
    };
    try {
      encodeFrame(d.w, frame);
    } catch {
      return off;
    }
    return this.#sealPacket(d, padTarget, undefined);
  }

  // ---------------------------------------------------------------------------------------
  // Timers (RFC 9000 §10.1, RFC 9002 §6.2, RFC 9001 §6.5)
  // ---------------------------------------------------------------------------------------

  #currentPto(): Duration {
    return this.#active.rtt.pto(this.#peerMaxAckDelay(), this.#handshakeConfirmed);
  }

  /** PTO of a path, with kInitialRtt when it has no sample yet. */
  #pathPto(p: NetworkPath): Duration {
    return p.rtt.pto(this.#peerMaxAckDelay(), true);
  }

  #lossTimer(): Instant {
    const p = this.#active;
    // One options object, refilled (pollTimeout runs after every input).
    const o = this.#lossTimerOptions;
    o.handshakeConfirmed = this.#handshakeConfirmed;
    o.serverAmplificationBlocked = this.role === 'server' && p.amplificationBudget() < 64;
    o.hasHandshakeKeys = this.#keys[Level.Handshake]!.write !== undefined;
    o.isClient = this.role === 'client';
    return this.#loss.timeout(p.rtt, this.#peerMaxAckDelay(), o);
  }

  readonly #lossTimerOptions: LossTimerOptions = {
    handshakeConfirmed: false,
    serverAmplificationBlocked: false,
    hasHandshakeKeys: false,
    isClient: false,
  };

  /** The earliest instant handleTimeout must be called (NEVER if none). */
  pollTimeout(): Instant {
    switch (this.#state) {
      case 'closed':
        return NEVER;
      case 'closing':
      case 'draining':
        return this.#closeDeadline;
      default:
        break;
    }
    let t = Math.min(
      this.#idleDeadline,
      this.#lossTimer(),
      this.#pacingWakeAt,
      this.#keepAliveAt,
      this.#zeroRttDiscardAt,
      this.#silenceProbeAt,
      this.#cidRotateAt,
    );
    if (this.#active.amplificationBudget() >= 64) {
      for (const sp of this.#spaces) {
        if (sp.discarded) continue;
        // An ACK can only go out with write keys of its space (0-RTT cannot carry ACKs).
        if (
          sp.space === Space.Application
            ? !this.#oneRtt
            : !this.#keys[sp.space === Space.Initial ? Level.Initial : Level.Handshake]!.write
        )
          continue;
        const d = sp.ack.ackDeadline(sp.space === Space.Application ? this.config.maxAckDelay : 0);
        if (d < t) t = d;
      }
    }
    for (const p of this.#paths) {
      if (p.validating) t = Math.min(t, p.validationDeadline, p.challengePending ? NEVER : p.nextChallengeAt);
    }
    if (this.#oneRtt) t = Math.min(t, this.#oneRtt.prevReadDiscardAt);
    const mtud = this.#active.mtud.timeout();
    if (mtud < t && this.#handshakeConfirmed) t = mtud;
    return t;
  }

  /** The deadlines behind pollTimeout() (diagnostics: which timer is due). */
  timers(): Record<string, number> {
    const out: Record<string, number> = {
      idle: this.#idleDeadline,
      loss: this.#lossTimer(),
      pacing: this.#pacingWakeAt,
      keepAlive: this.#keepAliveAt,
      zeroRttDiscard: this.#zeroRttDiscardAt,
      close: this.#closeDeadline,
      mtud: this.#active.mtud.timeout(),
      prevKeys: this.#oneRtt?.prevReadDiscardAt ?? NEVER,
    };
    for (const sp of this.#spaces)
      out[`ack${sp.space}`] = sp.ack.ackDeadline(
        sp.space === Space.Application ? this.config.maxAckDelay : 0,
      );
    for (const p of this.#paths) {
      out[`path${p.id}.validation`] = p.validationDeadline;
      out[`path${p.id}.challenge`] = p.challengePending ? NEVER : p.nextChallengeAt;
      out[`path${p.id}.state`] =
        (p === this.#active ? 1 : 0) +
        (p.validated ? 2 : 0) +
        (p.challengePending ? 4 : 0) +
        (p.validating ? 8 : 0);
    }
    return out;
  }

  handleTimeout(now: Instant): void {
    this.#now = now;
    if (this.#state === 'closed') return;
    if (this.#state === 'closing' || this.#state === 'draining') {
      if (now >= this.#closeDeadline) this.#setClosed();
      return;
    }
    if (now >= this.#idleDeadline) {
      // RFC 9000 §10.1: silently close after the idle timeout.
      this.#closeInfo = {
        source: 'idle',
        application: false,
        code: TransportErrorCode.NO_ERROR,
        frameType: 0,
        reason: 'idle timeout',
      };
      this.#emit({ type: 'closed', info: this.#closeInfo });
      this.#qlogEvent(now, 'transport:connection_closed', { owner: 'local', trigger: 'idle_timeout' });
      this.#setClosed();
      return;
    }
    if (now >= this.#lossTimer()) this.#onLossTimeout(now);
    if (this.#pacingWakeAt <= now) this.#pacingWakeAt = NEVER;
    if (this.#keepAliveAt <= now) {
      this.#pingPending = true;
      this.#keepAliveAt = now + this.config.keepAliveInterval;
    }
    if (this.#cidRotateAt <= now) {
      // Fresh CIDs, and retire_prior_to asks the peer to retire the old ones (RFC 9000 §5.1.2).
      this.#localCids.rotate();
      this.#cidRotateAt = now + (this.#options.cidGenerator.lifetime ?? 0);
      this.#qlogEvent(now, 'transport:connection_id_rotated', {
        retire_prior_to: this.#localCids.retirePriorTo,
      });
    }
    if (this.#silenceProbeAt <= now) {
      this.#silenceProbeAt = NEVER;
      if (this.streams.stats().openStreams > 0 && this.#silenceProbes < 30) {
        this.#pingPending = true;
        // Padded to 1200 octets: if our address changed, the peer may answer 3× that at once
        // instead of being held to 3× a tiny PING until validation (RFC 9000 §8.1, §9.3.1).
        this.#padNextDatagram = true;
        this.#silenceProbes++;
        // A fixed interval (not the PTO's backoff): a peer that lost track of our address can
        // only find us through these.
        this.#silenceProbeAt = now + this.#currentPto();
      }
    }
    if (this.#zeroRttDiscardAt <= now) {
      this.#keys[Level.EarlyData]!.read = undefined;
      this.#zeroRttDiscardAt = NEVER;
    }
    const k = this.#oneRtt;
    if (k && k.prevReadDiscardAt <= now) k.discardPrevious();
    for (const p of [...this.#paths]) {
      if (!p.validating) continue;
      if (now >= p.validationDeadline) this.#failPath(now, p, 'timeout');
      else if (now >= p.nextChallengeAt) p.challengePending = true;
    }
    this.#evictIdlePaths(now);
    this.#maybeUpdateKeys(now);
  }

  #onLossTimeout(now: Instant): void {
    const p = this.#active;
    const r = this.#loss.onTimeout(now, p.rtt, this.#peerMaxAckDelay(), {
      handshakeConfirmed: this.#handshakeConfirmed,
      serverAmplificationBlocked: this.role === 'server' && p.amplificationBudget() < 64,
      hasHandshakeKeys: this.#keys[Level.Handshake]!.write !== undefined,
      isClient: this.role === 'client',
    });
    if (r === undefined) return;
    if (r.kind === 'loss') {
      this.#onPacketsLost(now, r.lost, false);
      return;
    }
    // PTO (RFC 9002 §6.2.4): send one or two ack-eliciting probes in that space.
    this.#stats.ptoCount++;
    const sp = this.#spaces[r.space]!;
    if (sp.discarded) return;
    // RFC 9002 §6.2.4: up to two probe datagrams.
    sp.probes = 2;
    if (r.space !== Space.Application) {
      // Handshake data: send everything unacknowledged again.
      sp.cryptoSend.requeueAll();
    } else {
      // Retransmit the oldest unacknowledged data rather than only eliciting an ACK.
      for (const pkt of this.#loss.oldestUnacked(Space.Application, 2)) this.#requeueRecords(pkt.frames);
    }
    this.#qlogEvent(now, 'recovery:loss_timer_updated', {
      event_type: 'expired',
      timer_type: 'pto',
      packet_number_space: ['initial', 'handshake', 'application_data'][r.space],
    });
  }

  /** RFC 9001 §6.6: update keys ahead of the confidentiality limit (and optionally on a packet count). */
  #maybeUpdateKeys(now: Instant): void {
    const k = this.#oneRtt;
    if (!k || !this.#handshakeConfirmed) return;
    const limit = Math.min(
      k.confidentialityLimit - KEY_UPDATE_MARGIN,
      this.config.keyUpdateInterval || Number.POSITIVE_INFINITY,
    );
    if (k.sentInPhase < limit) return;
    if (!this.#initiateKeyUpdateInternal(now) && k.sentInPhase >= k.confidentialityLimit) {
      this.#closeWithError(
        now,
        new TransportError(TransportErrorCode.AEAD_LIMIT_REACHED, 'confidentiality limit'),
      );
    }
  }

  // ---------------------------------------------------------------------------------------
  // Closing (RFC 9000 §10)
  // ---------------------------------------------------------------------------------------

  /** Closes the connection with an application error code (CONNECTION_CLOSE type 0x1d). */
  close(now: Instant, errorCode = 0, reason = ''): void {
    this.#now = now;
    this.#wake();
    this.#startClosing(now, { application: true, code: errorCode, frameType: 0, reason }, 'local');
  }

  /** Closes with a transport error (used by the endpoint, e.g. for CONNECTION_REFUSED). */
  closeWithTransportError(now: Instant, error: TransportError): void {
    this.#closeWithError(now, error);
  }

  #closeWithError(now: Instant, e: TransportError): void {
    this.#qlogEvent(now, 'transport:connection_closed', {
      owner: 'local',
      connection_code: e.code,
      reason: e.reason,
      frame_type: e.frameType,
    });
    this.#startClosing(
      now,
      { application: false, code: e.code, frameType: e.frameType, reason: e.reason },
      'local',
    );
  }

  #startClosing(now: Instant, frame: CloseFrame, source: CloseInfo['source']): void {
    if (this.#state === 'closing' || this.#state === 'draining' || this.#state === 'closed') return;
    this.#closeInfo = {
      source,
      application: frame.application,
      code: frame.code,
      frameType: frame.frameType,
      reason: frame.reason,
    };
    this.#emit({ type: 'closed', info: this.#closeInfo });
    this.streams.abandon();
    const haveKeys = this.#keys[Level.Initial]!.write || this.#keys[Level.Handshake]!.write || this.#oneRtt;
    if (!haveKeys) {
      this.#setClosed();
      return;
    }
    this.#closeFrame = frame;
    this.#state = 'closing';
    this.#closeSendPending = true;
    // RFC 9000 §10.2: the closing state lasts three times the PTO.
    this.#closeDeadline = now + 3 * this.#currentPto();
  }

  #onConnectionClose(
    now: Instant,
    application: boolean,
    code: number,
    frameType: number,
    reason: string,
  ): void {
    this.#qlogEvent(now, 'transport:connection_closed', {
      owner: 'remote',
      connection_code: code,
      application,
      reason,
    });
    this.#closeInfo = { source: 'remote', application, code, frameType, reason };
    this.#emit({ type: 'closed', info: this.#closeInfo });
    this.streams.abandon();
    // RFC 9000 §10.2.2: draining; nothing more is sent.
    this.#state = 'draining';
    this.#closeDeadline = now + 3 * this.#currentPto();
  }

  #onStatelessReset(now: Instant): void {
    this.#qlogEvent(now, 'transport:connection_closed', { owner: 'remote', trigger: 'stateless_reset' });
    this.#closeInfo = {
      source: 'stateless-reset',
      application: false,
      code: TransportErrorCode.NO_ERROR,
      frameType: 0,
      reason: 'stateless reset',
    };
    this.#emit({ type: 'closed', info: this.#closeInfo });
    this.streams.abandon();
    // RFC 9000 §10.3.1: enter the draining period, send nothing.
    this.#state = 'draining';
    this.#closeDeadline = now + 3 * this.#currentPto();
  }

  #setClosed(): void {
    this.#state = 'closed';
    this.#closeFrame = undefined;
    this.#buffered.length = 0;
    for (const sp of this.#spaces) sp.cryptoSend.release();
  }

  // ---------------------------------------------------------------------------------------
  // Paths and migration (RFC 9000 §8.2, §9)
  // ---------------------------------------------------------------------------------------

  #pathOptions(): ConstructorParameters<typeof NetworkPath>[3] {
    const maxProbe = Math.min(
      this.config.maxUdpPayloadSize,
      this.#peerParams?.maxUdpPayloadSize ?? this.config.maxUdpPayloadSize,
    );
    return {
      congestion: this.config.congestionControl,
      initialMtu: this.config.initialMtu,
      maxMtu: maxProbe,
      mtuDiscovery: this.config.mtuDiscovery,
    };
  }

  #findPath(path: Path): NetworkPath | undefined {
    const a = this.#active;
    if (a !== undefined && sameAddress(a.remote, path.remote) && sameAddress(a.local, path.local)) return a;
    for (const p of this.#paths)
      if (sameAddress(p.remote, path.remote) && sameAddress(p.local, path.local)) return p;
    return undefined;
  }

  #pathById(id: number): NetworkPath | undefined {
    if (this.#active?.id === id) return this.#active;
    for (const p of this.#paths) if (p.id === id) return p;
    return undefined;
  }

  #addPath(path: Path, now: Instant): NetworkPath {
    const p = new NetworkPath(this.#nextPathId++, path, now, this.#pathOptions());
    // Only servers answer possibly spoofed addresses (RFC 9000 §8.1, §9.3.1).
    p.amplificationLimited = this.role === 'server';
    this.#paths.push(p);
    return p;
  }

  /** A path for a packet from a new 4-tuple, bounded in number (spoofed addresses cannot churn state). */
  #pathForIncoming(path: Path, now: Instant): NetworkPath {
    this.#evictIdlePaths(now);
    if (this.#paths.length >= this.config.maxPaths) {
      // Forget the least recently used path that is neither active nor the fallback.
      let victim: NetworkPath | undefined;
      for (const p of this.#paths) {
        if (p === this.#active || p === this.#fallback) continue;
        if (!victim || p.lastActivity < victim.lastActivity) victim = p;
      }
      if (victim) this.#removePath(now, victim, 'superseded');
    }
    const p = this.#addPath(path, now);
    this.#qlogEvent(now, 'transport:path_assigned', { path_id: p.id, local: p.local, remote: p.remote });
    return p;
  }

  #evictIdlePaths(now: Instant): void {
    for (const p of [...this.#paths]) {
      if (p === this.#active || p === this.#fallback || p.validating) continue;
      if (now - p.lastActivity > this.config.pathIdleTimeout) this.#removePath(now, p, 'superseded');
    }
  }

  #removePath(now: Instant, p: NetworkPath, reason: PathEventReason): void {
    const i = this.#paths.indexOf(p);
    if (i < 0) return;
    if (p.validating)
      this.#emit({ type: 'path-failed', pathId: p.id, path: { local: p.local, remote: p.remote }, reason });
    p.endValidation();
    this.#paths.splice(i, 1);
    if (this.#fallback === p) this.#fallback = undefined;
    // Retire the path's CID, unless the active path needs it (the peer may not have sent a
    // replacement yet; RFC 9000 §9.5 lets a server keep using it after a peer address change).
    const remote = this.#remoteCids;
    if (
      remote &&
      this.role === 'server' &&
      !remote.current(this.#active.id) &&
      !remote.bind(this.#active.id)
    ) {
      remote.move(p.id, this.#active.id);
    }
    remote?.release(p.id);
    this.#qlogEvent(now, 'transport:path_removed', { path_id: p.id, reason });
  }

  #startPathValidation(now: Instant, p: NetworkPath): void {
    // RFC 9000 §8.2.4: abandon after 3 × max(current PTO, new path's PTO with kInitialRtt).
    const timeout = 3 * Math.max(this.#currentPto(), this.#pathPto(p));
    p.startValidation(now, now + timeout);
    this.#qlogEvent(now, 'transport:path_validation_started', {
      path_id: p.id,
      local: p.local,
      remote: p.remote,
      timeout_ms: timeout / 1000,
    });
  }

  #markValidated(now: Instant, p: NetworkPath): void {
    p.validated = true;
    this.#qlogEvent(now, 'transport:path_updated', { path_id: p.id, validated: true });
  }

  #onPathResponse(now: Instant, data: Uint8Array): void {
    // RFC 9000 §8.2.3: a response on any path validates the path the challenge went out on.
    for (const p of this.#paths) {
      const sentAt = p.matchResponse(data);
      if (sentAt === undefined) continue;
      const wasValidating = p.validating;
      const wasMtuCheck = p.mtuCheck;
      const rtt = now - sentAt;
      if (!p.validated) this.#markValidated(now, p);
      p.endValidation();
      p.mtuCheck = false;
      // RFC 9000 §8.2.1: a challenge not sent in a 1200-octet datagram did not check the MTU;
      // validate again with a padded one (reported as an MTU check, not a second validation).
      p.mtuUnverified = !p.challengeWasPadded;
      if (p.mtuUnverified && p.amplificationBudget() >= MIN_DATAGRAM_SIZE) {
        this.#startPathValidation(now, p);
        p.mtuCheck = true;
      }
      if (wasMtuCheck) {
        this.#qlogEvent(now, 'transport:path_mtu_validated', {
          path_id: p.id,
          mtu_verified: !p.mtuUnverified,
        });
        return;
      }
      // RFC 9002 §6.2.2: a PATH_CHALLENGE round trip seeds the initial RTT, it is not a sample.
      if (!p.rtt.hasSample && p !== this.#active) p.rtt.setInitialRtt(rtt);
      if (!wasValidating) return;
      this.#emit({ type: 'path-validated', pathId: p.id, path: { local: p.local, remote: p.remote }, rtt });
      this.#qlogEvent(now, 'transport:path_validated', { path_id: p.id, rtt_ms: rtt / 1000 });
      if (p.switchOnValidation && p !== this.#active) {
        p.switchOnValidation = false;
        this.#switchActivePath(now, p, p.preferredAddress ? 'preferred' : 'local');
      }
      return;
    }
  }

  #failPath(now: Instant, p: NetworkPath, reason: PathEventReason): void {
    if (!p.validating && reason === 'timeout') return;
    if (p.mtuCheck && p.validated) {
      // Only the 1200-octet re-check failed (the path itself answered before): keep the path.
      p.endValidation();
      p.mtuCheck = false;
      this.#qlogEvent(now, 'transport:path_mtu_validation_failed', { path_id: p.id, reason });
      return;
    }
    p.endValidation();
    p.switchOnValidation = false;
    this.#emit({ type: 'path-failed', pathId: p.id, path: { local: p.local, remote: p.remote }, reason });
    this.#qlogEvent(now, 'transport:path_validation_failed', { path_id: p.id, reason });
    if (p === this.#active && !p.validated) {
      // RFC 9000 §9.3.2: revert to the last validated path, or close silently without one.
      const back = this.#fallback;
      if (back && back !== p && back.validated) {
        this.#active = back;
        this.#fallback = undefined;
        this.#stats.migrations++;
        this.#emit({
          type: 'peer-migrated',
          pathId: back.id,
          from: { local: p.local, remote: p.remote },
          to: { local: back.local, remote: back.remote },
        });
        this.#qlogEvent(now, 'transport:migration_reverted', { path_id: back.id, from_path_id: p.id });
        this.#removePath(now, p, 'timeout');
      } else {
        this.#closeInfo = {
          source: 'local',
          application: false,
          code: TransportErrorCode.NO_VIABLE_PATH,
          frameType: 0,
          reason: 'path validation failed',
        };
        this.#emit({ type: 'closed', info: this.#closeInfo });
        this.#setClosed();
      }
      return;
    }
    if (p !== this.#active && p !== this.#fallback && (p.probing || p.preferredAddress))
      this.#removePath(now, p, reason);
  }

  /** Server: the peer's address changed (RFC 9000 §9.3). */
  #onPeerAddressChange(now: Instant, p: NetworkPath): void {
    const prev = this.#active;
    if (!sameAddress(p.local, prev.local) && !p.validated) {
      // RFC 9000 §9.6.2: reached at the preferred address; validate before moving there.
      if (!p.validating) this.#startPathValidation(now, p);
      p.switchOnValidation = true;
      return;
    }
    this.#switchActivePath(now, p, 'peer');
  }

  /** Makes `p` the active path, applying the §9.4 recovery policy and §9.5 CID rules. */
  #switchActivePath(now: Instant, p: NetworkPath, cause: 'peer' | 'local' | 'preferred'): void {
    const prev = this.#active;
    if (p === prev) return;
    if (prev.validated) this.#fallback = prev;
    const change = classifyPathChange(prev, p);
    if (!p.everActive) {
      const before = {
        congestion_window: prev.cc.window,
        smoothed_rtt: prev.rtt.smoothed / 1000,
        mtu: prev.mtu,
      };
      p.inheritRecovery(prev, change);
      p.ecn.adoptBaseline(prev.ecn);
      if (this.#peerParams)
        p.mtud.maxProbe = Math.min(this.config.maxUdpPayloadSize, this.#peerParams.maxUdpPayloadSize);
      this.#qlogEvent(now, 'recovery:parameters_reset', {
        path_id: p.id,
        change,
        kept_congestion_state: change === 'port',
        previous: before,
        current: { congestion_window: p.cc.window, smoothed_rtt: p.rtt.smoothed / 1000, mtu: p.mtu },
      });
    }
    p.everActive = true;
    this.#active = p;
    this.#stats.migrations++;
    const from = { local: prev.local, remote: prev.remote };
    const to = { local: p.local, remote: p.remote };
    if (cause === 'peer') {
      // RFC 9000 §9.3: validate the new peer address; §9.3.3: and the old path too.
      if (!p.validated && !p.validating) this.#startPathValidation(now, p);
      // (Not after a move to our preferred address: that migration is the client's intent.)
      if (prev.validated && !prev.validating && sameAddress(prev.local, p.local))
        this.#startPathValidation(now, prev);
      // RFC 9000 §9.5: a fresh CID on the new path when the peer supplied one, else keep ours.
      this.#ensureActiveCid();
      // What is in flight towards the old address most likely dies at a stale NAT binding: send
      // it again on the new path now instead of after a PTO, without a congestion reaction
      // (those losses say nothing about the new path, RFC 9000 §9.4).
      for (const pkt of this.#loss.drainUnacked(Space.Application, (x) => x.pathId === prev.id)) {
        if (pkt.inFlight) prev.cc.discard(pkt.size);
        this.#requeueRecords(pkt.frames);
      }
      this.#emit({ type: 'peer-migrated', pathId: p.id, from, to });
    } else {
      // Our own move: retire the old path's CID (RFC 9000 §9.5) and the handshake CID after
      // following a preferred address (§9.6.1).
      this.#remoteCids?.release(prev.id);
      if (cause === 'preferred') {
        this.#peerPreferredAddressUsed = true;
        this.#remoteCids?.retireHandshakeCid();
      }
      this.#fallback = undefined;
      this.#removePath(now, prev, 'superseded');
      this.#pingPending = true;
      this.#emit({ type: 'migrated', pathId: p.id, from, to, preferredAddress: cause === 'preferred' });
    }
    this.#qlogEvent(now, 'transport:path_updated', { path_id: p.id, active: true, cause, change, from, to });
    this.#qlogEvent(now, 'recovery:metrics_updated', {
      path_id: p.id,
      congestion_window: p.cc.window,
      smoothed_rtt: p.rtt.smoothed / 1000,
      mtu: p.mtu,
    });
  }

  /** Server: the active path always has a CID — a fresh one, or one moved from another path. */
  #ensureActiveCid(): void {
    const remote = this.#remoteCids;
    const id = this.#active.id;
    if (!remote || remote.current(id) || remote.bind(id)) return;
    const donors = [this.#fallback, ...this.#paths].filter(
      (p): p is NetworkPath => p !== undefined && p.id !== id,
    );
    for (const d of donors) if (remote.move(d.id, id)) return;
  }

  /** Paths whose CID the peer retired via retire_prior_to move to fresh CIDs. */
  #rebindRetiredPaths(now: Instant): void {
    const remote = this.#remoteCids;
    if (!remote) return;
    for (const p of this.#paths) {
      if (remote.current(p.id)) continue;
      if (!remote.bind(p.id) && p.probing && p.validating) this.#failPath(now, p, 'no-connection-id');
    }
  }

  /** Client: follow the server's preferred_address after confirmation (RFC 9000 §9.6.1). */
  #maybeStartPreferredAddress(now: Instant): void {
    const pa = this.#peerParams?.preferredAddress;
    if (!pa || this.#preferredPathStarted || this.config.preferredAddressPolicy !== 'follow') return;
    // A client uses a preferred address of the family it already uses (RFC 9000 §9.6.3).
    const family = addressFamily(this.#active.remote);
    const target = family === 4 ? pa.ipv4 : pa.ipv6;
    if (!target || (target.port === 0 && target.address === '0.0.0.0')) return;
    if (sameAddress(target, this.#active.remote)) return;
    this.#preferredPathStarted = true;
    const p = this.#addPath({ local: this.#active.local, remote: target }, now);
    p.preferredAddress = true;
    p.probing = true;
    p.switchOnValidation = true;
    // RFC 9000 §9.6.1: the CID from the preferred_address parameter (sequence 1).
    if (!this.#remoteCids?.bind(p.id, 1)) this.#remoteCids?.bind(p.id);
    this.#startPathValidation(now, p);
    this.#qlogEvent(now, 'transport:migration_started', {
      path_id: p.id,
      preferred_address: true,
      remote: target,
    });
  }

  /**
   * Client: starts validating a path from `local` (one of our sockets) to `remote` (default:
   * the current server address). Returns the path ID; `path-validated` / `path-failed` follow.
   * Throws ConnectionUsageError when migration is not allowed (RFC 9000 §9).
   */
  probePath(
    now: Instant,
    local: SocketAddress,
    remote: SocketAddress = this.#active.remote,
    switchOnValidation = false,
  ): number {
    this.#now = now;
    if (this.role !== 'client')
      throw new ConnectionUsageError('ERR_QUIC_MIGRATION', 'only clients initiate migration (RFC 9000 §9)');
    if (this.#state !== 'established')
      throw new ConnectionUsageError('ERR_QUIC_MIGRATION', 'connection is not established');
    // RFC 9000 §9: no migration before the handshake is confirmed.
    if (!this.#handshakeConfirmed)
      throw new ConnectionUsageError('ERR_QUIC_MIGRATION', 'handshake not confirmed');
    if (
      this.#peerParams?.disableActiveMigration &&
      !(this.#peerPreferredAddressUsed && !sameAddress(remote, this.#handshakeRemote))
    ) {
      throw new ConnectionUsageError('ERR_QUIC_MIGRATION', 'peer disabled active migration');
    }
    if (this.#remoteCids?.zeroLength)
      throw new ConnectionUsageError('ERR_QUIC_MIGRATION', 'peer uses zero-length connection IDs');
    const existing = this.#findPath({ local, remote });
    if (existing === this.#active)
      throw new ConnectionUsageError('ERR_QUIC_MIGRATION', 'already on this path');
    let p = existing;
    if (!p) {
      if (this.#paths.length >= this.config.maxPaths) this.#evictIdlePaths(now);
      if (this.#paths.length >= this.config.maxPaths)
        throw new ConnectionUsageError('ERR_QUIC_MIGRATION', 'too many paths');
      p = this.#addPath({ local, remote }, now);
    }
    p.probing = true;
    p.switchOnValidation = switchOnValidation;
    if (!this.#remoteCids?.current(p.id) && !this.#remoteCids?.bind(p.id)) {
      this.#removePath(now, p, 'no-connection-id');
      throw new ConnectionUsageError(
        'ERR_QUIC_NO_CONNECTION_ID',
        'no unused connection ID from the peer (RFC 9000 §9.5)',
      );
    }
    if (p.validated) {
      if (switchOnValidation) this.#switchActivePath(now, p, 'local');
      this.#emit({ type: 'path-validated', pathId: p.id, path: { local, remote }, rtt: p.rtt.smoothed });
      return p.id;
    }
    this.#startPathValidation(now, p);
    this.#qlogEvent(now, 'transport:migration_started', { path_id: p.id, local, remote });
    this.#wake();
    return p.id;
  }

  /** Client: make a validated path the active one (RFC 9000 §9.2). */
  switchPath(now: Instant, pathId: number): void {
    this.#now = now;
    const p = this.#pathById(pathId);
    if (!p) throw new ConnectionUsageError('ERR_QUIC_UNKNOWN_PATH', `no path ${pathId}`);
    if (!p.validated) throw new ConnectionUsageError('ERR_QUIC_PATH_NOT_VALIDATED', 'path is not validated');
    this.#switchActivePath(now, p, p.preferredAddress ? 'preferred' : 'local');
    this.#wake();
  }

  /** Client: stop probing / forget a non-active path. */
  abandonPath(now: Instant, pathId: number): void {
    const p = this.#pathById(pathId);
    if (!p) return;
    if (p === this.#active)
      throw new ConnectionUsageError('ERR_QUIC_MIGRATION', 'cannot abandon the active path');
    this.#removePath(now, p, 'abandoned');
  }

  // ---------------------------------------------------------------------------------------
  // Application commands
  // ---------------------------------------------------------------------------------------

  #checkOpen(): void {
    if (this.#state === 'closing' || this.#state === 'draining' || this.#state === 'closed') {
      throw new ConnectionUsageError('ERR_QUIC_CONNECTION_CLOSED', 'connection is closed');
    }
  }

  /** Opens a stream; undefined when the peer's stream limit is reached (STREAMS_BLOCKED is sent). */
  openStream(bidi = true): number | undefined {
    this.#checkOpen();
    this.#wake();
    return this.streams.open(bidi);
  }

  /** Queues stream data; returns the octets accepted (flow/buffer limits). */
  writeStream(id: number, data: Uint8Array, fin = false): number {
    this.#checkOpen();
    this.#wake();
    return this.streams.write(id, data, fin);
  }

  readStream(id: number, max = Number.POSITIVE_INFINITY): { data: Uint8Array; fin: boolean } | undefined {
    const r = this.streams.read(id, max, this.#now);
    // Reading may open flow-control windows (MAX_DATA / MAX_STREAM_DATA to send).
    if (r !== undefined && this.streams.hasPendingFrames()) this.#wake();
    return r;
  }

  resetStream(id: number, errorCode: number): void {
    this.#checkOpen();
    this.#wake();
    this.streams.reset(id, errorCode);
  }

  stopSending(id: number, errorCode: number): void {
    this.#checkOpen();
    this.#wake();
    this.streams.stopSending(id, errorCode);
  }

  /** Largest DATAGRAM payload the peer accepts now (0 = unsupported). */
  get maxDatagramSize(): number {
    const peerMax = this.#peerParams?.maxDatagramFrameSize ?? 0;
    if (peerMax === 0) return 0;
    // Frame overhead: type + length varint; packet overhead: short header + tag.
    const packetRoom = this.#active.mtu - (1 + 20 + 4 + AEAD_TAG_LENGTH) - 3;
    return Math.max(0, Math.min(peerMax - 3, packetRoom));
  }

  /** Queues an unreliable datagram (RFC 9221). Returns false if it is too large or unsupported. */
  sendDatagram(data: Uint8Array): boolean {
    this.#checkOpen();
    if (data.length > this.maxDatagramSize) return false;
    // Bounded queue: drop the oldest (datagrams are unreliable by design).
    while (this.#datagramsOutBytes + data.length > 1024 * 1024 && this.#datagramsOut.length > 0) {
      this.#datagramsOutBytes -= this.#datagramsOut.shift()!.length;
    }
    this.#datagramsOut.push(data);
    this.#datagramsOutBytes += data.length;
    this.#wake();
    return true;
  }

  /** Sends a PING (e.g. to elicit an ACK or keep a NAT binding). */
  ping(): void {
    this.#checkOpen();
    this.#wake();
    this.#pingPending = true;
  }

  /** Starts a 1-RTT key update (RFC 9001 §6.1). Returns false when not permitted yet. */
  initiateKeyUpdate(now: Instant): boolean {
    this.#now = now;
    this.#checkOpen();
    return this.#initiateKeyUpdateInternal(now);
  }

  #wake(): void {
    this.#options.onWake?.();
  }

  /** Endpoint: a datagram that matched no connection may be a stateless reset for this one (RFC 9000 §10.3.1). */
  handleStatelessResetCandidate(now: Instant, _path: Path, data: Uint8Array): boolean {
    if (this.#state === 'closed' || this.#state === 'draining' || !this.#remoteCids) return false;
    if (data.length < 21 || (data[0]! & 0x80) !== 0) return false;
    if (!this.#remoteCids.matchesStatelessReset(data.subarray(data.length - 16))) return false;
    this.#onStatelessReset(now);
    return true;
  }

  #initiateKeyUpdateInternal(now: Instant): boolean {
    const k = this.#oneRtt;
    // RFC 9001 §6.1: only after confirmation and after a packet of the current phase was acked.
    if (!k || !this.#handshakeConfirmed || k.awaitingAckOfUpdate) return false;
    if (k.firstSentPn >= 0 && !k.currentPhaseAcked) return false;
    if (k.firstSentPn < 0 && k.generation > 0) return false;
    k.rotate(now, 3 * this.#currentPto());
    this.#stats.keyUpdates++;
    this.#wake();
    this.#emit({ type: 'key-update', phase: k.generation, initiator: 'local' });
    this.#qlogEvent(now, 'security:key_updated', {
      key_type: '1rtt',
      generation: k.generation,
      trigger: 'local_update',
    });
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // qlog helpers
  // ---------------------------------------------------------------------------------------

  #qlogEvent(now: Instant, name: string, data: Record<string, unknown>): void {
    this.#qlog?.event(now, name, data);
  }

  #qlogParams(tp: TransportParameters): Record<string, unknown> {
    return {
      max_idle_timeout: tp.maxIdleTimeout,
      max_udp_payload_size: tp.maxUdpPayloadSize,
      initial_max_data: tp.initialMaxData,
      initial_max_stream_data_bidi_local: tp.initialMaxStreamDataBidiLocal,
      initial_max_stream_data_bidi_remote: tp.initialMaxStreamDataBidiRemote,
      initial_max_stream_data_uni: tp.initialMaxStreamDataUni,
      initial_max_streams_bidi: tp.initialMaxStreamsBidi,
      initial_max_streams_uni: tp.initialMaxStreamsUni,
      ack_delay_exponent: tp.ackDelayExponent,
      max_ack_delay: tp.maxAckDelay,
      active_connection_id_limit: tp.activeConnectionIdLimit,
      disable_active_migration: tp.disableActiveMigration,
      preferred_address: tp.preferredAddress
        ? {
            ipv4: tp.preferredAddress.ipv4,
            ipv6: tp.preferredAddress.ipv6,
            connection_id: hexOf(tp.preferredAddress.connectionId),
          }
        : undefined,
      max_datagram_frame_size: tp.maxDatagramFrameSize,
    };
  }
}

interface DatagramContext {
  path: NetworkPath | undefined;
  counted: boolean;
  size: number;
}

const NO_BUFFER = new Uint8Array(0);

/** Datagrams are carved from shared slabs: one ArrayBuffer per ~45 full-size datagrams. */
const SLAB_SIZE = 65536;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabUsed = 0;

/** A fresh `size`-octet buffer for one outgoing datagram (never handed out twice). */
function datagramBuffer(size: number): Uint8Array {
  if (slabUsed + size > slab.byteLength) {
    slab = new ArrayBuffer(Math.max(SLAB_SIZE, size));
    slabUsed = 0;
  }
  const b = new Uint8Array(slab, slabUsed, size);
  slabUsed += (size + 7) & ~7;
  return b;
}

/**
 * A packet being written: header done, frames go to `w` (see #beginPacket / #sealPacket). One
 * per connection, refilled for every packet.
 */
class PacketDraft {
  readonly w = new BufferWriter(NO_BUFFER, 0, 0);
  keys: PacketKeys | undefined = undefined;
  space: Space = Space.Initial;
  pn = 0;
  pnLength: 1 | 2 | 3 | 4 = 1;
  pnOffset = 0;
  lengthOffset = -1;
  start = 0;
  payloadStart = 0;
  padded = false;
}

/** What #processFrames found in a packet (bit flags). */
const FRAMES_ACK_ELICITING = 1;
const FRAMES_NON_PROBING = 2;

/** QUIC v1 and v2 are compatible (RFC 9369 §4): a v1 ClientHello can start a v2 connection. */
function isCompatibleVersion(a: number, b: number): boolean {
  const known = (v: number): boolean => v === QUIC_V1 || v === QUIC_V2;
  return known(a) && known(b);
}

function isInFlight(p: SentPacket<SentRecords>): boolean {
  return p.inFlight;
}

function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function hex32(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}

/** Frame list for qlog, decoded again from the plaintext (only when qlog is on). */
function describeFrames(payload: Uint8Array, records: SentRecords | undefined): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const r = new BufferReader(payload);
  try {
    while (!r.done) {
      const type = readFrameType(r);
      const f = decodeFrameBody(r, type);
      out.push(qlogFrame(f));
    }
  } catch {
    out.push({ frame_type: 'unknown' });
  }
  if (records && records.mtuProbe > 0) out.push({ frame_type: 'pmtu_probe', size: records.mtuProbe });
  return out;
}

export function qlogFrame(f: Frame): Record<string, unknown> {
  switch (f.type) {
    case 'stream':
      return {
        frame_type: 'stream',
        stream_id: f.streamId,
        offset: f.offset,
        length: f.data.length,
        fin: f.fin,
      };
    case 'crypto':
      return { frame_type: 'crypto', offset: f.offset, length: f.data.length };
    case 'ack': {
      const ranges: [number, number][] = [];
      for (let i = 0; i < f.ranges.length; i += 2) ranges.push([f.ranges[i + 1]!, f.ranges[i]!]);
      return { frame_type: 'ack', ack_delay: f.ackDelay, acked_ranges: ranges };
    }
    case 'path_challenge':
    case 'path_response':
      return { frame_type: f.type, data: hexOf(f.data) };
    case 'new_connection_id':
      return {
        frame_type: 'new_connection_id',
        sequence_number: f.sequence,
        retire_prior_to: f.retirePriorTo,
        connection_id: hexOf(f.connectionId),
      };
    case 'retire_connection_id':
      return { frame_type: 'retire_connection_id', sequence_number: f.sequence };
    case 'connection_close':
      return {
        frame_type: 'connection_close',
        error_space: f.application ? 'application' : 'transport',
        error_code: f.errorCode,
        reason: f.reason,
      };
    case 'padding':
      return { frame_type: 'padding', length: f.length };
    case 'datagram':
      return { frame_type: 'datagram', length: f.data.length };
    case 'new_token':
      return { frame_type: 'new_token', length: f.token.length };
    default:
      return { ...f, frame_type: f.type, type: undefined };
  }
}
