// QPACK primitives (RFC 9204 §4.1): prefixed integers (RFC 7541 §5.1) and N-bit prefix string
// literals (RFC 7541 §5.2), over untrusted input. Strings are latin1 byte strings.
import type { BufferWriter } from '../../wire/writer.js';
import { H3Error } from '../errors.js';
import { decodeHuffmanString, encodeHuffmanInto, huffmanEncodedLength } from './huffman.js';

/** Largest integer QPACK must decode (RFC 9204 §4.1.1: up to 62 bits). */
export const MAX_QPACK_INT = 2 ** 62 - 1;

/** Thrown by a streaming reader when the input ends inside an instruction. Not an Error. */
export const INCOMPLETE: { readonly incomplete: true } = Object.freeze({ incomplete: true });

/**
 * Cursor over untrusted octets. On truncation it throws H3Error(errorCode) or, when
 * `streaming`, the INCOMPLETE sentinel after recording in `needEnd` how far the input must
 * reach before a retry can make progress.
 */
export class QpackReader {
  buf: Uint8Array;
  pos: number;
  end: number;
  readonly errorCode: number;
  readonly streaming: boolean;
  /** Exclusive end the input must reach to complete the interrupted item (streaming). */
  needEnd = 0;

  constructor(buf: Uint8Array, pos: number, end: number, errorCode: number, streaming = false) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.errorCode = errorCode;
    this.streaming = streaming;
  }

  reset(buf: Uint8Array, pos: number, end: number): void {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.needEnd = 0;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(reason: string): never {
    throw new H3Error(this.errorCode, reason);
  }

  #truncated(need: number): never {
    if (this.streaming) {
      this.needEnd = need;
      throw INCOMPLETE;
    }
    throw new H3Error(this.errorCode, 'truncated input');
  }

  /** The next octet without consuming it. */
  peek(): number {
    if (this.pos >= this.end) this.#truncated(this.pos + 1);
    return this.buf[this.pos]!;
  }

  /** RFC 7541 §5.1 integer with an N-bit prefix in the current octet (flag bits ignored). */
  int(prefixBits: number): number {
    if (this.pos >= this.end) this.#truncated(this.pos + 1);
    const max = (1 << prefixBits) - 1;
    let v = this.buf[this.pos++]! & max;
    if (v < max) return v;
    let m = 0;
    for (;;) {
      if (this.pos >= this.end) this.#truncated(this.pos + 1);
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * 2 ** m;
      m += 7;
      if ((b & 0x80) === 0) break;
      // RFC 7541 §5.1: encodings beyond the implementation's limit are decoding errors.
      if (m > 56) this.fail('integer too long');
    }
    if (v > MAX_QPACK_INT) this.fail('integer too large');
    return v;
  }

  /**
   * N-bit prefix string literal (RFC 9204 §4.1.2): the H flag is bit N-1 of the current octet,
   * the length an (N-1)-bit prefix integer. `maxLength` bounds the encoded length.
   */
  string(prefixBits: number, maxLength: number): string {
    if (this.pos >= this.end) this.#truncated(this.pos + 1);
    const huffman = (this.buf[this.pos]! & (1 << (prefixBits - 1))) !== 0;
    const len = this.int(prefixBits - 1);
    if (len > maxLength) this.fail('string literal too long');
    const start = this.pos;
    if (len > this.end - start) this.#truncated(start + len);
    this.pos = start + len;
    if (!huffman) return latin1(this.buf, start, this.pos);
    const s = decodeHuffmanString(this.buf, start, this.pos);
    // RFC 7541 §5.2: invalid padding or EOS is a decoding error.
    if (s === undefined) this.fail('invalid Huffman encoding');
    return s;
  }
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  if (end - start < 32) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
    return s;
  }
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
}

/** Writes a prefixed integer: `flags` are the bits above the N-bit prefix in the first octet. */
export function writeInt(w: BufferWriter, flags: number, prefixBits: number, v: number): void {
  const max = (1 << prefixBits) - 1;
  if (v < max) {
    w.u8(flags | v);
    return;
  }
  w.u8(flags | max);
  v -= max;
  while (v >= 128) {
    w.u8((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  w.u8(v);
}

/** Huffman policy for string literals: always, never, or when shorter. */
export type HuffmanMode = boolean | 'auto';

/**
 * Writes an N-bit prefix string literal (H flag at bit N-1). With 'auto', Huffman is used only
 * when it is strictly shorter.
 */
export function writeString(
  w: BufferWriter,
  flags: number,
  prefixBits: number,
  s: string,
  mode: HuffmanMode,
): void {
  const hlen = mode === false ? 0 : huffmanEncodedLength(s);
  const huffman = mode === true || (mode === 'auto' && hlen < s.length);
  const hbit = 1 << (prefixBits - 1);
  if (huffman) {
    writeInt(w, flags | hbit, prefixBits - 1, hlen);
    const at = w.reserve(hlen);
    encodeHuffmanInto(s, w.buf, at);
    return;
  }
  writeInt(w, flags, prefixBits - 1, s.length);
  const at = w.reserve(s.length);
  const b = w.buf;
  for (let i = 0; i < s.length; i++) b[at + i] = s.charCodeAt(i);
}

/** Encoded length of a string literal's payload under `mode` (without the length prefix). */
export function stringPayloadLength(s: string, mode: HuffmanMode): number {
  if (mode === false) return s.length;
  const h = huffmanEncodedLength(s);
  return mode === true ? h : Math.min(h, s.length);
}
