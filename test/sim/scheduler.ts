// Discrete-event queue: a binary min-heap ordered by (at, seq). `seq` is the insertion order, so
// events at the same instant run first-scheduled-first and every run replays identically.
// Events are tagged records `{at, seq, fn, arg}`: components pass a function bound once and a
// per-event argument instead of allocating a closure per event.
import type { Instant } from '../../src/common/time.js';
import { VirtualClock } from './clock.js';

export interface SimEvent {
  readonly at: Instant;
  readonly seq: number;
  fn: (arg: never) => void;
  arg: unknown;
  cancelled: boolean;
}

export class Scheduler {
  readonly clock: VirtualClock;
  #heap: SimEvent[] = [];
  #seq = 0;
  /** Events run so far (cancelled ones excluded). */
  processed = 0;

  constructor(clock: VirtualClock = new VirtualClock()) {
    this.clock = clock;
  }

  get now(): Instant {
    return this.clock.now;
  }

  /** Pending events, cancelled ones included until they reach the top. */
  get size(): number {
    return this.#heap.length;
  }

  /** Schedules `fn(arg)` at `at` (>= now). */
  schedule<T>(at: Instant, fn: (arg: T) => void, arg: T): SimEvent {
    if (!(at >= this.clock.now)) throw new RangeError(`cannot schedule at ${at}: now is ${this.clock.now}`);
    const ev: SimEvent = { at, seq: this.#seq++, fn: fn as (arg: never) => void, arg, cancelled: false };
    const h = this.#heap;
    h.push(ev);
    this.#up(h.length - 1);
    return ev;
  }

  /** Lazy cancellation: the event stays queued but will not run. */
  cancel(ev: SimEvent): void {
    ev.cancelled = true;
  }

  /** Time of the next live event, or Infinity. */
  peekTime(): Instant {
    const h = this.#heap;
    while (h.length > 0 && h[0]!.cancelled) this.#pop();
    return h.length > 0 ? h[0]!.at : Number.POSITIVE_INFINITY;
  }

  /** Runs the next live event (advancing the clock to it); false if none is left. */
  step(): boolean {
    const h = this.#heap;
    while (h.length > 0) {
      const ev = this.#pop();
      if (ev.cancelled) continue;
      this.clock.advanceTo(ev.at);
      this.processed++;
      (ev.fn as (arg: unknown) => void)(ev.arg);
      return true;
    }
    return false;
  }

  /** Moves the clock to `t` with nothing to run on the way (throws if a live event is due before `t`). */
  advanceTo(t: Instant): void {
    if (this.peekTime() < t) throw new Error(`cannot advance to ${t}: an event is due at ${this.peekTime()}`);
    this.clock.advanceTo(t);
  }

  #pop(): SimEvent {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.#down(0);
    }
    return top;
  }

  #up(i: number): void {
    const h = this.#heap;
    const ev = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (parent.at < ev.at || (parent.at === ev.at && parent.seq < ev.seq)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = ev;
  }

  #down(i: number): void {
    const h = this.#heap;
    const n = h.length;
    const ev = h[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      let child = h[c]!;
      const r = c + 1;
      if (r < n) {
        const right = h[r]!;
        if (right.at < child.at || (right.at === child.at && right.seq < child.seq)) {
          c = r;
          child = right;
        }
      }
      if (ev.at < child.at || (ev.at === child.at && ev.seq < child.seq)) break;
      h[i] = child;
      i = c;
    }
    h[i] = ev;
  }
}
