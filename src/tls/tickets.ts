// Session tickets: the client's stored form (SessionTicket, serializable for the CLI), the
// server's stateless self-encrypted tickets (AES-256-GCM) and the 0-RTT anti-replay register
// (RFC 8446 §8: single-use tickets within a freshness window).
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import type { Random } from '../common/random.js';
import { hkdfExtract } from '../protection/hkdf.js';
import { BufferWriter } from '../wire/writer.js';
import { decodeError, tlsReader } from './alerts.js';
import { type CipherSuite, isCipherSuite } from './constants.js';

/** What a client keeps from a NewSessionTicket to resume later (RFC 8446 §4.6.1). */
export interface SessionTicket {
  /** The opaque ticket (PSK identity). */
  readonly ticket: Uint8Array;
  /** The resumption PSK. */
  readonly psk: Uint8Array;
  readonly cipherSuite: CipherSuite;
  readonly ageAdd: number;
  /** ticket_lifetime, seconds. */
  readonly lifetime: number;
  /** Client wall clock at receipt, unix ms. */
  readonly receivedAt: number;
  /** The ticket allows 0-RTT (early_data with max_early_data_size 0xffffffff). */
  readonly earlyData: boolean;
  /** ALPN protocol of the connection that issued it. */
  readonly alpn: string;
  /** server_name used on that connection (RFC 8446 §4.6.1: resume only with a valid SNI). */
  readonly serverName: string | undefined;
  /** Opaque slot for the QUIC layer (e.g. the server's transport parameters, for 0-RTT). */
  appData?: Uint8Array;
}

const TICKET_FORMAT = 1;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function serializeSessionTicket(t: SessionTicket): Uint8Array {
  const w = new BufferWriter(256);
  w.u8(TICKET_FORMAT);
  w.block(2, () => w.bytes(t.ticket));
  w.u8(t.psk.length).bytes(t.psk);
  w.u16(t.cipherSuite).u32(t.ageAdd).u32(t.lifetime);
  w.u32(Math.floor(t.receivedAt / 0x100000000)).u32(t.receivedAt >>> 0);
  w.u8(t.earlyData ? 1 : 0);
  const alpn = textEncoder.encode(t.alpn);
  w.u8(alpn.length).bytes(alpn);
  const sni = t.serverName === undefined ? undefined : textEncoder.encode(t.serverName);
  w.u8(sni ? 1 : 0);
  if (sni) w.block(2, () => w.bytes(sni));
  w.u8(t.appData ? 1 : 0);
  if (t.appData) w.u32(t.appData.length).bytes(t.appData);
  return w.finish();
}

/** Inverse of serializeSessionTicket; throws a decode_error TransportError on malformed input. */
export function deserializeSessionTicket(bytes: Uint8Array): SessionTicket {
  const r = tlsReader(new Uint8Array(bytes)); // a private copy (bytes may be a Buffer from a file)
  if (r.u8() !== TICKET_FORMAT) throw decodeError('unknown session ticket format');
  const ticket = r.copy(r.u16());
  const psk = r.copy(r.u8());
  const cipherSuite = r.u16();
  if (!isCipherSuite(cipherSuite)) throw decodeError('unknown cipher suite in session ticket');
  const ageAdd = r.u32();
  const lifetime = r.u32();
  const receivedAt = r.u32() * 0x100000000 + r.u32();
  const earlyData = r.u8() === 1;
  const alpn = textDecoder.decode(r.bytes(r.u8()));
  const serverName = r.u8() === 1 ? textDecoder.decode(r.bytes(r.u16())) : undefined;
  const appData = r.u8() === 1 ? r.copy(r.u32()) : undefined;
  if (!r.done) throw decodeError('trailing bytes in session ticket');
  if (ticket.length === 0 || (psk.length !== 32 && psk.length !== 48))
    throw decodeError('malformed session ticket');
  const t: SessionTicket = {
    ticket,
    psk,
    cipherSuite,
    ageAdd,
    lifetime,
    receivedAt,
    earlyData,
    alpn,
    serverName,
  };
  if (appData) t.appData = appData;
  return t;
}

// ---- Server side: stateless tickets ----

/** What the server seals into a ticket. */
export interface TicketState {
  readonly cipherSuite: CipherSuite;
  readonly psk: Uint8Array;
  readonly ageAdd: number;
  /** Server wall clock at issue, unix ms. */
  readonly createdAt: number;
  readonly lifetime: number;
  readonly alpn: string;
  readonly earlyData: boolean;
  readonly appData: Uint8Array | undefined;
}

const NONCE_LEN = 12;
const TAG_LEN = 16;
const AAD = textEncoder.encode('feather-quic ticket v1');
const sealKeys = new WeakMap<Uint8Array, KeyObject>();

function sealKey(ticketKey: Uint8Array): KeyObject {
  let k = sealKeys.get(ticketKey);
  if (!k) {
    // Whatever the configured key length, derive a uniform AES-256 key from it.
    k = createSecretKey(hkdfExtract('sha256', textEncoder.encode('feather-quic ticket key'), ticketKey));
    sealKeys.set(ticketKey, k);
  }
  return k;
}

/** Seals ticket state: nonce(12) || AES-256-GCM ciphertext || tag(16). */
export function sealTicket(ticketKey: Uint8Array, state: TicketState, random: Random): Uint8Array {
  const w = new BufferWriter(128);
  w.u8(TICKET_FORMAT).u16(state.cipherSuite);
  w.u8(state.psk.length).bytes(state.psk);
  w.u32(state.ageAdd)
    .u32(Math.floor(state.createdAt / 0x100000000))
    .u32(state.createdAt >>> 0);
  w.u32(state.lifetime);
  const alpn = textEncoder.encode(state.alpn);
  w.u8(alpn.length).bytes(alpn);
  w.u8(state.earlyData ? 1 : 0);
  const app = state.appData;
  w.u8(app ? 1 : 0);
  if (app) w.block(2, () => w.bytes(app));
  const plain = w.view();
  const nonce = new Uint8Array(NONCE_LEN);
  random.fill(nonce);
  const c = createCipheriv('aes-256-gcm', sealKey(ticketKey), nonce);
  c.setAAD(AAD);
  const out = new Uint8Array(NONCE_LEN + plain.length + TAG_LEN);
  out.set(nonce, 0);
  out.set(c.update(plain), NONCE_LEN);
  c.final();
  out.set(c.getAuthTag(), NONCE_LEN + plain.length);
  return out;
}

/** Opens a ticket sealed by sealTicket; undefined if it is not ours or is malformed. */
export function openTicket(ticketKey: Uint8Array, ticket: Uint8Array): TicketState | undefined {
  if (ticket.length < NONCE_LEN + TAG_LEN + 1) return undefined;
  let plain: Uint8Array;
  try {
    const d = createDecipheriv('aes-256-gcm', sealKey(ticketKey), ticket.subarray(0, NONCE_LEN));
    d.setAAD(AAD);
    d.setAuthTag(ticket.subarray(ticket.length - TAG_LEN));
    // A Uint8Array copy: Buffer#slice would alias the decrypted buffer.
    plain = new Uint8Array(d.update(ticket.subarray(NONCE_LEN, ticket.length - TAG_LEN)));
    d.final();
  } catch {
    return undefined;
  }
  try {
    const r = tlsReader(plain);
    if (r.u8() !== TICKET_FORMAT) return undefined;
    const cipherSuite = r.u16();
    if (!isCipherSuite(cipherSuite)) return undefined;
    const psk = r.copy(r.u8());
    const ageAdd = r.u32();
    const createdAt = r.u32() * 0x100000000 + r.u32();
    const lifetime = r.u32();
    const alpn = textDecoder.decode(r.bytes(r.u8()));
    const earlyData = r.u8() === 1;
    const appData = r.u8() === 1 ? r.copy(r.u16()) : undefined;
    return { cipherSuite, psk, ageAdd, createdAt, lifetime, alpn, earlyData, appData };
  } catch {
    return undefined;
  }
}

/** The ticket's unique part (its random nonce), the key of the anti-replay register. */
export function ticketId(ticket: Uint8Array): string {
  return Buffer.from(ticket.buffer, ticket.byteOffset, Math.min(NONCE_LEN, ticket.length)).toString('hex');
}

// ---- Anti-replay (RFC 8446 §8) ----

export interface AntiReplayOptions {
  /** Wall clock (unix ms) when this register starts recording. */
  readonly startTime: number;
  /** Freshness window: max |expected_arrival_time - now|, ms (RFC 8446 §8.3). Default 10 s. */
  readonly windowMs?: number;
  /** Most tickets remembered; when full, 0-RTT is refused (fail safe). Default 100 000. */
  readonly capacity?: number;
}

/**
 * Accepts 0-RTT at most once per ticket (RFC 8446 §8.1) and only for fresh ClientHellos
 * (§8.3). Entries are forgotten once their expected arrival time leaves the window: a replay after
 * that fails the freshness check. Share one instance between all server sessions.
 */
export class AntiReplay {
  readonly windowMs: number;
  readonly capacity: number;
  readonly startTime: number;
  readonly #seen = new Map<string, number>();

  constructor(opts: AntiReplayOptions) {
    this.startTime = opts.startTime;
    this.windowMs = opts.windowMs ?? 10_000;
    this.capacity = opts.capacity ?? 100_000;
  }

  get size(): number {
    return this.#seen.size;
  }

  /**
   * True if 0-RTT may be accepted for this ticket use, and records it. `createdAt` is when the
   * ticket was issued, `clientAgeMs` the age the client reported (obfuscated age - age_add).
   */
  check(id: string, createdAt: number, clientAgeMs: number, now: number): boolean {
    const expectedArrival = createdAt + clientAgeMs;
    // RFC 8446 §8.3: reject 0-RTT when the expected arrival time is outside the window.
    if (Math.abs(now - expectedArrival) > this.windowMs) return false;
    // RFC 8446 §8.2: reject while the window overlaps our start for tickets older than this
    // register (they may have been used before we started recording).
    if (createdAt < this.startTime && expectedArrival - this.windowMs < this.startTime) return false;
    this.#evict(now);
    if (this.#seen.has(id)) return false;
    if (this.#seen.size >= this.capacity) return false;
    this.#seen.set(id, expectedArrival + this.windowMs);
    return true;
  }

  #evict(now: number): void {
    for (const [k, expiry] of this.#seen) {
      if (expiry < now) this.#seen.delete(k);
      else if (this.#seen.size < this.capacity) break;
    }
  }
}
