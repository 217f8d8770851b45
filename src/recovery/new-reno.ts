// NewReno congestion control (RFC 9002 §7, Appendix B).
import type { Instant } from '../common/time.js';
import type { CongestionOptions } from './congestion.js';
import { minimumWindow, WindowController } from './congestion-base.js';
import type { RttEstimator } from './rtt.js';

/** RFC 9002 §B.1 kLossReductionFactor. */
export const K_LOSS_REDUCTION_FACTOR = 0.5;

export class NewReno extends WindowController {
  readonly name = 'newreno' as const;

  constructor(maxDatagramSize: number, options: CongestionOptions = {}) {
    super(maxDatagramSize, options);
  }

  protected congestionAvoidanceAck(_now: Instant, bytes: number, _rtt: RttEstimator): void {
    // RFC 9002 §7.3.3: at most one maximum datagram size per congestion window acknowledged (§B.5).
    this.cwnd += (this.mds * bytes) / this.cwnd;
  }

  protected reduceWindow(_now: Instant): void {
    // RFC 9002 §7.3.2: ssthresh MUST be half the window; §B.6 reduces the window immediately.
    this.ssthreshBytes = this.cwnd * K_LOSS_REDUCTION_FACTOR;
    this.cwnd = Math.max(this.ssthreshBytes, minimumWindow(this.mds));
  }
}
