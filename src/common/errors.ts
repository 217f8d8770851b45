// Errors of the protocol core. A TransportError carries an RFC 9000 §20.1 code and ends the
// connection with CONNECTION_CLOSE (type 0x1c); it is never exposed raw at the public API.

/** RFC 9000 §20.1 transport error codes (plus RFC 9368 §10.2 VERSION_NEGOTIATION_ERROR). */
export const TransportErrorCode = {
  NO_ERROR: 0x00,
  INTERNAL_ERROR: 0x01,
  CONNECTION_REFUSED: 0x02,
  FLOW_CONTROL_ERROR: 0x03,
  STREAM_LIMIT_ERROR: 0x04,
  STREAM_STATE_ERROR: 0x05,
  FINAL_SIZE_ERROR: 0x06,
  FRAME_ENCODING_ERROR: 0x07,
  TRANSPORT_PARAMETER_ERROR: 0x08,
  CONNECTION_ID_LIMIT_ERROR: 0x09,
  PROTOCOL_VIOLATION: 0x0a,
  INVALID_TOKEN: 0x0b,
  APPLICATION_ERROR: 0x0c,
  CRYPTO_BUFFER_EXCEEDED: 0x0d,
  KEY_UPDATE_ERROR: 0x0e,
  AEAD_LIMIT_REACHED: 0x0f,
  NO_VIABLE_PATH: 0x10,
  VERSION_NEGOTIATION_ERROR: 0x11,
  /** CRYPTO_ERROR range base: 0x0100 + TLS alert (RFC 9001 §4.8). */
  CRYPTO_ERROR: 0x100,
} as const;
export type TransportErrorCode = (typeof TransportErrorCode)[keyof typeof TransportErrorCode] | number;

const codeNames = new Map<number, string>(Object.entries(TransportErrorCode).map(([k, v]) => [v, k]));

/** Human-readable name of a transport error code, e.g. `CRYPTO_ERROR(0x12a)` for an alert. */
export function transportErrorName(code: number): string {
  if (code >= 0x100 && code <= 0x1ff) return `CRYPTO_ERROR(0x${code.toString(16)})`;
  return codeNames.get(code) ?? `0x${code.toString(16)}`;
}

/**
 * A violation of the QUIC protocol detected by the core. The connection turns it into a
 * CONNECTION_CLOSE frame of type 0x1c carrying `code`, `frameType` and `reason`.
 */
export class TransportError extends Error {
  readonly code: number;
  /** Type of the frame that triggered the error (0 = unknown/none), RFC 9000 §19.19. */
  readonly frameType: number;
  readonly reason: string;

  constructor(code: number, reason = '', frameType = 0) {
    super(`${transportErrorName(code)}${reason ? `: ${reason}` : ''}`);
    this.name = 'TransportError';
    this.code = code;
    this.frameType = frameType;
    this.reason = reason;
  }

  /** Same error, attributed to a frame type (kept immutable). */
  withFrameType(frameType: number): TransportError {
    return frameType === this.frameType ? this : new TransportError(this.code, this.reason, frameType);
  }
}

/** TLS alert → CRYPTO_ERROR (RFC 9001 §4.8). */
export function cryptoError(alert: number, reason = ''): TransportError {
  return new TransportError(TransportErrorCode.CRYPTO_ERROR + (alert & 0xff), reason);
}

/** The TLS alert carried by a CRYPTO_ERROR code, or undefined. */
export function alertOf(code: number): number | undefined {
  return code >= 0x100 && code <= 0x1ff ? code - 0x100 : undefined;
}

export function isTransportError(e: unknown): e is TransportError {
  return e instanceof TransportError;
}

/** Wraps any thrown value: TransportErrors pass through; anything else is an INTERNAL_ERROR. */
export function toTransportError(e: unknown): TransportError {
  if (e instanceof TransportError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new TransportError(TransportErrorCode.INTERNAL_ERROR, msg);
}
