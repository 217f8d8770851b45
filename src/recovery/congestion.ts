// Congestion controller interface (one per path, RFC 9002 §7, RFC 9000 §9.4) and factory.
import type { Instant } from '../common/time.js';
import { Cubic } from './cubic.js';
import { NewReno } from './new-reno.js';
import type { RttEstimator } from './rtt.js';

export type CongestionAlgorithm = 'newreno' | 'cubic';

export type CongestionState = 'slow_start' | 'congestion_avoidance' | 'recovery' | 'application_limited';

/** What a controller needs to know about an acknowledged or lost in-flight packet. */
export interface CongestionPacket {
  readonly size: number;
  readonly timeSent: Instant;
}

export interface CongestionController {
  readonly name: CongestionAlgorithm;
  /** Congestion window in bytes. */
  readonly window: number;
  readonly bytesInFlight: number;
  /** Slow start threshold in bytes (Infinity until the first congestion event). */
  readonly ssthresh: number;
  /** For qlog (recovery:congestion_state_updated). */
  readonly state: CongestionState;
  /**
   * Settable on PMTU changes; the initial window is min(10·mds, max(14720, 2·mds)) and the
   * minimum window 2·mds (RFC 9002 §7.2).
   */
  maxDatagramSize: number;
  /** bytesInFlight + bytes <= window (RFC 9002 §7: PTO probes may ignore this). */
  canSend(bytes: number): boolean;
  /** Call for in-flight packets only (ack-eliciting or padded, RFC 9002 §B.4). */
  onPacketSent(now: Instant, bytes: number): void;
  /** In-flight packets newly acknowledged by one ACK frame (RFC 9002 §B.5). */
  onPacketsAcked(
    now: Instant,
    packets: readonly CongestionPacket[],
    rtt: RttEstimator,
    appLimited: boolean,
  ): void;
  /**
   * In-flight packets declared lost by one detection pass: at most one congestion event, no new
   * reduction inside a recovery period (RFC 9002 §7.3.2, §B.8). Lost PMTU probes do not belong
   * here (RFC 9000 §14.4): remove them with discard().
   */
  onPacketsLost(now: Instant, packets: readonly CongestionPacket[], persistentCongestion: boolean): void;
  /** The peer's ECN-CE count increased (RFC 9002 §7.1, §B.7). */
  onEcnCongestion(now: Instant, largestAckedTimeSent: Instant): void;
  /** Removes bytes from flight without a congestion reaction (discarded space, §B.9; lost PMTU probe). */
  discard(bytes: number): void;
  /** Initial state (RFC 9002 §B.3), e.g. after migration to a new address (RFC 9000 §9.4). */
  reset(): void;
}

export interface CongestionOptions {
  /** HyStart++ (RFC 9406) during the initial slow start; default false. */
  hystart?: boolean;
}

export function createCongestionController(
  algo: CongestionAlgorithm,
  maxDatagramSize: number,
  options: CongestionOptions = {},
): CongestionController {
  return algo === 'cubic' ? new Cubic(maxDatagramSize, options) : new NewReno(maxDatagramSize, options);
}
