// One direction of a network link: drop-tail queue serialized at `rateBps`, propagation delay,
// jitter, random and bursty (Gilbert–Elliott) loss, duplication, reordering, corruption, MTU,
// blackhole and CE marking. FIFO unless `reorder` is set: jitter alone never reorders because
// arrival times are kept monotonic. Every setting can change mid-run with `update()`; datagrams
// already in flight keep the fate they were given when they entered the link.
import type { SeededRandom } from '../../src/common/random.js';
import type { Duration, Instant } from '../../src/common/time.js';
import type { Scheduler } from './scheduler.js';
import type { DropCause, SimDatagram } from './types.js';

/** Gilbert–Elliott two-state loss: the state moves once per datagram, then loss is drawn in it. */
export interface GilbertElliott {
  /** P(good → bad) per datagram. */
  readonly pGoodToBad: number;
  /** P(bad → good) per datagram. */
  readonly pBadToGood: number;
  /** Loss probability in the bad state. */
  readonly lossInBad: number;
  /** Loss probability in the good state (default 0). */
  readonly lossInGood?: number;
}

export interface Reorder {
  /** Probability that a datagram is held back. */
  readonly probability: number;
  /** Extra delay of a held-back datagram; later datagrams may overtake it. */
  readonly extraDelay: Duration;
}

export interface LinkConfig {
  /** One-way propagation delay (µs). */
  delay: Duration;
  /** Uniform extra delay in [0, jitter] µs (never reorders by itself). */
  jitter: Duration;
  /** Serialization rate in bits per second; Infinity = no bottleneck. */
  rateBps: number;
  /** Drop-tail capacity: bytes queued or being serialized (needs a finite rate). */
  queueBytes: number;
  /** Independent random loss probability. */
  loss: number;
  lossBurst: GilbertElliott | undefined;
  /** Probability that a datagram is delivered twice. */
  duplicate: number;
  reorder: Reorder | undefined;
  /** Probability that 1–3 random bits of a datagram are flipped. */
  corrupt: number;
  /** Largest UDP payload carried, in bytes (IPv4 MTU 1500 ↔ 1472); larger ones are dropped. */
  mtu: number;
  /** Drops everything entering the link. */
  blackhole: boolean;
  /** Marks ECT datagrams CE when more than this many bytes are queued ahead of them (needs a finite rate). */
  ecnCeOnQueue: number | undefined;
  /** Clears the ECN field (a path that bleaches ECN). */
  ecnBleach: boolean;
}

export const DEFAULT_LINK: Readonly<LinkConfig> = Object.freeze({
  delay: 0,
  jitter: 0,
  rateBps: Number.POSITIVE_INFINITY,
  queueBytes: Number.POSITIVE_INFINITY,
  loss: 0,
  lossBurst: undefined,
  duplicate: 0,
  reorder: undefined,
  corrupt: 0,
  mtu: Number.POSITIVE_INFINITY,
  blackhole: false,
  ecnCeOnQueue: undefined,
  ecnBleach: false,
});

export interface LinkStats {
  /** Datagrams and bytes offered to the link. */
  sent: number;
  sentBytes: number;
  /** Datagrams and bytes that reached the far end (duplicates included). */
  delivered: number;
  deliveredBytes: number;
  dropped: { blackhole: number; mtu: number; queue: number; loss: number; burstLoss: number };
  duplicated: number;
  reordered: number;
  corrupted: number;
  ceMarked: number;
}

/** What a link needs from the network it belongs to. */
export interface LinkOwner {
  readonly scheduler: Scheduler;
  newId(): number;
  copy(data: Uint8Array): Uint8Array;
  arrive(dg: SimDatagram): void;
  drop(dg: SimDatagram, cause: DropCause, where: string): void;
}

/** Observer of datagrams accepted by a link (after loss); must not keep `dg` or its data. */
export type LinkTap = (dg: SimDatagram, link: Link) => void;
/** Called when a datagram reaches the far end, before routing; may rewrite `dg.src`/`dg.dst`. */
export type LinkInterceptor = (dg: SimDatagram, link: Link) => void;

function checkProbability(name: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`link ${name} must be a probability, got ${p}`);
}

function validate(c: LinkConfig): void {
  if (!(c.delay >= 0) || !(c.jitter >= 0)) throw new RangeError('link delay and jitter must be >= 0');
  if (!(c.rateBps > 0)) throw new RangeError('link rateBps must be > 0');
  if (!(c.queueBytes >= 0) || !(c.mtu >= 0)) throw new RangeError('link queueBytes and mtu must be >= 0');
  checkProbability('loss', c.loss);
  checkProbability('duplicate', c.duplicate);
  checkProbability('corrupt', c.corrupt);
  if (c.lossBurst) {
    checkProbability('lossBurst.pGoodToBad', c.lossBurst.pGoodToBad);
    checkProbability('lossBurst.pBadToGood', c.lossBurst.pBadToGood);
    checkProbability('lossBurst.lossInBad', c.lossBurst.lossInBad);
    checkProbability('lossBurst.lossInGood', c.lossBurst.lossInGood ?? 0);
  }
  if (c.reorder) {
    checkProbability('reorder.probability', c.reorder.probability);
    if (!(c.reorder.extraDelay >= 0)) throw new RangeError('link reorder.extraDelay must be >= 0');
  }
}

export class Link {
  readonly from: string;
  readonly to: string;
  readonly name: string;
  readonly stats: LinkStats = {
    sent: 0,
    sentBytes: 0,
    delivered: 0,
    deliveredBytes: 0,
    dropped: { blackhole: 0, mtu: 0, queue: 0, loss: 0, burstLoss: 0 },
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
    ceMarked: 0,
  };
  #owner: LinkOwner;
  #rng: SeededRandom;
  #config: LinkConfig;
  /** End of serialization of the last accepted datagram. */
  #busyUntil = 0;
  /** Datagrams not yet fully serialized: finish times and sizes (FIFO ring from #qHead). */
  #qFinish: number[] = [];
  #qSize: number[] = [];
  #qHead = 0;
  #queued = 0;
  /** Latest in-order arrival time, keeping delivery FIFO under jitter. */
  #lastArrival = 0;
  #bad = false;
  #taps: LinkTap[] = [];
  #interceptors: LinkInterceptor[] = [];
  readonly #arriveFn = (dg: SimDatagram): void => this.#arrive(dg);

  constructor(
    owner: LinkOwner,
    from: string,
    to: string,
    rng: SeededRandom,
    config: Partial<LinkConfig> = {},
  ) {
    this.#owner = owner;
    this.from = from;
    this.to = to;
    this.name = `${from}->${to}`;
    this.#rng = rng;
    this.#config = { ...DEFAULT_LINK, ...config };
    validate(this.#config);
  }

  get config(): Readonly<LinkConfig> {
    return this.#config;
  }

  /** Changes settings from now on. */
  update(partial: Partial<LinkConfig>): void {
    const next = { ...this.#config, ...partial };
    validate(next);
    this.#config = next;
  }

  /** Bytes queued or being serialized at the current time. */
  get queuedBytes(): number {
    this.#drain(this.#owner.scheduler.now);
    return this.#queued;
  }

  /** Whether the Gilbert–Elliott model is in its bad state. */
  get inBadState(): boolean {
    return this.#bad;
  }

  tap(fn: LinkTap): () => void {
    this.#taps.push(fn);
    return () => {
      this.#taps = this.#taps.filter((f) => f !== fn);
    };
  }

  intercept(fn: LinkInterceptor): () => void {
    this.#interceptors.push(fn);
    return () => {
      this.#interceptors = this.#interceptors.filter((f) => f !== fn);
    };
  }

  /** Takes a datagram entering the link now. */
  send(dg: SimDatagram): void {
    const c = this.#config;
    const owner = this.#owner;
    const now = owner.scheduler.now;
    const size = dg.data.length;
    const stats = this.stats;
    stats.sent++;
    stats.sentBytes += size;
    if (c.blackhole) {
      stats.dropped.blackhole++;
      owner.drop(dg, 'blackhole', this.name);
      return;
    }
    if (size > c.mtu) {
      stats.dropped.mtu++;
      owner.drop(dg, 'mtu', this.name);
      return;
    }
    let departure = now;
    if (c.rateBps !== Number.POSITIVE_INFINITY) {
      this.#drain(now);
      const ahead = this.#queued;
      if (ahead + size > c.queueBytes) {
        stats.dropped.queue++;
        owner.drop(dg, 'queue', this.name);
        return;
      }
      if (c.ecnCeOnQueue !== undefined && ahead > c.ecnCeOnQueue && (dg.ecn === 1 || dg.ecn === 2)) {
        dg.ecn = 3;
        stats.ceMarked++;
      }
      const start = Math.max(this.#busyUntil, now);
      departure = start + (size * 8_000_000) / c.rateBps;
      this.#busyUntil = departure;
      this.#qFinish.push(departure);
      this.#qSize.push(size);
      this.#queued += size;
    }
    const rng = this.#rng;
    const burst = c.lossBurst;
    if (burst) {
      // Gilbert–Elliott: transition first, then draw the loss of the current state.
      if (this.#bad) {
        if (rng.next() < burst.pBadToGood) this.#bad = false;
      } else if (rng.next() < burst.pGoodToBad) this.#bad = true;
      const p = this.#bad ? burst.lossInBad : (burst.lossInGood ?? 0);
      if (p > 0 && rng.next() < p) {
        stats.dropped.burstLoss++;
        owner.drop(dg, 'burst-loss', this.name);
        return;
      }
    }
    if (c.loss > 0 && rng.next() < c.loss) {
      stats.dropped.loss++;
      owner.drop(dg, 'loss', this.name);
      return;
    }
    if (c.corrupt > 0 && dg.data.length > 0 && rng.next() < c.corrupt) {
      const data = dg.data;
      const bits = 1 + rng.int(3);
      // Distinct bit positions, so the datagram really changes.
      let flipped0 = -1;
      let flipped1 = -1;
      for (let i = 0; i < bits && i < data.length * 8; i++) {
        let bit: number;
        do bit = rng.int(data.length * 8);
        while (bit === flipped0 || bit === flipped1);
        data[bit >> 3]! ^= 1 << (bit & 7);
        if (i === 0) flipped0 = bit;
        else flipped1 = bit;
      }
      stats.corrupted++;
    }
    if (c.ecnBleach) dg.ecn = 0;
    let arrival = departure + c.delay;
    if (c.jitter > 0) arrival += rng.int(c.jitter + 1);
    // Whole microseconds; the epsilon absorbs rounding of the serialization time.
    const whole = Math.ceil(arrival - 1e-6);
    arrival = Math.max(whole, now); // never -0
    if (arrival < this.#lastArrival) arrival = this.#lastArrival;
    const reorder = c.reorder;
    if (reorder && reorder.probability > 0 && rng.next() < reorder.probability) {
      arrival += Math.ceil(reorder.extraDelay);
      stats.reordered++;
    } else {
      this.#lastArrival = arrival;
    }
    const scheduler = owner.scheduler;
    scheduler.schedule(arrival, this.#arriveFn, dg);
    if (c.duplicate > 0 && rng.next() < c.duplicate) {
      const copy: SimDatagram = {
        id: owner.newId(),
        src: dg.src,
        dst: dg.dst,
        data: owner.copy(dg.data),
        ecn: dg.ecn,
      };
      scheduler.schedule(arrival, this.#arriveFn, copy);
      stats.duplicated++;
    }
    const taps = this.#taps;
    for (let i = 0; i < taps.length; i++) taps[i]!(dg, this);
  }

  #arrive(dg: SimDatagram): void {
    this.stats.delivered++;
    this.stats.deliveredBytes += dg.data.length;
    const ics = this.#interceptors;
    for (let i = 0; i < ics.length; i++) ics[i]!(dg, this);
    this.#owner.arrive(dg);
  }

  /** Forgets datagrams fully serialized by `now`. */
  #drain(now: Instant): void {
    const fin = this.#qFinish;
    const sz = this.#qSize;
    let h = this.#qHead;
    while (h < fin.length && fin[h]! <= now) {
      this.#queued -= sz[h]!;
      h++;
    }
    if (h === fin.length) {
      fin.length = 0;
      sz.length = 0;
      h = 0;
    } else if (h > 1024 && h * 2 > fin.length) {
      fin.splice(0, h);
      sz.splice(0, h);
      h = 0;
    }
    this.#qHead = h;
  }
}
