// Attackers of RFC 9000 §21: an off-path attacker that copies datagrams crossing a link and
// replays them later from a spoofed source, and an on-path attacker that rewrites the source
// addresses of datagrams in flight (RFC 9000 §9.3.2, §9.3.3, §21.1.3).
import type { SocketAddress } from '../../src/common/addr.js';
import type { Duration, Instant } from '../../src/common/time.js';
import type { Link } from './link.js';
import type { Network } from './network.js';
import type { Ecn, SimDatagram } from './types.js';

export interface CapturedDatagram {
  readonly time: Instant;
  readonly src: SocketAddress;
  readonly dst: SocketAddress;
  /** A private copy. */
  readonly data: Uint8Array;
  readonly ecn: Ecn;
  readonly link: Link;
}

export interface ReplayOptions {
  /** Spoofed source (default: the captured one). */
  readonly from?: SocketAddress;
  /** Destination (default: the captured one). */
  readonly to?: SocketAddress;
  /** Delivered this long after now (default 0). */
  readonly delay?: Duration;
  readonly ecn?: Ecn;
}

export type CaptureFilter = (dg: SimDatagram, link: Link) => boolean;

export class OffPathAttacker {
  readonly name: string;
  readonly captured: CapturedDatagram[] = [];
  #network: Network;

  constructor(network: Network, name = 'attacker') {
    this.#network = network;
    this.name = name;
  }

  /** Copies every datagram crossing `link` (optionally filtered) into `captured`; returns a stop function. */
  capture(link: Link, filter?: CaptureFilter): () => void {
    return link.tap((dg, l) => {
      if (filter && !filter(dg, l)) return;
      this.captured.push({
        time: this.#network.scheduler.now,
        src: dg.src,
        dst: dg.dst,
        data: dg.data.slice(),
        ecn: dg.ecn,
        link: l,
      });
    });
  }

  /** Re-sends a captured datagram, straight to its destination, from a source of our choosing. */
  replay(captured: CapturedDatagram, options: ReplayOptions = {}): void {
    this.send(captured.data, options.from ?? captured.src, options.to ?? captured.dst, options);
  }

  /** Sends arbitrary octets with a spoofed source. */
  send(
    data: Uint8Array,
    from: SocketAddress,
    to: SocketAddress,
    options: { delay?: Duration; ecn?: Ecn } = {},
  ): void {
    this.#network.inject(from, to, data, options.ecn ?? 0, options.delay ?? 0, this.name);
  }
}

/** Returns the new source of a datagram in flight, or undefined to leave it. */
export type SourceRewriter = (
  src: SocketAddress,
  dst: SocketAddress,
  data: Uint8Array,
) => SocketAddress | undefined;

export class OnPathAttacker {
  readonly link: Link;
  /** Datagrams whose source was rewritten. */
  rewritten = 0;
  #stop: (() => void) | undefined;

  constructor(link: Link) {
    this.link = link;
  }

  /** Rewrites sources of datagrams arriving over the link from now on (replaces any previous rewriter). */
  rewriteSources(fn: SourceRewriter): void {
    this.stop();
    this.#stop = this.link.intercept((dg) => {
      const src = fn(dg.src, dg.dst, dg.data);
      if (src !== undefined) {
        dg.src = src;
        this.rewritten++;
      }
    });
  }

  stop(): void {
    this.#stop?.();
    this.#stop = undefined;
  }
}
