// Leaky-bucket pacer (RFC 9002 §7.7): rate = N·cwnd/smoothed_rtt with N = 1.25, bursts limited
// to the initial window (10 datagrams). ACK-only packets are not paced: do not ask or report them.
import type { Duration, Instant } from '../common/time.js';

/** RFC 9002 §7.7: N, slightly above 1 so RTT variation does not underuse the window. */
export const PACING_GAIN = 1.25;
/** Burst allowance in datagrams (RFC 9002 §7.7: SHOULD limit bursts to the initial window). */
export const PACING_BURST_PACKETS = 10;

export class Pacer {
  /** Send credit in bytes; may go negative after a packet larger than the remaining credit. */
  #tokens = Number.POSITIVE_INFINITY;
  #last: Instant = Number.NEGATIVE_INFINITY;
  readonly #burstPackets: number;

  constructor(burstPackets: number = PACING_BURST_PACKETS) {
    this.#burstPackets = burstPackets;
  }

  /** Send rate in bytes per microsecond (RFC 9002 §7.7). */
  static rate(window: number, smoothedRtt: Duration): number {
    return (PACING_GAIN * window) / smoothedRtt;
  }

  /**
   * Earliest instant at which a packet of `bytes` may leave: `now` when it may go now. No delay
   * when the whole window fits in one burst (the congestion controller limits it anyway).
   */
  nextSendTime(
    now: Instant,
    bytes: number,
    window: number,
    smoothedRtt: Duration,
    maxDatagramSize: number,
  ): Instant {
    const capacity = this.#burstPackets * maxDatagramSize;
    if (window <= capacity || !(smoothedRtt > 0)) {
      this.#tokens = Number.POSITIVE_INFINITY; // unpaced: the next paced period starts with a full burst
      return now;
    }
    const rate = Pacer.rate(window, smoothedRtt);
    this.#refill(now, rate, capacity);
    // A little slack absorbs float rounding at the instant we asked to be woken.
    if (this.#tokens + 1e-6 >= bytes) return now;
    return Math.ceil(now + (bytes - this.#tokens) / rate);
  }

  /** Records a paced packet. Call after nextSendTime() allowed it (same `now`). */
  onSent(_now: Instant, bytes: number): void {
    if (this.#tokens !== Number.POSITIVE_INFINITY) this.#tokens -= bytes;
  }

  /** Forgets the send history (full burst allowed again), e.g. after a path change. */
  reset(): void {
    this.#tokens = Number.POSITIVE_INFINITY;
    this.#last = Number.NEGATIVE_INFINITY;
  }

  #refill(now: Instant, rate: number, capacity: number): void {
    // Infinity tokens or a never-set #last give a full bucket.
    const elapsed = now > this.#last ? now - this.#last : 0;
    this.#tokens = Math.min(capacity, this.#tokens + elapsed * rate);
    this.#last = now;
  }
}
