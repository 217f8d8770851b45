// Loss detection and probe timeout over the three packet-number spaces (RFC 9002 §6, Appendix A).
//
// Storage per space: slots in packet-number order (packet numbers strictly increase, RFC 9000
// §12.3). Acknowledged, lost or drained packets leave a dead slot; skip pointers with path
// compression jump over dead slots, so an ACK costs O(ranges·log n + newly acknowledged) whatever
// the number of outstanding packets, and dead slots are compacted away in amortised O(1).
import { TransportError, TransportErrorCode } from '../common/errors.js';
import { type Role, Space } from '../common/levels.js';
import type { Duration, Instant } from '../common/time.js';
import { K_GRANULARITY, type RttEstimator } from './rtt.js';

/** RFC 9002 §6.1.1: kPacketThreshold. */
export const K_PACKET_THRESHOLD = 3;
/** RFC 9002 §6.1.2: kTimeThreshold = 9/8. */
export const K_TIME_THRESHOLD = 9 / 8;
/** RFC 9002 §7.6.1: kPersistentCongestionThreshold. */
export const K_PERSISTENT_CONGESTION_THRESHOLD = 3;
/** Skipped packet-number ranges remembered per space (RFC 9000 §21.4 detection). */
const MAX_SKIPPED_RANGES = 64;

export interface SentPacket<F> {
  pn: number;
  timeSent: Instant;
  /** Bytes of the packet (QUIC header and AEAD included, RFC 9002 §A.1.1). */
  size: number;
  ackEliciting: boolean;
  /** Counts towards bytes in flight (ack-eliciting or PADDING, RFC 9002 §B.2). */
  inFlight: boolean;
  pathId: number;
  frames: F;
  isMtuProbe: boolean;
}

export interface AckResult<F> {
  /** Newly acknowledged packets in ascending packet-number order (ACK-only packets included). */
  newlyAcked: SentPacket<F>[];
  /** Packets newly declared lost, ascending. */
  lost: SentPacket<F>[];
  largestNewlyAcked: SentPacket<F> | undefined;
  rttSampled: boolean;
  /** Persistent congestion established on at least one path (RFC 9002 §7.6). */
  persistentCongestion: boolean;
  /** The paths on which it was established. */
  persistentCongestionPaths: readonly number[];
  /** This ACK raised the largest acknowledged (RFC 9000 §13.4.2.1 needs it for ECN). */
  largestAckedIncreased: boolean;
}

export type LossTimeout<F> =
  | {
      kind: 'loss';
      space: Space;
      lost: SentPacket<F>[];
      persistentCongestion: boolean;
      persistentCongestionPaths: readonly number[];
    }
  | {
      kind: 'pto';
      space: Space;
      /**
       * No ack-eliciting packet was in flight: a client proving its address (RFC 9002 §6.2.2.1)
       * sends one Handshake packet, or a padded Initial without Handshake keys.
       */
      antiDeadlock: boolean;
    };

export interface LossTimerOptions {
  handshakeConfirmed: boolean;
  /** Server at its anti-amplification limit: no timer (RFC 9002 §6.2.2.1, §A.8). */
  serverAmplificationBlocked: boolean;
  /** Client: anti-deadlock probes use the Handshake space once it has Handshake keys (§A.9). */
  hasHandshakeKeys: boolean;
  /**
   * Overrides the tracked PeerCompletedAddressValidation (§A.8): always true at a server; at a
   * client, true once an ACK was received in the Handshake space or the handshake is confirmed.
   */
  peerCompletedAddressValidation?: boolean;
  /** The endpoint's role, when not given to the constructor (learned once). */
  isClient?: boolean;
}

/** One estimator for every packet, or the estimator of each packet's path (RFC 9000 §9.4). */
export type RttSource = RttEstimator | ((pathId: number) => RttEstimator);

// Slot states; FLAG_ACKED_BEFORE survives compaction: an acknowledged packet was dropped just
// before this slot (it ends a persistent-congestion run, RFC 9002 §7.6.2).
const LIVE = 0;
const ACKED = 1;
const GONE = 2;
const STATE_MASK = 3;
const FLAG_ACKED_BEFORE = 4;

class SpaceState<F> {
  pkts: (SentPacket<F> | undefined)[] = [];
  pns: number[] = [];
  /** Skip pointers: next[i] === i for a live slot, else a candidate index > i. */
  next: number[] = [];
  state: number[] = [];
  /** Every slot below head is dead. */
  head = 0;
  live = 0;
  largestAcked = -1;
  largestSent = -1;
  /** Largest packet number sent or skipped. */
  largestUsed = -1;
  /** RFC 9002 §A.3 loss_time; Infinity = unset. */
  lossTime: Instant = Number.POSITIVE_INFINITY;
  /** RFC 9002 §A.3 time_of_last_ack_eliciting_packet. */
  lastAckElicitingTime: Instant = Number.NEGATIVE_INFINITY;
  ackElicitingInFlight = 0;
  /** Skipped packet numbers as ascending [lo, hi] pairs (RFC 9000 §21.4). */
  skipped: number[] = [];
  /** FLAG_ACKED_BEFORE owed to the next slot (acknowledged slots compacted off the tail). */
  tailFlag = 0;

  clearPackets(): void {
    this.pkts = [];
    this.pns = [];
    this.next = [];
    this.state = [];
    this.head = 0;
    this.live = 0;
    this.lossTime = Number.POSITIVE_INFINITY;
    this.lastAckElicitingTime = Number.NEGATIVE_INFINITY;
    this.ackElicitingInFlight = 0;
    this.tailFlag = 0;
  }
}

interface LossPass<F> {
  lost: SentPacket<F>[];
  persistentCongestionPaths: readonly number[];
}

const EMPTY_PATHS: number[] = [];

export class LossDetection<F> {
  #role: Role | undefined;
  readonly #spaces: [SpaceState<F>, SpaceState<F>, SpaceState<F>] = [
    new SpaceState<F>(),
    new SpaceState<F>(),
    new SpaceState<F>(),
  ];
  #ptoCount = 0;
  #handshakeAckReceived = false;
  /** Start of the anti-deadlock PTO (§A.8 "now()" when the timer was last set). */
  #lastEvent: Instant = Number.NEGATIVE_INFINITY;
  #ptoSpace: Space = Space.Initial;
  #ptoAntiDeadlock = false;
  // Scratch for persistent congestion (reused; no per-ACK allocation beyond results).
  #breaks: boolean[] = [];
  #runPath: number[] = [];
  #runStart: number[] = [];
  #runEnd: number[] = [];
  #runCount = 0;

  /** `role` decides PeerCompletedAddressValidation (§A.8); without it, LossTimerOptions.isClient tells. */
  constructor(role?: Role) {
    this.#role = role;
  }

  get ptoCount(): number {
    return this.#ptoCount;
  }

  resetPtoCount(): void {
    this.#ptoCount = 0;
  }

  largestAcked(space: Space): number | undefined {
    const v = this.#spaces[space].largestAcked;
    return v < 0 ? undefined : v;
  }

  /** Largest packet number sent in `space`, -1 if none. */
  largestSent(space: Space): number {
    return this.#spaces[space].largestSent;
  }

  inFlightAckEliciting(space: Space): boolean {
    return this.#spaces[space].ackElicitingInFlight > 0;
  }

  /** Outstanding (unacknowledged, not lost) packets of a space. */
  outstanding(space: Space): number {
    return this.#spaces[space].live;
  }

  /**
   * Records a sent packet (RFC 9002 §A.5). Every packet must be recorded, ACK-only ones included:
   * a packet number never recorded or skipped counts as skipped, and acknowledging it is a
   * PROTOCOL_VIOLATION. Send times must not decrease within a space.
   */
  onPacketSent(space: Space, p: SentPacket<F>): void {
    const s = this.#spaces[space];
    if (!(p.pn > s.largestUsed))
      throw new RangeError(`packet number ${p.pn} not increasing in space ${space}`);
    if (p.pn > s.largestUsed + 1) this.#addSkipped(s, s.largestUsed + 1, p.pn - 1);
    s.largestUsed = p.pn;
    s.largestSent = p.pn;
    const i = s.pkts.length;
    s.pkts.push(p);
    s.pns.push(p.pn);
    s.next.push(i);
    s.state.push(LIVE | s.tailFlag);
    s.tailFlag = 0;
    s.live++;
    if (p.inFlight && p.ackEliciting) {
      // RFC 9002 §A.5.
      s.ackElicitingInFlight++;
      s.lastAckElicitingTime = p.timeSent;
      if (p.timeSent > this.#lastEvent) this.#lastEvent = p.timeSent;
    }
    const dead = s.pkts.length - s.live;
    if (dead >= 4096 && dead > s.live) this.#compact(s);
  }

  /**
   * Deliberately leaves `pn` unused (RFC 9000 §21.4, RFC 9002 §6.2.4): an ACK for it is then a
   * PROTOCOL_VIOLATION. The next sent packet number must be larger.
   */
  skipPacketNumber(space: Space, pn: number): void {
    const s = this.#spaces[space];
    if (!(pn > s.largestUsed)) throw new RangeError(`packet number ${pn} already used in space ${space}`);
    this.#addSkipped(s, pn, pn);
    s.largestUsed = pn;
  }

  /**
   * Processes an ACK frame (RFC 9002 §A.7). `ranges` = [hi0, lo0, hi1, lo1, …] descending and
   * inclusive; `ackDelayUs` is the decoded ACK Delay. `rtt` may resolve each path's estimator:
   * the sample goes to the path of the largest acknowledged packet (RFC 9000 §9.4).
   */
  onAckReceived(
    space: Space,
    ranges: readonly number[],
    ackDelayUs: Duration,
    now: Instant,
    rtt: RttSource,
    handshakeConfirmed: boolean,
    maxAckDelayUs: Duration,
  ): AckResult<F> {
    const s = this.#spaces[space];
    this.#validateRanges(s, ranges);
    const largest = ranges[0]!;
    const increased = largest > s.largestAcked;
    if (increased) s.largestAcked = largest;
    // §A.8 PeerCompletedAddressValidation: a client learns it from any Handshake ACK.
    if (space === Space.Handshake) this.#handshakeAckReceived = true;

    // DetectAndRemoveAckedPackets, ascending (last pair first).
    const newlyAcked: SentPacket<F>[] = [];
    let ackEliciting = false;
    const pns = s.pns;
    for (let r = ranges.length - 2; r >= 0; r -= 2) {
      const hi = ranges[r]!;
      let i = this.#find(s, this.#lowerBound(s, ranges[r + 1]!));
      while (i < pns.length && pns[i]! <= hi) {
        const p = this.#kill(s, i, ACKED);
        newlyAcked.push(p);
        if (p.ackEliciting) ackEliciting = true;
        i = this.#find(s, i + 1);
      }
    }
    const largestNew = newlyAcked[newlyAcked.length - 1];
    if (largestNew === undefined) {
      // §A.7: nothing newly acknowledged, nothing else to do.
      return {
        newlyAcked,
        lost: [],
        largestNewlyAcked: undefined,
        rttSampled: false,
        persistentCongestion: false,
        persistentCongestionPaths: EMPTY_PATHS,
        largestAckedIncreased: increased,
      };
    }
    const est = typeof rtt === 'function' ? rtt(largestNew.pathId) : rtt;
    // RFC 9002 §5.1: sample only if the largest acknowledged is newly acknowledged and at least
    // one newly acknowledged packet is ack-eliciting.
    let rttSampled = false;
    if (largestNew.pn === largest && ackEliciting) {
      // RFC 9002 §5.3: MAY ignore the ack delay for Initial packets (never delayed on purpose).
      est.update(
        now - largestNew.timeSent,
        space === Space.Initial ? 0 : ackDelayUs,
        handshakeConfirmed,
        maxAckDelayUs,
        now,
      );
      rttSampled = true;
    }
    const pass = this.#detectAndRemoveLost(s, now, est, rtt, maxAckDelayUs);
    // §A.7: reset pto_count unless the client is unsure the server validated its address.
    if (this.#peerCompletedAddressValidation(handshakeConfirmed)) this.#ptoCount = 0;
    this.#lastEvent = now;
    return {
      newlyAcked,
      lost: pass.lost,
      largestNewlyAcked: largestNew,
      rttSampled,
      persistentCongestion: pass.persistentCongestionPaths.length > 0,
      persistentCongestionPaths: pass.persistentCongestionPaths,
      largestAckedIncreased: increased,
    };
  }

  /**
   * The loss detection timer (RFC 9002 §A.8 SetLossDetectionTimer): the earliest time-threshold
   * loss time, else the PTO deadline; Infinity when no timer is set. Timers in the past fire now.
   */
  timeout(rtt: RttEstimator, maxAckDelayUs: Duration, opts: LossTimerOptions): Instant {
    if (this.#role === undefined && opts.isClient !== undefined)
      this.#role = opts.isClient ? 'client' : 'server';
    const lossTime = this.#earliestLossTime();
    // RFC 9002 §6.2.1: the PTO MUST NOT be set while a time-threshold loss timer is.
    if (lossTime !== Number.POSITIVE_INFINITY) return lossTime;
    // RFC 9002 §6.2.2.1: a server at its amplification limit MUST NOT arm the PTO.
    if (opts.serverAmplificationBlocked) return Number.POSITIVE_INFINITY;
    const validated =
      opts.peerCompletedAddressValidation ?? this.#peerCompletedAddressValidation(opts.handshakeConfirmed);
    // RFC 9002 §A.8: nothing to detect lost — unless the client must keep unblocking the server
    // (§6.2.2.1: MUST set the PTO until it has a Handshake ACK or the handshake is confirmed).
    if (!this.#anyAckElicitingInFlight() && validated) return Number.POSITIVE_INFINITY;
    return this.#ptoTime(rtt, maxAckDelayUs, opts, validated);
  }

  /**
   * Runs the loss detection timer (RFC 9002 §A.9) if it has expired at `now`: time-threshold
   * losses, or a PTO (pto_count is incremented; the caller sends one or two ack-eliciting probes
   * in `space`, RFC 9002 §6.2.4). Undefined when nothing is due.
   */
  onTimeout(
    now: Instant,
    rtt: RttEstimator,
    maxAckDelayUs: Duration,
    opts: LossTimerOptions,
  ): LossTimeout<F> | undefined {
    let lossTime = Number.POSITIVE_INFINITY;
    let lossSpace: Space = Space.Initial;
    for (let sp = Space.Initial as Space; sp <= Space.Application; sp++) {
      const t = this.#spaces[sp].lossTime;
      if (t < lossTime) {
        lossTime = t;
        lossSpace = sp;
      }
    }
    if (lossTime !== Number.POSITIVE_INFINITY) {
      if (now < lossTime) return undefined;
      const pass = this.#detectAndRemoveLost(this.#spaces[lossSpace], now, rtt, rtt, maxAckDelayUs);
      if (pass.lost.length === 0) return undefined;
      return {
        kind: 'loss',
        space: lossSpace,
        lost: pass.lost,
        persistentCongestion: pass.persistentCongestionPaths.length > 0,
        persistentCongestionPaths: pass.persistentCongestionPaths,
      };
    }
    const deadline = this.timeout(rtt, maxAckDelayUs, opts);
    if (!(now >= deadline)) return undefined;
    const antiDeadlock = this.#ptoAntiDeadlock;
    // RFC 9002 §6.2.1: the PTO backoff MUST be increased when the PTO expires.
    this.#ptoCount++;
    this.#lastEvent = now;
    return { kind: 'pto', space: this.#ptoSpace, antiDeadlock };
  }

  /**
   * Discards a packet-number space whose keys are dropped (RFC 9002 §6.4, §A.11): returns its
   * in-flight packets so the caller removes their bytes from the controllers (§B.9), and resets
   * pto_count. Packet numbers keep increasing if the space is used again (after Retry).
   */
  discardSpace(space: Space): SentPacket<F>[] {
    const s = this.#spaces[space];
    const out: SentPacket<F>[] = [];
    for (let i = s.head; i < s.pkts.length; i++) {
      const p = s.pkts[i];
      if (p?.inFlight) out.push(p);
    }
    s.clearPackets();
    this.#ptoCount = 0;
    return out;
  }

  /**
   * Removes and returns the outstanding packets of `space` that match `predicate` (all without
   * one), e.g. every 0-RTT packet when 0-RTT is rejected. They are neither acknowledged nor lost
   * for congestion control: the caller removes in-flight ones with discard() or onPacketsLost().
   */
  drainUnacked(space: Space, predicate?: (p: SentPacket<F>) => boolean): SentPacket<F>[] {
    const s = this.#spaces[space];
    const out: SentPacket<F>[] = [];
    for (let i = this.#find(s, s.head); i < s.pkts.length; i = this.#find(s, i + 1)) {
      const p = s.pkts[i]!;
      if (predicate === undefined || predicate(p)) out.push(this.#kill(s, i, GONE));
    }
    if (s.live === 0) s.lossTime = Number.POSITIVE_INFINITY;
    return out;
  }

  /** Up to `n` oldest outstanding packets of a space, left in place (PTO retransmission, §6.2.4). */
  oldestUnacked(space: Space, n: number): SentPacket<F>[] {
    const s = this.#spaces[space];
    const out: SentPacket<F>[] = [];
    for (let i = this.#find(s, s.head); i < s.pkts.length && out.length < n; i = this.#find(s, i + 1))
      out.push(s.pkts[i]!);
    return out;
  }

  /** Iterates the outstanding packets of a space in packet-number order (e.g. for PTO probes). */
  *unacked(space: Space): IterableIterator<SentPacket<F>> {
    const s = this.#spaces[space];
    for (let i = this.#find(s, s.head); i < s.pkts.length; i = this.#find(s, i + 1)) yield s.pkts[i]!;
  }

  // --- internals ---

  #peerCompletedAddressValidation(handshakeConfirmed: boolean): boolean {
    // §A.8: servers assume clients validated their address; clients learn it from a Handshake
    // ACK or handshake confirmation. An unknown role counts as a server.
    return this.#role !== 'client' || this.#handshakeAckReceived || handshakeConfirmed;
  }

  #anyAckElicitingInFlight(): boolean {
    const sp = this.#spaces;
    return sp[0].ackElicitingInFlight + sp[1].ackElicitingInFlight + sp[2].ackElicitingInFlight > 0;
  }

  #earliestLossTime(): Instant {
    const sp = this.#spaces;
    return Math.min(sp[0].lossTime, sp[1].lossTime, sp[2].lossTime);
  }

  /** §A.8 GetPtoTimeAndSpace; leaves the space in #ptoSpace and the kind in #ptoAntiDeadlock. */
  #ptoTime(rtt: RttEstimator, maxAckDelayUs: Duration, opts: LossTimerOptions, validated: boolean): Instant {
    const backoff = 2 ** this.#ptoCount;
    // RFC 9002 §6.2.1: PTO = smoothed_rtt + max(4·rttvar, kGranularity) (+ max_ack_delay), doubled per PTO.
    let duration = rtt.pto(0, false) * backoff;
    let timeout = Number.POSITIVE_INFINITY;
    this.#ptoSpace = Space.Initial;
    this.#ptoAntiDeadlock = false;
    for (let sp = Space.Initial as Space; sp <= Space.Application; sp++) {
      const s = this.#spaces[sp];
      if (s.ackElicitingInFlight === 0) continue;
      if (sp === Space.Application) {
        // RFC 9002 §6.2.1: MUST NOT arm the Application Data PTO before handshake confirmation.
        if (!opts.handshakeConfirmed) break;
        // max_ack_delay only for Application Data (0 for Initial and Handshake), with backoff.
        duration += maxAckDelayUs * backoff;
      }
      // RFC 9002 §6.2.1: the earliest space wins when several have packets in flight.
      const t = s.lastAckElicitingTime + duration;
      if (t < timeout) {
        timeout = t;
        this.#ptoSpace = sp;
      }
    }
    if (timeout === Number.POSITIVE_INFINITY && !validated && this.#lastEvent !== Number.NEGATIVE_INFINITY) {
      // Anti-deadlock PTO from the last time the timer was set (§A.8), also when only 0-RTT
      // packets are in flight: the client MUST keep a PTO until its address is validated (§6.2.2.1).
      this.#ptoSpace = opts.hasHandshakeKeys ? Space.Handshake : Space.Initial;
      this.#ptoAntiDeadlock = true;
      timeout = this.#lastEvent + duration;
    }
    return timeout;
  }

  /** §A.10 DetectAndRemoveLostPackets, plus persistent congestion (§7.6.2, §B.8). */
  #detectAndRemoveLost(
    s: SpaceState<F>,
    now: Instant,
    rtt: RttEstimator,
    source: RttSource,
    maxAckDelayUs: Duration,
  ): LossPass<F> {
    s.lossTime = Number.POSITIVE_INFINITY;
    const lost: SentPacket<F>[] = [];
    if (s.largestAcked < 0) return { lost, persistentCongestionPaths: EMPTY_PATHS };
    // RFC 9002 §6.1.2: max(kTimeThreshold·max(smoothed_rtt, latest_rtt), kGranularity).
    const lossDelay = Math.max(K_TIME_THRESHOLD * Math.max(rtt.latest, rtt.smoothed), K_GRANULARITY);
    const breaks = this.#breaks;
    breaks.length = 0;
    let i = this.#find(s, s.head);
    s.head = i;
    let prev = -1;
    while (i < s.pkts.length) {
      const p = s.pkts[i]!;
      if (p.pn > s.largestAcked) break;
      // RFC 9002 §6.1: lost if sent kPacketThreshold before an acknowledged packet, or long enough ago.
      // (Compare with the same sum the timer uses, so float rounding cannot arm a past timer.)
      if (p.timeSent + lossDelay <= now || s.largestAcked >= p.pn + K_PACKET_THRESHOLD) {
        breaks.push(prev >= 0 && this.#ackedBetween(s, prev, i));
        lost.push(this.#kill(s, i, GONE));
        prev = i;
        i = this.#find(s, i + 1);
      } else {
        // RFC 9002 §6.1.2: timer for the remaining time. Send times do not decrease, so this
        // first survivor is the earliest, and no later packet can be lost yet.
        s.lossTime = p.timeSent + lossDelay;
        break;
      }
    }
    const pc = lost.length >= 2 ? this.#persistentCongestion(lost, source, maxAckDelayUs) : EMPTY_PATHS;
    return { lost, persistentCongestionPaths: pc };
  }

  /** Was a packet acknowledged between slots a < b (dead slots in between, or compacted away)? */
  #ackedBetween(s: SpaceState<F>, a: number, b: number): boolean {
    const st = s.state;
    if ((st[b]! & FLAG_ACKED_BEFORE) !== 0) return true;
    for (let j = a + 1; j < b; j++) {
      const v = st[j]!;
      if ((v & STATE_MASK) === ACKED || (v & FLAG_ACKED_BEFORE) !== 0) return true;
    }
    return false;
  }

  /**
   * RFC 9002 §7.6.2: two ack-eliciting lost packets, sent after the path's first RTT sample,
   * more than the persistent congestion duration apart (§7.6.1), with no packet acknowledged
   * between them. Runs are tracked per path (congestion is per path); an acknowledgement of any
   * packet in between ends every run. Only this space is consulted (§7.6.2 allows it).
   */
  #persistentCongestion(
    lost: SentPacket<F>[],
    source: RttSource,
    maxAckDelayUs: Duration,
  ): readonly number[] {
    this.#runCount = 0;
    let result: readonly number[] = EMPTY_PATHS;
    const breaks = this.#breaks;
    for (let i = 0; i < lost.length; i++) {
      if (breaks[i]) result = this.#closeRuns(source, maxAckDelayUs, result);
      const p = lost[i]!;
      if (!p.ackEliciting) continue;
      const est = typeof source === 'function' ? source(p.pathId) : source;
      // §B.8: only packets sent after the first RTT sample.
      if (!(p.timeSent > est.firstSampleTime)) continue;
      let r = 0;
      while (r < this.#runCount && this.#runPath[r] !== p.pathId) r++;
      if (r === this.#runCount) {
        this.#runPath[r] = p.pathId;
        this.#runStart[r] = p.timeSent;
        this.#runCount++;
      }
      this.#runEnd[r] = p.timeSent;
    }
    result = this.#closeRuns(source, maxAckDelayUs, result);
    for (let i = 0; i < result.length; i++) {
      const id = result[i]!;
      // RFC 9002 §5.2: SHOULD set min_rtt to the newest sample after persistent congestion.
      (typeof source === 'function' ? source(id) : source).onPersistentCongestion();
    }
    return result;
  }

  #closeRuns(source: RttSource, maxAckDelayUs: Duration, result: readonly number[]): readonly number[] {
    for (let r = 0; r < this.#runCount; r++) {
      const path = this.#runPath[r]!;
      const est = typeof source === 'function' ? source(path) : source;
      // RFC 9002 §7.6.1: (smoothed_rtt + max(4·rttvar, kGranularity) + max_ack_delay) · 3.
      const duration = est.pto(maxAckDelayUs, true) * K_PERSISTENT_CONGESTION_THRESHOLD;
      if (this.#runEnd[r]! - this.#runStart[r]! > duration && !result.includes(path))
        result = [...result, path];
    }
    this.#runCount = 0;
    return result;
  }

  #validateRanges(s: SpaceState<F>, ranges: readonly number[]): void {
    const n = ranges.length;
    if (n < 2 || n % 2 !== 0)
      throw new TransportError(TransportErrorCode.FRAME_ENCODING_ERROR, 'empty ACK ranges');
    let prevLo = Number.POSITIVE_INFINITY;
    for (let r = 0; r < n; r += 2) {
      const hi = ranges[r]!;
      const lo = ranges[r + 1]!;
      if (!(lo >= 0 && hi >= lo && hi < prevLo)) {
        throw new TransportError(TransportErrorCode.FRAME_ENCODING_ERROR, 'ACK ranges out of order');
      }
      prevLo = lo;
      // RFC 9000 §13.1: acknowledging a packet never sent MAY be treated as PROTOCOL_VIOLATION;
      // §21.4: so is acknowledging a deliberately skipped packet number.
      if (r === 0 && hi > s.largestSent) {
        throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, `ACK of unsent packet ${hi}`);
      }
      if (this.#skippedIn(s, lo, hi)) {
        throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'ACK of a skipped packet number');
      }
    }
  }

  #addSkipped(s: SpaceState<F>, lo: number, hi: number): void {
    const k = s.skipped;
    if (k.length > 0 && k[k.length - 1]! === lo - 1) k[k.length - 1] = hi;
    else {
      if (k.length >= 2 * MAX_SKIPPED_RANGES) k.splice(0, 2);
      k.push(lo, hi);
    }
  }

  #skippedIn(s: SpaceState<F>, lo: number, hi: number): boolean {
    const k = s.skipped;
    // First pair whose upper end is >= lo.
    let a = 0;
    let b = k.length >> 1;
    while (a < b) {
      const m = (a + b) >> 1;
      if (k[2 * m + 1]! < lo) a = m + 1;
      else b = m;
    }
    return 2 * a < k.length && k[2 * a]! <= hi;
  }

  /** First slot index >= head whose packet number is >= pn. */
  #lowerBound(s: SpaceState<F>, pn: number): number {
    const pns = s.pns;
    let a = s.head;
    let b = pns.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (pns[m]! < pn) a = m + 1;
      else b = m;
    }
    return a;
  }

  /** First live slot >= i (path compression). */
  #find(s: SpaceState<F>, i: number): number {
    const next = s.next;
    const n = next.length;
    let r = i;
    while (r < n && next[r] !== r) r = next[r]!;
    while (i < r) {
      const j = next[i]!;
      next[i] = r;
      i = j;
    }
    return r;
  }

  #kill(s: SpaceState<F>, i: number, state: number): SentPacket<F> {
    const p = s.pkts[i]!;
    s.pkts[i] = undefined;
    s.state[i] = (s.state[i]! & FLAG_ACKED_BEFORE) | state;
    s.next[i] = i + 1;
    s.live--;
    if (p.inFlight && p.ackEliciting) s.ackElicitingInFlight--;
    return p;
  }

  /** Drops dead slots, keeping "acknowledged before" marks on the survivors. */
  #compact(s: SpaceState<F>): void {
    const { pkts, pns, next, state } = s;
    let w = 0;
    let flag = 0;
    for (let r = 0; r < pkts.length; r++) {
      const v = state[r]!;
      if ((v & STATE_MASK) === LIVE) {
        pkts[w] = pkts[r];
        pns[w] = pns[r]!;
        state[w] = v | flag;
        next[w] = w;
        w++;
        flag = 0;
      } else if ((v & STATE_MASK) === ACKED || (v & FLAG_ACKED_BEFORE) !== 0) {
        flag = FLAG_ACKED_BEFORE;
      }
    }
    s.tailFlag |= flag;
    pkts.length = w;
    pns.length = w;
    next.length = w;
    state.length = w;
    s.head = 0;
  }
}
