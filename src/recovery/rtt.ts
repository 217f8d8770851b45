// Round-trip time estimation per path (RFC 9002 §5). All values are microseconds.
import type { Duration, Instant } from '../common/time.js';

/** RFC 9002 §6.2.2: initial RTT before any sample (333 ms). */
export const K_INITIAL_RTT: Duration = 333_000;
/** RFC 9002 §6.1.2: timer granularity (1 ms). */
export const K_GRANULARITY: Duration = 1_000;

export class RttEstimator {
  /** Most recent raw sample (RFC 9002 §5.1); 0 before the first sample. */
  latest: Duration = 0;
  smoothed: Duration;
  rttvar: Duration;
  /** Minimum observed sample, never adjusted for ack delay (RFC 9002 §5.2); 0 before the first sample. */
  min: Duration = 0;
  hasSample = false;
  /** When the first sample was taken (for persistent congestion, §7.6.2); Infinity before it. */
  firstSampleTime: Instant = Number.POSITIVE_INFINITY;
  readonly #initialRtt: Duration;

  constructor(initialRtt: Duration = K_INITIAL_RTT) {
    this.#initialRtt = initialRtt;
    // RFC 9002 §5.3: smoothed_rtt = kInitialRtt, rttvar = kInitialRtt / 2.
    this.smoothed = initialRtt;
    this.rttvar = initialRtt / 2;
  }

  /**
   * Takes an RTT sample (RFC 9002 §5.3, §A.7 UpdateRtt). `ackDelay` is the peer-reported delay;
   * `now` (optional) records the time of the first sample.
   */
  update(
    latestRtt: Duration,
    ackDelay: Duration,
    handshakeConfirmed: boolean,
    maxAckDelay: Duration,
    now?: Instant,
  ): void {
    const latest = latestRtt > 0 ? latestRtt : 0;
    this.latest = latest;
    if (!this.hasSample) {
      // RFC 9002 §5.2: min_rtt MUST be set to latest_rtt on the first sample; §5.3 first sample.
      this.hasSample = true;
      this.min = latest;
      this.smoothed = latest;
      this.rttvar = latest / 2;
      this.firstSampleTime = now ?? Number.NEGATIVE_INFINITY;
      return;
    }
    // RFC 9002 §5.2: min_rtt is the lesser of min_rtt and latest_rtt, ignoring ack delay.
    if (latest < this.min) this.min = latest;
    let delay = ackDelay > 0 ? ackDelay : 0;
    // RFC 9002 §5.3: MUST use min(ack_delay, max_ack_delay) after handshake confirmation
    // (and SHOULD ignore max_ack_delay before it).
    if (handshakeConfirmed && delay > maxAckDelay) delay = maxAckDelay;
    // RFC 9002 §5.3: MUST NOT subtract ack_delay if the result would be below min_rtt.
    const adjusted = latest >= this.min + delay ? latest - delay : latest;
    // Order of §A.7 (and RFC 6298): rttvar uses the previous smoothed_rtt.
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.smoothed - adjusted);
    this.smoothed = 0.875 * this.smoothed + 0.125 * adjusted;
  }

  /**
   * Base PTO period (RFC 9002 §6.2.1): smoothed_rtt + max(4·rttvar, kGranularity), plus
   * max_ack_delay when `includeMaxAckDelay` (Application Data space; also §7.6.1).
   */
  pto(maxAckDelay: Duration, includeMaxAckDelay: boolean): Duration {
    return this.smoothed + Math.max(4 * this.rttvar, K_GRANULARITY) + (includeMaxAckDelay ? maxAckDelay : 0);
  }

  /**
   * Sets the initial RTT of a path that has no sample yet, e.g. from a PATH_CHALLENGE round trip
   * (RFC 9002 §6.2.2: MAY, but it is not a sample).
   */
  setInitialRtt(rtt: Duration): void {
    if (this.hasSample || !(rtt > 0)) return;
    this.smoothed = rtt;
    this.rttvar = rtt / 2;
  }

  /** RFC 9002 §5.2: SHOULD set min_rtt to the newest sample after persistent congestion. */
  onPersistentCongestion(): void {
    if (this.hasSample) this.min = this.latest;
  }

  /** Back to initial values (RFC 9000 §9.4 on migration; RFC 9002 §5.3, §6.2.2). */
  reset(initialRtt: Duration = this.#initialRtt): void {
    this.latest = 0;
    this.min = 0;
    this.smoothed = initialRtt;
    this.rttvar = initialRtt / 2;
    this.hasSample = false;
    this.firstSampleTime = Number.POSITIVE_INFINITY;
  }

  clone(): RttEstimator {
    const c = new RttEstimator(this.#initialRtt);
    c.latest = this.latest;
    c.smoothed = this.smoothed;
    c.rttvar = this.rttvar;
    c.min = this.min;
    c.hasSample = this.hasSample;
    c.firstSampleTime = this.firstSampleTime;
    return c;
  }
}
