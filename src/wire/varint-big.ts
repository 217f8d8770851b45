// Exact (BigInt) reads of varints, for the rare checks on values above 2^53 where the
// double-valued BufferReader.varint() is not exact (e.g. limits of 2^60 and 2^62-1).

/** Encoded length (1, 2, 4 or 8) of the varint whose first octet is `first`. */
export function varintLengthOf(first: number): number {
  return 1 << (first >> 6);
}

/** The exact value of the (already bounds-checked) varint at `off`. */
export function varintBigAt(buf: Uint8Array, off: number): bigint {
  const first = buf[off]!;
  const len = 1 << (first >> 6);
  let v = BigInt(first & 0x3f);
  for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(buf[off + i]!);
  return v;
}
