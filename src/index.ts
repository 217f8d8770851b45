// Public entry point of feather-quic: the Node runtime (endpoints, connections, streams,
// HTTP/3 and hq-interop), its errors, and the core types that appear in its API.
export type { Path, SocketAddress } from './common/addr.js';
export { TransportError, TransportErrorCode, transportErrorName } from './common/errors.js';
export type { TransportConfig } from './connection/config.js';
export type { ConnectionStats, PathStats } from './connection/connection.js';
export type { CloseInfo, PathEventReason } from './connection/events.js';
export type { ConnectionIdGenerator } from './endpoint/cid-generator.js';
export { RandomConnectionIdGenerator } from './endpoint/cid-generator.js';
export { H3ErrorCode, h3ErrorName } from './h3/errors.js';
export * from './node/index.js';
export * from './quic-lb/index.js';
