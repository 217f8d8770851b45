// A host: owns one or more IP addresses (directly on the network or behind a NAT) and drives
// one SimEndpoint. After every delivery or timeout it pumps the endpoint: pollTransmit until
// undefined, then (re)arms its single timer at pollTimeout().
import { addressKey, type Path, type SocketAddress } from '../../src/common/addr.js';
import type { Instant } from '../../src/common/time.js';
import type { Network } from './network.js';
import type { SimEvent } from './scheduler.js';
import type { Ecn, Gateway, NetNode, SimDatagram, SimEndpoint, Transmit } from './types.js';

/** Something in front of a private address (a NAT). */
export interface PrivateGateway extends Gateway {
  readonly name: string;
  attachPrivate(ip: string, host: Host): void;
  detachPrivate(ip: string, host: Host): void;
}

/** Watches a host's traffic (e.g. the amplification checker). Called before the endpoint sees a datagram / before a transmit leaves. */
export interface HostMonitor {
  onReceive(now: Instant, local: SocketAddress, remote: SocketAddress, size: number): void;
  onSend(now: Instant, local: SocketAddress, remote: SocketAddress, size: number): void;
}

export interface HostStats {
  received: number;
  receivedBytes: number;
  sent: number;
  sentBytes: number;
  timeouts: number;
}

/** handleTimeout calls at one instant beyond which the endpoint is considered stuck. */
export const MAX_TIMEOUTS_PER_INSTANT = 1000;
/** Transmits in one pump beyond which the endpoint is considered stuck. */
export const MAX_TRANSMITS_PER_PUMP = 1_000_000;

export class Host implements NetNode {
  readonly name: string;
  readonly endpoint: SimEndpoint;
  readonly stats: HostStats = { received: 0, receivedBytes: 0, sent: 0, sentBytes: 0, timeouts: 0 };
  #network: Network;
  /** Owned IP → where datagrams from it go (the network or a NAT). */
  #addrs = new Map<string, Gateway>();
  #monitors: HostMonitor[] = [];
  /** Deadline the endpoint asked for (Infinity = none). */
  #deadline: Instant = Number.POSITIVE_INFINITY;
  /** The queued timer event; it may be earlier than #deadline (then it re-arms when it fires). */
  #timer: SimEvent | undefined;
  #wakeEvent: SimEvent | undefined;
  #timeoutInstant: Instant = Number.NaN;
  #timeoutsAtInstant = 0;
  readonly #timerFn = (): void => this.#onTimer();
  readonly #wakeFn = (): void => this.#onWake();

  constructor(network: Network, name: string, endpoint: SimEndpoint) {
    this.#network = network;
    this.name = name;
    this.endpoint = endpoint;
  }

  /** Adds an address: public (owned on the network) or private behind `via` (a NAT). */
  addAddress(ip: string, via?: PrivateGateway): void {
    if (this.#addrs.has(ip)) throw new Error(`${this.name} already owns ${ip}`);
    if (via) via.attachPrivate(ip, this);
    else this.#network.attach(ip, this);
    this.#addrs.set(ip, via ?? this.#network);
  }

  /** Removes an address: datagrams to it are dropped, transmits from it throw. */
  removeAddress(ip: string): void {
    const gw = this.#addrs.get(ip);
    if (!gw) throw new Error(`${this.name} does not own ${ip}`);
    this.#addrs.delete(ip);
    if (gw === this.#network) this.#network.detach(ip, this);
    else (gw as PrivateGateway).detachPrivate(ip, this);
  }

  owns(ip: string): boolean {
    return this.#addrs.has(ip);
  }

  get addresses(): string[] {
    return [...this.#addrs.keys()];
  }

  addMonitor(m: HostMonitor): () => void {
    this.#monitors.push(m);
    return () => {
      this.#monitors = this.#monitors.filter((x) => x !== m);
    };
  }

  /** The deadline the endpoint last asked for. */
  get deadline(): Instant {
    return this.#deadline;
  }

  /**
   * Pumps the endpoint at the current time, from a fresh event (call after acting on the
   * endpoint directly, e.g. opening a stream from a scripted event). Also done when added.
   */
  wake(): void {
    if (this.#wakeEvent) return;
    const s = this.#network.scheduler;
    this.#wakeEvent = s.schedule(s.now, this.#wakeFn, undefined);
  }

  receive(dg: SimDatagram): void {
    const net = this.#network;
    if (!this.#addrs.has(dg.dst.address)) {
      net.stats.unroutable++;
      net.drop(dg, 'unroutable', this.name);
      return;
    }
    const now = net.scheduler.now;
    const size = dg.data.length;
    this.stats.received++;
    this.stats.receivedBytes += size;
    const ms = this.#monitors;
    for (let i = 0; i < ms.length; i++) ms[i]!.onReceive(now, dg.dst, dg.src, size);
    net.emit('deliver', dg, this.name, undefined);
    const path: Path = { local: dg.dst, remote: dg.src };
    this.endpoint.handleDatagram(now, path, dg.data, dg.ecn);
    this.#pump(now);
  }

  #onWake(): void {
    this.#wakeEvent = undefined;
    this.#pump(this.#network.scheduler.now);
  }

  #onTimer(): void {
    this.#timer = undefined;
    const now = this.#network.scheduler.now;
    const deadline = this.#deadline;
    if (deadline === Number.POSITIVE_INFINITY) return;
    if (deadline > now) {
      // The deadline moved later since this event was queued.
      this.#timer = this.#network.scheduler.schedule(deadline, this.#timerFn, undefined);
      return;
    }
    this.#timeout(now);
    this.#pump(now);
  }

  #timeout(now: Instant): void {
    if (now === this.#timeoutInstant) {
      if (++this.#timeoutsAtInstant > MAX_TIMEOUTS_PER_INSTANT) {
        throw new Error(
          `${this.name}: endpoint asked for a timeout at t=${now}µs more than ${MAX_TIMEOUTS_PER_INSTANT} times ` +
            '(pollTimeout() keeps returning a deadline <= now after handleTimeout)',
        );
      }
    } else {
      this.#timeoutInstant = now;
      this.#timeoutsAtInstant = 1;
    }
    this.stats.timeouts++;
    this.endpoint.handleTimeout(now);
  }

  #pump(now: Instant): void {
    const ep = this.endpoint;
    for (;;) {
      let n = 0;
      let t: Transmit | undefined;
      while ((t = ep.pollTransmit(now)) !== undefined) {
        if (++n > MAX_TRANSMITS_PER_PUMP) {
          throw new Error(
            `${this.name}: pollTransmit returned more than ${MAX_TRANSMITS_PER_PUMP} datagrams at once`,
          );
        }
        this.#send(now, t);
      }
      const deadline = ep.pollTimeout();
      if (deadline <= now) {
        this.#timeout(now);
        continue;
      }
      this.#arm(deadline);
      return;
    }
  }

  #arm(deadline: Instant): void {
    this.#deadline = deadline;
    if (deadline === Number.POSITIVE_INFINITY) return;
    const timer = this.#timer;
    if (timer && timer.at <= deadline) return; // fires early and re-arms
    const s = this.#network.scheduler;
    if (timer) s.cancel(timer);
    this.#timer = s.schedule(deadline, this.#timerFn, undefined);
  }

  #send(now: Instant, t: Transmit): void {
    const local = t.path.local;
    const gw = this.#addrs.get(local.address);
    if (!gw) {
      throw new Error(
        `${this.name}: transmit from ${addressKey(local)} to ${addressKey(t.path.remote)}, ` +
          `an address it does not own (owns: ${this.addresses.join(', ') || 'none'})`,
      );
    }
    const ecn = t.ecn;
    if (ecn !== 0 && ecn !== 1 && ecn !== 2 && ecn !== 3)
      throw new Error(`${this.name}: invalid ECN ${String(ecn)}`);
    const size = t.data.length;
    this.stats.sent++;
    this.stats.sentBytes += size;
    const ms = this.#monitors;
    for (let i = 0; i < ms.length; i++) ms[i]!.onSend(now, local, t.path.remote, size);
    const net = this.#network;
    const dg: SimDatagram = {
      id: net.newId(),
      src: local,
      dst: t.path.remote,
      data: net.copy(t.data),
      ecn: ecn as Ecn,
    };
    net.emit('send', dg, this.name, undefined);
    gw.forward(dg);
  }
}
