// One network path of a connection (RFC 9000 §8.2, §9): its addresses, validation state,
// anti-amplification counters and its own recovery state (RTT, congestion, pacing, PMTU, ECN).
import { type Path, type SocketAddress, sameHost } from '../common/addr.js';
import { type Instant, NEVER } from '../common/time.js';
import {
  type CongestionAlgorithm,
  type CongestionController,
  createCongestionController,
} from '../recovery/congestion.js';
import { EcnValidator } from '../recovery/ecn.js';
import { MtuDiscovery } from '../recovery/mtud.js';
import { Pacer } from '../recovery/pacer.js';
import { RttEstimator } from '../recovery/rtt.js';

/** RFC 9000 §8.1: before validation a server sends at most 3× what it received. */
export const AMPLIFICATION_FACTOR = 3;
/** Minimum datagram size for Initial, PATH_CHALLENGE and PATH_RESPONSE (RFC 9000 §14.1, §8.2). */
export const MIN_DATAGRAM_SIZE = 1200;
/** Outstanding PATH_RESPONSEs kept per path; more challenges than this in a burst are dropped. */
const MAX_PENDING_RESPONSES = 4;
/** Outstanding PATH_CHALLENGE payloads remembered per path. */
const MAX_OUTSTANDING_CHALLENGES = 8;

export interface PathRecoveryOptions {
  congestion: CongestionAlgorithm;
  initialMtu: number;
  maxMtu: number;
  mtuDiscovery: boolean;
}

/**
 * How a path differs from the previous active one (RFC 9000 §9.4):
 * 'port' — only a port changed (typical NAT rebinding): RTT and congestion state are kept,
 * the PMTU is re-validated; 'address' — an IP changed: everything starts from initial values.
 */
export type PathChange = 'none' | 'port' | 'address';

export function classifyPathChange(from: Path, to: Path): PathChange {
  const sameLocal = sameHost(from.local, to.local);
  const sameRemote = sameHost(from.remote, to.remote);
  if (!sameLocal || !sameRemote) return 'address';
  if (from.local.port !== to.local.port || from.remote.port !== to.remote.port) return 'port';
  return 'none';
}

interface OutstandingChallenge {
  data: Uint8Array;
  sentAt: Instant;
}

export class NetworkPath implements Path {
  readonly id: number;
  readonly local: SocketAddress;
  readonly remote: SocketAddress;
  /** Peer address validated (RFC 9000 §8, §8.2): lifts the amplification limit, allows migration. */
  validated = false;
  /**
   * Sends are limited to 3× what was received until validation (RFC 9000 §8.1, §9.3.1). Only a
   * server limits itself: it answers addresses a client might have spoofed.
   */
  amplificationLimited = false;
  /** Bytes received from / sent to this path while unvalidated (RFC 9000 §8.1). */
  bytesReceived = 0;
  bytesSent = 0;
  /** Totals for stats. */
  totalBytesReceived = 0;
  totalBytesSent = 0;
  packetsReceived = 0;
  packetsSent = 0;

  rtt: RttEstimator;
  cc: CongestionController;
  pacer: Pacer;
  mtud: MtuDiscovery;
  ecn: EcnValidator;

  // --- path validation (RFC 9000 §8.2) ---
  /** A PATH_CHALLENGE should go out on this path. */
  challengePending = false;
  /** Validation attempt running: abandon at this instant (3×PTO, §8.2.4). */
  validationDeadline: Instant = NEVER;
  /** Retransmit the challenge at this instant while validating. */
  nextChallengeAt: Instant = NEVER;
  validationStartedAt: Instant = NEVER;
  readonly challenges: OutstandingChallenge[] = [];
  /** Payloads of PATH_CHALLENGEs received on this path awaiting a PATH_RESPONSE (§8.2.2). */
  readonly responses: Uint8Array[] = [];
  /** PATH_CHALLENGE went out in a datagram of at least 1200 bytes (§8.2.1: validates the MTU too). */
  challengeWasPadded = false;
  /** Validation succeeded without the 1200-byte check; another padded validation is owed. */
  mtuUnverified = false;
  /** The running validation only re-checks the 1200-octet MTU of a validated path (§8.2.1). */
  mtuCheck = false;
  /** Created for a client-initiated probe (as opposed to a peer's address change). */
  probing = false;
  /** Advertised by the server as its preferred address (client side). */
  preferredAddress = false;
  /** Become the active path as soon as validation succeeds (migrate(), preferred address). */
  switchOnValidation = false;
  /** Has been the active path (its recovery state is its own, not inherited again). */
  everActive = false;
  lastActivity: Instant;
  /** Highest packet number received on this path (1-RTT), for §9.3 "highest-numbered non-probing packet". */
  largestPnReceived = -1;

  readonly #options: PathRecoveryOptions;
  /** The addresses as a plain Path (shared by every Transmit on this path). */
  readonly asPath: Path;

  constructor(id: number, path: Path, now: Instant, options: PathRecoveryOptions) {
    this.id = id;
    this.local = path.local;
    this.remote = path.remote;
    this.asPath = Object.freeze({ local: path.local, remote: path.remote });
    this.lastActivity = now;
    this.#options = options;
    this.rtt = new RttEstimator();
    this.cc = createCongestionController(options.congestion, options.initialMtu, { hystart: true });
    this.pacer = new Pacer();
    this.mtud = new MtuDiscovery(
      options.initialMtu,
      options.mtuDiscovery ? options.maxMtu : options.initialMtu,
    );
    this.ecn = new EcnValidator();
  }

  /** Datagram size currently allowed on this path. */
  get mtu(): number {
    return this.mtud.current;
  }

  /**
   * Octets we may still send before the peer's address is validated (RFC 9000 §8.1, §9.3.1);
   * Infinity once validated.
   */
  amplificationBudget(): number {
    if (this.validated || !this.amplificationLimited) return Number.POSITIVE_INFINITY;
    return Math.max(0, AMPLIFICATION_FACTOR * this.bytesReceived - this.bytesSent);
  }

  onDatagramReceived(size: number, now: Instant): void {
    this.lastActivity = now;
    this.totalBytesReceived += size;
    this.bytesReceived += size;
  }

  onDatagramSent(size: number, now: Instant): void {
    this.lastActivity = now;
    this.totalBytesSent += size;
    this.packetsSent++;
    this.bytesSent += size;
  }

  /** Starts (or restarts) validation: a challenge goes out and the attempt ends at `deadline`. */
  startValidation(now: Instant, deadline: Instant): void {
    if (this.validationDeadline === NEVER) this.validationStartedAt = now;
    this.challengePending = true;
    this.validationDeadline = deadline;
    this.nextChallengeAt = now;
  }

  get validating(): boolean {
    return this.validationDeadline !== NEVER;
  }

  /** Records a PATH_CHALLENGE payload we sent (bounded; oldest forgotten). */
  onChallengeSent(data: Uint8Array, now: Instant, padded: boolean, retransmitAfter: Instant): void {
    if (this.challenges.length >= MAX_OUTSTANDING_CHALLENGES) this.challenges.shift();
    this.challenges.push({ data, sentAt: now });
    this.challengePending = false;
    this.challengeWasPadded = padded;
    this.nextChallengeAt = retransmitAfter;
  }

  /** The send time of the challenge `data` answers, or undefined if it is not ours. */
  matchResponse(data: Uint8Array): Instant | undefined {
    for (const c of this.challenges) {
      if (c.data.length === data.length && c.data.every((b, i) => b === data[i])) return c.sentAt;
    }
    return undefined;
  }

  /** Validation finished (either way): stop challenging. */
  endValidation(): void {
    this.validationDeadline = NEVER;
    this.nextChallengeAt = NEVER;
    this.challengePending = false;
    this.challenges.length = 0;
  }

  queueResponse(data: Uint8Array): void {
    // RFC 9000 §8.2.2: one PATH_RESPONSE per PATH_CHALLENGE; a burst beyond the bound is dropped
    // (the peer re-sends challenges as needed).
    if (this.responses.length < MAX_PENDING_RESPONSES) this.responses.push(new Uint8Array(data));
  }

  /**
   * Applies the documented §9.4 policy when this path takes over from `previous`:
   * port-only change → keep RTT and congestion state, re-run PMTU discovery;
   * address change → fresh RTT estimator, congestion controller and PMTU.
   * ECN is re-validated in both cases (§9.2, §13.4).
   */
  inheritRecovery(previous: NetworkPath, change: PathChange): void {
    if (change === 'address') {
      this.resetRecovery();
      return;
    }
    this.rtt = previous.rtt.clone();
    this.cc = previous.cc;
    this.pacer = previous.pacer;
    this.mtud.reset();
    this.ecn.reset();
  }

  /** Initial values for congestion control, RTT and PMTU (RFC 9002 §A.3/§B.3, RFC 9000 §9.4). */
  resetRecovery(): void {
    this.rtt = new RttEstimator();
    this.cc = createCongestionController(this.#options.congestion, this.#options.initialMtu, {
      hystart: true,
    });
    this.pacer = new Pacer();
    this.mtud.reset();
    this.ecn.reset();
  }
}
