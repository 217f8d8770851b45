// In-memory client ↔ server plumbing for the TLS engine tests.
import { readFileSync } from 'node:fs';
import { TransportError } from '../../../src/common/errors.js';
import { Level } from '../../../src/common/levels.js';
import { SeededRandom } from '../../../src/common/random.js';
import {
  AntiReplay,
  createClientSession,
  createServerSession,
  type TlsClientConfig,
  type TlsEvent,
  type TlsServerConfig,
  type TlsSession,
} from '../../../src/tls/index.js';

// Compiled tests live in <out>/test/unit/tls/; the fixtures stay in the source tree.
const certDir = new URL('../../../../test/fixtures/certs/', import.meta.url);

export function pem(name: string): string {
  return readFileSync(new URL(name, certDir), 'utf8');
}

/** A leaf plus the intermediate, as a server sends it. */
export function chain(leaf: string): string {
  return pem(`${leaf}.pem`) + pem('intermediate.pem');
}

/** Fixed wall clock: 2030-01-01 (inside the fixtures' validity, after leaf-expired's). */
export const NOW = Date.UTC(2030, 0, 1);

export interface Clock {
  now: number;
}

export const CLIENT_TP = new Uint8Array([0x01, 0x02, 0x03]);
export const SERVER_TP = new Uint8Array([0x0a, 0x0b, 0x0c, 0x0d]);
export const TICKET_KEY = new Uint8Array(32).fill(7);

export function clientConfig(
  over: Partial<TlsClientConfig> = {},
  seed = 1,
  clock: Clock = { now: NOW },
): TlsClientConfig {
  return {
    serverName: 'localhost',
    alpnProtocols: ['h3'],
    transportParameters: CLIENT_TP,
    ca: pem('ca.pem'),
    random: new SeededRandom(seed),
    clock: () => clock.now,
    ...over,
  };
}

export function serverConfig(
  over: Partial<TlsServerConfig> = {},
  seed = 2,
  clock: Clock = { now: NOW },
): TlsServerConfig {
  return {
    certificateChain: chain('leaf-p256'),
    privateKey: pem('leaf-p256.key'),
    alpnProtocols: ['h3'],
    transportParameters: SERVER_TP,
    random: new SeededRandom(seed),
    clock: () => clock.now,
    ...over,
  };
}

export function antiReplay(clock: Clock = { now: NOW }): AntiReplay {
  return new AntiReplay({ startTime: clock.now - 60_000 });
}

export interface Side {
  readonly session: TlsSession;
  readonly events: TlsEvent[];
  /** Secrets by `${level}-${direction}`. */
  readonly secrets: Map<string, Uint8Array>;
  /** Handshake bytes sent, per level. */
  readonly sent: Uint8Array[][];
}

export function side(session: TlsSession): Side {
  return { session, events: [], secrets: new Map(), sent: [[], [], [], []] };
}

/** Drains one side's events; returns the 'send' events. */
function drain(s: Side): { level: Level; data: Uint8Array }[] {
  const out: { level: Level; data: Uint8Array }[] = [];
  for (let e = s.session.poll(); e; e = s.session.poll()) {
    s.events.push(e);
    if (e.type === 'send') {
      out.push({ level: e.level, data: e.data });
      s.sent[e.level]!.push(e.data);
    } else if (e.type === 'secret') {
      s.secrets.set(`${e.level}-${e.direction}`, e.secret);
    }
  }
  return out;
}

/** Rewrites (or drops, with undefined) a flight before delivery. */
export type Tamper = (from: 'client' | 'server', level: Level, data: Uint8Array) => Uint8Array | undefined;

export interface PumpOptions {
  tamper?: Tamper;
  /** Deliver in pieces of this many octets (exercises reassembly). */
  chunk?: number;
}

/** Runs the exchange until quiet. Returns the TransportError that stopped it, if any. */
export function pump(
  client: Side,
  server: Side,
  opts: PumpOptions = {},
): { error?: TransportError; by?: 'client' | 'server' } {
  for (let round = 0; round < 20; round++) {
    let moved = false;
    for (const [from, to, name] of [
      [client, server, 'client'],
      [server, client, 'server'],
    ] as const) {
      for (const m of drain(from)) {
        moved = true;
        const data = opts.tamper ? opts.tamper(name, m.level, m.data) : m.data;
        if (!data) continue;
        try {
          const step = opts.chunk ?? data.length;
          for (let o = 0; o < data.length; o += step) to.session.receive(m.level, data.subarray(o, o + step));
        } catch (e) {
          if (e instanceof TransportError) return { error: e, by: name === 'client' ? 'server' : 'client' };
          throw e;
        }
      }
    }
    if (!moved) return {};
  }
  throw new Error('pump did not settle');
}

export function connect(
  c: Partial<TlsClientConfig> = {},
  s: Partial<TlsServerConfig> = {},
  opts: PumpOptions = {},
): { client: Side; server: Side; error?: TransportError; by?: 'client' | 'server' } {
  const client = side(createClientSession(clientConfig(c)));
  const server = side(createServerSession(serverConfig(s)));
  client.session.start();
  const r = pump(client, server, opts);
  return { client, server, ...r };
}

export const levels = [Level.Initial, Level.EarlyData, Level.Handshake, Level.Application] as const;

/** Splits a flight into its handshake messages (whole, with headers). */
export function splitMessages(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o + 4 <= data.length; ) {
    const len = (data[o + 1]! << 16) | (data[o + 2]! << 8) | data[o + 3]!;
    out.push(data.slice(o, o + 4 + len));
    o += 4 + len;
  }
  return out;
}

export function joinMessages(msgs: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(msgs.reduce((n, m) => n + m.length, 0));
  let o = 0;
  for (const m of msgs) {
    out.set(m, o);
    o += m.length;
  }
  return out;
}

/** Replaces the message of `type` in a flight by `fn(message)`. */
export function rewriteMessage(
  data: Uint8Array,
  type: number,
  fn: (m: Uint8Array) => Uint8Array,
): Uint8Array {
  return joinMessages(splitMessages(data).map((m) => (m[0] === type ? fn(m) : m)));
}

/** The alert number carried by a CRYPTO_ERROR TransportError. */
export function alertOfError(e: TransportError | undefined): number | undefined {
  return e && e.code >= 0x100 && e.code <= 0x1ff ? e.code - 0x100 : undefined;
}
