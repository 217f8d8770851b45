// Virtual time of a simulation, in microseconds. Only the scheduler moves it, and only forwards.
import type { Instant } from '../../src/common/time.js';

export class VirtualClock {
  #now: Instant;

  constructor(start: Instant = 0) {
    this.#now = start;
  }

  get now(): Instant {
    return this.#now;
  }

  /** Moves time to `t` (>= now). */
  advanceTo(t: Instant): void {
    if (!(t >= this.#now)) throw new RangeError(`virtual clock cannot go back from ${this.#now} to ${t}`);
    this.#now = t;
  }
}
