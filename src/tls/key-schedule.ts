// TLS 1.3 key schedule (RFC 8446 §7.1) and transcript hash (RFC 8446 §4.4.1), on the HKDF of
// src/protection/hkdf.ts (createHmac based; no hkdfSync).
import { createHash, type Hash } from 'node:crypto';
import { type HashName, hashLength, hkdfExpandLabel, hkdfExtract, hmac } from '../protection/hkdf.js';
import { HandshakeType } from './constants.js';

const EMPTY = new Uint8Array(0);
const emptyHashes = new Map<HashName, Uint8Array>();

/** Hash("") — the transcript of Derive-Secret(., "derived", ""). */
export function emptyHash(hash: HashName): Uint8Array {
  let h = emptyHashes.get(hash);
  if (!h) {
    h = new Uint8Array(createHash(hash).digest());
    emptyHashes.set(hash, h);
  }
  return h;
}

export function hashOf(hash: HashName, ...parts: Uint8Array[]): Uint8Array {
  const h = createHash(hash);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** Derive-Secret(Secret, Label, Messages) with the transcript hash already computed. */
export function deriveSecret(
  hash: HashName,
  secret: Uint8Array,
  label: string,
  transcriptHash: Uint8Array,
): Uint8Array {
  return hkdfExpandLabel(hash, secret, label, transcriptHash, hashLength(hash));
}

/** Early Secret = HKDF-Extract(0, PSK or 0). */
export function earlySecret(hash: HashName, psk: Uint8Array | undefined): Uint8Array {
  const zeros = new Uint8Array(hashLength(hash));
  return hkdfExtract(hash, zeros, psk ?? zeros);
}

/** Handshake Secret = HKDF-Extract(Derive-Secret(early, "derived", ""), (EC)DHE). */
export function handshakeSecret(hash: HashName, early: Uint8Array, shared: Uint8Array): Uint8Array {
  return hkdfExtract(hash, deriveSecret(hash, early, 'derived', emptyHash(hash)), shared);
}

/** Master Secret = HKDF-Extract(Derive-Secret(handshake, "derived", ""), 0). */
export function masterSecret(hash: HashName, handshake: Uint8Array): Uint8Array {
  return hkdfExtract(
    hash,
    deriveSecret(hash, handshake, 'derived', emptyHash(hash)),
    new Uint8Array(hashLength(hash)),
  );
}

/** binder_key for resumption PSKs: Derive-Secret(early, "res binder", ""). */
export function binderKey(hash: HashName, early: Uint8Array): Uint8Array {
  return deriveSecret(hash, early, 'res binder', emptyHash(hash));
}

/** RFC 8446 §4.4.4: HMAC(HKDF-Expand-Label(BaseKey, "finished", "", Hash.length), transcript). */
export function finishedVerifyData(
  hash: HashName,
  baseKey: Uint8Array,
  transcriptHash: Uint8Array,
): Uint8Array {
  const key = hkdfExpandLabel(hash, baseKey, 'finished', EMPTY, hashLength(hash));
  return hmac(hash, key, transcriptHash);
}

/** RFC 8446 §4.6.1: PSK of a ticket = HKDF-Expand-Label(resumption_master_secret, "resumption", nonce). */
export function resumptionPsk(hash: HashName, resumptionMaster: Uint8Array, nonce: Uint8Array): Uint8Array {
  return hkdfExpandLabel(hash, resumptionMaster, 'resumption', nonce, hashLength(hash));
}

/** The synthetic message_hash message that replaces ClientHello1 after a HelloRetryRequest (§4.4.1). */
export function messageHash(hash: HashName, clientHello1: Uint8Array): Uint8Array {
  const digest = hashOf(hash, clientHello1);
  const out = new Uint8Array(4 + digest.length);
  out[0] = HandshakeType.MessageHash;
  out[3] = digest.length;
  out.set(digest, 4);
  return out;
}

/**
 * Running transcript hash. Messages are kept until the hash is chosen (a client learns the
 * cipher suite from the ServerHello), then hashed incrementally.
 */
export class Transcript {
  #pending: Uint8Array[] = [];
  #hash: Hash | undefined;
  #name: HashName | undefined;

  get hashName(): HashName | undefined {
    return this.#name;
  }

  /** The messages so far (only before the hash is chosen). */
  get messages(): readonly Uint8Array[] {
    return this.#pending;
  }

  add(message: Uint8Array): void {
    if (this.#hash) this.#hash.update(message);
    else this.#pending.push(message);
  }

  setHash(name: HashName): void {
    if (this.#name === name) return;
    if (this.#hash) throw new Error('transcript hash already chosen');
    this.#name = name;
    this.#hash = createHash(name);
    for (const m of this.#pending) this.#hash.update(m);
    this.#pending = [];
  }

  /** Transcript-Hash of everything added so far. */
  digest(): Uint8Array {
    if (!this.#hash) throw new Error('transcript hash not chosen');
    return new Uint8Array(this.#hash.copy().digest());
  }

  /** Transcript-Hash of everything so far followed by `extra` (not added). */
  digestWith(...extra: Uint8Array[]): Uint8Array {
    if (!this.#hash) throw new Error('transcript hash not chosen');
    const h = this.#hash.copy();
    for (const e of extra) h.update(e);
    return new Uint8Array(h.digest());
  }
}
