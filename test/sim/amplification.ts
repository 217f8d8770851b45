// Invariant checker for the anti-amplification limit. RFC 9000 §8: "after receiving packets
// from an address that is not yet validated, an endpoint MUST limit the amount of data it sends
// to the unvalidated address to three times the amount of data received from that address"
// (§8.1 for the handshake, §9.3.1 for migration). Counts UDP payload bytes per
// (local, remote) address pair of one host and records every send to an unvalidated pair that
// takes `sent` above `factor × received`.
import { addressKey, type SocketAddress } from '../../src/common/addr.js';
import type { Instant } from '../../src/common/time.js';
import type { Host, HostMonitor } from './host.js';

/** Answers whether the host considers `remote` validated on `local` (asked at each send). */
export type ValidationPredicate = (local: SocketAddress, remote: SocketAddress) => boolean;

export interface AmplificationViolation {
  readonly time: Instant;
  readonly local: SocketAddress;
  readonly remote: SocketAddress;
  /** Bytes received from remote on local so far. */
  readonly received: number;
  /** Bytes sent to remote from local so far, this datagram included. */
  readonly sent: number;
  /** Size of the offending datagram. */
  readonly size: number;
}

export interface PairCounters {
  received: number;
  sent: number;
}

export class AmplificationChecker implements HostMonitor {
  readonly host: Host;
  readonly factor: number;
  readonly violations: AmplificationViolation[] = [];
  #isValidated: ValidationPredicate;
  #pairs = new Map<string, PairCounters>();
  #detach: () => void;

  constructor(host: Host, isValidated: ValidationPredicate, factor = 3) {
    this.host = host;
    this.factor = factor;
    this.#isValidated = isValidated;
    this.#detach = host.addMonitor(this);
  }

  onReceive(_now: Instant, local: SocketAddress, remote: SocketAddress, size: number): void {
    this.#pair(local, remote).received += size;
  }

  onSend(now: Instant, local: SocketAddress, remote: SocketAddress, size: number): void {
    const c = this.#pair(local, remote);
    c.sent += size;
    // RFC 9000 §8.1: before validation, sent ≤ 3 × received.
    if (c.sent > this.factor * c.received) {
      if (!this.#isValidated(local, remote)) {
        this.violations.push({ time: now, local, remote, received: c.received, sent: c.sent, size });
      } else {
        // Validated: the limit starts over if the host later forgets the address (e.g. a NAT
        // reuses a port long after the server evicted that path).
        c.sent = 0;
        c.received = 0;
      }
    }
  }

  /** Counters of a pair, if it has seen traffic. */
  counters(local: SocketAddress, remote: SocketAddress): Readonly<PairCounters> | undefined {
    return this.#pairs.get(`${addressKey(local)}>${addressKey(remote)}`);
  }

  assertNoViolations(): void {
    const v = this.violations;
    if (v.length === 0) return;
    const lines = v
      .slice(0, 10)
      .map(
        (x) =>
          `  t=${x.time}µs ${addressKey(x.local)} -> ${addressKey(x.remote)}: sent ${x.sent} B ` +
          `(datagram of ${x.size} B) > ${this.factor} × received ${x.received} B`,
      );
    if (v.length > 10) lines.push(`  … and ${v.length - 10} more`);
    throw new Error(
      `${this.host.name}: ${v.length} anti-amplification violation(s) (RFC 9000 §8.1):\n${lines.join('\n')}`,
    );
  }

  detach(): void {
    this.#detach();
  }

  #pair(local: SocketAddress, remote: SocketAddress): PairCounters {
    const key = `${addressKey(local)}>${addressKey(remote)}`;
    let c = this.#pairs.get(key);
    if (!c) this.#pairs.set(key, (c = { received: 0, sent: 0 }));
    return c;
  }
}
