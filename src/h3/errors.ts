// HTTP/3 and QPACK error codes and the H3Error thrown by the h3 layer's decoders.
// H3 errors are application errors: they end a stream (RESET_STREAM/STOP_SENDING) or the
// connection (CONNECTION_CLOSE type 0x1d), never a transport CONNECTION_CLOSE.

/** RFC 9114 §8.1 and RFC 9204 §6 error codes. */
export const H3ErrorCode = {
  H3_NO_ERROR: 0x100,
  H3_GENERAL_PROTOCOL_ERROR: 0x101,
  H3_INTERNAL_ERROR: 0x102,
  H3_STREAM_CREATION_ERROR: 0x103,
  H3_CLOSED_CRITICAL_STREAM: 0x104,
  H3_FRAME_UNEXPECTED: 0x105,
  H3_FRAME_ERROR: 0x106,
  H3_EXCESSIVE_LOAD: 0x107,
  H3_ID_ERROR: 0x108,
  H3_SETTINGS_ERROR: 0x109,
  H3_MISSING_SETTINGS: 0x10a,
  H3_REQUEST_REJECTED: 0x10b,
  H3_REQUEST_CANCELLED: 0x10c,
  H3_REQUEST_INCOMPLETE: 0x10d,
  H3_MESSAGE_ERROR: 0x10e,
  H3_CONNECT_ERROR: 0x10f,
  H3_VERSION_FALLBACK: 0x110,
  QPACK_DECOMPRESSION_FAILED: 0x200,
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  QPACK_DECODER_STREAM_ERROR: 0x202,
} as const;
export type H3ErrorCode = (typeof H3ErrorCode)[keyof typeof H3ErrorCode] | number;

const names = new Map<number, string>(Object.entries(H3ErrorCode).map(([k, v]) => [v, k]));

export function h3ErrorName(code: number): string {
  return names.get(code) ?? `0x${code.toString(16)}`;
}

/**
 * An HTTP/3 or QPACK protocol violation. `stream` marks a stream error (RFC 9114 §8: reset the
 * stream); otherwise it is a connection error (close the connection with `code`).
 */
export class H3Error extends Error {
  readonly code: number;
  readonly reason: string;
  readonly stream: boolean;

  constructor(code: number, reason = '', stream = false) {
    super(`${h3ErrorName(code)}${reason ? `: ${reason}` : ''}`);
    this.name = 'H3Error';
    this.code = code;
    this.reason = reason;
    this.stream = stream;
  }
}

/** RFC 9114 §7.2.8, §6.2.3, §7.2.4.1, §8.1: 0x1f * N + 0x21 values are reserved for GREASE. */
export function isGrease(v: number): boolean {
  return v >= 0x21 && (v - 0x21) % 0x1f === 0;
}

/** A random reserved (GREASE) value 0x1f * N + 0x21 that fits a 4-octet varint. */
export function greaseValue(n: number): number {
  return 0x1f * (n % 0x2000000) + 0x21;
}
