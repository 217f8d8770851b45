// Variable-length integers, RFC 9000 §16. Values are JS numbers: exact up to 2^53-1, which
// covers every offset, length and limit the stack uses; larger values (up to 2^62-1) decode
// with the precision loss of IEEE doubles and encode from the nearest double.

export const MAX_VARINT = 2 ** 62 - 1;

/** Encoded length of `v` in octets (1, 2, 4 or 8). */
export function varintLength(v: number): 1 | 2 | 4 | 8 {
  if (v < 0x40) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x40000000) return 4;
  return 8;
}

/** Writes `v` at `off` using the minimal length; returns the new offset. Caller checks room. */
export function writeVarint(buf: Uint8Array, off: number, v: number): number {
  if (v < 0x40 && v >= 0) {
    buf[off] = v;
    return off + 1;
  }
  if (!(v >= 0 && v <= 2 ** 62)) throw new RangeError(`varint out of range: ${v}`);
  return writeVarintFixed(buf, off, v, varintLength(v));
}

/** Writes `v` in exactly `len` octets (for length fields patched after the fact). */
export function writeVarintFixed(buf: Uint8Array, off: number, v: number, len: 1 | 2 | 4 | 8): number {
  switch (len) {
    case 1:
      buf[off] = v;
      return off + 1;
    case 2:
      buf[off] = 0x40 | (v >>> 8);
      buf[off + 1] = v & 0xff;
      return off + 2;
    case 4:
      buf[off] = 0x80 | (v >>> 24);
      buf[off + 1] = (v >>> 16) & 0xff;
      buf[off + 2] = (v >>> 8) & 0xff;
      buf[off + 3] = v & 0xff;
      return off + 4;
    default: {
      if (v >= 2 ** 62) {
        buf.fill(0xff, off, off + 8);
        return off + 8;
      }
      const hi = Math.floor(v / 0x100000000);
      const lo = v - hi * 0x100000000;
      buf[off] = 0xc0 | (hi >>> 24);
      buf[off + 1] = (hi >>> 16) & 0xff;
      buf[off + 2] = (hi >>> 8) & 0xff;
      buf[off + 3] = hi & 0xff;
      buf[off + 4] = lo >>> 24;
      buf[off + 5] = (lo >>> 16) & 0xff;
      buf[off + 6] = (lo >>> 8) & 0xff;
      buf[off + 7] = lo & 0xff;
      return off + 8;
    }
  }
}
