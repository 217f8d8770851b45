// The TLS engine's interface to QUIC (RFC 9001 §4.1): no record layer; handshake bytes in and
// out per encryption level, traffic secrets out. Shared plumbing of client and server sessions.
import type { KeyObject, X509Certificate } from 'node:crypto';
import { TransportError, TransportErrorCode, toTransportError } from '../common/errors.js';
import { Level } from '../common/levels.js';
import type { Random } from '../common/random.js';
import { unexpectedMessage } from './alerts.js';
import { CIPHER_SUITES, type CipherSuite, type CipherSuiteInfo, type GroupName } from './constants.js';
import { HandshakeBuffer, type RawMessage } from './handshake-buffer.js';
import type { AntiReplay, SessionTicket } from './tickets.js';

export type { CipherSuite, GroupName };

export type TlsEvent =
  /** Handshake bytes to put in CRYPTO frames at `level`. */
  | { type: 'send'; level: Level; data: Uint8Array }
  | { type: 'secret'; level: Level; direction: 'read' | 'write'; suite: CipherSuite; secret: Uint8Array }
  /** Client: Finished sent. Server: client Finished verified. */
  | { type: 'handshake-complete' }
  /** Client: the server's EncryptedExtensions (or HelloRetryRequest) decided 0-RTT. Server: its decision. */
  | { type: 'early-data'; accepted: boolean }
  /** Client: a NewSessionTicket arrived. */
  | { type: 'session-ticket'; ticket: SessionTicket };

export interface TlsSession {
  readonly role: 'client' | 'server';
  /** Client: produces the ClientHello (and the 0-RTT secret when resuming with early data). Server: no-op. */
  start(): void;
  /** In-order CRYPTO stream bytes of `level`; throws TransportError (CRYPTO_ERROR + alert). */
  receive(level: Level, data: Uint8Array): void;
  poll(): TlsEvent | undefined;
  readonly handshakeComplete: boolean;
  readonly alpn: string | undefined;
  /** Raw quic_transport_parameters (0x39) of the peer, once received. */
  readonly peerTransportParameters: Uint8Array | undefined;
  readonly cipherSuite: CipherSuite | undefined;
  readonly resumed: boolean;
  /** Undefined unless 0-RTT was attempted (client) or offered (server). */
  readonly earlyDataAccepted: boolean | undefined;
  readonly peerCertificates: readonly X509Certificate[];
  /** Client: the configured name. Server: the SNI host_name received. */
  readonly serverName: string | undefined;
  /** Server, after the handshake: emits a NewSessionTicket at Level.Application (no-op without ticketKey). */
  sendSessionTicket(opts?: { appData?: Uint8Array }): void;
}

interface CommonConfig {
  readonly random: Random;
  /** Wall clock, unix ms: certificate validity and ticket ages. The engine never reads Date.now(). */
  readonly clock: () => number;
  /** NSS key log lines (SSLKEYLOGFILE format). */
  readonly keyLog?: (line: string) => void;
  /** Offered (client) or accepted (server) suites, in preference order. Default 0x1301, 0x1302, 0x1303. */
  readonly cipherSuites?: readonly CipherSuite[];
  /** Supported groups in preference order. Default x25519, secp256r1. */
  readonly groups?: readonly GroupName[];
  /**
   * CertificateVerify schemes accepted from the peer (RFC 8446 §4.2.3), in preference order;
   * advertised in signature_algorithms (plus rsa_pkcs1_* for certificate chains). Default: all
   * supported (ECDSA P-256/P-384, Ed25519, RSA-PSS rsae/pss with SHA-256/384/512).
   */
  readonly signatureSchemes?: readonly number[];
}

export interface TlsClientConfig extends CommonConfig {
  /** Server name: sent as SNI and checked against the certificate; an IP literal is checked with checkIP and not sent. */
  readonly serverName: string;
  /** Offered ALPN protocols (required, non-empty; RFC 9001 §8.1). */
  readonly alpnProtocols: readonly string[];
  /** Our quic_transport_parameters (RFC 9001 §8.2). */
  readonly transportParameters: Uint8Array;
  /** Trust anchors (PEM). Default: Node's tls.rootCertificates. */
  readonly ca?: string | readonly string[];
  /** Verify the server's certificate chain and name (default true). */
  readonly verifyPeer?: boolean;
  /** A ticket from a previous connection to resume. */
  readonly session?: SessionTicket;
  /** Attempt 0-RTT with `session` when it allows it. */
  readonly earlyData?: boolean;
  /** Groups that get a key share in the first ClientHello (default: the first of `groups`). */
  readonly keyShareGroups?: readonly GroupName[];
  /** Client certificate chain (PEM, leaf first) and key, used if the server asks for one. */
  readonly certificateChain?: string;
  readonly privateKey?: string | KeyObject;
}

export interface TlsServerConfig extends CommonConfig {
  /** Certificate chain (PEM, leaf first). */
  readonly certificateChain: string;
  readonly privateKey: string | KeyObject;
  /** Supported ALPN protocols in preference order (or use selectAlpn). */
  readonly alpnProtocols?: readonly string[];
  /** Picks the protocol from the client's list; undefined means no overlap. */
  readonly selectAlpn?: (offered: readonly string[]) => string | undefined;
  /**
   * Our quic_transport_parameters (RFC 9001 §8.2), or a function of the client's (a server may
   * choose its reply, e.g. the negotiated version, from the client's parameters).
   */
  readonly transportParameters: Uint8Array | ((clientParameters: Uint8Array) => Uint8Array);
  /** Key of the self-encrypted tickets (AES-256-GCM); without it no tickets are issued or accepted. */
  readonly ticketKey?: Uint8Array;
  /** ticket_lifetime in seconds (default 86400, at most 604800: RFC 8446 §4.6.1). */
  readonly ticketLifetime?: number;
  /** Tickets allow 0-RTT (max_early_data_size 0xffffffff, RFC 9001 §4.6.1); needs antiReplay. */
  readonly maxEarlyData?: boolean;
  /** QUIC-layer veto on 0-RTT, given the appData sealed in the ticket (RFC 9001 §4.6.3). */
  readonly acceptEarlyData?: (appData: Uint8Array | undefined) => boolean;
  /** Shared 0-RTT anti-replay register (RFC 8446 §8). */
  readonly antiReplay?: AntiReplay;
  /** Send a CertificateRequest (full handshakes only; PSKs are then not accepted). */
  readonly requestClientCertificate?: boolean;
  /** Request a client certificate and abort with certificate_required without one. */
  readonly requireClientCertificate?: boolean;
  /** Trust anchors for client certificates (PEM). Default: Node's tls.rootCertificates. */
  readonly clientCa?: string | readonly string[];
}

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** Event queue, per-level message reassembly and read-level discipline. */
export abstract class BaseSession {
  abstract readonly role: 'client' | 'server';
  protected readonly events: TlsEvent[] = [];
  #eventHead = 0;
  protected readonly buffers: HandshakeBuffer[] = [
    new HandshakeBuffer(),
    new HandshakeBuffer(),
    new HandshakeBuffer(),
    new HandshakeBuffer(),
  ];
  /** The level the next handshake message must arrive at. */
  protected readLevel: Level = Level.Initial;
  #error: TransportError | undefined;
  #busy = false;

  protected readonly keyLogger: ((line: string) => void) | undefined;
  protected clientRandom: Uint8Array = new Uint8Array(0);

  handshakeComplete = false;
  alpn: string | undefined;
  peerTransportParameters: Uint8Array | undefined;
  cipherSuite: CipherSuite | undefined;
  resumed = false;
  earlyDataAccepted: boolean | undefined;
  peerCertificates: readonly X509Certificate[] = [];
  serverName: string | undefined;

  constructor(keyLog: ((line: string) => void) | undefined) {
    this.keyLogger = keyLog;
  }

  poll(): TlsEvent | undefined {
    if (this.#eventHead >= this.events.length) {
      if (this.#eventHead > 0) {
        this.events.length = 0;
        this.#eventHead = 0;
      }
      return undefined;
    }
    return this.events[this.#eventHead++];
  }

  receive(level: Level, data: Uint8Array): void {
    if (this.#error) throw this.#error;
    if (this.#busy) throw new Error('TlsSession.receive is not reentrant');
    this.#busy = true;
    try {
      // RFC 9001 §8.3: no CRYPTO frames in 0-RTT packets.
      if (level === Level.EarlyData) {
        throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'handshake data in 0-RTT');
      }
      // RFC 9001 §4.1.3: no new data at an encryption level TLS has moved past.
      if (level < this.readLevel && data.length > 0) {
        throw new TransportError(
          TransportErrorCode.PROTOCOL_VIOLATION,
          'handshake data at an old encryption level',
        );
      }
      this.buffers[level]!.push(data);
      for (;;) {
        const at = this.readLevel;
        const msg = this.buffers[at]!.next();
        if (!msg) break;
        this.handleMessage(msg, at);
        if (this.readLevel !== at && this.buffers[at]!.pending > 0) {
          // RFC 9001 §4.1.3: unconsumed data at the previous level when keys change.
          throw new TransportError(
            TransportErrorCode.PROTOCOL_VIOLATION,
            'extra handshake data before key change',
          );
        }
      }
    } catch (e) {
      this.#error = toTransportError(e);
      throw this.#error;
    } finally {
      this.#busy = false;
    }
  }

  /** Runs `fn` as a public entry point: errors are sticky like those of receive(). */
  protected guard(fn: () => void): void {
    if (this.#error) throw this.#error;
    try {
      fn();
    } catch (e) {
      if (e instanceof TransportError) this.#error = e;
      throw e;
    }
  }

  protected abstract handleMessage(msg: RawMessage, level: Level): void;

  protected send(level: Level, data: Uint8Array): void {
    this.events.push({ type: 'send', level, data });
  }

  protected secret(
    level: Level,
    direction: 'read' | 'write',
    suite: CipherSuiteInfo,
    secret: Uint8Array,
  ): void {
    this.events.push({ type: 'secret', level, direction, suite: suite.code, secret });
  }

  protected keyLog(label: string, secret: Uint8Array): void {
    this.keyLogger?.(`${label} ${hexOf(this.clientRandom)} ${hexOf(secret)}`);
  }

  protected unexpected(msg: RawMessage): never {
    throw unexpectedMessage(`unexpected handshake message type ${msg.type}`);
  }
}

export function suiteInfo(code: CipherSuite): CipherSuiteInfo {
  return CIPHER_SUITES[code];
}
