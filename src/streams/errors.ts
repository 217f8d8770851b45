// Errors thrown to the application for misuse of the stream and datagram API (never sent on
// the wire; protocol violations by the peer are TransportErrors).

export const StreamUsageErrorCode = {
  /** The stream ID was never opened (or is of a type this endpoint cannot use that way). */
  UNKNOWN_STREAM: 'ERR_QUIC_UNKNOWN_STREAM',
  /** Writing on a receive-only stream or reading from a send-only one. */
  WRONG_DIRECTION: 'ERR_QUIC_STREAM_DIRECTION',
  /** Writing after the stream was finished. */
  STREAM_FINISHED: 'ERR_QUIC_STREAM_FINISHED',
  /** Writing after the sending part was reset (locally or on the peer's STOP_SENDING). */
  STREAM_RESET: 'ERR_QUIC_STREAM_RESET',
  /** Writing on a stream that is closed and forgotten. */
  STREAM_CLOSED: 'ERR_QUIC_STREAM_CLOSED',
  /** The peer did not advertise max_datagram_frame_size (RFC 9221 §3). */
  DATAGRAMS_UNSUPPORTED: 'ERR_QUIC_DATAGRAMS_UNSUPPORTED',
  /** The datagram does not fit the peer's max_datagram_frame_size or the path. */
  DATAGRAM_TOO_LARGE: 'ERR_QUIC_DATAGRAM_TOO_LARGE',
} as const;
export type StreamUsageErrorCode = (typeof StreamUsageErrorCode)[keyof typeof StreamUsageErrorCode];

export class StreamUsageError extends Error {
  readonly code: StreamUsageErrorCode;

  constructor(code: StreamUsageErrorCode, message: string) {
    super(message);
    this.name = 'StreamUsageError';
    this.code = code;
  }
}
