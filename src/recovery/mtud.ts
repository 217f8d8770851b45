// Datagram Packetization Layer PMTU Discovery for one path (RFC 8899, RFC 9000 §14.3). QUIC is
// an acknowledged PL: probes are ack-eliciting PING+PADDING packets whose fate loss detection
// reports; no CONFIRMATION_TIMER (RFC 9000 §14.3.2). BASE_PLPMTU (1200) is confirmed by the
// handshake itself (RFC 9000 §14.3.1), so the search starts right away.
import type { Instant } from '../common/time.js';

/** RFC 8899 §5.1.2: MAX_PROBES, here consecutive failed probes of one size. */
export const MAX_PROBES = 3;
/** RFC 8899 §5.1.1: PMTU_RAISE_TIMER, 600 s. */
export const PMTU_RAISE_INTERVAL = 600_000_000;
/** The search stops when the bracket [acknowledged, failed) is at most this wide (RFC 8899 §5.3.2). */
export const SEARCH_MIN_GAP = 20;
/** Consecutive losses of packets above BASE_PLPMTU, with smaller ones acknowledged, that make a black hole. */
export const BLACK_HOLE_THRESHOLD = 6;

export type MtuState = 'searching' | 'search_complete';

export class MtuDiscovery {
  /** BASE_PLPMTU (= MIN_PLPMTU for QUIC, RFC 9000 §14.3). */
  readonly base: number;
  #maxProbe: number;
  #current: number;
  #state: MtuState = 'searching';
  /** Smallest size known to fail (exclusive upper bound); maxProbe + 1 when none. */
  #failed: number;
  /** RFC 8899 §5.1.3 PROBE_COUNT for the size being probed. */
  #probeCount = 0;
  #probePn = -1;
  #probeSize = 0;
  #lastProbeSent: Instant = Number.NEGATIVE_INFINITY;
  #raiseAt: Instant = Number.POSITIVE_INFINITY;
  #bigLosses = 0;
  #smallAcked = false;
  #probesSent = 0;

  constructor(base = 1200, maxProbe = base) {
    this.base = base;
    this.#maxProbe = Math.max(maxProbe, base);
    this.#current = base;
    this.#failed = this.#maxProbe + 1;
    this.#checkComplete(Number.NEGATIVE_INFINITY);
  }

  /** PLPMTU: the maximum datagram size currently usable on the path. */
  get current(): number {
    return this.#current;
  }

  get state(): MtuState {
    return this.#state;
  }

  /** Probes sent since construction (stats). */
  get probesSent(): number {
    return this.#probesSent;
  }

  /** MAX_PLPMTU: min(peer's max_udp_payload_size, local maximum) (RFC 8899 §5.3.1). */
  get maxProbe(): number {
    return this.#maxProbe;
  }

  set maxProbe(v: number) {
    v = Math.max(v, this.base);
    const old = this.#maxProbe;
    if (v === old) return;
    this.#maxProbe = v;
    if (this.#current > v) this.#current = v;
    // A known failure below the old maximum still stands; otherwise the bound follows the maximum.
    if (this.#failed > v + 1 || this.#failed === old + 1) this.#failed = v + 1;
    if (this.#probeSize > v) this.#probePn = -1;
    if (v > old && this.#state === 'search_complete') this.#state = 'searching';
    this.#checkComplete(this.#lastProbeSent);
  }

  /** Size of the probe to send now, if any (at most one probe is outstanding). */
  pollProbe(now: Instant): number | undefined {
    if (this.#state === 'search_complete') {
      // RFC 8899 §5.2: PMTU_RAISE_TIMER expiry re-enters the search.
      if (now < this.#raiseAt) return undefined;
      this.#state = 'searching';
      this.#failed = this.#maxProbe + 1;
      this.#probeCount = 0;
      if (this.#checkComplete(now)) return undefined;
    }
    if (this.#probePn >= 0) return undefined;
    // Optimistic first probe at MAX_PLPMTU, then binary search (RFC 8899 §5.3.2).
    if (this.#failed > this.#maxProbe) return this.#maxProbe;
    return (this.#current + this.#failed) >> 1;
  }

  onProbeSent(pn: number, size: number, now: Instant): void {
    this.#probePn = pn;
    this.#probeSize = size;
    this.#lastProbeSent = now;
    this.#probesSent++;
  }

  /** The probe was acknowledged; true if `current` increased (RFC 8899 §5.2 SEARCHING). */
  onProbeAcked(pn: number): boolean {
    if (pn !== this.#probePn || pn < 0) return false;
    this.#probePn = -1;
    this.#probeCount = 0;
    this.#bigLosses = 0;
    this.#smallAcked = false;
    const raised = this.#probeSize > this.#current;
    if (raised) this.#current = this.#probeSize;
    this.#checkComplete(this.#lastProbeSent);
    return raised;
  }

  /** The probe was declared lost (its loss is no congestion signal, RFC 9000 §14.4). */
  onProbeLost(pn: number): void {
    if (pn !== this.#probePn || pn < 0) return;
    this.#probePn = -1;
    // RFC 8899 §5.3.1: after MAX_PROBES consecutive failures the size is given up.
    if (++this.#probeCount >= MAX_PROBES) {
      this.#probeCount = 0;
      if (this.#probeSize < this.#failed) this.#failed = this.#probeSize;
      this.#checkComplete(this.#lastProbeSent);
    }
  }

  /** A non-probe packet of `size` was acknowledged (input of black-hole detection). */
  onPacketAcked(size: number): void {
    if (size > this.base) {
      this.#bigLosses = 0;
      this.#smallAcked = false;
    } else if (this.#bigLosses > 0) {
      this.#smallAcked = true;
    }
  }

  /**
   * A non-probe packet of `size` was declared lost. True when a black hole is detected (RFC 8899
   * §4.3): `current` fell back to BASE_PLPMTU and the search restarts below the failed size.
   */
  onPacketLost(size: number): boolean {
    if (size <= this.base || this.#current <= this.base) return false;
    if (++this.#bigLosses < BLACK_HOLE_THRESHOLD || !this.#smallAcked) return false;
    // RFC 8899 §5.2: black hole detected → back to BASE, then search again.
    this.#failed = Math.min(this.#current, this.#failed);
    this.#current = this.base;
    this.#state = 'searching';
    this.#probeCount = 0;
    this.#probePn = -1;
    this.#bigLosses = 0;
    this.#smallAcked = false;
    this.#raiseAt = Number.POSITIVE_INFINITY;
    this.#checkComplete(this.#lastProbeSent);
    return true;
  }

  /** PMTU_RAISE_TIMER deadline (Infinity when not armed); then pollProbe() restarts the search. */
  timeout(): Instant {
    return this.#state === 'search_complete' ? this.#raiseAt : Number.POSITIVE_INFINITY;
  }

  /** Back to BASE_PLPMTU and search again (e.g. after an address change, RFC 9000 §9.4). */
  reset(): void {
    this.#current = this.base;
    this.#state = 'searching';
    this.#failed = this.#maxProbe + 1;
    this.#probeCount = 0;
    this.#probePn = -1;
    this.#probeSize = 0;
    this.#raiseAt = Number.POSITIVE_INFINITY;
    this.#bigLosses = 0;
    this.#smallAcked = false;
    this.#checkComplete(this.#lastProbeSent);
  }

  /** Enters SEARCH_COMPLETE when nothing worthwhile is left to probe; true if complete. */
  #checkComplete(at: Instant): boolean {
    const cur = this.#current;
    const done =
      cur >= this.#maxProbe || (this.#failed <= this.#maxProbe && this.#failed - cur <= SEARCH_MIN_GAP);
    if (!done) return false;
    this.#state = 'search_complete';
    this.#probePn = -1;
    // RFC 8899 §5.1.1: re-search after PMTU_RAISE_TIMER unless already at MAX_PLPMTU.
    this.#raiseAt =
      cur >= this.#maxProbe || at === Number.NEGATIVE_INFINITY
        ? Number.POSITIVE_INFINITY
        : at + PMTU_RAISE_INTERVAL;
    return true;
  }
}
