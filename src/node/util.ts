// Small runtime helpers: the monotonic clock, deferred promises, an async queue, addresses.
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseSocketAddress, type SocketAddress } from '../common/addr.js';
import type { Instant } from '../common/time.js';
import { QuicInvalidArgumentError } from './errors.js';

/** The runtime's monotonic clock in microseconds (the core's `now`). */
export function monotonicNow(): Instant {
  return Math.round(performance.now() * 1000);
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const noop = (): void => {};

/**
 * An unbounded (or, with `limit`, drop-oldest) queue consumed with `shift()` or `for await`.
 * `end()` finishes iteration once the queue is empty; `end(error)` makes pending and later
 * reads reject with `error` (queued items are still delivered first).
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #head = 0;
  #waiters: Deferred<IteratorResult<T>>[] = [];
  #ended = false;
  #error: unknown;
  readonly #limit: number;
  /** Items dropped because the queue was full. */
  dropped = 0;

  constructor(limit = Number.POSITIVE_INFINITY) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  get ended(): boolean {
    return this.#ended;
  }

  push(v: T): void {
    if (this.#ended) return;
    const w = this.#waiters.shift();
    if (w) {
      w.resolve({ value: v, done: false });
      return;
    }
    if (this.size >= this.#limit) {
      this.#head++;
      this.dropped++;
    }
    this.#items.push(v);
  }

  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    for (const w of this.#waiters.splice(0)) {
      if (error !== undefined) w.reject(error);
      else w.resolve({ value: undefined, done: true });
    }
  }

  /** Removes and returns every queued item (another consumer takes them over). */
  takeAll(): T[] {
    const out = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return out;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      const v = this.#items[this.#head]!;
      this.#items[this.#head++] = undefined as T;
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#head = 0;
      }
      return Promise.resolve({ value: v, done: false });
    }
    if (this.#ended) {
      return this.#error !== undefined
        ? Promise.reject(this.#error)
        : Promise.resolve({ value: undefined, done: true });
    }
    const d = deferred<IteratorResult<T>>();
    this.#waiters.push(d);
    return d.promise;
  }

  /** Next item, or undefined once ended. */
  async shift(): Promise<T | undefined> {
    const r = await this.next();
    return r.done ? undefined : r.value;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      // Leaving a `for await` early does not end the queue: a later loop continues from here.
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }
}

export type AddressInput = string | SocketAddress | { host: string; port: number };

/** Parses 'host:port', '[v6]:port', {address, port} or {host, port} (host not resolved). */
export function toHostPort(a: AddressInput): { host: string; port: number } {
  let host: string;
  let port: number;
  if (typeof a === 'string') {
    try {
      const p = parseSocketAddress(a);
      host = p.address;
      port = p.port;
    } catch {
      throw new QuicInvalidArgumentError(`invalid address: ${a}`);
    }
  } else if ('host' in a) {
    host = a.host;
    port = a.port;
  } else {
    host = a.address;
    port = a.port;
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new QuicInvalidArgumentError(`invalid port: ${port}`);
  return { host, port };
}

/** A literal IP address (no DNS); throws QuicInvalidArgumentError otherwise. */
export function toSocketAddress(a: AddressInput): SocketAddress {
  const { host, port } = toHostPort(a);
  if (isIP(host) === 0) throw new QuicInvalidArgumentError(`not an IP address: ${host}`);
  return { address: host, port };
}
