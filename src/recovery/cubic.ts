// CUBIC congestion control (RFC 9438) on the QUIC recovery skeleton (RFC 9002 Appendix B):
// slow start, recovery periods and persistent congestion are shared with NewReno.
import type { Instant } from '../common/time.js';
import type { CongestionOptions } from './congestion.js';
import { minimumWindow, WindowController } from './congestion-base.js';
import type { RttEstimator } from './rtt.js';

/** RFC 9438 §4.1.1: C = 0.4 (segments / s³). */
export const CUBIC_C = 0.4;
/** RFC 9438 §4.1.1: β_cubic = 0.7. */
export const CUBIC_BETA = 0.7;
/** RFC 9438 §4.3: α_cubic = 3·(1 − β)/(1 + β). */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

export class Cubic extends WindowController {
  readonly name = 'cubic' as const;
  /** W_max in bytes (0: no congestion event yet, RFC 9438 §4.1.2). */
  #wMax = 0;
  /** cwnd_prior: window before the last reduction (RFC 9438 §4.6). */
  #cwndPrior = 0;
  /** K in seconds (RFC 9438 §4.2). */
  #k = 0;
  /** t_epoch (µs); -Infinity: the congestion avoidance stage has not started. */
  #epochStart: Instant = Number.NEGATIVE_INFINITY;
  /** W_est in bytes (RFC 9438 §4.3). */
  #wEst = 0;
  #lastAck: Instant = Number.NEGATIVE_INFINITY;
  /** First stage after persistent congestion: K = 0, W_max = cwnd_epoch (RFC 9438 §4.8). */
  #afterTimeout = false;

  constructor(maxDatagramSize: number, options: CongestionOptions = {}) {
    super(maxDatagramSize, options);
  }

  /** W_cubic(t) in bytes, t in seconds since t_epoch (RFC 9438 §4.2, Figure 1). */
  wCubic(t: number): number {
    const d = t - this.#k;
    return CUBIC_C * d * d * d * this.mds + this.#wMax;
  }

  /** Current K (s), W_max and W_est (bytes), for tests and qlog. */
  get k(): number {
    return this.#k;
  }
  get wMax(): number {
    return this.#wMax;
  }
  get wEst(): number {
    return this.#wEst;
  }
  /** Start of the current congestion avoidance stage (-Infinity: none). */
  get epochStart(): Instant {
    return this.#epochStart;
  }

  protected congestionAvoidanceAck(now: Instant, bytes: number, rtt: RttEstimator): void {
    const mds = this.mds;
    if (this.#epochStart === Number.NEGATIVE_INFINITY) {
      // RFC 9438 §4.2: a new congestion avoidance stage begins.
      this.#epochStart = now;
      if (this.#afterTimeout || this.#wMax === 0) {
        // RFC 9438 §4.8 (also a stage entered without any congestion event): K = 0, W_max = cwnd.
        this.#wMax = this.cwnd;
        this.#k = 0;
        this.#afterTimeout = false;
      } else {
        // RFC 9438 §4.2: K = cubic_root((W_max − cwnd_epoch) / C), in segments.
        this.#k = Math.cbrt((this.#wMax - this.cwnd) / mds / CUBIC_C);
      }
      // RFC 9438 §4.3: W_est = cwnd_epoch at the start of the stage.
      this.#wEst = this.cwnd;
    }
    const cwnd = this.cwnd;
    // RFC 9438 §4.3: W_est += α·segments_acked/cwnd; α = 1 once W_est reaches cwnd_prior.
    const alpha = this.#wEst >= this.#cwndPrior ? 1 : CUBIC_ALPHA;
    this.#wEst += (alpha * mds * bytes) / cwnd;
    const t = (now - this.#epochStart) / 1e6;
    if (this.wCubic(t) < this.#wEst) {
      // RFC 9438 §4.3: Reno-friendly region: cwnd = W_est.
      this.cwnd = this.#wEst;
      return;
    }
    // RFC 9438 §4.4 / §4.5: target = W_cubic(t + RTT), bounded to [cwnd, 1.5·cwnd];
    // cwnd grows by (target − cwnd)/cwnd per acknowledged segment.
    let target = this.wCubic(t + rtt.smoothed / 1e6);
    if (target < cwnd) target = cwnd;
    else if (target > 1.5 * cwnd) target = 1.5 * cwnd;
    this.cwnd = cwnd + ((target - cwnd) * bytes) / cwnd;
  }

  protected reduceWindow(_now: Instant): void {
    const cwnd = this.cwnd;
    // RFC 9438 §4.7: fast convergence.
    this.#wMax = cwnd < this.#wMax ? (cwnd * (1 + CUBIC_BETA)) / 2 : cwnd;
    // RFC 9438 §4.6: cwnd_prior = cwnd; ssthresh = cwnd·β_cubic (cwnd rather than flight size:
    // the window does not grow while application limited, RFC 9002 §7.8); cwnd ≥ kMinimumWindow.
    this.#cwndPrior = cwnd;
    this.ssthreshBytes = cwnd * CUBIC_BETA;
    this.cwnd = Math.max(this.ssthreshBytes, minimumWindow(this.mds));
    this.#epochStart = Number.NEGATIVE_INFINITY;
  }

  protected override onPersistentCongestion(): void {
    // RFC 9438 §4.8: the next stage starts with K = 0 and W_max = cwnd at its beginning.
    this.#afterTimeout = true;
    this.#epochStart = Number.NEGATIVE_INFINITY;
  }

  protected override onAckBatch(now: Instant, appLimited: boolean): void {
    // RFC 9438 §5.8: t excludes application-limited periods: shift t_epoch by them.
    if (appLimited && this.#epochStart !== Number.NEGATIVE_INFINITY && this.#lastAck < now) {
      this.#epochStart += now - this.#lastAck;
    }
    this.#lastAck = now;
  }

  protected override onRestartFromIdle(now: Instant): void {
    // Idle (nothing in flight) counts as application limited (RFC 9438 §5.8).
    if (this.#epochStart !== Number.NEGATIVE_INFINITY && this.#lastAck < now) {
      this.#epochStart += now - this.#lastAck;
      this.#lastAck = now;
    }
  }

  protected override resetAlgorithm(): void {
    this.#wMax = 0;
    this.#cwndPrior = 0;
    this.#k = 0;
    this.#epochStart = Number.NEGATIVE_INFINITY;
    this.#wEst = 0;
    this.#lastAck = Number.NEGATIVE_INFINITY;
    this.#afterTimeout = false;
  }
}
