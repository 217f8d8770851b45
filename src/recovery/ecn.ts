// ECN validation for one path (RFC 9000 §13.4.2 and the sample algorithm of its Appendix A.4):
// testing → unknown → capable, or failed. Only ECT(0) is ever set.
import type { Space } from '../common/levels.js';

/** ECN counts of an ACK frame (RFC 9000 §19.3.2), cumulative per packet-number space. */
export interface EcnCounts {
  readonly ect0: number;
  readonly ect1: number;
  readonly ce: number;
}

export type EcnState = 'testing' | 'unknown' | 'capable' | 'failed';

/** Marked packets sent in the testing period (RFC 9000 §13.4.2: e.g. the first ten). */
export const ECN_TESTING_PACKETS = 10;

export class EcnValidator {
  #state: EcnState = 'testing';
  /**
   * Counts from the last successfully processed ACK frame (RFC 9000 §13.4.2.1): [ect0, ect1, ce]
   * per space.
   */
  readonly #last = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  /** Marked packets sent / acknowledged / lost since (re)starting validation. */
  #sent = 0;
  #acked = 0;
  #lost = 0;

  get state(): EcnState {
    return this.#state;
  }

  /** Set ECT(0) on the next packet? True while testing or capable (RFC 9000 §A.4). */
  shouldMark(): boolean {
    return this.#state === 'capable' || (this.#state === 'testing' && this.#sent < ECN_TESTING_PACKETS);
  }

  /** Records a sent packet; `marked` = it carried ECT(0). */
  onPacketSent(marked: boolean): void {
    if (!marked) return;
    this.#sent++;
    // RFC 9000 §A.4: after the testing period the state becomes "unknown".
    if (this.#state === 'testing' && this.#sent >= ECN_TESTING_PACKETS) this.#state = 'unknown';
  }

  /** `markedLost` packets that carried ECT(0) were declared lost. */
  onPacketsLost(markedLost: number): void {
    this.#lost += markedLost;
    // RFC 9000 §13.4.2: if every marked packet is lost, the marking may be the cause: disable.
    if (
      (this.#state === 'unknown' || this.#state === 'testing') &&
      this.#acked === 0 &&
      this.#sent >= ECN_TESTING_PACKETS &&
      this.#lost >= this.#sent
    ) {
      this.#state = 'failed';
    }
  }

  /**
   * Validates the ECN counts of an ACK frame in `space` (RFC 9000 §13.4.2.1). `newlyAckedMarked`
   * = newly acknowledged packets of this path sent with ECT(0); `counts` undefined for an ACK
   * frame without ECN counts (type 0x02). Returns true when the CE count increased: a congestion
   * event (RFC 9002 §7.1, §B.7), reported only while ECN is not failed.
   */
  onAck(
    space: Space,
    newlyAckedMarked: number,
    counts: EcnCounts | undefined,
    largestAckedIncreased = true,
  ): boolean {
    if (this.#state === 'failed') return false;
    // RFC 9000 §13.4.2.1: MUST NOT fail validation on an ACK that does not raise the largest
    // acknowledged (it may be reordered); its counts are not used either.
    if (!largestAckedIncreased) return false;
    if (counts === undefined) {
      // RFC 9000 §13.4.2.1: marked packets newly acknowledged without counts: validation fails.
      if (newlyAckedMarked > 0) this.#state = 'failed';
      return false;
    }
    const last = this.#last;
    const o = 3 * space;
    const ect0 = counts.ect0 - last[o]!;
    const ect1 = counts.ect1 - last[o + 1]!;
    const ce = counts.ce - last[o + 2]!;
    if (
      // Cumulative counts never decrease.
      ect0 < 0 ||
      ce < 0 ||
      ect1 < 0 ||
      // RFC 9000 §13.4.2.1: the increase of ECT(0) + CE must cover the newly acknowledged ECT(0) packets.
      ect0 + ce < newlyAckedMarked ||
      // RFC 9000 §13.4.2.1: a count for a codepoint never applied (ECT(1)) fails validation.
      counts.ect1 > 0
    ) {
      this.#state = 'failed';
      return false;
    }
    last[o] = counts.ect0;
    last[o + 1] = counts.ect1;
    last[o + 2] = counts.ce;
    this.#acked += newlyAckedMarked;
    // RFC 9000 §A.4: from "unknown", a successful validation makes the path "capable", unless
    // no marked packet has been acknowledged.
    if (this.#state === 'unknown' && this.#acked > 0) this.#state = 'capable';
    return ce > 0;
  }

  /**
   * Restarts validation for a new path (RFC 9000 §13.4.2, §A.4). The per-space baselines stay:
   * counts are cumulative per connection, and existing counts are remembered as the baseline.
   */
  reset(): void {
    this.#state = 'testing';
    this.#sent = 0;
    this.#acked = 0;
    this.#lost = 0;
  }

  /** Takes the per-space baselines of another path's validator (counts are connection-wide). */
  adoptBaseline(from: EcnValidator): void {
    for (let i = 0; i < this.#last.length; i++) this.#last[i] = from.#last[i]!;
  }
}
