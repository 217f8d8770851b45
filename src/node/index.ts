// The Node runtime: UDP sockets, timers, the async API, web streams, qlog and key log files.
export type {
  ConnectionRuntime,
  HandshakeInfo,
  PathResult,
  ProbeOptions,
  QuicConnectionEventMap,
  StreamEvent,
  StreamEventSink,
} from './connection.js';
export { diagnosticsChannels, QuicConnection } from './connection.js';
export type { QuicConnectOptions, QuicEndpointOptions, QuicEndpointStats, QuicServerOptions } from './endpoint.js';
export { QuicEndpoint } from './endpoint.js';
export {
  closeInfoToError,
  isQuicError,
  QUIC_ERROR_BRAND,
  QuicAbortError,
  QuicApplicationError,
  QuicConnectionClosedError,
  QuicEndpointClosedError,
  QuicError,
  QuicErrorCode,
  QuicHandshakeFailedError,
  QuicHttpError,
  QuicIdleTimeoutError,
  QuicInvalidArgumentError,
  QuicMigrationError,
  QuicPathError,
  QuicSocketError,
  QuicStatelessResetError,
  QuicStreamResetError,
  QuicStreamUsageError,
  QuicTransportError,
} from './errors.js';
export { KeyLogWriter } from './keylog.js';
export { QlogFileSink } from './qlog.js';
export { errorCodeOf, QuicStream } from './stream.js';
export type { AddressInput } from './util.js';
