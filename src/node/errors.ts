// Public errors of the Node runtime: every failure the async API reports is a QuicError with a
// stable `code` ('ERR_QUIC_*'). A registered-symbol brand makes `instanceof` (and isQuicError)
// work across duplicate copies of the package.
import type { Path } from '../common/addr.js';
import { alertOf, TransportErrorCode, transportErrorName } from '../common/errors.js';
import type { CloseInfo } from '../connection/events.js';
import { Alert } from '../tls/constants.js';

export const QUIC_ERROR_BRAND: unique symbol = Symbol.for('feather-quic.error');

export const QuicErrorCode = {
  CONNECTION_CLOSED: 'ERR_QUIC_CONNECTION_CLOSED',
  APPLICATION_ERROR: 'ERR_QUIC_APPLICATION_ERROR',
  TRANSPORT_ERROR: 'ERR_QUIC_TRANSPORT_ERROR',
  IDLE_TIMEOUT: 'ERR_QUIC_IDLE_TIMEOUT',
  STATELESS_RESET: 'ERR_QUIC_STATELESS_RESET',
  HANDSHAKE_FAILED: 'ERR_QUIC_HANDSHAKE_FAILED',
  STREAM_RESET: 'ERR_QUIC_STREAM_RESET',
  PATH_VALIDATION_FAILED: 'ERR_QUIC_PATH_VALIDATION_FAILED',
  MIGRATION: 'ERR_QUIC_MIGRATION',
  ABORTED: 'ERR_QUIC_ABORTED',
  INVALID_ARGUMENT: 'ERR_QUIC_INVALID_ARGUMENT',
  ENDPOINT_CLOSED: 'ERR_QUIC_ENDPOINT_CLOSED',
  SOCKET: 'ERR_QUIC_SOCKET',
  STREAM_USAGE: 'ERR_QUIC_STREAM_USAGE',
  HTTP: 'ERR_QUIC_HTTP',
} as const;
export type QuicErrorCode = (typeof QuicErrorCode)[keyof typeof QuicErrorCode];

/** True for any feather-quic error, even one created by another copy of the package. */
export function isQuicError(e: unknown): e is QuicError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[QUIC_ERROR_BRAND] === true;
}

const nativeHasInstance = Function.prototype[Symbol.hasInstance];

/** Prototype chain first; else the brand plus the class name (QuicError itself: any brand). */
function brandedInstanceOf(cls: { name: string }, x: unknown): boolean {
  if (nativeHasInstance.call(cls, x)) return true;
  if (!isQuicError(x)) return false;
  return cls === QuicError || (x as Error).name === cls.name;
}

export class QuicError extends Error {
  /** 'ERR_QUIC_*'. Usage errors of the core pass their own code through (e.g. ERR_QUIC_NO_CONNECTION_ID). */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  get [QUIC_ERROR_BRAND](): true {
    return true;
  }

  /** `x instanceof QuicError` (or a subclass) holds for errors of any copy of the package. */
  static override [Symbol.hasInstance](x: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: inherited by subclasses, `this` is the class tested against
    return brandedInstanceOf(this, x);
  }
}

/** The connection was closed cleanly (or was already closed when the operation started). */
export class QuicConnectionClosedError extends QuicError {
  readonly closeInfo: CloseInfo | undefined;
  constructor(message = 'connection closed', closeInfo?: CloseInfo) {
    super(QuicErrorCode.CONNECTION_CLOSED, message, closeInfo ? { cause: closeInfo } : undefined);
    this.closeInfo = closeInfo;
  }
}

/** CONNECTION_CLOSE of type 0x1d with a non-zero application error code. */
export class QuicApplicationError extends QuicError {
  readonly errorCode: number;
  readonly reason: string;
  /** True when the peer closed the connection. */
  readonly remote: boolean;
  constructor(errorCode: number, reason: string, remote: boolean, cause?: unknown) {
    super(
      QuicErrorCode.APPLICATION_ERROR,
      `${remote ? 'peer' : 'we'} closed the connection with application error ${errorCode}${reason ? `: ${reason}` : ''}`,
      { cause },
    );
    this.errorCode = errorCode;
    this.reason = reason;
    this.remote = remote;
  }
}

/** CONNECTION_CLOSE of type 0x1c: a transport error code of RFC 9000 §20.1. */
export class QuicTransportError extends QuicError {
  readonly errorCode: number;
  /** RFC name of the code, e.g. PROTOCOL_VIOLATION. */
  readonly errorName: string;
  readonly frameType: number;
  readonly reason: string;
  readonly remote: boolean;
  constructor(
    errorCode: number,
    reason: string,
    frameType: number,
    remote: boolean,
    cause?: unknown,
    code: string = QuicErrorCode.TRANSPORT_ERROR,
  ) {
    const name = transportErrorName(errorCode);
    super(code, `${remote ? 'peer' : 'local'} transport error ${name}${reason ? `: ${reason}` : ''}`, {
      cause,
    });
    this.errorCode = errorCode;
    this.errorName = name;
    this.frameType = frameType;
    this.reason = reason;
    this.remote = remote;
  }
}

/** TLS failed (CRYPTO_ERROR, RFC 9001 §4.8): `alert` is the TLS alert (e.g. 48 unknown_ca). */
export class QuicHandshakeFailedError extends QuicTransportError {
  readonly alert: number;
  readonly alertName: string;
  constructor(errorCode: number, reason: string, frameType: number, remote: boolean, cause?: unknown) {
    super(errorCode, reason, frameType, remote, cause, QuicErrorCode.HANDSHAKE_FAILED);
    this.alert = alertOf(errorCode) ?? 0;
    this.alertName = alertNames.get(this.alert) ?? `alert_${this.alert}`;
    this.message = `TLS handshake failed (${this.alertName}, ${remote ? 'sent by the peer' : 'sent by us'})${reason ? `: ${reason}` : ''}`;
  }
}

/** No packet for the negotiated idle timeout (RFC 9000 §10.1). */
export class QuicIdleTimeoutError extends QuicError {
  constructor(cause?: unknown) {
    super(QuicErrorCode.IDLE_TIMEOUT, 'connection timed out (idle timeout)', { cause });
  }
}

/** The peer answered with a stateless reset (RFC 9000 §10.3). */
export class QuicStatelessResetError extends QuicError {
  constructor(cause?: unknown) {
    super(QuicErrorCode.STATELESS_RESET, 'connection reset by the peer (stateless reset)', { cause });
  }
}

/** RESET_STREAM (`kind` 'reset') or STOP_SENDING ('stop-sending') from the peer, or a local abort. */
export class QuicStreamResetError extends QuicError {
  readonly errorCode: number;
  readonly streamId: number;
  readonly kind: 'reset' | 'stop-sending';
  readonly remote: boolean;
  constructor(streamId: number, errorCode: number, kind: 'reset' | 'stop-sending', remote = true) {
    super(
      QuicErrorCode.STREAM_RESET,
      `stream ${streamId} ${kind === 'reset' ? 'reset' : 'stopped'} by ${remote ? 'the peer' : 'us'} with code ${errorCode}`,
    );
    this.errorCode = errorCode;
    this.streamId = streamId;
    this.kind = kind;
    this.remote = remote;
  }
}

/** A path probe failed (no PATH_RESPONSE within 3×PTO, abandoned, or no connection ID). */
export class QuicPathError extends QuicError {
  readonly pathId: number;
  readonly path: Path | undefined;
  readonly reason: string;
  constructor(pathId: number, path: Path | undefined, reason: string, cause?: unknown) {
    super(QuicErrorCode.PATH_VALIDATION_FAILED, `path ${pathId} validation failed: ${reason}`, { cause });
    this.pathId = pathId;
    this.path = path;
    this.reason = reason;
  }
}

/** Migration refused by the core; `code` is the core's (ERR_QUIC_MIGRATION, ERR_QUIC_NO_CONNECTION_ID, …). */
export class QuicMigrationError extends QuicError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code || QuicErrorCode.MIGRATION, message, { cause });
  }
}

/** Misuse of a stream (writing after FIN, wrong direction, …); `code` is the core's. */
export class QuicStreamUsageError extends QuicError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code || QuicErrorCode.STREAM_USAGE, message, { cause });
  }
}

/** An AbortSignal fired; `cause` is the signal's reason. */
export class QuicAbortError extends QuicError {
  constructor(reason?: unknown) {
    super(QuicErrorCode.ABORTED, 'operation aborted', { cause: reason });
  }
}

export class QuicInvalidArgumentError extends QuicError {
  constructor(message: string) {
    super(QuicErrorCode.INVALID_ARGUMENT, message);
  }
}

export class QuicEndpointClosedError extends QuicError {
  constructor() {
    super(QuicErrorCode.ENDPOINT_CLOSED, 'endpoint is closed');
  }
}

/** A UDP socket failure (bind, send). */
export class QuicSocketError extends QuicError {
  constructor(message: string, cause?: unknown) {
    super(QuicErrorCode.SOCKET, message, { cause });
  }
}

/** HTTP/3 or hq-interop failure (stream error code in `errorCode`, H3_* values). */
export class QuicHttpError extends QuicError {
  readonly errorCode: number;
  constructor(errorCode: number, message: string, cause?: unknown) {
    super(QuicErrorCode.HTTP, message, { cause });
    this.errorCode = errorCode;
  }
}

const alertNames = new Map<number, string>(
  Object.entries(Alert).map(([k, v]) => [
    v,
    k.replace(/[A-Z]/g, (c, i: number) => (i > 0 ? '_' : '') + c.toLowerCase()),
  ]),
);

/**
 * Maps the core's CloseInfo to the error the public API reports; undefined for a clean close:
 * one we initiated with an application code (any value) or NO_ERROR, or the peer's close with
 * code 0 (transport) or an application code of 0 or `applicationNoError` (e.g. H3_NO_ERROR).
 */
export function closeInfoToError(info: CloseInfo, applicationNoError = 0): QuicError | undefined {
  switch (info.source) {
    case 'idle':
      return new QuicIdleTimeoutError(info);
    case 'stateless-reset':
      return new QuicStatelessResetError(info);
    default:
      break;
  }
  const remote = info.source === 'remote';
  if (info.application) {
    if (!remote || info.code === 0 || info.code === applicationNoError) return undefined;
    return new QuicApplicationError(info.code, info.reason, true, info);
  }
  if (info.code === TransportErrorCode.NO_ERROR) return undefined;
  if (alertOf(info.code) !== undefined)
    return new QuicHandshakeFailedError(info.code, info.reason, info.frameType, remote, info);
  return new QuicTransportError(info.code, info.reason, info.frameType, remote, info);
}

/** The error for operations pending when the connection ended (never undefined). */
export function closeInfoToOperationError(info: CloseInfo | undefined, applicationNoError = 0): QuicError {
  return (
    (info && closeInfoToError(info, applicationNoError)) ??
    new QuicConnectionClosedError(
      info?.reason ? `connection closed: ${info.reason}` : 'connection closed',
      info,
    )
  );
}

/** Wraps an error thrown by a core command (ConnectionUsageError, StreamUsageError). */
export function fromCoreError(e: unknown): unknown {
  if (isQuicError(e)) return e;
  if (e instanceof Error && typeof (e as { code?: unknown }).code === 'string') {
    const code = (e as unknown as { code: string }).code;
    if (e.name === 'StreamUsageError') return new QuicStreamUsageError(code, e.message, e);
    if (code === QuicErrorCode.CONNECTION_CLOSED) return new QuicConnectionClosedError(e.message);
    return new QuicMigrationError(code, e.message, e);
  }
  return e;
}
