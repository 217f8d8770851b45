// Received packets of one packet-number space and when to acknowledge them (RFC 9000 §13.2).
import { Space } from '../common/levels.js';
import { type Instant, NEVER } from '../common/time.js';
import type { EcnCounts } from '../wire/frames.js';
import { RangeSet } from './range-set.js';

/** ECN codepoints as read from the IP header (RFC 3168 §5). */
export const EcnCodepoint = {
  NotEct: 0,
  Ect1: 1,
  Ect0: 2,
  Ce: 3,
} as const;
export type EcnCodepoint = (typeof EcnCodepoint)[keyof typeof EcnCodepoint];

/** Arguments of writeAckFrame (src/wire/frames.ts). */
export interface AckToSend {
  /** [largest0, smallest0, largest1, smallest1, …] descending; ranges[0] is Largest Acknowledged. */
  readonly ranges: number[];
  /** ACK Delay field value: microseconds scaled down by 2^ack_delay_exponent (§19.3). */
  readonly ackDelay: number;
  /** ECN counts for an ACK_ECN frame (type 0x03); undefined → plain ACK (0x02). */
  readonly ecn: EcnCounts | undefined;
}

export interface AckTrackerOptions {
  /** Ranges remembered; beyond this the oldest are forgotten and treated as duplicates. */
  maxTrackedRanges?: number;
  /** Ack-eliciting packets after which an ACK is sent without delay (§13.2.2: 2). */
  ackElicitingThreshold?: number;
}

/** Ranges carried by one ACK frame (RFC 9000 §13.2.3 lets a receiver limit them). */
export const DEFAULT_ACK_RANGES = 32;

export class AckTracker {
  readonly space: Space;
  /** Largest packet number processed (-1: none). Kept even when ranges are dropped (§13.2.3). */
  largestReceived = -1;
  /** When the largest packet was received. */
  largestReceivedTime: Instant = NEVER;
  ect0 = 0;
  ect1 = 0;
  ce = 0;

  readonly #received: RangeSet;
  #threshold: number;
  #largestAckEliciting = -1;
  #elicitingSinceAck = 0;
  #firstElicitingAt: Instant = NEVER;
  #immediateAt: Instant = NEVER;
  #ackPending = false;

  constructor(space: Space, options: AckTrackerOptions = {}) {
    this.space = space;
    this.#received = new RangeSet(options.maxTrackedRanges ?? 256);
    this.#threshold = options.ackElicitingThreshold ?? 2;
  }

  /** Ack-eliciting packets after which an ACK goes out without waiting for max_ack_delay. */
  get ackElicitingThreshold(): number {
    return this.#threshold;
  }

  set ackElicitingThreshold(n: number) {
    this.#threshold = Math.max(1, Math.floor(n));
  }

  /** Already processed, or below the tracking floor (forgotten ranges count as received). */
  isDuplicate(pn: number): boolean {
    return pn < this.#received.floor || this.#received.has(pn);
  }

  /**
   * Records a packet that was decrypted and processed. `ecn` is the IP codepoint (EcnCodepoint).
   * Returns false (and changes nothing) for a duplicate.
   */
  onPacketReceived(pn: number, now: Instant, ackEliciting: boolean, ecn: number): boolean {
    const received = this.#received;
    if (pn < received.floor || !received.insert(pn)) return false;
    const outOfOrder = pn < this.largestReceived;
    if (!outOfOrder) {
      this.largestReceived = pn;
      this.largestReceivedTime = now;
    }
    // RFC 9000 §13.4.1: count ECN marks of processed (non-duplicate) packets.
    if (ecn === EcnCodepoint.Ect0) this.ect0++;
    else if (ecn === EcnCodepoint.Ect1) this.ect1++;
    else if (ecn === EcnCodepoint.Ce) this.ce++;
    this.#ackPending = true;
    // RFC 9000 §13.2.1: non-ack-eliciting packets never trigger an ACK by themselves.
    if (!ackEliciting) return true;
    if (this.#elicitingSinceAck === 0) this.#firstElicitingAt = now;
    this.#elicitingSinceAck++;
    let immediate =
      // RFC 9000 §13.2.1: Initial and Handshake packets are acknowledged immediately.
      this.space !== Space.Application ||
      // RFC 9000 §13.2.2: an ACK after at least two ack-eliciting packets.
      this.#elicitingSinceAck >= this.#threshold ||
      // RFC 9000 §13.2.1: CE-marked packets SHOULD be acknowledged immediately.
      ecn === EcnCodepoint.Ce ||
      // RFC 9000 §13.2.1: out of order (fills a gap, or below an earlier packet).
      outOfOrder;
    if (!immediate && pn > this.#largestAckEliciting) {
      // RFC 9000 §13.2.1: missing packets between the largest ack-eliciting packet and this one.
      // pn is the top of the set here; forgotten values below the floor count as received.
      const lo = received.loAt(0);
      immediate = lo > this.#largestAckEliciting + 1 && lo > received.floor;
    }
    if (pn > this.#largestAckEliciting) this.#largestAckEliciting = pn;
    if (immediate && this.#immediateAt === NEVER) this.#immediateAt = now;
    return true;
  }

  /** Some packet (ack-eliciting or not) arrived since the last ACK was sent. */
  get ackPending(): boolean {
    return this.#ackPending;
  }

  /** An ack-eliciting packet arrived since the last ACK was sent. */
  get ackElicitingPending(): boolean {
    return this.#elicitingSinceAck > 0;
  }

  /**
   * When an ACK must go out: NEVER when no ack-eliciting packet awaits one; the triggering
   * packet's receive time when an immediate ACK is due; otherwise the first unacknowledged
   * ack-eliciting packet's receive time + max_ack_delay (§13.2.1).
   */
  ackDeadline(maxAckDelay: number): Instant {
    if (this.#elicitingSinceAck === 0) return NEVER;
    if (this.#immediateAt !== NEVER) return this.#immediateAt;
    return this.#firstElicitingAt + maxAckDelay;
  }

  /** The ACK frame to send now, or undefined when nothing is left to acknowledge. */
  buildAck(now: Instant, ackDelayExponent: number, maxRanges = DEFAULT_ACK_RANGES): AckToSend | undefined {
    if (this.#received.isEmpty) return undefined;
    // RFC 9000 §13.2.3: the most recent ranges; older ones are omitted.
    const ranges = this.#received.toAckRanges(maxRanges);
    // RFC 9000 §13.2.5 / §19.3: delay since the largest packet was received, scaled by 2^exponent.
    const delay = Math.max(0, now - this.largestReceivedTime);
    const ackDelay = Math.floor(delay / 2 ** ackDelayExponent);
    const ecn =
      this.ect0 + this.ect1 + this.ce > 0 ? { ect0: this.ect0, ect1: this.ect1, ce: this.ce } : undefined;
    return { ranges, ackDelay, ecn };
  }

  /** An ACK frame for this space went out. */
  onAckSent(_now: Instant): void {
    this.#elicitingSinceAck = 0;
    this.#firstElicitingAt = NEVER;
    this.#immediateAt = NEVER;
    this.#ackPending = false;
  }

  /**
   * A packet carrying one of our ACK frames was acknowledged: RFC 9000 §13.2.4, stop reporting
   * packets at or below its Largest Acknowledged. They become duplicates (§13.2.3 floor).
   */
  onAckFrameAcked(largestAcked: number): void {
    this.#received.removeBelow(largestAcked + 1);
  }

  /** Number of ranges currently tracked. */
  get rangeCount(): number {
    return this.#received.rangeCount;
  }

  get ecnCounts(): EcnCounts {
    return { ect0: this.ect0, ect1: this.ect1, ce: this.ce };
  }
}
