// Window-based controller skeleton shared by NewReno and CUBIC: bytes in flight, slow start
// (optionally HyStart++), recovery periods, persistent congestion (RFC 9002 §7, Appendix B).
import type { Duration, Instant } from '../common/time.js';
import type {
  CongestionAlgorithm,
  CongestionController,
  CongestionOptions,
  CongestionPacket,
  CongestionState,
} from './congestion.js';
import type { RttEstimator } from './rtt.js';

/** RFC 9002 §7.2: min(10·mds, max(14720, 2·mds)). */
export function initialWindow(mds: number): number {
  return Math.min(10 * mds, Math.max(14_720, 2 * mds));
}

/** RFC 9002 §7.2: kMinimumWindow = 2·mds. */
export function minimumWindow(mds: number): number {
  return 2 * mds;
}

// RFC 9406 §4.3 constants (µs where they are times).
const HS_MIN_RTT_THRESH: Duration = 4_000;
const HS_MAX_RTT_THRESH: Duration = 16_000;
const HS_MIN_RTT_DIVISOR = 8;
const HS_N_RTT_SAMPLE = 8;
const HS_CSS_GROWTH_DIVISOR = 4;
const HS_CSS_ROUNDS = 5;

export abstract class WindowController implements CongestionController {
  abstract readonly name: CongestionAlgorithm;
  /** Congestion window (bytes, fractional internally). */
  protected cwnd: number;
  protected ssthreshBytes = Number.POSITIVE_INFINITY;
  protected mds: number;
  /** RFC 9002 §B.2 congestion_recovery_start_time; -Infinity = none. */
  protected recoveryStart: Instant = Number.NEGATIVE_INFINITY;
  #inFlight = 0;
  #inRecovery = false;
  #appLimited = false;

  // HyStart++ (RFC 9406 §4.2); rounds are delimited by send times instead of sequence numbers.
  readonly #hystart: boolean;
  #hsRoundEnd = Number.NEGATIVE_INFINITY;
  #hsLastSent: Instant = Number.NEGATIVE_INFINITY;
  #hsLastRoundMin = Number.POSITIVE_INFINITY;
  #hsCurrentRoundMin = Number.POSITIVE_INFINITY;
  #hsSamples = 0;
  #hsCssBaseline = Number.POSITIVE_INFINITY;
  #hsCssRounds = 0;
  #hsDone = false;

  constructor(maxDatagramSize: number, options: CongestionOptions) {
    this.mds = maxDatagramSize;
    this.cwnd = initialWindow(maxDatagramSize);
    this.#hystart = options.hystart === true;
  }

  get window(): number {
    return Math.floor(this.cwnd);
  }

  get bytesInFlight(): number {
    return this.#inFlight;
  }

  get ssthresh(): number {
    return this.ssthreshBytes;
  }

  get state(): CongestionState {
    if (this.#inRecovery) return 'recovery';
    if (this.#appLimited) return 'application_limited';
    return this.cwnd < this.ssthreshBytes ? 'slow_start' : 'congestion_avoidance';
  }

  get maxDatagramSize(): number {
    return this.mds;
  }

  set maxDatagramSize(mds: number) {
    if (mds === this.mds) return;
    // RFC 9002 §7.2: the initial window SHOULD be recalculated with the new size.
    const untouched =
      this.cwnd === initialWindow(this.mds) && this.ssthreshBytes === Number.POSITIVE_INFINITY;
    this.mds = mds;
    if (untouched) this.cwnd = initialWindow(mds);
    this.cwnd = Math.max(this.cwnd, minimumWindow(mds));
  }

  /** True inside a recovery period that began after `timeSent` (RFC 9002 §B.5 InCongestionRecovery). */
  protected inCongestionRecovery(timeSent: Instant): boolean {
    return timeSent <= this.recoveryStart;
  }

  canSend(bytes: number): boolean {
    return this.#inFlight + bytes <= this.cwnd;
  }

  onPacketSent(now: Instant, bytes: number): void {
    if (this.#inFlight === 0) this.onRestartFromIdle(now);
    this.#inFlight += bytes;
    this.#hsLastSent = now;
  }

  onPacketsAcked(
    now: Instant,
    packets: readonly CongestionPacket[],
    rtt: RttEstimator,
    appLimited: boolean,
  ): void {
    this.#appLimited = appLimited;
    this.onAckBatch(now, appLimited);
    const hystart = this.#hystart && !this.#hsDone && this.ssthreshBytes === Number.POSITIVE_INFINITY;
    if (hystart && !appLimited) this.#hystartOnAck(packets, rtt);
    const css = hystart && this.#hsCssBaseline !== Number.POSITIVE_INFINITY;
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i]!;
      this.#removeFromFlight(p.size);
      // RFC 9002 §B.5: no increase for packets sent before the recovery period began.
      if (this.inCongestionRecovery(p.timeSent)) continue;
      // RFC 9002 §7.3.2: acknowledging a packet sent during recovery ends the period.
      this.#inRecovery = false;
      // RFC 9002 §7.8: SHOULD NOT increase the window when application limited.
      if (appLimited) continue;
      if (this.cwnd < this.ssthreshBytes) {
        // RFC 9002 §7.3.1 / §B.5: slow start grows by the bytes acknowledged (paced: no L cap,
        // RFC 9406 §4.2); Conservative Slow Start grows by a quarter of that.
        this.cwnd += css ? p.size / HS_CSS_GROWTH_DIVISOR : p.size;
      } else {
        this.congestionAvoidanceAck(now, p.size, rtt);
      }
    }
  }

  onPacketsLost(now: Instant, packets: readonly CongestionPacket[], persistentCongestion: boolean): void {
    let lastLoss = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i]!;
      this.#removeFromFlight(p.size);
      if (p.timeSent > lastLoss) lastLoss = p.timeSent;
    }
    // RFC 9002 §B.8: one congestion event, keyed by the newest lost packet.
    if (packets.length > 0) this.#congestionEvent(now, lastLoss);
    if (persistentCongestion) {
      // RFC 9002 §7.6.2: the window MUST be reduced to kMinimumWindow; §B.8.
      this.cwnd = minimumWindow(this.mds);
      this.recoveryStart = Number.NEGATIVE_INFINITY;
      this.#inRecovery = false;
      this.onPersistentCongestion();
    }
  }

  onEcnCongestion(now: Instant, largestAckedTimeSent: Instant): void {
    // RFC 9002 §7.1, §B.7.
    this.#congestionEvent(now, largestAckedTimeSent);
  }

  discard(bytes: number): void {
    // RFC 9002 §B.9.
    this.#removeFromFlight(bytes);
  }

  reset(): void {
    // RFC 9002 §B.3.
    this.cwnd = initialWindow(this.mds);
    this.ssthreshBytes = Number.POSITIVE_INFINITY;
    this.recoveryStart = Number.NEGATIVE_INFINITY;
    this.#inFlight = 0;
    this.#inRecovery = false;
    this.#appLimited = false;
    this.#hsRoundEnd = Number.NEGATIVE_INFINITY;
    this.#hsLastSent = Number.NEGATIVE_INFINITY;
    this.#hsLastRoundMin = Number.POSITIVE_INFINITY;
    this.#hsCurrentRoundMin = Number.POSITIVE_INFINITY;
    this.#hsSamples = 0;
    this.#hsCssBaseline = Number.POSITIVE_INFINITY;
    this.#hsCssRounds = 0;
    this.#hsDone = false;
    this.resetAlgorithm();
  }

  /** Window growth in congestion avoidance for one acknowledged packet. */
  protected abstract congestionAvoidanceAck(now: Instant, bytes: number, rtt: RttEstimator): void;
  /** Sets ssthresh and reduces cwnd on entering recovery (RFC 9002 §B.6). */
  protected abstract reduceWindow(now: Instant): void;
  protected onPersistentCongestion(): void {}
  protected onAckBatch(_now: Instant, _appLimited: boolean): void {}
  protected onRestartFromIdle(_now: Instant): void {}
  protected resetAlgorithm(): void {}

  #removeFromFlight(bytes: number): void {
    this.#inFlight = this.#inFlight > bytes ? this.#inFlight - bytes : 0;
  }

  #congestionEvent(now: Instant, sentTime: Instant): void {
    // RFC 9002 §7.3.2 / §B.6: no reaction if already in a recovery period.
    if (this.inCongestionRecovery(sentTime)) return;
    this.recoveryStart = now;
    this.#inRecovery = true;
    // RFC 9406 §4.2: loss or ECN-CE ends (conservative) slow start.
    this.#hsDone = true;
    this.reduceWindow(now);
  }

  // --- HyStart++ (RFC 9406 §4.2) ---

  #hystartOnAck(packets: readonly CongestionPacket[], rtt: RttEstimator): void {
    // A round ends when a packet sent after the round began (after every packet then
    // outstanding) is acknowledged: send times stand in for sequence numbers.
    let newest = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < packets.length; i++) if (packets[i]!.timeSent > newest) newest = packets[i]!.timeSent;
    if (newest > this.#hsRoundEnd) {
      this.#hsRoundEnd = this.#hsLastSent;
      this.#hsLastRoundMin = this.#hsCurrentRoundMin;
      this.#hsCurrentRoundMin = Number.POSITIVE_INFINITY;
      this.#hsSamples = 0;
      if (this.#hsCssBaseline !== Number.POSITIVE_INFINITY && ++this.#hsCssRounds >= HS_CSS_ROUNDS) {
        // CSS_ROUNDS rounds of Conservative Slow Start: enter congestion avoidance.
        this.ssthreshBytes = this.cwnd;
        this.#hsDone = true;
        return;
      }
    }
    if (!rtt.hasSample) return;
    if (rtt.latest < this.#hsCurrentRoundMin) this.#hsCurrentRoundMin = rtt.latest;
    this.#hsSamples++;
    if (this.#hsSamples < HS_N_RTT_SAMPLE) return;
    if (this.#hsCssBaseline === Number.POSITIVE_INFINITY) {
      if (this.#hsLastRoundMin === Number.POSITIVE_INFINITY) return;
      const thresh = Math.max(
        HS_MIN_RTT_THRESH,
        Math.min(this.#hsLastRoundMin / HS_MIN_RTT_DIVISOR, HS_MAX_RTT_THRESH),
      );
      if (this.#hsCurrentRoundMin >= this.#hsLastRoundMin + thresh) {
        // Delay increase: enter Conservative Slow Start.
        this.#hsCssBaseline = this.#hsCurrentRoundMin;
        this.#hsCssRounds = 0;
      }
    } else if (this.#hsCurrentRoundMin < this.#hsCssBaseline) {
      // The delay increase was spurious: resume slow start.
      this.#hsCssBaseline = Number.POSITIVE_INFINITY;
    }
  }
}
