// RFC 7541 §5.2 / Appendix B Huffman coding of string literals. Strings are byte strings held as
// latin1 JS strings (one char per octet). Decoding is table-driven: a state machine over the
// 256 internal nodes of the code tree consumes 4 bits per step (the shortest code has 5 bits,
// so a step emits at most one symbol).
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './huffman-table.js';

const EOS = 256;
const F_EMIT = 0x100;
const F_FAIL = 0x200;

// Transition table: index state * 16 + nibble → next state (bits 0-7) | symbol (bits 12-19) | flags.
const transitions = new Uint32Array(256 * 16);
// A state where the input may end: the bits since the last symbol are at most 7 ones (EOS prefix).
const accepting = new Uint8Array(256);

buildDecoder();

function buildDecoder(): void {
  // children[node * 2 + bit]: >= 0 internal node, < 0 leaf -(symbol + 1).
  const children = new Int32Array(256 * 2).fill(0x7fffffff);
  let nodes = 1;
  const depth = new Uint8Array(256);
  const ones = new Uint8Array(256);
  ones[0] = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const code = HUFFMAN_CODES[sym]!;
    const len = HUFFMAN_LENGTHS[sym]!;
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = (code >>> i) & 1;
      const slot = node * 2 + bit;
      if (i === 0) {
        children[slot] = -(sym + 1);
        break;
      }
      let next = children[slot]!;
      if (next === 0x7fffffff) {
        next = nodes++;
        children[slot] = next;
        depth[next] = depth[node]! + 1;
        ones[next] = ones[node]! & bit;
      }
      node = next;
    }
  }
  for (let s = 0; s < 256; s++) {
    accepting[s] = ones[s] === 1 && depth[s]! <= 7 ? 1 : 0;
    for (let n = 0; n < 16; n++) {
      let cur = s;
      let flags = 0;
      let sym = 0;
      for (let b = 3; b >= 0; b--) {
        const child = children[cur * 2 + ((n >>> b) & 1)]!;
        if (child < 0) {
          sym = -child - 1;
          // RFC 7541 §5.2: a string containing EOS is a decoding error.
          if (sym === EOS) flags |= F_FAIL;
          else flags |= F_EMIT;
          cur = 0;
        } else {
          cur = child;
        }
      }
      transitions[s * 16 + n] = cur | flags | ((sym & 0xff) << 12);
    }
  }
}

/**
 * Decodes `src[start, end)` into `dst` from `dstOff` (which must have room for
 * `(end - start) * 8 / 5` octets). Returns the decoded length, or -1 if the input is invalid
 * (EOS symbol, padding longer than 7 bits or not a prefix of EOS; RFC 7541 §5.2).
 */
export function decodeHuffmanInto(
  src: Uint8Array,
  start: number,
  end: number,
  dst: Uint8Array,
  dstOff: number,
): number {
  let state = 0;
  let o = dstOff;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    let t = transitions[(state << 4) | (byte >>> 4)]!;
    if (t & F_FAIL) return -1;
    if (t & F_EMIT) dst[o++] = t >>> 12;
    state = t & 0xff;
    t = transitions[(state << 4) | (byte & 0x0f)]!;
    if (t & F_FAIL) return -1;
    if (t & F_EMIT) dst[o++] = t >>> 12;
    state = t & 0xff;
  }
  return accepting[state] === 1 ? o - dstOff : -1;
}

/** Upper bound of the decoded length of `n` Huffman-encoded octets. */
export function huffmanDecodedMax(n: number): number {
  return Math.floor((n * 8) / 5);
}

let scratch = Buffer.allocUnsafe(256);

/** Decodes a Huffman-coded byte string into a latin1 string; undefined if invalid. */
export function decodeHuffmanString(src: Uint8Array, start: number, end: number): string | undefined {
  const max = huffmanDecodedMax(end - start);
  if (scratch.length < max) scratch = Buffer.allocUnsafe(Math.max(max, scratch.length * 2));
  const n = decodeHuffmanInto(src, start, end, scratch, 0);
  return n < 0 ? undefined : scratch.toString('latin1', 0, n);
}

/** Decodes Huffman-coded octets; undefined if invalid. */
export function decodeHuffman(src: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(huffmanDecodedMax(src.length));
  const n = decodeHuffmanInto(src, 0, src.length, out, 0);
  return n < 0 ? undefined : out.subarray(0, n);
}

/** Length in octets of the Huffman encoding of a latin1 string. */
export function huffmanEncodedLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += HUFFMAN_LENGTHS[s.charCodeAt(i) & 0xff]!;
  return (bits + 7) >>> 3;
}

/**
 * Writes the Huffman encoding of a latin1 string at `off` (room for huffmanEncodedLength(s)
 * octets is the caller's duty), padded with the most significant bits of EOS (all ones).
 * Returns the new offset.
 */
export function encodeHuffmanInto(s: string, dst: Uint8Array, off: number): number {
  // `cur` holds `bits` (< 8) pending bits between symbols; codes over 24 bits are added in two
  // steps so that `cur` never exceeds 31 bits.
  let cur = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) & 0xff;
    let len = HUFFMAN_LENGTHS[c]!;
    let code = HUFFMAN_CODES[c]!;
    if (len > 24) {
      cur = (cur << (len - 16)) | (code >>> 16);
      bits += len - 16;
      while (bits >= 8) {
        bits -= 8;
        dst[off++] = cur >>> bits;
      }
      cur &= (1 << bits) - 1;
      code &= 0xffff;
      len = 16;
    }
    cur = (cur << len) | code;
    bits += len;
    while (bits >= 8) {
      bits -= 8;
      dst[off++] = cur >>> bits;
    }
    cur &= (1 << bits) - 1;
  }
  if (bits > 0) dst[off++] = (cur << (8 - bits)) | (0xff >>> bits);
  return off;
}

/** Huffman encoding of a byte string (latin1) or octets. */
export function encodeHuffman(s: string | Uint8Array): Uint8Array {
  const str = typeof s === 'string' ? s : Buffer.from(s).toString('latin1');
  const out = new Uint8Array(huffmanEncodedLength(str));
  encodeHuffmanInto(str, out, 0);
  return out;
}
