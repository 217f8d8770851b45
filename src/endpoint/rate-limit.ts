// Token bucket for stateless responses (stateless resets, Version Negotiation, Retry) so an
// attacker cannot turn the endpoint into a reflector (RFC 9000 §10.3, §21.11). Sans-IO: the
// caller passes `now` in microseconds.
import type { Instant } from '../common/time.js';

export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  #tokens: number;
  #last: Instant | undefined;

  /** Refills `ratePerSecond` tokens per second up to `burst`; starts full. */
  constructor(ratePerSecond: number, burst: number) {
    if (!(ratePerSecond >= 0) || !(burst >= 0)) throw new RangeError('rate and burst must be >= 0');
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#tokens = burst;
    this.#last = undefined;
  }

  /** Tokens available at `now` (fractional). */
  available(now: Instant): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** Takes `n` tokens if available at `now`; false (nothing taken) otherwise. */
  take(now: Instant, n = 1): boolean {
    this.#refill(now);
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  #refill(now: Instant): void {
    const last = this.#last;
    // Time never runs backwards for the bucket: an earlier `now` adds nothing.
    if (last === undefined || now > last) {
      if (last !== undefined) {
        this.#tokens = Math.min(this.burst, this.#tokens + ((now - last) * this.ratePerSecond) / 1_000_000);
      }
      this.#last = now;
    }
  }
}
