// In-memory H3Transport for tests: records what an endpoint writes and delivers it to a peer.
import type { H3Transport } from '../../../src/h3/transport.js';

export type Action =
  | { kind: 'data'; streamId: number; data: Uint8Array; fin: boolean }
  | { kind: 'reset'; streamId: number; errorCode: number }
  | { kind: 'stop'; streamId: number; errorCode: number };

/** What a transport delivers into (H3Connection, HqInteropConnection). */
export interface StreamSink {
  handleStreamData(streamId: number, data: Uint8Array, fin: boolean): void;
  handleStreamReset(streamId: number, errorCode: number): void;
  handleStopSending(streamId: number, errorCode: number): void;
  handleConnectionClose?(errorCode: number, reason: string): void;
}

export class FakeTransport implements H3Transport {
  readonly role: 'client' | 'server';
  /** Actions not yet delivered to the peer, in order. */
  outbox: Action[] = [];
  /** Everything ever written, per stream (concatenated on demand by `written`). */
  readonly log = new Map<number, Uint8Array[]>();
  readonly finished = new Set<number>();
  readonly resets: [number, number][] = [];
  readonly stops: [number, number][] = [];
  closed: { errorCode: number; reason: string } | undefined;
  #nextBidi: number;
  #nextUni: number;
  /** Streams the peer lets us open per direction (throws beyond). */
  maxStreams = 1000;

  constructor(role: 'client' | 'server') {
    this.role = role;
    this.#nextBidi = role === 'client' ? 0 : 1;
    this.#nextUni = role === 'client' ? 2 : 3;
  }

  openStream(bidi: boolean): number {
    const id = bidi ? this.#nextBidi : this.#nextUni;
    if (id / 4 >= this.maxStreams) throw new Error('stream limit');
    if (bidi) this.#nextBidi += 4;
    else this.#nextUni += 4;
    return id;
  }

  write(streamId: number, data: Uint8Array, fin: boolean): void {
    if (this.finished.has(streamId)) throw new Error(`write after FIN on ${streamId}`);
    const copy = data.slice();
    let list = this.log.get(streamId);
    if (!list) this.log.set(streamId, (list = []));
    list.push(copy);
    if (fin) this.finished.add(streamId);
    this.outbox.push({ kind: 'data', streamId, data: copy, fin });
  }

  resetStream(streamId: number, errorCode: number): void {
    this.resets.push([streamId, errorCode]);
    this.outbox.push({ kind: 'reset', streamId, errorCode });
  }

  stopSending(streamId: number, errorCode: number): void {
    this.stops.push([streamId, errorCode]);
    this.outbox.push({ kind: 'stop', streamId, errorCode });
  }

  close(errorCode: number, reason: string): void {
    this.closed ??= { errorCode, reason };
  }

  /** All octets written on a stream. */
  written(streamId: number): Uint8Array {
    const parts = this.log.get(streamId) ?? [];
    let n = 0;
    for (const p of parts) n += p.length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

export interface DeliverOptions {
  /** Deliver only actions that pass (others stay queued, in order). */
  filter?: (a: Action) => boolean;
  /** Split data into pieces of at most this many octets (exercises partial frames). */
  chunk?: number;
}

/** Delivers `from`'s queued actions to `to`; returns how many were delivered. */
export function deliver(from: FakeTransport, to: StreamSink, opts: DeliverOptions = {}): number {
  const keep: Action[] = [];
  const todo = from.outbox;
  from.outbox = [];
  let n = 0;
  for (const a of todo) {
    if (opts.filter && !opts.filter(a)) {
      keep.push(a);
      continue;
    }
    n++;
    if (a.kind === 'reset') to.handleStreamReset(a.streamId, a.errorCode);
    else if (a.kind === 'stop') to.handleStopSending(a.streamId, a.errorCode);
    else if (!opts.chunk || a.data.length <= opts.chunk) to.handleStreamData(a.streamId, a.data, a.fin);
    else {
      for (let o = 0; o < a.data.length; o += opts.chunk) {
        const end = Math.min(a.data.length, o + opts.chunk);
        to.handleStreamData(a.streamId, a.data.subarray(o, end), a.fin && end === a.data.length);
      }
    }
  }
  from.outbox = keep.concat(from.outbox);
  return n;
}

/** Delivers both ways until nothing is left (or `rounds` passes). */
export function pump(
  a: FakeTransport,
  aSink: StreamSink,
  b: FakeTransport,
  bSink: StreamSink,
  opts: DeliverOptions = {},
  rounds = 1000,
): void {
  for (let i = 0; i < rounds; i++) {
    const n = deliver(a, bSink, opts) + deliver(b, aSink, opts);
    if (n === 0) return;
  }
}
