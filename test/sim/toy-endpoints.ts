// Toy SimEndpoints for testing the simulator itself (and for quick network experiments):
// a sink, an echo server, a ping client, a fixed-rate sender and an amplifying server.
import type { Path, SocketAddress } from '../../src/common/addr.js';
import type { Duration, Instant } from '../../src/common/time.js';
import type { Ecn, SimEndpoint, Transmit } from './types.js';

export interface Received {
  readonly time: Instant;
  readonly path: Path;
  readonly data: Uint8Array;
  readonly ecn: Ecn;
}

/** A payload of `size` octets (>= 4) starting with `seq` as a big-endian u32, the rest `fill`. */
export function numbered(seq: number, size: number, fill = 0): Uint8Array {
  const b = new Uint8Array(Math.max(size, 4)).fill(fill);
  new DataView(b.buffer).setUint32(0, seq >>> 0);
  return b;
}

/** The sequence number written by `numbered`. */
export function seqOf(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
}

/** Records everything; sends what is queued with `send()`. */
export class ToyEndpoint implements SimEndpoint {
  readonly received: Received[] = [];
  readonly outbox: Transmit[] = [];
  #next = 0;

  send(local: SocketAddress, remote: SocketAddress, data: Uint8Array, ecn: Ecn = 0): void {
    this.outbox.push({ path: { local, remote }, data, ecn });
  }

  handleDatagram(now: Instant, path: Path, data: Uint8Array, ecn: Ecn): void {
    this.received.push({ time: now, path, data: data.slice(), ecn });
    this.onDatagram(now, path, data, ecn);
  }

  protected onDatagram(_now: Instant, _path: Path, _data: Uint8Array, _ecn: Ecn): void {}

  handleTimeout(_now: Instant): void {}

  pollTransmit(_now: Instant): Transmit | undefined {
    if (this.#next >= this.outbox.length) return undefined;
    return this.outbox[this.#next++];
  }

  pollTimeout(): Instant {
    return Number.POSITIVE_INFINITY;
  }
}

export class SinkEndpoint extends ToyEndpoint {}

/** Sends every datagram back to its source from the address it arrived on, with the same ECN. */
export class EchoEndpoint extends ToyEndpoint {
  protected override onDatagram(_now: Instant, path: Path, data: Uint8Array, ecn: Ecn): void {
    this.send(path.local, path.remote, data.slice(), ecn);
  }
}

/** Sends `count` numbered pings of `size` octets, each after the previous reply; records RTTs. */
export class PingEndpoint extends ToyEndpoint {
  readonly rtts: Duration[] = [];
  readonly local: SocketAddress;
  readonly remote: SocketAddress;
  readonly count: number;
  readonly size: number;
  #sentAt: Instant = 0;
  #sent = 0;

  constructor(local: SocketAddress, remote: SocketAddress, count: number, size = 100) {
    super();
    this.local = local;
    this.remote = remote;
    this.count = count;
    this.size = size;
  }

  get done(): boolean {
    return this.rtts.length >= this.count;
  }

  override pollTransmit(now: Instant): Transmit | undefined {
    if (this.#sent === 0 && this.count > 0) this.#ping(now);
    return super.pollTransmit(now);
  }

  protected override onDatagram(now: Instant, _path: Path, data: Uint8Array): void {
    if (seqOf(data) !== this.#sent - 1) return;
    this.rtts.push(now - this.#sentAt);
    if (this.#sent < this.count) this.#ping(now);
  }

  #ping(now: Instant): void {
    this.#sentAt = now;
    this.send(this.local, this.remote, numbered(this.#sent++, this.size));
  }
}

export interface RateSenderOptions {
  readonly local: SocketAddress;
  readonly remote: SocketAddress;
  readonly count: number;
  readonly size: number;
  /** Time between datagrams (0 = all at once). */
  readonly interval: Duration;
  /** Time of the first datagram (default: when first polled). */
  readonly start?: Instant;
  readonly ecn?: Ecn;
}

/** Sends `count` numbered datagrams of `size` octets, one every `interval` µs; records send times. */
export class RateSender extends ToyEndpoint {
  readonly options: RateSenderOptions;
  readonly sentAt: Instant[] = [];
  #start: Instant | undefined;

  constructor(options: RateSenderOptions) {
    super();
    this.options = options;
    this.#start = options.start;
  }

  get done(): boolean {
    return this.sentAt.length >= this.options.count;
  }

  override pollTransmit(now: Instant): Transmit | undefined {
    const o = this.options;
    this.#start ??= now;
    while (this.sentAt.length < o.count && this.#start + this.sentAt.length * o.interval <= now) {
      this.sentAt.push(now);
      this.send(o.local, o.remote, numbered(this.sentAt.length - 1, o.size), o.ecn ?? 0);
    }
    return super.pollTransmit(now);
  }

  override pollTimeout(): Instant {
    const o = this.options;
    if (this.#start === undefined || this.sentAt.length >= o.count) return Number.POSITIVE_INFINITY;
    return this.#start + this.sentAt.length * o.interval;
  }
}

/** For each datagram received, answers `factor ×` its size in datagrams of at most `maxSize` octets. */
export class AmplifyingEndpoint extends ToyEndpoint {
  readonly factor: number;
  readonly maxSize: number;

  constructor(factor: number, maxSize = 1200) {
    super();
    this.factor = factor;
    this.maxSize = maxSize;
  }

  protected override onDatagram(_now: Instant, path: Path, data: Uint8Array): void {
    let left = Math.floor(data.length * this.factor);
    while (left > 0) {
      const n = Math.min(left, this.maxSize);
      this.send(path.local, path.remote, new Uint8Array(n));
      left -= n;
    }
  }
}
