// Shared helpers for the connection-ID tests.
import type { ConnectionIdGenerator } from '../../../src/endpoint/cid-generator.js';
import { decodeFrame, type Frame } from '../../../src/wire/frames.js';
import { BufferReader } from '../../../src/wire/reader.js';

/** A deterministic token per CID (tests only; real tokens come from a keyed PRF). */
export function tokenFor(cid: Uint8Array): Uint8Array {
  const t = new Uint8Array(16);
  for (let i = 0; i < 16; i++) t[i] = (cid.length > 0 ? cid[i % cid.length]! : 0) ^ (i * 37 + 11);
  return t;
}

/** CIDs 0x01.., 0x02.., … of `length` octets. */
export class CountingGenerator implements ConnectionIdGenerator {
  readonly length: number;
  #n = 0;
  constructor(length = 8) {
    this.length = length;
  }
  generate(): Uint8Array {
    this.#n++;
    const cid = new Uint8Array(this.length);
    for (let i = 0; i < this.length; i++) cid[i] = (this.#n >> (8 * (i % 4))) & 0xff;
    return cid;
  }
}

export function cidOf(n: number, length = 8): Uint8Array {
  const cid = new Uint8Array(length);
  cid.fill(n);
  return cid;
}

export function decodeAll(payload: Uint8Array): Frame[] {
  const r = new BufferReader(payload);
  const out: Frame[] = [];
  while (!r.done) out.push(decodeFrame(r));
  return out;
}
