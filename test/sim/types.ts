// The interface between the simulator and the endpoints it drives (the sans-IO QUIC endpoint
// implements SimEndpoint), plus the simulator's own datagram and trace records.
import type { Path, SocketAddress } from '../../src/common/addr.js';
import type { Instant } from '../../src/common/time.js';
/** ECN codepoint of a datagram: 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE (the IP header's two bits). */
export type Ecn = 0 | 1 | 2 | 3;
export interface Transmit {
  readonly path: Path;
  readonly data: Uint8Array;
  readonly ecn: Ecn;
}
export interface SimEndpoint {
  handleDatagram(now: Instant, path: Path, data: Uint8Array, ecn: Ecn): void; // path.local = our address it arrived on, path.remote = its source
  handleTimeout(now: Instant): void;
  pollTransmit(now: Instant): Transmit | undefined; // called until undefined
  pollTimeout(): Instant; // absolute µs; Infinity = none
}

/** ECN codepoints by name. */
export const ECN = { NotEct: 0, Ect1: 1, Ect0: 2, Ce: 3 } as const;

/**
 * A datagram in flight: one mutable record per datagram, owned by the simulator. `data` is the
 * simulator's own copy (the sender may reuse its buffer; the receiver may decrypt in place).
 */
export interface SimDatagram {
  /** Unique per run (duplicates and injected datagrams get their own). */
  readonly id: number;
  src: SocketAddress;
  dst: SocketAddress;
  data: Uint8Array;
  ecn: Ecn;
}

/** Why a datagram was dropped. */
export type DropCause =
  | 'blackhole'
  | 'mtu'
  | 'queue'
  | 'loss'
  | 'burst-loss'
  | 'no-link'
  | 'unroutable'
  | 'nat-no-mapping'
  | 'nat-filtered';

export type DatagramEventKind = 'send' | 'deliver' | 'drop';

/**
 * Trace record passed to `Simulation.onDatagram` listeners. `send`: a host (or attacker) emitted
 * it; `deliver`: handed to an endpoint; `drop`: lost, with `cause`. `data` is only valid during
 * the callback (copy it to keep it).
 */
export interface DatagramEvent {
  readonly kind: DatagramEventKind;
  readonly time: Instant;
  readonly id: number;
  readonly src: SocketAddress;
  readonly dst: SocketAddress;
  readonly size: number;
  readonly ecn: Ecn;
  readonly data: Uint8Array;
  /** Sending host for `send`, receiving host for `deliver`, dropping element for `drop`. */
  readonly where: string;
  readonly cause: DropCause | undefined;
}

/** Anything that owns addresses on the network and receives datagrams (a host or a NAT). */
export interface NetNode {
  readonly name: string;
  receive(dg: SimDatagram): void;
}

/** Where a host's datagrams go next: the network itself or a NAT in front of the host. */
export interface Gateway {
  forward(dg: SimDatagram): void;
}
