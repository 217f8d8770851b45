// The simulation facade: one seed, one virtual clock, one event queue, a network of hosts,
// links, NATs and attackers. Everything random is forked from the seed, so a run replays
// exactly: links draw from one stream, NATs from another, endpoints from `forkRandom()`.
import { addressKey } from '../../src/common/addr.js';
import { SeededRandom } from '../../src/common/random.js';
import type { Duration, Instant } from '../../src/common/time.js';
import { AmplificationChecker, type ValidationPredicate } from './amplification.js';
import { OffPathAttacker, OnPathAttacker } from './attacker.js';
import { VirtualClock } from './clock.js';
import { Host } from './host.js';
import type { Link, LinkConfig } from './link.js';
import { Nat, type NatOptions } from './nat.js';
import { type DatagramListener, type LinkPair, Network } from './network.js';
import { Scheduler } from './scheduler.js';
import type { DatagramEvent, SimEndpoint } from './types.js';

export interface SimulationOptions {
  readonly seed: number;
  /** Link config for IP pairs not connected explicitly; without it such datagrams are dropped. */
  readonly defaultLink?: Partial<LinkConfig>;
  /** Initial virtual time (default 0). */
  readonly startTime?: Instant;
}

export interface RunLimits {
  /** Absolute virtual time not to pass. */
  readonly maxTime?: Instant;
  /** Virtual time from now not to pass (default 10 minutes; ignored when maxTime is given). */
  readonly maxDuration?: Duration;
  /** Events to run at most (default 50 million). */
  readonly maxEvents?: number;
}

export interface HostOptions {
  readonly endpoint: SimEndpoint;
  /** IP addresses the host owns (more can be added later). */
  readonly addresses: readonly string[];
  readonly name?: string;
  /** Puts every address in `addresses` behind this NAT. */
  readonly via?: Nat;
}

export const DEFAULT_MAX_DURATION: Duration = 600_000_000;
export const DEFAULT_MAX_EVENTS = 50_000_000;

const callFn = (fn: () => void): void => fn();

export class Simulation {
  readonly seed: number;
  readonly scheduler: Scheduler;
  readonly network: Network;
  readonly hosts: Host[] = [];
  readonly nats: Nat[] = [];
  #endpointRng: SeededRandom;
  #natRng: SeededRandom;

  constructor(options: SimulationOptions) {
    this.seed = options.seed >>> 0;
    const root = new SeededRandom(this.seed);
    const linkRng = root.fork();
    this.#endpointRng = root.fork();
    this.#natRng = root.fork();
    this.scheduler = new Scheduler(new VirtualClock(options.startTime ?? 0));
    this.network = new Network(this.scheduler, linkRng, options.defaultLink);
  }

  get now(): Instant {
    return this.scheduler.now;
  }

  /** Events run so far. */
  get events(): number {
    return this.scheduler.processed;
  }

  /** An independent generator for an endpoint (or anything else in the run). */
  forkRandom(): SeededRandom {
    return this.#endpointRng.fork();
  }

  /** Adds a host; it is pumped at the current time (so a client can send its first datagram). */
  addHost(options: HostOptions): Host {
    const host = new Host(this.network, options.name ?? `host${this.hosts.length + 1}`, options.endpoint);
    for (const ip of options.addresses) host.addAddress(ip, options.via);
    this.hosts.push(host);
    host.wake();
    return host;
  }

  addNat(options: NatOptions): Nat {
    const nat = new Nat(this.network, this.#natRng.fork(), options);
    this.nats.push(nat);
    return nat;
  }

  /** Links a→b with `ab` and b→a with `ba` (default: same as `ab`). */
  connect(a: string, b: string, ab: Partial<LinkConfig> = {}, ba: Partial<LinkConfig> = ab): LinkPair {
    return this.network.connect(a, b, ab, ba);
  }

  /** The link from → to; throws if there is none. */
  link(from: string, to: string): Link {
    const l = this.network.link(from, to);
    if (!l) throw new Error(`no link ${from} -> ${to}`);
    return l;
  }

  addAttacker(name?: string): OffPathAttacker {
    return new OffPathAttacker(this.network, name);
  }

  onPathAttacker(link: Link): OnPathAttacker {
    return new OnPathAttacker(link);
  }

  /** Checks the 3× anti-amplification limit on every (local, remote) pair of `host`. */
  checkAmplification(host: Host, isValidated: ValidationPredicate, factor = 3): AmplificationChecker {
    return new AmplificationChecker(host, isValidated, factor);
  }

  /** Trace of every datagram sent, delivered or dropped; returns an unsubscribe function. */
  onDatagram(listener: DatagramListener): () => void {
    return this.network.onDatagram(listener);
  }

  /** Runs `fn` at absolute virtual time `time` (scripted changes). */
  at(time: Instant, fn: () => void): void {
    this.scheduler.schedule(time, callFn, fn);
  }

  after(delay: Duration, fn: () => void): void {
    this.scheduler.schedule(this.now + delay, callFn, fn);
  }

  /** Runs events until `predicate()` holds (checked before each event); throws with the seed on a limit or when idle. */
  runUntil(predicate: () => boolean, limits: RunLimits = {}): void {
    const s = this.scheduler;
    const maxTime = limits.maxTime ?? s.now + (limits.maxDuration ?? DEFAULT_MAX_DURATION);
    const maxEvents = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
    let n = 0;
    while (!predicate()) {
      const next = s.peekTime();
      if (next === Number.POSITIVE_INFINITY) {
        throw this.#error(`runUntil: no events left at t=${s.now}µs and the condition does not hold`);
      }
      if (next > maxTime)
        throw this.#error(`runUntil: time limit t=${maxTime}µs reached before the condition held`);
      if (n >= maxEvents) throw this.#error(`runUntil: event limit ${maxEvents} reached at t=${s.now}µs`);
      s.step();
      n++;
    }
  }

  /** Runs every event up to now + `duration`, then sets the clock there. */
  runFor(duration: Duration, limits: Pick<RunLimits, 'maxEvents'> = {}): void {
    const s = this.scheduler;
    const end = s.now + duration;
    const maxEvents = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
    let n = 0;
    while (s.peekTime() <= end) {
      if (n >= maxEvents) throw this.#error(`runFor: event limit ${maxEvents} reached at t=${s.now}µs`);
      s.step();
      n++;
    }
    s.advanceTo(end);
  }

  /** Runs until no event is left (every timer disarmed); throws with the seed on a limit. */
  runUntilIdle(limits: RunLimits = {}): void {
    const s = this.scheduler;
    const maxTime = limits.maxTime ?? s.now + (limits.maxDuration ?? DEFAULT_MAX_DURATION);
    const maxEvents = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
    let n = 0;
    for (;;) {
      const next = s.peekTime();
      if (next === Number.POSITIVE_INFINITY) return;
      if (next > maxTime)
        throw this.#error(`runUntilIdle: time limit t=${maxTime}µs reached with events pending`);
      if (n >= maxEvents) throw this.#error(`runUntilIdle: event limit ${maxEvents} reached at t=${s.now}µs`);
      s.step();
      n++;
    }
  }

  #error(message: string): Error {
    return new Error(`${message} (seed=${this.seed}, replay: SIM_SEED=${this.seed})`);
  }
}

/** One line per trace event, e.g. `t=1000 deliver #3 10.0.0.1:1>10.0.0.2:2 1200B ecn=2 @server`. */
export function formatDatagramEvent(ev: DatagramEvent): string {
  const cause = ev.cause ? ` cause=${ev.cause}` : '';
  return `t=${ev.time} ${ev.kind} #${ev.id} ${addressKey(ev.src)}>${addressKey(ev.dst)} ${ev.size}B ecn=${ev.ecn} @${ev.where}${cause}`;
}
